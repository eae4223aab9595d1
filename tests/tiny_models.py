"""A tiny, quickly trained 2-logit CNN and data for attack tests (seconds on a CPU)."""
from __future__ import annotations

import foolbox as fb
import torch
import torch.nn as nn
import torch.nn.functional as F


def blob_images(n: int, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey noisy images in [0, 1]; label 1 has a brighter square somewhere in the middle."""
    g = torch.Generator().manual_seed(seed)
    x = 0.35 + 0.1 * torch.rand(n, 1, size, size, generator=g)
    y = torch.arange(n) % 2
    for i in torch.nonzero(y).flatten().tolist():
        r, c = torch.randint(3, size - 7, (2,), generator=g).tolist()
        x[i, :, r:r + 4, c:c + 4] += 0.35
    return x.clamp(0, 1), y


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv(x))
        return self.head(F.adaptive_max_pool2d(h, 1).flatten(1))


def trained_tiny_cnn(seed: int = 0, steps: int = 150) -> TinyCNN:
    """A TinyCNN trained to ~100 % on :func:`blob_images`, in eval mode."""
    torch.manual_seed(seed)
    model = TinyCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = blob_images(256, seed=seed + 1)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def foolbox_model(model: nn.Module) -> fb.PyTorchModel:
    return fb.PyTorchModel(model.eval(), bounds=(0.0, 1.0))


class Threshold(nn.Module):
    """Class 1 once the mean pixel exceeds ``threshold`` (every gradient sign of class 0's loss is +1)."""

    def __init__(self, threshold: float):
        super().__init__()
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x.flatten(1).mean(1) - self.threshold) * 100
        return torch.stack([torch.zeros_like(z), z], 1)
