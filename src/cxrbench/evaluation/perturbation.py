"""Per-sample perturbation sizes and image-quality measures of adversarial examples.

All measures take images in [0, 1] (the model bounds), shape ``[N, C, H, W]``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-coords**2 / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean structural similarity per image (Wang et al. 2004: 11x11 Gaussian window, σ 1.5).

    Computed on valid windows only (no padding), per channel, then averaged; images smaller
    than the window use a window of their size.
    """
    x, y = x.double(), y.double()
    size = min(11, x.shape[-1], x.shape[-2])
    window = _gaussian_window(size, 1.5 * size / 11).to(x.device).repeat(x.shape[1], 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=x.shape[1])

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return index.flatten(1).mean(1).float()


def perturbation_measures(clean: torch.Tensor, adversarial: torch.Tensor) -> dict[str, torch.Tensor]:
    """L0 (changed pixels, any channel), L2, L∞, MSE, PSNR (dB, inf when identical) and SSIM."""
    delta = (adversarial - clean).flatten(1)
    mse = delta.pow(2).mean(1)
    changed = (adversarial != clean).any(1).flatten(1).sum(1)
    psnr = torch.where(mse > 0, 10 * torch.log10(1.0 / mse.clamp_min(1e-30)),
                       torch.full_like(mse, math.inf))
    return {"l0": changed.float(), "l2": delta.norm(dim=1), "linf": delta.abs().amax(1), "mse": mse,
            "psnr": psnr, "ssim": ssim(clean, adversarial)}
