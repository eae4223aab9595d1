"""The 14 ChestX-ray14 findings at once (Ghamizi et al. 2022): sigmoid outputs, weighted BCE, macro AUC.

Training loss: binary cross-entropy per label with a positive weight ``w_j = n_neg,j / n_pos,j``
counted on the training split (capped at :data:`MAX_POS_WEIGHT`; 1 for a label with no positive),
so a rare finding counts as much as a common one, as in Ghamizi et al.'s and Cohen et al.'s
training. Entries a dataset does not label (-1, :mod:`cxrbench.data.harmonise`) are left out of the
loss and of the weights' counts, as Cohen et al. mask their NaN labels. Label smoothing ``s`` moves
each target to ``y (1 - s) + s / 2``. The best checkpoint is
the one with the highest macro ROC-AUC on the validation split (over the labels it holds both
classes of); per-label decision thresholds are chosen on the validation split afterwards
(:mod:`cxrbench.kit.multilabel_clean`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from cxrbench.data.labels import NIH_LABELS
from cxrbench.evaluation.multilabel import k_accuracy, macro_auc
from cxrbench.evaluation.predict import predict_label_proba
from cxrbench.tasks.base import register_task

#: Cap on a label's positive weight (Hernia is ~1 in 500 images of ChestX-ray14).
MAX_POS_WEIGHT = 100.0


def positive_weights(labels: np.ndarray) -> torch.Tensor:
    """``n_neg / n_pos`` per label of a 1/0/-1 matrix, capped at :data:`MAX_POS_WEIGHT`, 1 where no positive.

    Only labelled entries count: a -1 ("not labelled by this dataset") is neither positive nor negative.
    """
    labels = np.asarray(labels, dtype=np.float64)
    pos, neg = (labels == 1).sum(axis=0), (labels == 0).sum(axis=0)
    weights = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
    return torch.tensor(np.clip(weights, None, MAX_POS_WEIGHT), dtype=torch.float32)


def masked_bce(logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """Weighted BCE averaged over the labelled entries of ``y`` (1/0); -1 entries add nothing.

    With no -1 in ``y`` this is exactly ``binary_cross_entropy_with_logits``' mean over every entry.
    """
    labelled = y >= 0
    target = y.clamp(min=0) * (1 - label_smoothing) + label_smoothing / 2
    losses = F.binary_cross_entropy_with_logits(logits, target, pos_weight=weights, reduction="none")
    if bool(labelled.all()):
        return losses.mean()
    # A batch without any labelled entry contributes a zero loss (still differentiable).
    return (losses * labelled).sum() / labelled.sum().clamp(min=1)


class MultiLabelTask:
    name = "multilabel"
    num_classes = len(NIH_LABELS)

    def batch(self, dataset, rows):
        return dataset.batch(rows, labels=True)

    def loss_fn(self, train, label_smoothing: float):
        weights = positive_weights(train.labels)

        def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return masked_bce(logits, y, weights.to(logits.device), label_smoothing)

        return loss

    def validate(self, model, val, runtime, batch_size: int) -> dict:
        probs = predict_label_proba(model, val, runtime, batch_size)
        return {"auc": macro_auc(probs, val.labels), "accuracy": k_accuracy(probs, val.labels, 1).value,
                "n": int(len(val))}


register_task(MultiLabelTask())
