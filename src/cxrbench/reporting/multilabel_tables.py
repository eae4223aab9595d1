"""The multi-label tables (Ghamizi et al. 2022's Tables 2, 3 and 5 and their ε × steps grid), from records alone.

Files under ``tables/multilabel/`` (each ``.md``, ``.csv`` and ``.tex``), per (seed, pooling):

* ``transfer_k`` (their Table 2): k-robust accuracy (k = 1, 3) of PGD adversarials at the transfer
  budget, crafted on the row model and tested on the column model (diagonal: white-box), plus
  the heat map ``figures/multilabel/transfer_k-<group>.{png,pdf}``;
* ``whitebox`` (their Table 3's shape, one data source per render): clean and white-box k-robust
  accuracy and macro AUC of every model at the transfer budget;
* ``grid`` (their section 5's ε × steps study): white-box k-robust accuracy per ε and step budget;
* ``risk`` (their Table 5): risk-targeted PGD, per loss the k-robust accuracies, macro AUC, MSE,
  BCE, MLACC (against the target) and RISK of every model.

Every cell is over the same seeded stratified test images (n in the notes); model labels come
from the model registry. ``multilabel_cells.csv`` holds every cell in long form.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cxrbench.models import get_model_spec
from cxrbench.reporting.records import load_records, newest_per_cell
from cxrbench.reporting.table_format import csv_text, fmt, write_table, write_texts
from cxrbench.reporting.transfer import heat_maps, labels, matrix_values, model_order

_CELL = ("seed", "pooling", "evaluation", "loss", "source", "model", "epsilon", "steps", "digest")
_RISK_METRICS = {"k=1": "k1", "k=3": "k3", "macro AUC": "macro_auc", "MSE": "mse", "BCE": "bce",
                 "MLACC (vs target)": "mlacc", "RISK": "risk", "RISK of the clean outputs": "clean_risk"}


def multilabel_cells(results_dir: Path, *, data: str | None = None) -> pd.DataFrame:
    """One line per multi-label cell (clean evaluations included) with its metrics."""
    records = load_records(Path(results_dir) / "records", kinds=("multilabel",))
    chosen = newest_per_cell([{**r, "image_set": r["image_set"] or {"digest": ""}} for r in records], _CELL,
                             data=data, what="multilabel")
    rows = [{**dict(zip(_CELL, key)), "n": r["images"], "k1": r["k_accuracy"].get("1"), "k3": r["k_accuracy"].get("3"),
             "macro_auc": r["macro_auc"], "mse": r["mse"], "bce": r["bce"], "mlacc": r["mlacc"], "risk": r["risk"],
             "clean_k1": (r["clean"].get("k_accuracy") or {}).get("1"),
             "clean_k3": (r["clean"].get("k_accuracy") or {}).get("3"), "clean_auc": r["clean"].get("macro_auc"),
             "clean_risk": r["clean"].get("risk", float("nan")),
             "with_finding": r["metrics"].get("images_with_finding")}
            for key, r in chosen.items()]
    return pd.DataFrame(rows)


def _label(model: str) -> str:
    return get_model_spec(model).paper_id


def transfer_table(cells: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Rows ``k × source`` (then each target's clean figure), columns targets, at the budget models were crossed."""
    crossed = cells[cells["source"] != cells["model"]]
    budget = crossed[["epsilon", "steps"]].drop_duplicates()
    part = cells.merge(budget, on=["epsilon", "steps"])
    part = part[part["evaluation"] == "untargeted"]
    sources, targets = model_order(part["source"]), model_order(part["model"])
    lines, panels = [], {}
    for k in ("k1", "k3"):
        clean = part.drop_duplicates("model").set_index("model")[f"clean_{k}"]
        values = np.vstack([matrix_values(part, k, sources, targets), [[clean.get(t, np.nan) for t in targets]]])
        for source, row in zip(labels(sources) + ["clean"], values):
            lines.append({"k": k[1], "crafted on": source, **{_label(t): fmt(v, 3) for t, v in zip(targets, row)}})
        panels[f"{k[1]}-robust accuracy"] = values
    return pd.DataFrame(lines), {"panels": panels, "rows": labels(sources) + ["clean"], "columns": labels(targets),
                                 "budget": budget}


