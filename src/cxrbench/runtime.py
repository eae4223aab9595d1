"""Device, precision and determinism: CUDA with AMP and channels_last when present, CPU otherwise."""
from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass

import numpy as np
import torch

from cxrbench.errors import ConfigError


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    amp: bool
    channels_last: bool

    def autocast(self):
        """Mixed precision on CUDA; a no-op context on CPU (fp32 there is faster and exact)."""
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def prepare(self, module: torch.nn.Module) -> torch.nn.Module:
        module = module.to(self.device)
        return module.to(memory_format=torch.channels_last) if self.channels_last else module

    def batch(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


def resolve_runtime(device: str = "auto") -> Runtime:
    """``auto`` picks CUDA when available; ``cuda`` without a GPU is a configuration error."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is visible; use device=auto or device=cpu")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        return Runtime(torch.device("cuda"), amp=True, channels_last=True)
    return Runtime(torch.device("cpu"), amp=False, channels_last=False)


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; on request make torch choose deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
