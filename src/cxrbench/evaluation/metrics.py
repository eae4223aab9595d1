"""The paper's two numbers, and the one decision rule every number in the project uses.

A model outputs two logits; it predicts a finding when the finding logit is the larger one, which
is also the attacks' criterion (Foolbox's argmax, ties going to class 0). Probabilities are
computed from the logit margin in float64 (:func:`finding_probability`), where P > 0.5 holds
exactly when that margin is positive, so :func:`predicted` on a stored probability always agrees
with the argmax the attack saw.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

#: P(finding) above this (strictly) predicts a finding: the argmax of two logits, ties to "no finding".
THRESHOLD = 0.5


def finding_probability(logits: torch.Tensor) -> np.ndarray:
    """P(finding) = sigmoid(logit₁ − logit₀) in float64, so ``> 0.5`` equals ``argmax == 1``."""
    logits = logits.detach().to("cpu", torch.float64)
    return torch.sigmoid(logits[:, 1] - logits[:, 0]).numpy()


def predicted(probs: np.ndarray) -> np.ndarray:
    """The predicted class (1: finding) of each probability, by the project's one rule."""
    return (np.asarray(probs, dtype=np.float64) > THRESHOLD).astype(int)


def binary_metrics(targets: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Accuracy (by :func:`predicted`) and ROC-AUC over all images.

    AUC is NaN (not a made-up number) when the targets hold a single class.
    """
    targets = np.asarray(targets).astype(int)
    probs = np.asarray(probs, dtype=np.float64)
    auc = float(roc_auc_score(targets, probs)) if len(np.unique(targets)) == 2 else math.nan
    return {
        "accuracy": float((predicted(probs) == targets).mean()) if len(targets) else math.nan,
        "auc": auc,
        "n": int(len(targets)),
        "n_positive": int(targets.sum()),
    }
