"""The one evaluation path: fp32 P(finding) of a model, for clean images and adversarials alike.

Every decision that a table rests on (which images are correct, which are attacked, which are
fooled, the clean and attack columns) comes from :func:`probabilities`, in fp32 and eval mode,
whatever the device: mixed precision is used for training only, so the Clean column and the
attack cells can never disagree about an image because one of them ran in half precision.
"""
from __future__ import annotations

import numpy as np
import torch

from cxrbench.data.datasets import CachedImageDataset, iterate_batches
from cxrbench.evaluation.metrics import finding_probability
from cxrbench.runtime import Runtime


@torch.inference_mode()
def probabilities(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """P(finding) of ``model`` (in eval mode) for the batch ``x``, in float64 from fp32 logits."""
    model.eval()
    return finding_probability(model(x).float())


def predict_proba(model: torch.nn.Module, dataset: CachedImageDataset, runtime: Runtime,
                  batch_size: int = 64) -> np.ndarray:
    """P(finding) for every image of ``dataset`` in order, through :func:`probabilities`."""
    out = [probabilities(model, runtime.batch(x)) for x, _ in iterate_batches(dataset, batch_size)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float64)


@torch.inference_mode()
def label_probabilities(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Per-label sigmoid probabilities ``(B, M)`` of a multi-label ``model`` (eval mode, float64 from fp32)."""
    model.eval()
    return torch.sigmoid(model(x).float().to("cpu", torch.float64)).numpy()


def predict_label_proba(model: torch.nn.Module, dataset: CachedImageDataset, runtime: Runtime,
                        batch_size: int = 64) -> np.ndarray:
    """Per-label probabilities for every image of ``dataset`` in order, through :func:`label_probabilities`."""
    out = [label_probabilities(model, runtime.batch(x)) for x, _ in iterate_batches(dataset, batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float64)
