"""The studies' tables (MD/CSV/LaTeX under ``tables/studies/<study>/``) and figures, from records only.

One renderer per study, registered by name (``study.name`` is validated against
:func:`list_studies`); each writes wide tables as read plus the long CSV they come from.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cxrbench.protocols.studies import figures
from cxrbench.protocols.studies.frames import (budget_frame, clean_frame, confidence_frame, load_study, minimal_frame,
                                               perturbation_frame)
from cxrbench.reporting.table_format import csv_text, fmt, write_table, write_texts
from cxrbench.training.adversarial import step_label

#: Budgets of the success-vs-iterations table (the CSV and the figure hold every budget).
_ITERATION_COLUMNS = (1, 2, 3, 5, 10, 15, 20, 30, 40, 50)
_SUCCESS = "Success = fooled / correctly classified clean over the same images, 95% Wilson interval in brackets."


def fixed_rule(cells: list[dict]) -> tuple[str, str]:
    """The fixed cells' PGD step for a title (``step ε/8``) and the note that says how success is counted.

    Read from the records shown, so a table mixing cells of different steps says so.
    """
    steps = sorted({r["rel_stepsize"] for r in cells if r["measure"] == "fixed"}, reverse=True)
    steps = [s for s in steps if s == s] or [math.nan]
    label = " / ".join("step unknown" if s != s else f"step {step_label(s)}" for s in steps)
    reach = ", ".join(f"{step_label(s)} reaches ε after {math.ceil(1 / s - 1e-9)} steps" for s in steps if s == s)
    note = (f"PGD at fixed ε: {label} ({reach}; a budget below that explores only k × step). Success at k steps "
            "counts an image fooled when some iterate x_j, j ≤ k, is misclassified (first-hit: the run stops at its "
            "first adversarial iterate); Kovalev & Voynov read the k-th iterate x_k.")
    return label, note


def recipe_label(recipe: str, smoothing: float) -> str:
    """A row's training recipe as tables write it: ``quick (label smoothing 0.1)``."""
    return f"{recipe} ({'no label smoothing' if smoothing == 0 else f'label smoothing {smoothing:g}'})"


def _cell(value: float, lo: float, hi: float) -> str:
    return f"{fmt(value, 2)} [{fmt(lo, 2)}, {fmt(hi, 2)}]" if value == value else ""


def _wide(frame: pd.DataFrame, rows: list[str], column: str, value: str) -> pd.DataFrame:
    """Rows × one column per distinct ``column`` value (in order of appearance), cells ``value [lo, hi]``."""
    frame = frame.assign(_cell=[_cell(v, lo, hi) for v, lo, hi in zip(frame[value], frame[f"{value}_lo"],
                                                                       frame[f"{value}_hi"])])
    order = list(dict.fromkeys(frame[column]))
    wide = frame.pivot_table(index=rows, columns=column, values="_cell", aggfunc="first", sort=False)
    wide = wide.reindex(columns=[c for c in order if c in wide.columns]).reset_index()
    wide.columns = [str(c) for c in wide.columns]
    return wide.fillna("").astype(str)


def _long(out: Path, name: str, frame: pd.DataFrame) -> dict[str, Path]:
    return write_texts(out, {f"{name}.csv": csv_text(frame)})


def render_budget(cells: list[dict], out: Path, figures_dir: Path) -> dict[str, Path]:
    """Success (and accuracy) against ε and against steps; minimal-ε curves beside fixed-ε PGD."""
    written: dict[str, Path] = {}
    report = sorted({int(k) for r in cells if r["measure"] == "fixed" for k in r["config"]["study"]["report_iterations"]})
    budget = budget_frame(cells)
    step, rule = fixed_rule(cells)
    radii = sorted(budget["epsilon"].unique())
    written.update(_long(out, "budget_cells", budget))
    for value, title in (("success", "Attack success rate"), ("accuracy", "Accuracy under attack")):
        shown = budget[budget["iterations"].isin(report)]
        wide = _wide(shown, ["seed", "variant", "iterations", "n"], "epsilon_label", value)
        notes = [_SUCCESS if value == "success" else "Accuracy over all images of the row (n is the correctly "
                 "classified ones), 95% Wilson interval.", "ε in [0, 1] pixel units, written k/255; every ε is "
                 "its own PGD run (no ladder).", rule]
        written.update(write_table(out, f"{value}_vs_epsilon", wide, notes,
                                   f"{title} against ε, PGD at fixed ε, {step}"))
    steps = budget[budget["iterations"].isin(_ITERATION_COLUMNS)]
    wide = _wide(steps.rename(columns={"epsilon_label": "ε"}), ["seed", "variant", "ε"], "iterations", "success")
    written.update(write_table(out, "success_vs_iterations", wide, [_SUCCESS, "Columns: PGD steps; every budget is "
                               "read off the one run per ε (exactly what a run of that many steps returns).", rule],
                               f"Attack success rate against the number of PGD steps, {step}"))
    minimal = minimal_frame(cells, radii)
    if not minimal.empty:
        minimal = minimal.sort_values(["seed", "variant", "epsilon", "attack_id"], kind="stable")
        written.update(_long(out, "minimal_curve", minimal))
        written.update(write_table(out, "minimal_vs_fixed", *compare_minimal(budget, minimal, cells),
                                   text_columns=3))
    written.update(figures.epsilon_figure(budget, minimal_frame(cells, _fine(radii)), report, figures_dir))
    written.update(figures.iterations_figure(budget, figures_dir))
    return written


