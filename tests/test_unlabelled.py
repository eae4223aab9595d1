"""The -1 convention (not labelled by this dataset): loss, weights, AUC, k-robust metrics, co-occurrence."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from cxrbench.data.cooccurrence import cooccurrence
from cxrbench.evaluation.multilabel import (
    frequency_prior,
    k_accuracy,
    macro_auc,
    mlacc,
    per_label_auc,
)
from cxrbench.tasks.multilabel import masked_bce, positive_weights

TRUTH = np.array([[1, -1, 0], [0, -1, 1], [1, -1, -1], [0, -1, 1]])
PROBS = np.array([[0.9, 0.99, 0.2], [0.3, 0.99, 0.6], [0.6, 0.99, 0.1], [0.4, 0.99, 0.7]])


def test_loss_and_weights_skip_unlabelled_entries_and_match_plain_bce_without_them():
    logits, y = torch.randn(4, 3), torch.tensor(TRUTH, dtype=torch.float32)
    weights = positive_weights(TRUTH)
    assert weights.tolist() == [1.0, 1.0, 0.5]  # label 2: 2 positives, 1 negative; label 1: no positive
    seen = y >= 0
    plain = F.binary_cross_entropy_with_logits(logits[seen], y[seen], pos_weight=weights.expand(4, 3)[seen])
    assert masked_bce(logits, y, weights, 0.0).item() == pytest.approx(plain.item())
    full = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    assert masked_bce(logits[:2], full, weights, 0.1).item() == pytest.approx(F.binary_cross_entropy_with_logits(
        logits[:2], full * 0.9 + 0.05, pos_weight=weights).item())


def test_auc_skips_unlabelled_images_and_labels():
    auc = per_label_auc(PROBS, TRUTH)
    assert auc[0] == 1.0 and np.isnan(auc[1])
    assert auc[2] == roc_auc_score([0, 1, 1], [0.2, 0.6, 0.7])
    assert macro_auc(PROBS, TRUTH) == pytest.approx(np.mean([auc[0], auc[2]]))


def test_k_robust_metrics_prior_and_cooccurrence_read_unlabelled_as_absent():
    absent = np.where(TRUTH == -1, 0, TRUTH)
    # The unlabelled label ranks first everywhere: a miss (read as present it would score 1).
    assert k_accuracy(PROBS, TRUTH, 1).value == k_accuracy(PROBS, absent, 1).value == 0.0
    assert mlacc(PROBS >= 0.5, TRUTH) == mlacc(PROBS >= 0.5, absent)
    assert frequency_prior(TRUTH).tolist() == [0.5, 0.0, 0.5]
    assert cooccurrence(TRUTH).tolist() == cooccurrence(absent).tolist()
