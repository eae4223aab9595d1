"""Tables 1 and 2 of Taghanaki et al. 2018 filled from our records, with intervals.

The layout (columns, row keys and their order) is read from the published tables in
``reference/``, so ours line up with them cell by cell. A row is a target model: its ``clean``
column comes from its clean record, an attack column from the attack record of that target,
pooling and setting. White-box (Table 1): crafted on the target itself. Black-box (Table 2):
crafted on the other architecture with the same pooling and tested on the row's model, whose
clean numbers fill the clean column (the published Table 2 repeats Table 1's clean column).
A cell without a record stays NaN (written empty): nothing is filled in. A model trained another
way than the paper's (``regime``, e.g. PGD adversarial training) gets rows of its own after the
published ones, labelled ``IR2/PGD-AT`` (no published value to compare with).

Each cell carries what a reader needs to read it: the number of images it is over (the Clean
column is over the whole test split, an attack cell may be over an attacked subset), its 95%
bootstrap interval, the target's clean figure on the *same* images, and whether the attack's
parameters make it weaker than the paper's (then it is not compared with the published value).
The comparison with the published values is in :mod:`cxrbench.protocols.paper.comparison`; across
seeds, :func:`cxrbench.protocols.paper.seed_summary.summarize_seeds` gives per cell the mean, sample sd
and number of seeds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.errors import DataError
from cxrbench.evaluation.metrics import binary_metrics
from cxrbench.io import read_table
from cxrbench.records.selection import Selection
from cxrbench.reporting.bootstrap import NAN_INTERVAL, Interval, bootstrap_metrics
from cxrbench.reporting.labels import (  # noqa: F401
    POOLING,
    POOLING_LABEL,
    STANDARD,
    model_label,
    parse_model_label,
)

KEYS = ["setting", "pooling", "model", "metric"]
CLEAN = "clean"
METRIC = {"acc": "accuracy", "auc": "auc"}
#: Table name -> (setting, published file in ``reference/``).
TABLES = {"table1_whitebox": ("white-box", "taghanaki2018_table1_whitebox.csv"),
          "table2_blackbox": ("black-box", "taghanaki2018_table2_blackbox.csv")}


def default_reference_dir() -> Path:
    """``reference/`` at the repository root (the package is installed editable from ``src/``)."""
    return Path(__file__).resolve().parents[4] / "reference"


def read_reference(name: str, reference_dir: Path | None = None) -> pd.DataFrame:
    """The published table ``name`` (a key of :data:`TABLES`) as keys plus float columns."""
    path = Path(reference_dir or default_reference_dir()) / TABLES[name][1]
    if not path.exists():
        raise DataError(f"published table {path} not found; run from a checkout that has reference/")
    table = pd.read_csv(path, dtype={k: str for k in KEYS})
    if list(table.columns[:len(KEYS)]) != KEYS:
        raise DataError(f"{path} must start with the columns {','.join(KEYS)}")
    return table


def attack_columns(columns: list[str]) -> dict[str, str]:
    """Map the published attack columns (paper ids) to registered attack names."""
    by_id = {get_attack_spec(a).paper_id: a for a in list_attacks()}
    unknown = [c for c in columns if c not in by_id]
    if unknown:
        raise DataError(f"published columns {unknown} match no registered attack id ({', '.join(by_id)})")
    return {c: by_id[c] for c in columns}


def with_regime_rows(published: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The published rows, then rows (NaN published values) for each non-standard model of ``selection``."""
    order = list(POOLING_LABEL)
    extra = sorted(((p, m, r) for (m, p, r) in selection.variants() if r != STANDARD),
                   key=lambda k: (order.index(k[0]) if k[0] in order else 9, k[1], k[2]))
    setting = published["setting"].iloc[0]
    rows = [{"setting": setting, "pooling": POOLING_LABEL.get(p, p), "model": model_label(m, r), "metric": metric}
            for p, m, r in extra for metric in METRIC]
    if not rows:
        return published
    return pd.concat([published, pd.DataFrame(rows)], ignore_index=True)


CellKey = tuple[str, str, str, str, str]  # the published row keys (setting, pooling, model, metric), column


