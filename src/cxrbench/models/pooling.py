"""Swap the internal max-pooling layers of a network for average pooling.

Taghanaki et al. (2018) replace every max-pooling operation inside IRv2 and
NASNet-Large with average pooling of the same geometry. The swap is a module
replacement done once at build time, so ``forward`` stays the network's own.
"""
from __future__ import annotations

from typing import Callable

import torch.nn as nn
from timm.layers.pool2d_same import AvgPool2dSame, MaxPool2dSame

from cxrbench.errors import ConfigError

POOLING_MODES = ("max", "avg")


def _avg_from_max(pool: nn.MaxPool2d) -> nn.AvgPool2d:
    if pool.dilation not in (1, (1, 1)):
        raise ValueError(f"cannot express dilated {pool} as average pooling")
    # Max pooling never selects its padding, so the closest average ignores it too.
    return nn.AvgPool2d(pool.kernel_size, pool.stride, pool.padding, ceil_mode=pool.ceil_mode,
                        count_include_pad=False)


def _avg_from_max_same(pool: MaxPool2dSame) -> AvgPool2dSame:
    # timm's TF-"same" pools pad explicitly in forward; the average twin pads the same way.
    return AvgPool2dSame(pool.kernel_size, pool.stride, ceil_mode=pool.ceil_mode, count_include_pad=False)


# Subclasses first: MaxPool2dSame is itself an nn.MaxPool2d.
_REPLACEMENTS: tuple[tuple[type, Callable[[nn.Module], nn.Module]], ...] = (
    (MaxPool2dSame, _avg_from_max_same),
    (nn.MaxPool2d, _avg_from_max),
)
_MAX_TYPES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d, nn.FractionalMaxPool2d)


def max_pool_modules(model: nn.Module) -> list[str]:
    """Qualified names of all max-pooling modules left in ``model``."""
    return [name for name, module in model.named_modules() if isinstance(module, _MAX_TYPES)]


def replace_max_pooling(model: nn.Module) -> int:
    """Replace every internal max pool in place; returns how many were swapped."""
    swapped = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            for max_type, make_avg in _REPLACEMENTS:
                if isinstance(child, max_type):
                    setattr(parent, child_name, make_avg(child))
                    swapped += 1
                    break
    leftover = max_pool_modules(model)
    if leftover:
        raise RuntimeError(f"max pooling without an average equivalent remains: {leftover}")
    return swapped


def apply_pooling(model: nn.Module, mode: str) -> nn.Module:
    """Return ``model`` with its internal pooling set to ``mode`` (``max`` keeps the network as built)."""
    if mode not in POOLING_MODES:
        raise ConfigError(f"unknown pooling {mode!r}; choose one of: {', '.join(POOLING_MODES)}")
    if mode == "avg":
        replace_max_pooling(model)
    return model