def _fine(radii: list[float]) -> list[float]:
    """A dense log grid over the fixed radii, for the minimal-ε step curves."""
    return sorted(set(np.geomspace(min(radii), max(radii), 80)) | set(radii))


def compare_minimal(budget: pd.DataFrame, minimal: pd.DataFrame, cells: list[dict]) -> tuple[pd.DataFrame, list[str], str]:
    """Fixed-ε PGD at G2's own step budget vs every minimal-ε curve at the same ε, and whether G2's agree."""
    g2_steps = {r["variant"]: r["iterations"] for r in cells if r["measure"] == "minimal" and r["attack"] == "pgd"}
    rows = []
    for (seed, variant, eps), fixed in budget.groupby(["seed", "variant", "epsilon"], sort=False):
        k = min(g2_steps.get(variant, fixed["iterations"].max()), fixed["iterations"].max())
        at = fixed[fixed["iterations"] == k].iloc[0]
        line = {"seed": str(seed), "variant": variant, "ε": at.epsilon_label,
                f"PGD fixed ε, {k} steps": _cell(at.success, at.success_lo, at.success_hi)}
        curves = minimal[(minimal["seed"] == seed) & (minimal["variant"] == variant) & (minimal["epsilon"] == eps)]
        for c in curves.itertuples(index=False):
            line[f"{c.attack_id} minimal"] = _cell(c.success, c.success_lo, c.success_hi)
            if c.attack == "pgd":
                overlap = c.success_lo <= at.success_hi and at.success_lo <= c.success_hi
                line["G2 vs fixed"] = f"{c.success - at.success:+.2f} ({'overlap' if overlap else 'DISAGREE'})"
        rows.append(line)
    notes = [_SUCCESS, "Minimal: share of the correctly classified images whose minimal-ε search (G1 FGSM, G2 PGD, "
             "G3 DeepFool, G4 BIM: their crafted sets) found an adversarial of L∞ size ≤ ε; the fixed column runs "
             "PGD at ε with G2's own per-try budget. `G2 vs fixed`: difference and whether the intervals overlap.",
             fixed_rule(cells)[1] + " The G2 search keeps G2's own step (ε/30 of each ε it tries)."]
    return (pd.DataFrame(rows).fillna(""), notes,
            f"Minimal-ε searches against PGD at fixed ε ({fixed_rule(cells)[0]}), same images")


def render_confidence(cells: list[dict], out: Path, figures_dir: Path) -> dict[str, Path]:
    """Success per bin of the clean prediction's confidence (Kovalev & Voynov's Fig. 3c)."""
    config = cells[0]["config"]["study"]
    bins = confidence_frame(cells, config["bins"], config["report_iterations"][0])
    written = _long(out, "confidence_cells", bins)
    bins = bins.assign(bin=[f"[{lo:.2f}, {hi:.2f}{']' if hi >= 1 else ')'}" for lo, hi in zip(bins["bin_lo"], bins["bin_hi"])],
                       shown=[f"{f}/{n} " + _cell(s, lo, hi) if n else "0/0" for f, n, s, lo, hi in
                              zip(bins["fooled"], bins["n"], bins["success"], bins["success_lo"], bins["success_hi"])])
    bins = bins.assign(recipe=[recipe_label(r, s) for r, s in zip(bins["recipe"], bins["label_smoothing"])])
    step, rule = fixed_rule(cells)
    wide = bins.rename(columns={"epsilon_label": "ε"}).pivot_table(
        index=["seed", "recipe", "variant", "ε", "iterations"], columns="bin", values="shown", aggfunc="first",
        sort=False).reset_index()
    wide.columns = [str(c) for c in wide.columns]
    notes = [_SUCCESS, "Cells: fooled/count, success [interval]; bins of the clean confidence max(p, 1 − p), "
             "correctly classified images only (the last bin includes 1.0).", "recipe: the training recipe of the "
             "row's models and its label smoothing s, whose loss optimum caps the confidence at 1 − s/2 (0.95 for "
             "s = 0.1): with smoothing, the top bins are shaped by the recipe, not only by the data.", rule]
    written.update(write_table(out, "confidence_bins", wide.astype(str), notes,
                               f"Attack success rate per bin of the clean confidence, PGD {step}", text_columns=3))
    labelled = bins.assign(variant=bins["variant"] + ", " + bins["recipe"])   # two recipes: two series, not one
    written.update(figures.confidence_figure(labelled, figures_dir))
    return written


