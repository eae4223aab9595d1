"""Build a chest X-ray classifier: backbone, pooling variant and input handling."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from cxrbench.errors import ConfigError
from cxrbench.models.pooling import apply_pooling
from cxrbench.models.registry import get_model_spec


@dataclass(frozen=True)
class ModelIdentity:
    """Everything that makes two classifiers interchangeable; stored in checkpoints."""

    model: str
    timm_name: str
    pooling: str
    input_size: int
    channels: int
    num_classes: int

    def as_dict(self) -> dict:
        return asdict(self)


class CXRClassifier(nn.Module):
    """A backbone that takes grayscale images in ``[0, 1]``.

    Normalisation (the backbone's timm mean/std), channel replication and resizing
    to the training resolution live here, so that attacks work in pixel space with
    bounds ``[0, 1]`` and adversarials crafted at one size can be fed to another
    architecture.
    """

    def __init__(self, backbone: nn.Module, identity: ModelIdentity, mean: tuple, std: tuple):
        super().__init__()
        self.backbone = backbone
        self.identity = identity
        channels = identity.channels
        mean_t = torch.tensor(mean[:channels] if channels == 3 else [sum(mean) / len(mean)])
        std_t = torch.tensor(std[:channels] if channels == 3 else [sum(std) / len(std)])
        self.register_buffer("mean", mean_t.view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std_t.view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.identity.input_size
        if x.shape[-2:] != (size, size):
            # Differentiable, so attacks crafted in the experiment's image space see through it;
            # antialiased when shrinking, as the image cache's own resize is.
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                              antialias=size < x.shape[-1])
        if x.shape[1] != self.identity.channels:
            x = x.expand(-1, self.identity.channels, -1, -1)
        return self.backbone((x - self.mean) / self.std)


def create_model(name: str, pooling: str, *, input_size: int, channels: int = 1,
                 num_classes: int = 2) -> CXRClassifier:
    """Build a randomly initialised classifier (never downloads weights).

    Args:
        name: a registered backbone (see ``list_models``).
        pooling: ``max`` (the network as published) or ``avg`` (internal max pools swapped).
        input_size: square input resolution the backbone sees.
        channels: 1 for a grayscale stem, 3 to replicate the gray channel into an RGB stem.
        num_classes: two logits for the binary task; Foolbox needs two for a binary model.
    """
    identity = model_identity(name, pooling, input_size=input_size, channels=channels, num_classes=num_classes)
    spec = get_model_spec(name)
    backbone = apply_pooling(spec.builder(num_classes, channels), pooling)
    cfg = getattr(backbone, "pretrained_cfg", {}) or {}
    mean, std = spec.mean or cfg.get("mean", (0.5,) * 3), spec.std or cfg.get("std", (0.5,) * 3)
    return CXRClassifier(backbone, identity, mean, std)


def model_identity(name: str, pooling: str, *, input_size: int, channels: int = 1,
                   num_classes: int = 2) -> ModelIdentity:
    """The identity :func:`create_model` gives such a model, without building it (plans key the store with it).

    Raises:
        ConfigError: an input size below the backbone's minimum, or a channel count other than 1 or 3.
    """
    spec = get_model_spec(name)
    if spec.builder is None:
        raise ConfigError(f"model {name} is loaded from a file you bring, never built from scratch; "
                          "see docs/external-models.md")
    if input_size < spec.min_size:
        raise ConfigError(f"model {name} needs input_size >= {spec.min_size}, got {input_size}; "
                          f"raise train.input_size")
    if channels not in (1, 3):
        raise ConfigError(f"channels must be 1 or 3, got {channels}")
    return ModelIdentity(model=name, timm_name=spec.timm_name, pooling=pooling, input_size=input_size,
                         channels=channels, num_classes=num_classes)
