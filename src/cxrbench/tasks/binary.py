"""Finding vs "No Finding" (Taghanaki et al. 2018): two logits, cross-entropy, ROC-AUC."""
from __future__ import annotations

import torch.nn.functional as F

from cxrbench.evaluation.metrics import binary_metrics
from cxrbench.evaluation.predict import predict_proba
from cxrbench.tasks.base import register_task


class BinaryTask:
    name = "binary"
    num_classes = 2  # Foolbox needs two logits for a binary model

    def batch(self, dataset, rows):
        return dataset.batch(rows)

    def loss_fn(self, train, label_smoothing: float):
        return lambda logits, y: F.cross_entropy(logits, y, label_smoothing=label_smoothing)

    def validate(self, model, val, runtime, batch_size: int) -> dict:
        return binary_metrics(val.targets, predict_proba(model, val, runtime, batch_size))


register_task(BinaryTask())
