"""The multi-label cells against Google's radiologist-adjudicated labels, beside the mined ones (ChestX-ray14 only).

For every clean and attacked cell whose images include some Google relabelled
(:mod:`cxrbench.data.expert_labels`), its per-image probabilities are joined with Google's labels by
image id and, per scored finding (Pneumothorax, Nodule or mass, Airspace opacity), the table gives n,
the positives, ROC-AUC, sensitivity and specificity against the expert labels and against the mined
labels of the same images, clean and adversarial side by side. Everything comes from the records and
their per-image files: an attacked cell's own adversarial probabilities, its target's clean
probabilities and mined labels (the clean record's prediction file) and the cell's thresholds.
Files: ``tables/multilabel/expert_labels-<pooling>-seed<seed>.{md,csv,tex}``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from cxrbench.data.expert_labels import (FINDINGS, finding_calls, finding_scores, load_expert_labels,
                                         mined_findings, thresholds_by_label)
from cxrbench.io import read_table
from cxrbench.models import get_model_spec
from cxrbench.reporting.table_format import fmt, write_table

_FIX = "rerun the multi-label protocol: it rewrites a missing per-image file"
_MEASURES = ("AUC", "sensitivity", "specificity")


def figures(truth: np.ndarray, scores: np.ndarray, calls: np.ndarray) -> dict[str, float]:
    """ROC-AUC of ``scores`` (NaN with one class), sensitivity and specificity of ``calls``, against 0/1 ``truth``."""
    truth, calls = np.asarray(truth) == 1, np.asarray(calls, dtype=bool)
    both = 0 < truth.sum() < len(truth)
    return {"AUC": float(roc_auc_score(truth, scores)) if both else float("nan"),
            "sensitivity": float(calls[truth].mean()) if truth.any() else float("nan"),
            "specificity": float((~calls[~truth]).mean()) if (~truth).any() else float("nan")}


def _clean_predictions(results: Path, record: dict, cache: dict) -> pd.DataFrame:
    """The test rows of a clean record's prediction file (``y_`` and ``p_`` columns), by image id."""
    path = results / record["per_sample"]
    if path not in cache:
        table = read_table(path, "multi-label predictions", _FIX)
        cache[path] = table[table["split"] == "test"].set_index("image_id")
    return cache[path]


def _describe(r: dict) -> dict:
    attacked = r["evaluation"] != "clean"
    return {"seed": r["seed"], "pooling": r["pooling"], "evaluation": r["evaluation"],
            "reference": r.get("reference", ""), "loss": r["loss"],
            "crafted on": get_model_spec(r["source"]).paper_id if attacked else "",
            "model": get_model_spec(r["model"]).paper_id,
            "ε (/255)": f"{r['epsilon'] * 255:g}" if attacked else "", "steps": str(r["steps"]) if attacked else ""}


def cell_rows(results: Path, record: dict, clean_record: dict, expert: pd.DataFrame, cache: dict) -> list[dict]:
    """The rows of one cell: per scored finding, its figures against the expert and the mined labels.

    Args:
        results: The results directory (records' ``per_sample`` are relative to it).
        record: A multi-label record, clean or attacked.
        clean_record: The clean record of the same target (``record`` itself when clean).
        expert: :func:`~cxrbench.data.expert_labels.load_expert_labels`.
        cache: Prediction files already read (path -> test rows), shared across cells.

    Returns:
        No rows when none of the cell's images was relabelled; else two per scored finding (expert,
        mined) and one per unscored finding (its expert positives, no figures).
    """
    clean = _clean_predictions(results, clean_record, cache)
    attacked = record["evaluation"] != "clean"
    adversarial = (read_table(results / record["per_sample"], "multi-label cell outputs", _FIX).set_index("image_id")
                   if attacked else None)
    ids = (adversarial if attacked else clean).index
    ids = ids[ids.isin(expert.index)]
    if not len(ids):
        return []
    thresholds = thresholds_by_label(record["thresholds"])
    outputs = {"clean": clean.loc[ids], **({"adversarial": adversarial.loc[ids]} if attacked else {})}
    scored = {name: (finding_scores(p), finding_calls(p, thresholds)) for name, p in outputs.items()}
    truths = {"expert": expert.loc[ids, list(FINDINGS)], "mined": mined_findings(clean.loc[ids])}
    rows = []
    for finding, members in FINDINGS.items():
        for labels, truth in truths.items():
            if finding not in truth:
                continue
            row = {**_describe(record), "finding": finding if members else f"{finding} (not scored)",
                   "labels": labels, "n": len(ids), "positives": int(truth[finding].sum())}
            for name, (scores, calls) in scored.items() if members else ():
                row.update({f"{m} {name}": v for m, v in figures(truth[finding].to_numpy(), scores[finding].to_numpy(),
                                                                   calls[finding].to_numpy()).items()})
            rows.append(row)
    return rows


