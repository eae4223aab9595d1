"""Tables 1 and 2 of Taghanaki et al. 2018 filled from our records, with intervals and a comparison.

The layout (columns, row keys and their order) is read from the published tables in
``reference/``, so ours line up with them cell by cell. A row is a target model: its ``clean``
column comes from its clean record, an attack column from the attack record of that target,
pooling and setting. White-box (Table 1): crafted on the target itself. Black-box (Table 2):
crafted on the other architecture with the same pooling and tested on the row's model, whose
clean numbers fill the clean column (the published Table 2 repeats Table 1's clean column).
A cell without a record stays NaN (written empty): nothing is filled in.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.errors import DataError
from cxrbench.reporting.bootstrap import NAN_INTERVAL, Interval, bootstrap_metrics
from cxrbench.reporting.selection import Selection

KEYS = ["setting", "pooling", "model", "metric"]
CLEAN = "clean"
#: The paper's row labels -> our config names (abbreviations of the paper, not results).
POOLING = {"MP": "max", "AP": "avg"}
MODEL = {"IR2": "irv2", "NL": "nasnet"}
METRIC = {"acc": "accuracy", "auc": "auc"}
#: Table name -> (setting, published file in ``reference/``).
TABLES = {"table1_whitebox": ("white-box", "taghanaki2018_table1_whitebox.csv"),
          "table2_blackbox": ("black-box", "taghanaki2018_table2_blackbox.csv")}


def default_reference_dir() -> Path:
    """``reference/`` at the repository root (the package is installed editable from ``src/``)."""
    return Path(__file__).resolve().parents[3] / "reference"


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


@dataclass
class PaperTable:
    """One of the paper's tables from our records.

    Attributes:
        name: ``table1_whitebox`` or ``table2_blackbox``.
        values: the published layout with our values (NaN: no record).
        ci: the same keys with ``<column>_lo`` / ``<column>_hi`` per value column.
        published: the published table.
    """

    name: str
    values: pd.DataFrame
    ci: pd.DataFrame
    published: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        return [c for c in self.published.columns if c not in KEYS]


def _cell_record(selection: Selection, setting: str, model: str, pooling: str, column: str,
                 attacks: dict[str, str]) -> tuple[dict | None, str]:
    """The record behind one cell and the per-sample probability column to bootstrap."""
    if column == CLEAN:
        return selection.clean.get((model, pooling)), "prob"
    return selection.attack.get((setting, model, pooling, attacks[column])), "adv_prob"


def _intervals(selection: Selection, record: dict, prob_column: str, *, resamples: int, seed: int,
               log: Callable[[str], None]) -> dict[str, Interval]:
    """Both metrics' intervals from the record's per-sample predictions (NaN when those are gone)."""
    relative = record.get("per_sample")
    path = selection.path(relative) if relative else None
    if path is None or not path.exists():
        log(f"tables: no per-sample predictions for {record.get('_file')} ({relative}); interval left empty")
        return {m: NAN_INTERVAL for m in METRIC.values()}
    samples = pd.read_parquet(path, columns=["label", prob_column])
    intervals = bootstrap_metrics(samples["label"].to_numpy(), samples[prob_column].to_numpy(),
                                  resamples=resamples, seed=seed)
    for metric, interval in intervals.items():  # the record and its per-sample file must agree
        if not math.isclose(interval.point, record[metric], abs_tol=1e-9) and not (
                math.isnan(interval.point) and math.isnan(record[metric])):
            log(f"tables: {record.get('_file')}: {metric} {record[metric]:.6f} in the record but "
                f"{interval.point:.6f} from {relative}; the table shows the record")
    return intervals


def build_table(selection: Selection, name: str, *, reference_dir: Path | None = None, resamples: int = 1000,
                seed: int = 0, log: Callable[[str], None] = print) -> PaperTable:
    """Fill table ``name`` (a key of :data:`TABLES`) from ``selection``.

    Args:
        selection: the chosen records.
        name: ``table1_whitebox`` or ``table2_blackbox``.
        reference_dir: folder of the published tables (default: the repository's ``reference/``).
        resamples: bootstrap samples per cell.
        seed: seed of every cell's bootstrap (the same for all cells: intervals are reproducible).
        log: receives notes on missing per-sample files and inconsistent records.
    """
    setting = TABLES[name][0]
    published = read_reference(name, reference_dir)
    columns = [c for c in published.columns if c not in KEYS]
    attacks = attack_columns([c for c in columns if c != CLEAN])
    values = published[KEYS].copy()
    ci = published[KEYS].copy()
    cache: dict[str, dict[str, Interval]] = {}  # acc and AUC rows share one record and one bootstrap
    for column in columns:
        points, los, his = [], [], []
        for row in published.itertuples(index=False):
            model, pooling, metric = MODEL[row.model], POOLING[row.pooling], METRIC[row.metric]
            record, prob_column = _cell_record(selection, setting, model, pooling, column, attacks)
            if record is None or record.get(metric) is None or math.isnan(record[metric]):
                points.append(math.nan)
                los.append(math.nan)
                his.append(math.nan)
                continue
            if record["_file"] not in cache:
                cache[record["_file"]] = _intervals(selection, record, prob_column, resamples=resamples,
                                                    seed=seed, log=log)
            interval = cache[record["_file"]][metric]
            points.append(float(record[metric]))
            los.append(interval.lo)
            his.append(interval.hi)
        values[column] = points
        ci[f"{column}_lo"] = los
        ci[f"{column}_hi"] = his
    return PaperTable(name, values, ci, published)


def comparison(table: PaperTable) -> pd.DataFrame:
    """Long format, one row per cell: ours, published and ``difference = ours - published``."""
    rows = []
    for (_, ours), (_, published) in zip(table.values.iterrows(), table.published.iterrows()):
        for column in table.columns:
            value, reference = float(ours[column]), float(published[column])
            rows.append({**{k: ours[k] for k in KEYS}, "column": column, "ours": value,
                         "published": reference, "difference": value - reference})
    frame = pd.DataFrame(rows, columns=[*KEYS, "column", "ours", "published", "difference"])
    frame["difference"] = frame["difference"].astype(float)  # NaN where ours is missing
    return frame


def mean_absolute_difference(frame: pd.DataFrame) -> tuple[float, int]:
    """Mean |ours - published| over the cells we have, and how many cells that is."""
    present = frame["difference"].dropna().to_numpy()
    return (float(np.abs(present).mean()) if len(present) else math.nan), int(len(present))
