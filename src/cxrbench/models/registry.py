"""Model registry in the style of timm: ``register_model`` / ``list_models`` / ``create_model``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch.nn as nn

from cxrbench.errors import ConfigError


@dataclass(frozen=True)
class ModelSpec:
    """What the project knows about one backbone family.

    Attributes:
        name: short name used in configs (``irv2``).
        timm_name: the architecture it builds: a timm name, or another library's class
            (stored in checkpoints as part of the model identity).
        paper_id: its label in tables and figures: the abbreviation of Taghanaki et al. 2018's
            tables (``IR2``) for their two networks, a short name of ours for the others.
        native_size: input size of the original network.
        min_size: smallest input the network accepts.
        builder: returns the backbone (no pretrained weights) for ``(num_classes, in_chans)``;
            None for a family that is loaded, never built (``loader``).
        in_paper: one of Taghanaki et al.'s two networks, whose pair fills Tables 1-2 (the
            transfer matrices take any set of models).
        mean, std: per-channel normalisation of ``[0, 1]`` inputs the backbone expects; None:
            the timm ``pretrained_cfg`` of the built backbone.
        loader: for a model the user brings (``model=external``): returns the ready classifier, its
            key and a description from ``(model config, task name, task labels, num_classes)``;
            such a variant is never trained.
        check: checks a model config of this family before any work (pooling, task name, task labels).
    """

    name: str
    timm_name: str
    paper_id: str
    native_size: int
    min_size: int
    builder: Optional[Callable[[int, int], nn.Module]]
    in_paper: bool = True
    mean: Optional[tuple[float, ...]] = None
    std: Optional[tuple[float, ...]] = None
    loader: Optional[Callable[..., Any]] = None
    check: Optional[Callable[..., None]] = None


_MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a backbone family; names are unique."""
    if spec.name in _MODELS:
        raise ValueError(f"model {spec.name!r} is already registered")
    _MODELS[spec.name] = spec
    return spec


def list_models(*, in_paper: bool | None = None) -> list[str]:
    """Names of the registered backbones, sorted; ``in_paper`` keeps only (or drops) the paper's pair."""
    return sorted(n for n, s in _MODELS.items() if in_paper is None or s.in_paper == in_paper)


def get_model_spec(name: str) -> ModelSpec:
    """Look up a backbone by name; unknown names list the valid ones."""
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}") from None


def check_model_config(model: Any, *, pooling: str, task: str, labels: tuple[str, ...]) -> None:
    """Run the family's own check of ``model`` (a ModelConfig), if it has one.

    Args:
        model: the typed ``model`` config group.
        pooling: the run's pooling mode.
        task: the run's task name.
        labels: the label names the task's data provides.

    Raises:
        ConfigError: the family's check found a problem.
    """
    spec = get_model_spec(model.name)
    if spec.check is not None:
        spec.check(model, pooling=pooling, task=task, labels=labels)
