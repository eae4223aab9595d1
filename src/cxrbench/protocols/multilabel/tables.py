"""The multi-label tables (Ghamizi et al. 2022's Tables 2, 3 and 5 and their ε × steps grid), from records alone.

Files under ``tables/multilabel/`` (each ``.md``, ``.csv`` and ``.tex``), per (seed, pooling) and, for
the untargeted tables, per attack (``<reference>-<loss>``: what the attack moved away from and its
loss; records from before the reference option read as ``prediction``):

* ``transfer_k`` (their Table 2): per metric and k = 1, 3 the figures of PGD adversarials at the
  transfer budget, crafted on the row model and tested on the column model (diagonal: white-box),
  plus the heat map ``figures/multilabel/transfer_k-<group>.{png,pdf}``;
* ``whitebox`` (their Table 3's shape, one data source per render): clean and white-box figures and
  macro AUC of every model at the transfer budget;
* ``grid`` (their section 5's ε × steps study): white-box figures per ε and step budget;
* ``risk`` (their Table 5): risk-targeted PGD, per loss the k-robust figures, macro AUC, MSE,
  BCE, MLACC (against the target) and RISK of every model.

Every table shows, per k, k-robust accuracy as we define it (over the images with a finding), as
Definition 1 reads (over all images), and k-consistency (their code's metric), and a ``prior`` row:
the constant ranking by training-split finding frequency (recorded with each cell), which no
attack moves; a model below it ranks worse than the prior. Every cell is over the same seeded
stratified test images (n in the notes); model labels come from the model registry.
``multilabel_cells.csv`` holds every cell in long form; with several seeds, the transfer table
across them (:mod:`cxrbench.protocols.multilabel.seeds`) lies beside the per-seed ones. On ChestX-ray14,
``expert_labels-<pooling>-seed<seed>`` scores the cells against Google's radiologist-adjudicated labels
beside the mined ones (:mod:`cxrbench.protocols.multilabel.expert_table`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cxrbench.models import get_model_spec
from cxrbench.protocols.multilabel.expert_table import write_expert_tables
from cxrbench.protocols.multilabel.seeds import write_transfer_seeds
from cxrbench.records.store import load_records, newest_per_cell
from cxrbench.reporting.matrix import heat_maps, labels, matrix_values, model_order
from cxrbench.reporting.table_format import csv_text, fmt, write_table, write_texts

_CELL = ("seed", "pooling", "evaluation", "reference", "loss", "source", "model", "epsilon", "steps", "digest")
KS = ("1", "3")
#: Column prefix -> what it is in the tables: ours over the images with a finding, Definition 1, consistency.
METRICS = {"k": "k-robust", "p": "k-robust (Def. 1)", "c": "k-consistency"}
_RISK_METRICS = {**{f"k={k} {name}": f"{m}{k}" for m, name in METRICS.items() for k in KS},
                 "macro AUC": "macro_auc", "MSE": "mse", "BCE": "bce", "MLACC (vs target)": "mlacc", "RISK": "risk",
                 "RISK of the clean outputs": "clean_risk",
                 **{f"k={k} {name} of the prior": f"prior_{m}{k}" for m, name in METRICS.items() if m != "c"
                    for k in KS}}


def _k(figures: dict | None, k: str) -> float:
    return (figures or {}).get(k, float("nan"))


def _row(key: tuple, r: dict) -> dict:
    clean, prior = r["clean"] or {}, r.get("prior") or {}
    row = {**dict(zip(_CELL, key)), "n": r["images"], "with_finding": r["images_with_finding"],
           "macro_auc": r["macro_auc"], "mse": r["mse"], "bce": r["bce"], "mlacc": r["mlacc"], "risk": r["risk"],
           "clean_auc": clean.get("macro_auc"), "clean_risk": clean.get("risk", float("nan")),
           "prior_auc": prior.get("macro_auc", float("nan"))}
    for k in KS:
        row.update({f"k{k}": _k(r["k_accuracy"], k), f"p{k}": _k(r["k_accuracy_paper"], k),
                    f"c{k}": _k(r["k_consistency"], k), f"clean_k{k}": _k(clean.get("k_accuracy"), k),
                    f"clean_p{k}": _k(clean.get("k_accuracy_paper"), k),
                    f"prior_k{k}": _k(prior.get("k_accuracy"), k), f"prior_p{k}": _k(prior.get("k_accuracy_paper"), k)})
    return row


def chosen_records(results_dir: Path, *, data: str | None = None) -> dict[tuple, dict]:
    """The newest record of every multi-label cell (clean evaluations included), by cell key."""
    records = load_records(Path(results_dir) / "records", kinds=("multilabel",))
    return newest_per_cell([{**r, "image_set": r["image_set"] or {"digest": ""}} for r in records], _CELL,
                           data=data, what="multilabel")


def multilabel_cells(results_dir: Path, *, data: str | None = None) -> pd.DataFrame:
    """One line per multi-label cell (clean evaluations included) with its metrics."""
    return pd.DataFrame([_row(key, r) for key, r in chosen_records(results_dir, data=data).items()])


def _label(model: str) -> str:
    return get_model_spec(model).paper_id


def transfer_table(cells: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Rows ``metric × k × source`` (then each target's clean figure and the prior), columns targets.

    ``cells``: the untargeted cells of one attack (reference and loss); the budget is the one the
    models were crossed at.
    """
    crossed = cells[cells["source"] != cells["model"]]
    budget = crossed[["epsilon", "steps"]].drop_duplicates()
    part = cells.merge(budget, on=["epsilon", "steps"])
    sources, targets = model_order(part["source"]), model_order(part["model"])
    per_target = part.drop_duplicates("model").set_index("model")
    lines, panels = [], {}
    for m, name in METRICS.items():
        for k in KS:
            # k-consistency compares with the target's own clean output (1 unattacked) and has no prior.
            extra = ([[np.nan] * len(targets)] * 2 if m == "c" else
                     [[per_target[f"{kind}_{m}{k}"].get(t, np.nan) for t in targets] for kind in ("clean", "prior")])
            values = np.vstack([matrix_values(part, f"{m}{k}", sources, targets), *extra])
            for source, row in zip(labels(sources) + ["clean", "prior"], values):
                lines.append({"metric": name, "k": k, "crafted on": source,
                              **{_label(t): fmt(v, 3) for t, v in zip(targets, row)}})
            panels[f"{k}-robust accuracy" if m == "k" else f"{name.replace('k-', k + '-')}"] = values
    return pd.DataFrame(lines), {"panels": panels, "rows": labels(sources) + ["clean", "prior"],
                                 "columns": labels(targets), "budget": budget}


