"""Decision-based line searches D1-D3 of Taghanaki et al. 2018, with Foolbox 1.x's grids.

All three need only the predicted label. Each walks its grid upward and keeps the first
adversarial (see :mod:`cxrbench.attacks.line_search`); they run forward-only.
"""
from __future__ import annotations

import math

import foolbox as fb
import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from cxrbench.attacks.base import keyed_rng
from cxrbench.attacks.line_search import LineSearchAttack


class GaussianBlurAttack(LineSearchAttack):
    """D1: blur with σ = ε·max(h, w) for ε = 1/steps, 2/steps, ... 1 (Foolbox's grid).

    Args:
        steps: grid points (1000 in the paper's Foolbox).
        chunk: grid points evaluated together per sample (speed only).
        batch_size: images per forward.
    """

    distance = fb.distances.l2

    def __init__(self, *, steps: int = 1000, chunk: int = 8, batch_size: int = 128):
        self.steps, self.chunk, self.batch_size = steps, chunk, batch_size

    def grid(self) -> np.ndarray:
        return np.arange(1, self.steps + 1) / self.steps

    def perturb(self, x, eps, state, model):
        side = max(x.shape[-2:])
        data = x.detach().cpu().numpy()
        # scipy's defaults (reflect, truncate 4) as in Foolbox; no blur across batch or channels.
        out = np.stack([gaussian_filter(img, sigma=(0.0, e * side, e * side))
                        for img, e in zip(data, eps.cpu().numpy().astype(np.float64))])
        return torch.from_numpy(out).to(x)


class ContrastReductionAttack(LineSearchAttack):
    """D2: x' = (1-ε)·x + ε·(min+max)/2 for ε = 1/steps, 2/steps, ... 1 (Foolbox 1.x's grid).

    Foolbox 1.x tried ``np.linspace(0, 1, steps + 1)[1:]``: it never tests the clean image
    and its last point, ε = 1, is the all-grey image. Foolbox 3's
    ``LinearSearchContrastReductionAttack`` walks 0 … (steps-1)/steps instead, one grid step
    lower.

    Args:
        steps: grid points (1000 in the paper's Foolbox).
        chunk: grid points evaluated together per sample (speed only).
        batch_size: images per forward.
    """

    distance = fb.distances.l2

    def __init__(self, *, steps: int = 1000, chunk: int = 8, batch_size: int = 128):
        self.steps, self.chunk, self.batch_size = steps, chunk, batch_size

    def grid(self) -> np.ndarray:
        # The same expression as Foolbox 1.x's contrast.py, so the grid matches it bit for bit.
        return np.linspace(0, 1, num=self.steps + 1)[1:]

    def perturb(self, x, eps, state, model):
        lo, hi = model.bounds
        e = eps.view(-1, *([1] * (x.dim() - 1)))
        return (1 - e) * x + e * (lo + hi) / 2


class AdditiveGaussianNoiseAttack(LineSearchAttack):
    """D3: one fresh Gaussian noise draw per grid point ε = 1/steps ... 1.

    Foolbox 1.x drew noise of std ε/√3·(max−min) and then added ε·noise, so the effective std
    is ε²/√3·(max−min) (``schedule="foolbox1"``, the paper's); ``schedule="corrected"`` adds
    noise of std ε/√3·(max−min) once. Each noise field is drawn from (seed, image key, grid
    step) (see :meth:`CountingAttack.sample_rng`), so an image gets the same fields whatever
    batch or chunk it is attacked in, and two images never share a field.

    Args:
        steps: grid points (1000 in the paper's Foolbox).
        schedule: ``foolbox1`` or ``corrected``.
        seed: noise seed.
        chunk: grid points evaluated together per sample (speed only).
        batch_size: images per forward.
    """

    distance = fb.distances.l2
    # Fewer grid points also mean fewer fresh noise draws, i.e. fewer chances to fool.
    weakening = ("steps",)

    def __init__(self, *, steps: int = 1000, schedule: str = "foolbox1", seed: int = 0, chunk: int = 8,
                 batch_size: int = 128):
        if schedule not in ("foolbox1", "corrected"):
            raise ValueError(f"schedule must be 'foolbox1' or 'corrected', got {schedule!r}")
        self.steps, self.schedule, self.seed = steps, schedule, seed
        self.chunk, self.batch_size = chunk, batch_size

    def grid(self) -> np.ndarray:
        return np.arange(1, self.steps + 1) / self.steps

    def prepare(self, model, x, y, rows):
        # Image keys, not positions in the batch, seed the noise (one int64 per sample).
        return torch.as_tensor([self.sample_key(r) for r in rows], dtype=torch.int64, device=x.device)

    def perturb(self, x, eps, state, model):
        lo, hi = model.bounds
        steps = np.rint(eps.cpu().numpy().astype(np.float64) * self.steps).astype(np.int64)
        noise = np.stack([keyed_rng(self.seed, key, step).standard_normal(x.shape[1:])
                          for key, step in zip(state.tolist(), steps)])
        e = eps.view(-1, *([1] * (x.dim() - 1)))
        std = e / math.sqrt(3) * (hi - lo)
        scale = std * e if self.schedule == "foolbox1" else std
        return x + scale * torch.from_numpy(noise).to(x)
