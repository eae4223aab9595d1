"""Render every table and figure of the paper from the records of one results directory.

Layout under the results directory (per seed always, also when the records hold one seed, so
that a path never changes meaning when a second seed is added)::

    tables/seed<k>/table1_whitebox.{csv,md,tex}, ..._n.csv, ..._clean_same_images.csv, ..._ci.{csv,tex}
    tables/seed<k>/comparison_table{1,2}.{csv,md}
    tables/table{1_whitebox,2_blackbox}_mean_sd.{csv,md}        across the seeds
    figures/seed<k>/figure{1..4}_*.{png,pdf}
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from cxrbench.errors import DataError
from cxrbench.protocols.paper.figures import figure1, figure2
from cxrbench.protocols.paper.figures_stats import figure3, figure4
from cxrbench.protocols.paper.seed_summary import summarize_seeds, write_seed_summary_files
from cxrbench.protocols.paper.table_text import write_table_files
from cxrbench.protocols.paper.tables import TABLES, PaperTable, build_table
from cxrbench.records.schema import SCHEMAS
from cxrbench.records.selection import Selection, Selections, select_records
from cxrbench.records.store import load_records


def seed_folder(seed: int) -> str:
    """The per-seed folder name under ``tables/`` and ``figures/`` (``seed0``)."""
    return f"seed{seed}"


def _prefixed(written: dict[str, Path], prefix: str) -> dict[str, Path]:
    return {f"{prefix}/{name}": path for name, path in written.items()}


def selected_any(selections: Selections) -> bool:
    """Whether any seed of ``selections`` holds a clean or an attack record (something to draw Tables 1-2 from)."""
    return any(s.clean or s.attack for s in selections.seeds.values())


def _values(records: list[dict], read: Callable[[dict], object]) -> str:
    return ", ".join(map(str, sorted({v for v in map(read, records) if v is not None}, key=str))) or "none"


def describe_records(results_dir: Path) -> str:
    """What ``results_dir/records`` holds, for an error that must say what exists: kinds, data, recipes, seeds."""
    records_dir = Path(results_dir) / "records"
    if not records_dir.is_dir():
        return (f"{records_dir} does not exist: run scripts/run.py (or reproduce.py, robust.py, study.py, "
                "multilabel.py) with paths.results_dir pointing there first, or give another --results")
    records = load_records(records_dir, kinds=tuple(SCHEMAS))
    if not records:
        return f"{records_dir} holds no record: run an experiment script with paths.results_dir pointing there first"
    counts = ", ".join(f"{sum(r['kind'] == kind for r in records)} {kind}" for kind in SCHEMAS
                       if any(r["kind"] == kind for r in records))
    return (f"the records there are {counts} (data {_values(records, lambda r: (r.get('data') or {}).get('source'))}; "
            f"train {_values(records, lambda r: ((r.get('config') or {}).get('train') or {}).get('name'))}; "
            f"seeds {_values(records, lambda r: r.get('seed'))}): choose among these with --data, --train and --seed")


def nothing_to_render(results_dir: Path, what: str, filters: dict[str, object]) -> DataError:
    """The error of a render that selected nothing: what it looked for, under which folder, and what exists."""
    looked = ", ".join(f"{k} {v}" for k, v in filters.items() if v is not None)
    return DataError(f"nothing to render: no {what}{' with ' + looked if looked else ''} under "
                     f"{Path(results_dir) / 'records'}; {describe_records(results_dir)}")


def render_tables(selection: Selection, *, reference_dir: Path | None = None, resamples: int = 1000,
                  bootstrap_seed: int = 0, log: Callable[[str], None] = print
                  ) -> tuple[dict[str, PaperTable], dict[str, Path]]:
    """One seed's Tables 1 and 2, intervals and comparisons, under ``tables/seed<k>/``.

    Returns:
        The tables by name (for the summary across seeds) and file name -> written path, the
        names prefixed with the seed folder (``seed0/table1_whitebox.md``).
    """
    tables, out = {}, {}
    folder = seed_folder(selection.seed)
    for name in TABLES:
        tables[name] = build_table(selection, name, reference_dir=reference_dir, resamples=resamples,
                                   seed=bootstrap_seed, log=log)
        out.update(_prefixed(write_table_files(tables[name], selection.results_dir / "tables" / folder,
                                               selection.describe(), resamples=resamples), folder))
    return tables, out


def render_seed_summaries(selections: Selections, tables: dict[int, dict[str, PaperTable]], *,
                          reference_dir: Path | None = None) -> dict[str, Path]:
    """``tables/<name>_mean_sd.{csv,md}``: mean ± sd of every cell over the seeds that have it."""
    out = {}
    for name in TABLES:
        summary = summarize_seeds({seed: by_name[name] for seed, by_name in tables.items()}, name,
                                  reference_dir=reference_dir)
        out.update(write_seed_summary_files(summary, selections.results_dir / "tables", selections.describe()))
    return out


def render_figures(selection: Selection, *, log: Callable[[str], None] = print) -> dict[str, Path]:
    """One seed's Figures 1-4 as PNG and PDF under ``figures/seed<k>/`` (names prefixed ``seed<k>/``)."""
    out = {}
    folder = seed_folder(selection.seed)
    for figure in (figure1, figure2, figure3, figure4):
        out.update(_prefixed(figure(selection, selection.results_dir / "figures" / folder, log=log), folder))
    return out


