"""The paper's two numbers: accuracy and ROC-AUC of the disease probability."""
from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import roc_auc_score


def binary_metrics(targets: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy at ``threshold`` and ROC-AUC over all images.

    AUC is NaN (not a made-up number) when the targets hold a single class.
    """
    targets = np.asarray(targets).astype(int)
    probs = np.asarray(probs, dtype=np.float64)
    preds = (probs >= threshold).astype(int)
    auc = float(roc_auc_score(targets, probs)) if len(np.unique(targets)) == 2 else math.nan
    return {
        "accuracy": float((preds == targets).mean()) if len(targets) else math.nan,
        "auc": auc,
        "n": int(len(targets)),
        "n_positive": int(targets.sum()),
    }