def whitebox_table(cells: pd.DataFrame, budget: pd.DataFrame) -> pd.DataFrame:
    """Clean and white-box figures of every model at ``budget``, then the prior (no attack moves it)."""
    part = cells[cells["source"] == cells["model"]].merge(budget)
    lines = []
    for r in part.sort_values("model", key=lambda s: s.map(model_order(s).index)).to_dict("records"):
        line = {"model": _label(r["model"])}
        for k in KS:
            line.update({f"clean k={k}": fmt(r[f"clean_k{k}"], 3), f"k={k}": fmt(r[f"k{k}"], 3),
                         f"clean k={k} (Def. 1)": fmt(r[f"clean_p{k}"], 3), f"k={k} (Def. 1)": fmt(r[f"p{k}"], 3),
                         f"k={k} consistency": fmt(r[f"c{k}"], 3)})
        lines.append({**line, "clean macro AUC": fmt(r["clean_auc"], 3), "macro AUC": fmt(r["macro_auc"], 3)})
    if lines:
        r = part.iloc[0]
        line = {"model": "prior"}
        for k in KS:
            line.update({f"clean k={k}": fmt(r[f"prior_k{k}"], 3), f"k={k}": fmt(r[f"prior_k{k}"], 3),
                         f"clean k={k} (Def. 1)": fmt(r[f"prior_p{k}"], 3), f"k={k} (Def. 1)": fmt(r[f"prior_p{k}"], 3),
                         f"k={k} consistency": ""})
        lines.append({**line, "clean macro AUC": fmt(r["prior_auc"], 3), "macro AUC": fmt(r["prior_auc"], 3)})
    return pd.DataFrame(lines)