def render_all(results_dir: Path, *, seed: int | None = None, data: str | None = None, train: str | None = None,
               tables: bool = True, figures: bool = True, reference_dir: Path | None = None,
               resamples: int = 1000, bootstrap_seed: int = 0,
               log: Callable[[str], None] = print) -> dict[str, Path]:
    """Select the records of ``results_dir`` and write the paper's tables and figures from them.

    Args:
        results_dir: the results directory; outputs go to its ``tables/`` and ``figures/``.
        seed: render only this run seed (default: every seed the records hold, each on its own).
        data: use records of this data source, ``phantom`` or ``nih`` (default: the one they hold).
        train: use records of this training recipe, ``quick`` or ``paper`` (default: the one they hold).
        tables: write the tables (per seed, and the mean ± sd across the seeds).
        figures: write the figures (per seed).
        reference_dir: folder of the published tables (default: the repository's ``reference/``).
        resamples: bootstrap samples per table cell.
        bootstrap_seed: seed of the bootstrap.
        log: receives one line per choice among reruns and per missing input.

    Returns:
        Output name -> written path. Per-seed names carry their folder (``seed0/table1_whitebox.md``,
        ``seed0/figure1_examples.png``); the across-seed tables do not (``table1_whitebox_mean_sd.md``).
        With no record selected only the (empty) across-seed tables are written.

    Raises:
        DataError: a file under ``records/`` is not a record of the current schema.
        ConfigError: a filter was left out and the records hold several values of it, or records
            of one cell measured different configurations (see :func:`select_records`).
    """
    selections = select_records(Path(results_dir), seed=seed, data=data, train=train, log=log)
    if not selections.seeds:
        log(f"records: none selected under {Path(results_dir) / 'records'} ({selections.describe()})")
    for selection in selections.seeds.values():
        log(f"records: {len(selection.clean)} clean and {len(selection.attack)} attack cells "
            f"({selection.describe()})")
    out: dict[str, Path] = {}
    if tables:
        per_seed: dict[int, dict[str, PaperTable]] = {}
        for s, selection in selections.seeds.items():
            per_seed[s], written = render_tables(selection, reference_dir=reference_dir, resamples=resamples,
                                                 bootstrap_seed=bootstrap_seed, log=log)
            out.update(written)
        out.update(render_seed_summaries(selections, per_seed, reference_dir=reference_dir))
    if figures:
        for selection in selections.seeds.values():
            out.update(render_figures(selection, log=log))
    return out
