"""Model registry in the style of timm: ``register_model`` / ``list_models`` / ``create_model``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from cxrbench.errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    """What the project knows about one backbone family.

    Attributes:
        name: short name used in configs (``irv2``).
        timm_name: the timm architecture it builds.
        paper_id: the abbreviation of Taghanaki et al. 2018's tables (``IR2``).
        native_size: input size of the original network.
        min_size: smallest input the network accepts.
        builder: returns the backbone (no pretrained weights) for ``(num_classes, in_chans)``.
    """

    name: str
    timm_name: str
    paper_id: str
    native_size: int
    min_size: int
    builder: Callable[[int, int], nn.Module]


_MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a backbone family; names are unique."""
    if spec.name in _MODELS:
        raise ValueError(f"model {spec.name!r} is already registered")
    _MODELS[spec.name] = spec
    return spec


def list_models() -> list[str]:
    """Names of all registered backbones, sorted."""
    return sorted(_MODELS)


def get_model_spec(name: str) -> ModelSpec:
    """Look up a backbone by name; unknown names list the valid ones."""
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}") from None
