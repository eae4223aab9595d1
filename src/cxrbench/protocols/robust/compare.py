"""PGD against APGD-CE image by image: who broke what, and the worst case over both attacks.

Counting cells where one attack's accuracy is at least the other's hides ties where both are 0
or both equal clean, and says nothing about *which* images fell. Each robust cell's per-image
table holds ``broken`` (broken at this ε or a smaller one of its ladder), so for every (variant,
ε) this module counts the correctly classified images broken by one attack and not the other,
and scores the worst case over both: an image is broken when either attack broke it, which is
what a robustness claim has to survive.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.evaluation.metrics import predicted
from cxrbench.reporting.bootstrap import bootstrap_metrics

#: The two attacks compared, in the order their columns appear.
PAIR = ("pgd", "apgd")
#: The worst case's column title in the robust table.
WORST_TITLE = "worst of both"
#: What one (variant, ε) comparison is: the cell fields both attacks' records share.
_KEYS = ["seed", "model", "pooling", "regime", "iterations", "epsilon", "digest"]


def _table(results_dir: Path, per_sample: str) -> pd.DataFrame:
    return pd.read_parquet(Path(results_dir) / per_sample,
                           columns=["image_id", "label", "clean_prob", "adv_prob", "broken"]).set_index("image_id")


def compare_pair(first: pd.DataFrame, second: pd.DataFrame) -> dict:
    """Counts over the correctly classified images and the worst case's per-image P(finding).

    Args:
        first, second: per-image tables (indexed by image id) of the same images under two attacks.

    Returns:
        ``first_broken``, ``second_broken``, ``first_only``, ``second_only``, ``either`` (counts of
        correctly classified clean images), ``correct``, and ``labels`` / ``prob``: the worst case's
        vector (the first attack's adversarial where it broke the image, else the second's where it
        did, else the clean P(finding)).
    """
    second = second.loc[first.index]
    labels = first["label"].to_numpy(int)
    correct = predicted(first["clean_prob"].to_numpy()) == labels
    a, b = first["broken"].to_numpy(bool) & correct, second["broken"].to_numpy(bool) & correct
    prob = np.where(a, first["adv_prob"], np.where(b, second["adv_prob"], first["clean_prob"]))
    return {"first_broken": int(a.sum()), "second_broken": int(b.sum()), "first_only": int((a & ~b).sum()),
            "second_only": int((b & ~a).sum()), "either": int((a | b).sum()), "correct": int(correct.sum()),
            "labels": labels, "prob": prob.astype(np.float64)}


def worst_case_cells(cells: pd.DataFrame, results_dir: Path, *, resamples: int = 1000) -> pd.DataFrame:
    """One line per (seed, variant, iterations, ε) measured by both attacks of :data:`PAIR`.

    Columns: the cell keys, ``variant``, ``epsilon_label``, ``n``, the counts of :func:`compare_pair`
    and the worst case's ``accuracy`` with its 95% stratified-bootstrap interval
    (``accuracy_lo``/``accuracy_hi``) and ``worst_case_auc``.
    """
    rows = []
    for key, group in cells.groupby(_KEYS, sort=False):
        by_attack = {r.attack: r for r in group.itertuples(index=False)}
        if not all(a in by_attack for a in PAIR):
            continue
        first, second = (by_attack[a] for a in PAIR)
        counts = compare_pair(_table(results_dir, first.per_sample), _table(results_dir, second.per_sample))
        labels, prob = counts.pop("labels"), counts.pop("prob")
        value = bootstrap_metrics(labels, prob, resamples=resamples)
        rows.append({**dict(zip(_KEYS, key)), "variant": first.variant, "epsilon_label": first.epsilon_label,
                     "n": first.n, **counts, "accuracy": value["accuracy"].point,
                     "accuracy_lo": value["accuracy"].lo, "accuracy_hi": value["accuracy"].hi,
                     "worst_case_auc": value["auc"].point})
    return pd.DataFrame(rows)


def with_worst_columns(cells: pd.DataFrame, worst: pd.DataFrame) -> pd.DataFrame:
    """``cells`` plus one pseudo-attack ``worst of both`` per (variant, ε), placed after that ε's attacks."""
    if worst.empty:
        return cells
    clean = cells.drop_duplicates(_KEYS)[_KEYS + ["clean_accuracy", "clean_lo", "clean_hi"]]
    extra = worst.merge(clean, on=_KEYS).assign(attack="worst", attack_title=WORST_TITLE)
    both = pd.concat([cells.assign(_rank=0), extra.assign(_rank=1)], ignore_index=True)
    # Keep the robust table's row order (first appearance of each row group), then ε, then attack.
    row = both["seed"].astype(str) + "|" + both["variant"] + "|" + both["iterations"].astype(str)
    both["_row"] = row.map({r: i for i, r in enumerate(dict.fromkeys(row))})
    return both.sort_values(["_row", "epsilon", "_rank"], kind="stable").drop(columns=["_row", "_rank"])


def agreement_table(worst: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    """The per-(variant, ε) image counts as a table, its notes and its title."""
    frame = pd.DataFrame({
        "seed": worst["seed"].astype(str), "variant": worst["variant"], "iterations": worst["iterations"].astype(str),
        "ε": worst["epsilon_label"], "correct": worst["correct"].astype(str),
        "PGD broke": worst["first_broken"].astype(str), "APGD-CE broke": worst["second_broken"].astype(str),
        "PGD only": worst["first_only"].astype(str), "APGD-CE only": worst["second_only"].astype(str),
        "either": worst["either"].astype(str),
        "worst-case accuracy": [f"{v:.3f} [{lo:.2f}, {hi:.2f}]" for v, lo, hi in
                                zip(worst["accuracy"], worst["accuracy_lo"], worst["accuracy_hi"])]})
    notes = ["Counts over the correctly classified clean images (`correct`); broken = broken at this ε or a "
             "smaller one of the same attack's ladder. `PGD only` / `APGD-CE only`: broken by that attack and not "
             "the other; `either`: broken by at least one (the worst case).",
             "Worst-case accuracy: an image counts as broken when either attack broke it, over all n images of the "
             "row, 95% stratified-bootstrap interval."]
    return frame, notes, "G2 PGD vs APGD-CE image by image, and the worst case over both"