@dataclass
class PaperTable:
    """One of the paper's tables from the records of one seed.

    Every frame has the published row keys (:data:`KEYS`) first, in the published row order.

    Attributes:
        name: ``table1_whitebox`` or ``table2_blackbox``.
        values: the published layout with our values (NaN: no record).
        ci: the same keys with ``<column>_lo`` / ``<column>_hi`` per value column.
        published: the published table.
        n: the published layout with the number of images each value is over (NaN: no record).
        clean_same: the published layout with the target's clean figure on each cell's images
            (an attack cell: its record's ``clean_accuracy`` / ``clean_auc``; the Clean column: itself).
        clean_same_ci: intervals of ``clean_same``, laid out as ``ci``.
        deviations: cells whose attack is weaker than the paper's (``comparable_with_paper`` false)
            -> the record's ``deviations`` (``{param: {"paper": v, "used": v}}``).
        seed: the run seed of the records (None: no records).
    """

    name: str
    values: pd.DataFrame
    ci: pd.DataFrame
    published: pd.DataFrame
    n: pd.DataFrame
    clean_same: pd.DataFrame
    clean_same_ci: pd.DataFrame
    deviations: dict[CellKey, dict] = field(default_factory=dict)
    seed: int | None = None

    @property
    def columns(self) -> list[str]:
        return [c for c in self.published.columns if c not in KEYS]

    def comparable(self, key: tuple, column: str) -> bool:
        """Whether the cell may be compared with the published value (no weakening deviation)."""
        return (*key, column) not in self.deviations


def _cell_record(selection: Selection, setting: str, model: str, pooling: str, regime: str, column: str,
                 attacks: dict[str, str]) -> tuple[dict | None, str]:
    """The record behind one cell and the per-sample probability column to bootstrap."""
    if column == CLEAN:
        return selection.clean.get((model, pooling, regime)), "prob"
    return selection.attack.get((setting, model, pooling, regime, attacks[column])), "adv_prob"


def _agree(record: dict, field_name: str, value: float) -> bool:
    expected = record[field_name]
    return math.isclose(value, expected, abs_tol=1e-9) or (math.isnan(value) and math.isnan(expected))


def _intervals(selection: Selection, record: dict, prob_column: str, *, resamples: int, seed: int,
               log: Callable[[str], None]) -> dict[str, dict[str, Interval]]:
    """Intervals from the record's per-sample predictions (NaN when those are gone).

    Returns:
        ``{"value": {metric: Interval}, "clean": {metric: Interval}}``: of the cell's value, and of
        the target's clean figure on the same images (for a clean record the two are the same).
    """
    relative = record.get("per_sample")
    path = selection.path(relative) if relative else None
    if path is None or not path.exists():
        log(f"tables: no per-sample predictions for {record.get('_file')} ({relative}); interval left empty")
        empty = {m: NAN_INTERVAL for m in METRIC.values()}
        return {"value": empty, "clean": empty}
    columns = ["label", prob_column] + (["clean_prob"] if prob_column != "prob" else [])
    samples = read_table(path, "per-image table", columns=columns)
    labels = samples["label"].to_numpy()
    out = {"value": bootstrap_metrics(labels, samples[prob_column].to_numpy(), resamples=resamples, seed=seed)}
    out["clean"] = out["value"] if prob_column == "prob" else bootstrap_metrics(
        labels, samples["clean_prob"].to_numpy(), resamples=resamples, seed=seed)
    checks = [(metric, metric, out["value"][metric].point) for metric in METRIC.values()]
    if prob_column != "prob":
        checks += [(metric, f"clean_{metric}", out["clean"][metric].point) for metric in METRIC.values()]
    for _, field_name, point in checks:  # the record and its per-sample file must agree
        if not _agree(record, field_name, point):
            log(f"tables: {record.get('_file')}: {field_name} {record[field_name]:.6f} in the record but "
                f"{point:.6f} from {relative}; the table shows the record")
    return out


def clean_on_images(selection: Selection, clean: dict, image_ids: list[str]) -> dict[str, float] | None:
    """The clean record's accuracy and AUC restricted to ``image_ids`` (None: per-sample file gone).

    Args:
        selection: the selection the clean record belongs to (paths are relative to its results).
        clean: a clean record.
        image_ids: the test images to keep (e.g. an attack cell's attacked images).
    """
    path = selection.path(clean.get("per_sample") or "")
    if not clean.get("per_sample") or not path.exists():
        return None
    samples = read_table(path, "per-image table", columns=["image_id", "label", "prob"])
    kept = samples[samples["image_id"].isin(set(image_ids))]
    return binary_metrics(kept["label"].to_numpy(), kept["prob"].to_numpy())


