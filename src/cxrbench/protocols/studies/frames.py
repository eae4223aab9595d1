"""Study measurements as long tables, computed from ``study`` records and their per-image tables only.

Success rate everywhere is Kovalev & Voynov's: fooled / correctly classified clean (an image the
model gets wrong unattacked is no attack's success), with a 95% Wilson score interval. A fixed
cell's image counts as fooled at budget k when its first fooling step is in 1…k (the ``first-hit``
rule: the run stops at its first adversarial iterate, where Kovalev & Voynov read x_k); a minimal cell's
image counts as fooled at ε when its search found an adversarial whose L∞ size is at most ε.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.io import read_table
from cxrbench.records.store import load_records, newest_per_cell
from cxrbench.reporting.bootstrap import Interval
from cxrbench.reporting.figures import variant_label

#: Z of a two-sided 95% interval.
_Z95 = 1.959963984540054
#: What one cell measured; reruns of it resolve to the newest record.
_CELL = ("seed", "recipe", "model", "pooling", "regime", "axis_value", "measure", "attack", "epsilon", "iterations",
         "digest")


def wilson(fooled: int, n: int) -> Interval:
    """The proportion ``fooled / n`` with its 95% Wilson score interval (NaN when ``n`` is 0)."""
    if n == 0:
        return Interval(math.nan, math.nan, math.nan)
    p = fooled / n
    centre = (p + _Z95 ** 2 / (2 * n)) / (1 + _Z95 ** 2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + _Z95 ** 2 / (4 * n * n)) / (1 + _Z95 ** 2 / n)
    # At 0 or n the bound is exactly 0 or 1; the formula only reaches it up to rounding.
    return Interval(p, 0.0 if fooled == 0 else centre - half, 1.0 if fooled == n else centre + half)


def median_interval(values: np.ndarray, *, resamples: int = 1000, seed: int = 0) -> Interval:
    """The median with its 95% percentile-bootstrap interval (NaN without values)."""
    values = np.asarray(values, dtype=np.float64)
    if not len(values):
        return Interval(math.nan, math.nan, math.nan)
    rows = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    lo, hi = np.percentile(np.median(values[rows], axis=1), [2.5, 97.5])
    return Interval(float(np.median(values)), float(lo), float(hi))


def load_study(results_dir: Path, study: str, *, data: str | None = None) -> list[dict]:
    """The newest record of every cell of ``study``, each with its per-image table under ``"table"``."""
    records = [r for r in load_records(Path(results_dir) / "records", kinds=("study",)) if r["study"] == study]
    for r in records:
        # The recipe is part of the cell: the same model trained with and without label smoothing
        # (the confidence study's two recipes) are two rows, not a rerun of one.
        r["recipe"], r["label_smoothing"] = r["config"]["train"]["name"], r["config"]["train"]["label_smoothing"]
    chosen = newest_per_cell(records, _CELL, data=data, what=study).values()
    out = []
    for r in chosen:
        table = read_table(Path(results_dir) / r["per_sample"], "per-image table")
        out.append({**r, "table": table, "variant": variant_label(r["model"], r["pooling"], r["regime"])})
    return sorted(out, key=lambda r: (r["seed"], r["variant"], r["axis_value"], r["measure"], r["attack"],
                                      r["epsilon"] if r["epsilon"] == r["epsilon"] else -1))


def _head(r: dict) -> dict:
    return {"seed": r["seed"], "variant": r["variant"], "model": r["model"], "input_size": r["model_identity"]
            ["input_size"], "axis": r["axis"], "axis_value": r["axis_value"], "train_images": r["train_images"],
            "recipe": r.get("recipe", ""), "label_smoothing": r.get("label_smoothing", math.nan)}


def _interval_columns(prefix: str, value: Interval) -> dict:
    return {prefix: value.point, f"{prefix}_lo": value.lo, f"{prefix}_hi": value.hi}


def budget_frame(cells: list[dict], budgets: list[int] | None = None) -> pd.DataFrame:
    """Fixed cells at each budget k (default: every k of the run): success and accuracy with intervals."""
    rows = []
    for r in (c for c in cells if c["measure"] == "fixed"):
        t = r["table"]
        correct, first = t["correct"].to_numpy(bool), t["first_hit"].to_numpy()
        for k in budgets or range(1, r["iterations"] + 1):
            if k > r["iterations"]:
                continue
            fooled = correct & (first >= 1) & (first <= k)
            rows.append({**_head(r), "epsilon": r["epsilon"], "epsilon_label": r["epsilon_label"],
                         "rel_stepsize": r.get("rel_stepsize", math.nan), "success_rule": r.get("success_rule", ""),
                         "iterations": k,
                         "images": len(t), "n": int(correct.sum()), "fooled": int(fooled.sum()),
                         **_interval_columns("success", wilson(int(fooled.sum()), int(correct.sum()))),
                         **_interval_columns("accuracy", wilson(int((correct & ~fooled).sum()), len(t)))})
    return pd.DataFrame(rows)


def minimal_frame(cells: list[dict], radii: list[float]) -> pd.DataFrame:
    """Minimal cells read at each ε of ``radii``: success = an adversarial of L∞ size ≤ ε was found."""
    rows = []
    for r in (c for c in cells if c["measure"] == "minimal"):
        t = r["table"]
        correct = t["correct"].to_numpy(bool)
        for eps in radii:
            # The stored sizes are float32 differences: a hair above ε on the ε-ball boundary still counts.
            fooled = correct & t["success"].to_numpy(bool) & (t["linf"].to_numpy() <= eps * (1 + 1e-5))
            rows.append({**_head(r), "attack": r["attack"], "attack_id": r["attack_id"], "epsilon": eps,
                         "n": int(correct.sum()), "fooled": int(fooled.sum()),
                         **_interval_columns("success", wilson(int(fooled.sum()), int(correct.sum())))})
    return pd.DataFrame(rows)


def confidence_frame(cells: list[dict], bins: int, budget: int) -> pd.DataFrame:
    """Success at ``budget`` steps per bin of the clean confidence max(p, 1-p), ``bins`` equal bins over [0.5, 1]."""
    edges = np.linspace(0.5, 1.0, bins + 1)
    rows = []
    for r in (c for c in cells if c["measure"] == "fixed"):
        t = r["table"]
        correct, first = t["correct"].to_numpy(bool), t["first_hit"].to_numpy()
        p = t["clean_prob"].to_numpy()
        confidence = np.maximum(p, 1 - p)
        which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)  # 1.0 in the last bin
        fooled = correct & (first >= 1) & (first <= min(budget, r["iterations"]))
        for b in range(bins):
            inside = correct & (which == b)
            rows.append({**_head(r), "epsilon": r["epsilon"], "epsilon_label": r["epsilon_label"],
                         "rel_stepsize": r.get("rel_stepsize", math.nan), "iterations": min(budget, r["iterations"]),
                         "bin_lo": edges[b], "bin_hi": edges[b + 1],
                         "n": int(inside.sum()), "fooled": int((fooled & inside).sum()),
                         **_interval_columns("success", wilson(int((fooled & inside).sum()), int(inside.sum())))})
    return pd.DataFrame(rows)


def clean_frame(cells: list[dict]) -> pd.DataFrame:
    """One row per variant: clean accuracy over the whole test split (Wilson interval) and its AUC."""
    seen, rows = set(), []
    for r in cells:
        key = (r["seed"], r["variant"], r["axis_value"])
        if key in seen:
            continue
        seen.add(key)
        n = r["split"]["sizes"]["test"]
        rows.append({**_head(r), "test_n": n, "test_auc": r["test_auc"],
                     **_interval_columns("test_accuracy", wilson(int(round(r["test_accuracy"] * n)), n))})
    return pd.DataFrame(rows)


def perturbation_frame(cells: list[dict]) -> pd.DataFrame:
    """Minimal cells: success with its interval and the median perturbation sizes of the fooled images."""
    rows = []
    for r in (c for c in cells if c["measure"] == "minimal"):
        t = r["table"]
        correct = t["correct"].to_numpy(bool)
        fooled = correct & t["success"].to_numpy(bool)
        pixels = float(r["image_size"]) ** 2
        sizes = {"linf": t["linf"], "rms": np.sqrt(t["mse"]), "l0_fraction": t["l0"] / pixels}
        rows.append({**_head(r), "attack": r["attack"], "attack_id": r["attack_id"], "n": int(correct.sum()),
                     "fooled": int(fooled.sum()),
                     **_interval_columns("success", wilson(int(fooled.sum()), int(correct.sum()))),
                     **{k: v for name, values in sizes.items()
                        for k, v in _interval_columns(f"median_{name}", median_interval(
                            values.to_numpy()[fooled], seed=r["seed"])).items()}})
    return pd.DataFrame(rows)
