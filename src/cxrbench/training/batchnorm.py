"""Recompute BatchNorm running statistics from training batches ("precise BN").

Early in a short from-scratch run the weights move faster than BatchNorm's
exponential running averages can follow, so eval-mode predictions lag far behind
train-mode ones. Re-estimating the statistics with the current weights (Wu &
Johnson 2021, "Rethinking 'Batch' in BatchNorm") removes that lag; it changes no
weight.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from cxrbench.data.datasets import CachedImageDataset
from cxrbench.runtime import Runtime


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, dataset: CachedImageDataset, runtime: Runtime, *,
                          batches: int, batch_size: int, seed: int = 0) -> int:
    """Replace running mean/var of every BatchNorm by their average over ``batches`` batches.

    Returns the number of BatchNorm layers updated (0 when ``batches`` is 0).
    """
    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if batches <= 0 or not layers:
        return 0
    was_training = model.training
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the exact mean over the batches seen
    model.train()
    rng = np.random.default_rng(seed)
    for _ in range(batches):
        rows = rng.choice(len(dataset), size=min(batch_size, len(dataset)), replace=False)
        x, _ = dataset.batch(rows)
        with runtime.autocast():
            model(runtime.batch(x))
    for m, momentum in zip(layers, momenta):
        m.momentum = momentum
    model.train(was_training)
    return len(layers)