def render_train_size(cells: list[dict], out: Path, figures_dir: Path) -> dict[str, Path]:
    """Clean accuracy and success against the number of training images."""
    budget = cells[0]["config"]["study"]["report_iterations"][0]
    clean, frame = clean_frame(cells), budget_frame(cells, [budget])
    written = _long(out, "train_size_cells", frame)
    keys = ["seed", "variant", "train_images"]
    wide = _wide(frame, keys, "epsilon_label", "success")
    accuracy = clean.assign(**{"clean accuracy (test)": [_cell(v, lo, hi) for v, lo, hi in zip(
        clean["test_accuracy"], clean["test_accuracy_lo"], clean["test_accuracy_hi"])],
        "clean AUC": clean["test_auc"].map(lambda v: fmt(v, 3))})[keys + ["clean accuracy (test)", "clean AUC"]]
    wide = accuracy.astype(str).merge(wide, on=keys, how="left").fillna("")
    step, rule = fixed_rule(cells)
    notes = [_SUCCESS + f" PGD at fixed ε, {budget} steps.", "Clean accuracy over the whole test split. Each row is "
             "a model retrained on a nested subset of the training split (same recipe and step budget).", rule]
    written.update(write_table(out, "train_size", wide, notes,
                               f"Training-set size: clean accuracy and attack success (PGD {step})", text_columns=3))
    written.update(figures.size_figure(clean, frame, figures_dir))
    return written


def render_resolution(cells: list[dict], out: Path, figures_dir: Path) -> dict[str, Path]:
    """Success and median perturbation size of the minimal-ε attacks against the input resolution."""
    sizes = perturbation_frame(cells).merge(clean_frame(cells)[["seed", "variant", "input_size", "test_accuracy"]],
                                            on=["seed", "variant", "input_size"])
    written = _long(out, "resolution_cells", sizes)
    table = pd.DataFrame({
        "seed": sizes["seed"].astype(str), "variant": sizes["variant"], "px": sizes["input_size"].astype(str),
        "attack": sizes["attack_id"], "clean acc": sizes["test_accuracy"].map(lambda v: fmt(v, 3)),
        "n": sizes["n"].astype(str),
        **{label: [_cell(v, lo, hi) if column == "success" else _size(v, lo, hi) for v, lo, hi in zip(
            sizes[column], sizes[f"{column}_lo"], sizes[f"{column}_hi"])]
           for column, label in (("success", "success"), ("median_linf", "median L∞"),
                                 ("median_rms", "median RMS"), ("median_l0_fraction", "median L0 / pixels"))}})
    notes = [_SUCCESS, "Medians over the fooled images, 95% bootstrap interval; RMS = √MSE and L0 / pixels are "
             "comparable across resolutions, L∞ in [0, 1] pixel units. Same phantom cases at every size.",
             "Minimal-ε searches only, each with its attack's own step (G2 PGD: ε/30 of every ε it tries)."]
    written.update(write_table(out, "resolution", table, notes, "Input resolution: success and perturbation size",
                               text_columns=4))
    written.update(figures.resolution_figure(sizes, figures_dir))
    return written


def _size(value: float, lo: float, hi: float) -> str:
    return f"{value:.3g} [{lo:.3g}, {hi:.3g}]" if value == value else ""


_RENDERERS: dict[str, Callable[[list[dict], Path, Path], dict[str, Path]]] = {
    "budget": render_budget, "confidence": render_confidence, "train_size": render_train_size,
    "resolution": render_resolution}


def list_studies() -> list[str]:
    """The registered studies, each one experiment config (``configs/experiment/study_<name>.yaml``)."""
    return list(_RENDERERS)


def render_study(name: str, results_dir: Path, *, data: str | None = None,
                 log: Callable[[str], None] = print) -> dict[str, Path]:
    """Write the tables and figures of study ``name`` from its records; nothing when it has none."""
    results_dir = Path(results_dir)
    cells = load_study(results_dir, name, data=data)
    if not cells:
        log(f"study {name}: no records; run scripts/run.py experiment=study_{name} first")
        return {}
    out = results_dir / "tables" / "studies" / name
    written = _RENDERERS[name](cells, out, results_dir / "figures")
    log(f"study {name}: {len(cells)} cells -> {out}")
    return written
