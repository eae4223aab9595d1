"""The 14 ChestX-ray14 findings at once (Ghamizi et al. 2022): sigmoid outputs, weighted BCE, macro AUC.

Training loss: binary cross-entropy per label with a positive weight ``w_j = n_neg,j / n_pos,j``
counted on the training split (capped at :data:`MAX_POS_WEIGHT`; 1 for a label with no positive),
so a rare finding counts as much as a common one, as in Ghamizi et al.'s and Cohen et al.'s
training. Label smoothing ``s`` moves each target to ``y (1 - s) + s / 2``. The best checkpoint is
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
    """``n_neg / n_pos`` per label of a 0/1 matrix, capped at :data:`MAX_POS_WEIGHT`, 1 where no positive."""
    labels = np.asarray(labels, dtype=np.float64)
    pos = labels.sum(axis=0)
    weights = np.where(pos > 0, (len(labels) - pos) / np.maximum(pos, 1), 1.0)
    return torch.tensor(np.clip(weights, None, MAX_POS_WEIGHT), dtype=torch.float32)


class MultiLabelTask:
    name = "multilabel"
    num_classes = len(NIH_LABELS)

    def batch(self, dataset, rows):
        return dataset.batch(rows, labels=True)

    def loss_fn(self, train, label_smoothing: float):
        weights = positive_weights(train.labels)

        def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            target = y * (1 - label_smoothing) + label_smoothing / 2
            return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weights.to(logits.device))

        return loss

    def validate(self, model, val, runtime, batch_size: int) -> dict:
        probs = predict_label_proba(model, val, runtime, batch_size)
        return {"auc": macro_auc(probs, val.labels), "accuracy": k_accuracy(probs, val.labels, 1).value,
                "n": int(len(val))}


register_task(MultiLabelTask())
