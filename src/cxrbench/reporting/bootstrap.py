"""Percentile-bootstrap confidence intervals of accuracy and ROC-AUC over test images.

Resampling is stratified by label: positives and negatives are drawn with replacement within
their own class. The paper's test set has a fixed composition (93 with a finding, 107 without),
so this resamples the design that produced the numbers, and every resample keeps both classes,
which makes the AUC defined in all of them (no resample is skipped, no interval is biased by
skipping). Resampling is seeded and vectorised, so an interval is a pure function of its inputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

# The project's one decision rule (strict ``> 0.5``, the argmax of two logits): a second copy here
# once disagreed with it at exactly 0.5, so intervals could miss the points of the records.
from cxrbench.evaluation.metrics import predicted


@dataclass(frozen=True)
class Interval:
    """A point estimate with its percentile-bootstrap interval (NaN where undefined)."""

    point: float
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2


NAN_INTERVAL = Interval(math.nan, math.nan, math.nan)


def stratified_resamples(labels: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Row indices of ``resamples`` bootstrap samples, each keeping the class counts of ``labels``.

    Returns:
        An integer array ``[resamples, len(labels)]``.
    """
    labels = np.asarray(labels).astype(int)
    rng = np.random.default_rng(seed)
    columns = []
    for cls in np.unique(labels):  # sorted, so the draw order (and the result) is deterministic
        rows = np.flatnonzero(labels == cls)
        columns.append(rows[rng.integers(0, len(rows), size=(resamples, len(rows)))])
    return np.concatenate(columns, axis=1) if columns else np.zeros((resamples, 0), dtype=int)


def _accuracy(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    return (predicted(probs) == labels).mean(axis=-1)


def _auc(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC along the last axis (ties count one half, as in ``roc_auc_score``)."""
    positives = labels.sum(axis=-1)
    negatives = labels.shape[-1] - positives
    ranks = rankdata(probs, axis=-1)  # average ranks handle ties
    rank_sum = np.where(labels == 1, ranks, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def bootstrap_metrics(labels: np.ndarray, probs: np.ndarray, *, resamples: int = 1000, level: float = 0.95,
                      seed: int = 0) -> dict[str, Interval]:
    """Accuracy and ROC-AUC of ``probs`` against ``labels`` with percentile-bootstrap intervals.

    Args:
        labels: binary targets, one per test image.
        probs: P(finding) per image; a prediction is positive by
            :func:`cxrbench.evaluation.metrics.predicted` (``> 0.5``).
        resamples: number of bootstrap samples.
        level: coverage of the interval.
        seed: seed of the resampling.

    Returns:
        ``{"accuracy": Interval, "auc": Interval}``; the AUC interval is NaN when ``labels`` hold one class.
    """
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=np.float64)
    if len(labels) == 0:
        return {"accuracy": NAN_INTERVAL, "auc": NAN_INTERVAL}
    rows = stratified_resamples(labels, resamples, seed)
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    out = {}
    for name, metric in (("accuracy", _accuracy), ("auc", _auc)):
        point = float(metric(labels, probs))
        if math.isnan(point):
            out[name] = NAN_INTERVAL
            continue
        lo, hi = np.percentile(metric(labels[rows], probs[rows]), tails)
        out[name] = Interval(point, float(lo), float(hi))
    return out
