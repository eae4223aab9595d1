"""Batched inference returning the disease-class probability."""
from __future__ import annotations

import numpy as np
import torch

from cxrbench.data.datasets import CachedImageDataset, iterate_batches
from cxrbench.training.runtime import Runtime


@torch.inference_mode()
def predict_proba(model: torch.nn.Module, dataset: CachedImageDataset, runtime: Runtime,
                  batch_size: int = 64) -> np.ndarray:
    """P(finding) for every image of ``dataset`` in order (model put in eval mode)."""
    model.eval()
    out = []
    for x, _ in iterate_batches(dataset, batch_size):
        with runtime.autocast():
            logits = model(runtime.batch(x))
        out.append(torch.softmax(logits.float(), dim=1)[:, 1].cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)
