"""Recompute BatchNorm running statistics from training batches ("precise BN").

Early in a short from-scratch run the weights move faster than BatchNorm's
exponential running averages can follow, so eval-mode predictions lag far behind
train-mode ones. Re-estimating the statistics with the current weights (Wu &
Johnson 2021, "Rethinking 'Batch' in BatchNorm") removes that lag; it changes no
weight. The statistics must be those of the inputs the weights were trained on: for
adversarial training the batches pass through the training adversary first (``transform``).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from cxrbench.data.datasets import CachedImageDataset
from cxrbench.runtime import Runtime


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, dataset: CachedImageDataset, runtime: Runtime, *,
                          batches: int, batch_size: int, seed: int = 0,
                          transform: Optional[Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]] = None) -> int:
    """Replace running mean/var of every BatchNorm by their average over ``batches`` batches.

    Args:
        model: the network; its weights are not changed.
        dataset: the training split the batches are drawn from.
        runtime: device and precision.
        batches: how many batches (0: nothing is done).
        batch_size: images per batch.
        seed: seed of the batch draw.
        transform: ``(x, y, b) -> x'`` applied to batch ``b`` before it counts (the training
            adversary for adversarial training); its own forward passes do not count.

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
    for b in range(batches):
        rows = rng.choice(len(dataset), size=min(batch_size, len(dataset)), replace=False)
        x, y = dataset.batch(rows)
        x = runtime.batch(x)
        if transform is not None:
            # The adversary's forward passes (train mode, as in training) would enter the averages:
            # keep the statistics as they were before it ran.
            saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in layers]
            with torch.enable_grad(), runtime.autocast():
                x = transform(x, y.to(runtime.device), b)
            for m, (mean, var, tracked) in zip(layers, saved):
                m.running_mean.copy_(mean), m.running_var.copy_(var), m.num_batches_tracked.copy_(tracked)
        with runtime.autocast():
            model(x)
    for m, momentum in zip(layers, momenta):
        m.momentum = momentum
    model.train(was_training)
    return len(layers)