def whitebox_table(cells: pd.DataFrame, budget: pd.DataFrame) -> pd.DataFrame:
    part = cells[(cells["evaluation"] == "untargeted") & (cells["source"] == cells["model"])].merge(budget)
    return pd.DataFrame([{"model": _label(r.model), "clean k=1": fmt(r.clean_k1, 3), "k=1": fmt(r.k1, 3),
                          "clean k=3": fmt(r.clean_k3, 3), "k=3": fmt(r.k3, 3), "clean macro AUC": fmt(r.clean_auc, 3),
                          "macro AUC": fmt(r.macro_auc, 3)}
                         for r in part.sort_values("model", key=lambda s: s.map(model_order(s).index)).itertuples()])


def grid_table(cells: pd.DataFrame) -> pd.DataFrame:
    part = cells[(cells["evaluation"] == "untargeted") & (cells["source"] == cells["model"])]
    steps = sorted(part["steps"].unique())
    lines = []
    for model in model_order(part["model"]):
        for eps in sorted(part["epsilon"].unique()):
            sel = part[(part["model"] == model) & (part["epsilon"] == eps)].set_index("steps")
            line = {"model": _label(model), "ε (/255)": f"{eps * 255:g}"}
            for k in ("k1", "k3"):
                line.update({f"k={k[1]}, {s} steps": fmt(sel[k].get(s, float("nan")), 3) for s in steps})
            lines.append(line)
    return pd.DataFrame(lines)


def risk_table(cells: pd.DataFrame) -> pd.DataFrame:
    part = cells[cells["evaluation"] == "risk"]
    models = model_order(part["model"])
    lines = []
    for loss in sorted(part["loss"].unique()):
        sel = part[part["loss"] == loss].set_index("model")
        for name, column in _RISK_METRICS.items():
            lines.append({"loss": loss.upper(), "metric": name,
                          **{_label(m): fmt(sel[column].get(m, float("nan")), 3) for m in models}})
    return pd.DataFrame(lines)


def render_multilabel(results_dir: Path, *, data: str | None = None,
                      log: Callable[[str], None] = print) -> dict[str, Path]:
    """Write every multi-label table and the transfer heat maps; nothing when there are no records."""
    results_dir = Path(results_dir)
    cells = multilabel_cells(results_dir, data=data)
    attacked = cells[cells["evaluation"] != "clean"] if not cells.empty else cells
    if attacked.empty:
        log("multilabel: no attack records; run scripts/multilabel.py first")
        return {}
    out, written = results_dir / "tables" / "multilabel", {}
    for (seed, pooling), group in attacked.groupby(["seed", "pooling"]):
        tag, n = f"{pooling}-seed{seed}", int(group["n"].iloc[0])
        where = f"{pooling} pooling, seed {seed}, n = {n} test images (a seeded stratified subset, the same for every model)"
        k_note = (f"k-robust accuracy: mean over the {int(group['with_finding'].max())} of them with a finding of "
                  "|top-k predicted ∩ findings| / min(k, #findings) (Ghamizi et al.'s Definitions 1-2; README).")
        matrix, extra = transfer_table(group)
        if not matrix.empty:
            eps, steps = extra["budget"].iloc[0]
            budget = f"untargeted PGD ({group['loss'].iloc[0].upper()}), ε = {eps * 255:g}/255, {int(steps)} steps"
            title = f"k-robust accuracy under transferred {budget}: crafted on the row model, tested on the column model"
            written.update(write_table(out, f"transfer_k-{tag}", matrix, [where, k_note, "Diagonal: white-box; "
                                       "clean: the column model on the same images unattacked."], title))
            written.update(heat_maps(extra["panels"], extra["rows"], extra["columns"], f"{title}; {where}.",
                                     results_dir / "figures" / "multilabel", f"transfer_k-{tag}"))
            written.update(write_table(out, f"whitebox-{tag}", whitebox_table(group, extra["budget"]), [where, k_note],
                                       f"Clean and white-box multi-label robustness, {budget}", text_columns=1))
        written.update(write_table(out, f"grid-{tag}", grid_table(group), [where, k_note],
                                   "White-box k-robust accuracy of untargeted PGD per ε and step budget"))
        risk = risk_table(group)
        if not risk.empty:
            written.update(write_table(out, f"risk-{tag}", risk, [where, k_note, "RISK: mean over images of "
                                       "M(x*)·C(ŷ*) / ΣC(ŷ*) (README); MLACC against the target label set."],
                                       "Risk-targeted PGD towards the improbable labels of the clean top label"))
    written.update(write_texts(out, {"multilabel_cells.csv": csv_text(cells.astype(
        {"seed": str, "n": str, "steps": str}))}))
    log(f"multilabel: {len(attacked)} attack cells -> {out}")
    return written
