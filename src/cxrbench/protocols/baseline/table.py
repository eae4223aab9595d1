"""The clean baseline table: every trained model's newest clean record, with percentile-bootstrap intervals.

One row per trained model (recipe, regime, pooling, architecture, seed: one checkpoint key), from the
``clean`` records under ``records/clean/`` whichever run wrote them (this protocol, a plain
``scripts/run.py``, the paper's grid); a rerun's record replaces the older one. The intervals are
resampled from each record's per-image predictions, stratified by label. One table per data source.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from cxrbench.io import read_table
from cxrbench.records.store import load_records, newest_per_cell
from cxrbench.reporting.bootstrap import bootstrap_metrics
from cxrbench.reporting.labels import variant_label
from cxrbench.reporting.matrix import model_order
from cxrbench.reporting.table_format import fmt, write_table

#: What one row is: the records of one checkpoint (its key names recipe, data, split and seed too).
CELL = ("model", "pooling", "regime", "seed", "model_key")


def _recipe(record: dict) -> str:
    return str(record["config"].get("train", {}).get("name", ""))


def _interval(record: dict, metric: str, intervals: dict) -> str:
    value = intervals[metric]
    return f"{fmt(record[metric], 3, 'n/a')} [{fmt(value.lo, 3, 'n/a')}, {fmt(value.hi, 3, 'n/a')}]"


def _row(results: Path, record: dict, resamples: int) -> dict:
    samples = read_table(results / record["per_sample"], "clean per-image table", columns=["label", "prob"])
    intervals = bootstrap_metrics(samples["label"].to_numpy(), samples["prob"].to_numpy(), resamples=resamples,
                                  seed=record["seed"])
    px = record["model_identity"].get("input_size")  # a record written by hand may name only model and pooling
    return {"recipe": _recipe(record), "model": variant_label(record["model"], record["pooling"], record["regime"]),
            "seed": str(record["seed"]), "px": "" if px is None else str(px),
            "n": str(record["images"]), "with a finding": str(record["n_positive"]),
            "accuracy [95% CI]": _interval(record, "accuracy", intervals),
            "ROC-AUC [95% CI]": _interval(record, "auc", intervals)}


def render_baseline(results: Path, *, data: str | None = None, resamples: int = 1000,
                    log: Callable[[str], None] = print) -> dict[str, Path]:
    """``tables/baseline/clean-<source>.{md,csv,tex}`` from the clean records under ``results``; name -> file."""
    records = load_records(results / "records", kinds=("clean",))
    sources = sorted({r["data"]["source"] for r in records}) if data is None else [data]
    outputs: dict[str, Path] = {}
    for source in sources:
        chosen = newest_per_cell(records, CELL, data=source, what="clean").values()
        if not chosen:
            continue
        order = model_order(r["model"] for r in chosen)
        rows = sorted(chosen, key=lambda r: (_recipe(r), r["regime"], r["pooling"], order.index(r["model"]),
                                             r["seed"], r["model_key"]))
        frame = pd.DataFrame([_row(results, r, resamples) for r in rows])
        notes = [f"Data: {source}; each row the newest clean record of one trained model, over its whole test split.",
                 "Accuracy: finding iff P(finding) > 0.5. Intervals: percentile bootstrap, stratified by label, "
                 f"{resamples} resamples.", "MP / AP: max / average internal pooling; px: the network's input size."]
        written = write_table(results / "tables" / "baseline", f"clean-{source}", frame, notes,
                              f"Clean baseline ({source}): test accuracy and ROC-AUC per trained model", text_columns=6)
        outputs.update(written)
        log(f"tables: clean baseline of {len(rows)} trained models on {source} -> {results / 'tables' / 'baseline'}")
    return outputs