def grid_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Rows model × ε × metric (then the prior), columns k × (clean, every step budget)."""
    part = cells[cells["source"] == cells["model"]]
    steps = sorted(part["steps"].unique())
    lines = []
    for model in model_order(part["model"]):
        for eps in sorted(part["epsilon"].unique()):
            sel = part[(part["model"] == model) & (part["epsilon"] == eps)].set_index("steps")
            if sel.empty:
                continue
            for m, name in METRICS.items():
                line = {"model": _label(model), "ε (/255)": f"{eps * 255:g}", "metric": name}
                for k in KS:
                    line[f"k={k}, clean"] = "" if m == "c" else fmt(sel[f"clean_{m}{k}"].iloc[0], 3)
                    line.update({f"k={k}, {s} steps": fmt(sel[f"{m}{k}"].get(s, float("nan")), 3) for s in steps})
                lines.append(line)
    if lines:
        r = part.iloc[0]
        for m in ("k", "p"):
            line = {"model": "prior", "ε (/255)": "any", "metric": METRICS[m]}
            for k in KS:
                line.update({f"k={k}, clean": fmt(r[f"prior_{m}{k}"], 3),
                             **{f"k={k}, {s} steps": fmt(r[f"prior_{m}{k}"], 3) for s in steps}})
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


def _notes(group: pd.DataFrame) -> list[str]:
    """What n each figure is over and what each metric is, for every table of ``group``."""
    n, with_finding = int(group["n"].iloc[0]), int(group["with_finding"].max())
    pooling, seed = group["pooling"].iloc[0], group["seed"].iloc[0]
    return [f"{pooling} pooling, seed {seed}, n = {n} test images (a seeded stratified subset, the same for every model)",
            f"k-robust: ours, mean over the {with_finding} of them with a finding of |top-k predicted ∩ findings| / "
            "min(k, #findings). k-robust (Def. 1): Ghamizi et al.'s Definition 1 as written, mean over all n of "
            "|top-k predicted ∩ top-k of the 0/1 ground truth| / k (ties by label order). k-consistency: share of the "
            "n whose clean top-1 label is within the adversarial top-k (their code's metric).",
            "prior: one constant ranking of the findings by their frequency on the training split (the "
            "no-information baseline, unmoved by any attack; its macro AUC is 0.5)."]


def render_multilabel(results_dir: Path, *, data: str | None = None,
                      log: Callable[[str], None] = print) -> dict[str, Path]:
    """Write every multi-label table and the transfer heat maps; nothing when there are no records."""
    results_dir = Path(results_dir)
    chosen = chosen_records(results_dir, data=data)
    cells = pd.DataFrame([_row(key, r) for key, r in chosen.items()])
    attacked = cells[cells["evaluation"] != "clean"] if not cells.empty else cells
    if attacked.empty:
        log("multilabel: no attack records; run scripts/run.py experiment=multilabel_quick first")
        return {}
    out, written = results_dir / "tables" / "multilabel", {}
    for (seed, pooling), group in attacked.groupby(["seed", "pooling"]):
        notes = _notes(group)
        untargeted = group[group["evaluation"] == "untargeted"]
        for (reference, loss), attack in untargeted.groupby(["reference", "loss"]):
            tag = f"{pooling}-seed{seed}-{reference}-{loss}"
            what = f"untargeted PGD ({loss.upper()}, ascended away from the {reference})"
            matrix, extra = transfer_table(attack)
            if not matrix.empty and not extra["budget"].empty:
                eps, steps = extra["budget"].iloc[0]
                budget = f"{what}, ε = {eps * 255:g}/255, {int(steps)} steps"
                title = f"Multi-label robustness under transferred {budget}: crafted on the row model, tested on the column model"
                written.update(write_table(out, f"transfer_k-{tag}", matrix, notes + [
                    "Diagonal: white-box; clean: the column model on the same images unattacked."], title, text_columns=3))
                written.update(heat_maps(extra["panels"], extra["rows"], extra["columns"], f"{title}; {notes[0]}.",
                                         results_dir / "figures" / "multilabel", f"transfer_k-{tag}"))
                written.update(write_table(out, f"whitebox-{tag}", whitebox_table(attack, extra["budget"]), notes,
                                           f"Clean and white-box multi-label robustness, {budget}", text_columns=1))
            written.update(write_table(out, f"grid-{tag}", grid_table(attack), notes,
                                       f"White-box multi-label robustness of {what} per ε and step budget",
                                       text_columns=3))
        risk = risk_table(group)
        if not risk.empty:
            written.update(write_table(out, f"risk-{pooling}-seed{seed}", risk, notes + [
                "RISK: mean over images of M(x*)·C(ŷ*) / ΣC(ŷ*) (README); MLACC against the target label set."],
                "Risk-targeted PGD towards the improbable labels of the clean top label"))
    written.update(write_transfer_seeds(out, attacked, METRICS, KS))
    written.update(write_expert_tables(results_dir, list(chosen.values()), out, log=log))
    written.update(write_texts(out, {"multilabel_cells.csv": csv_text(cells.astype(
        {"seed": str, "n": str, "steps": str}))}))
    log(f"multilabel: {len(attacked)} attack cells -> {out}")
    return written