def _check_clean_same(selection: Selection, record: dict, log: Callable[[str], None]) -> None:
    """Log where an attack record's clean figures differ from its row's clean predictions on those ids."""
    clean = selection.clean.get((record["model"], record["pooling"], record["regime"]))
    path = selection.path(record.get("per_sample") or "")
    if clean is None or not record.get("per_sample") or not path.exists():
        return
    figures = clean_on_images(selection, clean, read_table(path, "per-image table", columns=["image_id"])["image_id"].tolist())
    if figures is None:
        return
    for metric in METRIC.values():
        if not _agree(record, f"clean_{metric}", figures[metric]):
            log(f"tables: {record['_file']}: clean_{metric} {record[f'clean_{metric}']:.6f} but the clean "
                f"record {clean['_file']} gives {figures[metric]:.6f} on the same images; the table shows the record")


def build_table(selection: Selection, name: str, *, reference_dir: Path | None = None, resamples: int = 1000,
                seed: int = 0, log: Callable[[str], None] = print) -> PaperTable:
    """Fill table ``name`` (a key of :data:`TABLES`) from ``selection``.

    Args:
        selection: the chosen records of one seed.
        name: ``table1_whitebox`` or ``table2_blackbox``.
        reference_dir: folder of the published tables (default: the repository's ``reference/``).
        resamples: bootstrap samples per cell.
        seed: seed of every cell's bootstrap (the same for all cells: intervals are reproducible).
        log: receives notes on missing per-sample files and inconsistent records.
    """
    setting = TABLES[name][0]
    published = with_regime_rows(read_reference(name, reference_dir), selection)
    columns = [c for c in published.columns if c not in KEYS]
    attacks = attack_columns([c for c in columns if c != CLEAN])
    frames = {k: published[KEYS].copy() for k in ("values", "ci", "n", "clean_same", "clean_same_ci")}
    deviations: dict[CellKey, dict] = {}
    cache: dict[str, dict[str, dict[str, Interval]]] = {}  # acc and AUC rows share one record and bootstrap
    for column in columns:
        cells: dict[str, list[float]] = {k: [] for k in ("value", "lo", "hi", "n", "clean", "clean_lo", "clean_hi")}
        for row in published.itertuples(index=False):
            (model, regime), pooling, metric = parse_model_label(row.model), POOLING[row.pooling], METRIC[row.metric]
            record, prob_column = _cell_record(selection, setting, model, pooling, regime, column, attacks)
            if record is None or record.get(metric) is None or math.isnan(record[metric]):
                for values in cells.values():
                    values.append(math.nan)
                continue
            if record["_file"] not in cache:
                cache[record["_file"]] = _intervals(selection, record, prob_column, resamples=resamples,
                                                    seed=seed, log=log)
                if column != CLEAN:
                    _check_clean_same(selection, record, log)
            intervals = cache[record["_file"]]
            clean_value = float(record[metric] if column == CLEAN else record[f"clean_{metric}"])
            for key, value in (("value", float(record[metric])), ("lo", intervals["value"][metric].lo),
                               ("hi", intervals["value"][metric].hi), ("n", float(record["images"])),
                               ("clean", clean_value), ("clean_lo", intervals["clean"][metric].lo),
                               ("clean_hi", intervals["clean"][metric].hi)):
                cells[key].append(value)
            if column != CLEAN and not record.get("comparable_with_paper", True):
                deviations[(*tuple(row)[:len(KEYS)], column)] = dict(record.get("deviations") or {})
        frames["values"][column] = cells["value"]
        frames["ci"][f"{column}_lo"], frames["ci"][f"{column}_hi"] = cells["lo"], cells["hi"]
        frames["n"][column] = cells["n"]
        frames["clean_same"][column] = cells["clean"]
        frames["clean_same_ci"][f"{column}_lo"] = cells["clean_lo"]
        frames["clean_same_ci"][f"{column}_hi"] = cells["clean_hi"]
    return PaperTable(name, frames["values"], frames["ci"], published, frames["n"], frames["clean_same"],
                      frames["clean_same_ci"], deviations, selection.seed)
