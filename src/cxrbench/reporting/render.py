"""Render every table and figure of the paper from the records of one results directory."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from cxrbench.reporting.figures import figure1, figure2
from cxrbench.reporting.figures_stats import figure3, figure4
from cxrbench.reporting.selection import Selection, select_records
from cxrbench.reporting.table_text import write_table_files
from cxrbench.reporting.tables import TABLES, build_table


def render_tables(selection: Selection, *, reference_dir: Path | None = None, resamples: int = 1000,
                  bootstrap_seed: int = 0, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Tables 1 and 2, their intervals and the comparisons with the published numbers, under ``tables/``."""
    out = {}
    for name in TABLES:
        table = build_table(selection, name, reference_dir=reference_dir, resamples=resamples,
                            seed=bootstrap_seed, log=log)
        out.update(write_table_files(table, selection.results_dir / "tables", selection.describe()))
    return out


def render_figures(selection: Selection, *, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Figures 1-4 as PNG and PDF under ``figures/``."""
    out = {}
    for figure in (figure1, figure2, figure3, figure4):
        out.update(figure(selection, selection.results_dir / "figures", log=log))
    return out


def render_all(results_dir: Path, *, seed: int | None = None, data: str | None = None, train: str | None = None,
               tables: bool = True, figures: bool = True, reference_dir: Path | None = None,
               resamples: int = 1000, bootstrap_seed: int = 0,
               log: Callable[[str], None] = print) -> dict[str, Path]:
    """Select the records of ``results_dir`` and write the paper's tables and figures from them.

    Args:
        results_dir: the results directory; outputs go to its ``tables/`` and ``figures/``.
        seed: use records of this run seed (default: the one the records hold).
        data: use records of this data source, ``phantom`` or ``nih`` (default: the one they hold).
        train: use records of this training recipe, ``quick`` or ``paper`` (default: the one they hold).
        tables: write the tables.
        figures: write the figures.
        reference_dir: folder of the published tables (default: the repository's ``reference/``).
        resamples: bootstrap samples per table cell.
        bootstrap_seed: seed of the bootstrap.
        log: receives one line per choice among duplicate records and per missing input.

    Returns:
        Output file name (``table1_whitebox.csv``, ``figure1_examples.png``, ...) -> written path.

    Raises:
        ConfigError: a filter was left out and the records hold several values of it.
    """
    selection = select_records(Path(results_dir), seed=seed, data=data, train=train, log=log)
    log(f"records: {len(selection.clean)} clean and {len(selection.attack)} attack cells ({selection.describe()})")
    out: dict[str, Path] = {}
    if tables:
        out.update(render_tables(selection, reference_dir=reference_dir, resamples=resamples,
                                 bootstrap_seed=bootstrap_seed, log=log))
    if figures:
        out.update(render_figures(selection, log=log))
    return out