def _order(r: dict) -> tuple:
    return (r["evaluation"] != "clean", r["evaluation"], r.get("reference", ""), r["loss"], r["source"], r["model"],
            r["epsilon"], r["steps"])


def expert_frame(results: Path, records: list[dict], expert: pd.DataFrame) -> pd.DataFrame:
    """Every cell's rows (:func:`cell_rows`), clean cells first; a cell whose target has no clean record is left out."""
    clean_of = {r["model_key"]: r for r in records if r["evaluation"] == "clean"}
    cache: dict = {}
    rows = [row for r in sorted(records, key=_order) if r["model_key"] in clean_of
            for row in cell_rows(Path(results), r, clean_of[r["model_key"]], expert, cache)]
    measured = [f"{m} {name}" for m in _MEASURES for name in ("clean", "adversarial")]
    frame = pd.DataFrame(rows)
    return frame.reindex(columns=[c for c in frame.columns if c not in measured] + measured) if rows else frame


def _notes(expert: pd.DataFrame) -> list[str]:
    members = "; ".join(f"{f} = {' ∪ '.join(m)}" for f, m in FINDINGS.items() if m)
    return [f"Google's labels: Majkowska et al. (2020), one radiologist-adjudicated row per image ({len(expert)} "
            f"images); the ChestX-ray14 labels compared: {members}. Mined: ChestX-ray14's report-mined labels of the "
            "same images, positive when any of those labels is.",
            "AUC ranks by the largest probability among a finding's labels; sensitivity and specificity count the "
            "finding as called when any of its labels reaches its own threshold (the cell's Youden thresholds from "
            "the validation split), so they are not a point on that ROC curve.",
            "n: the cell's images Google relabelled (an attacked cell: of its attacked subset); clean: the target "
            "unattacked on the same images; adversarial: the cell's adversarial images on the target.",
            "Fracture (not scored): ChestX-ray14 has no fracture label, so no model output scores it; its row "
            "gives the radiologists' positives only."]


def write_expert_tables(results: Path, records: list[dict], out: Path, *,
                        log: Callable[[str], None] = print) -> dict[str, Path]:
    """Write one expert-label table per (seed, pooling) of ChestX-ray14 records; nothing for other data."""
    records = [r for r in records if r["data"]["source"] == "nih"]
    if not records:
        return {}
    expert = load_expert_labels()
    frame = expert_frame(Path(results), records, expert)
    if frame.empty:
        log("multilabel: no cell's images were relabelled by Google's radiologists; no expert-label table "
            "(data.expert_subset=true tests on them)")
        return {}
    written = {}
    for (seed, pooling), group in frame.groupby(["seed", "pooling"]):
        shown = group.drop(columns=["seed", "pooling"]).copy()
        for column in shown.columns[shown.columns.get_loc("positives") + 1:]:
            shown[column] = shown[column].map(lambda v: fmt(v, 3))
        shown[["n", "positives"]] = shown[["n", "positives"]].astype(str)
        title = (f"Multi-label cells against Google's radiologist-adjudicated labels and the mined labels, "
                 f"{pooling} pooling, seed {seed}")
        written.update(write_table(out, f"expert_labels-{pooling}-seed{seed}", shown, _notes(expert), title,
                                   text_columns=9))
    cells = len(frame.drop_duplicates(list(_describe(records[0]))))
    log(f"multilabel: {cells} cells against Google's expert labels -> {out}")
    return written
