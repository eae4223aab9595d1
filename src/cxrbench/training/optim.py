"""Optimisers and per-step learning-rate schedules named in the ``train`` config."""
from __future__ import annotations

import math

import torch
from timm.optim import RMSpropTF

from cxrbench.settings import TrainConfig


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """``rmsprop_tf`` is TensorFlow's RMSProp (epsilon inside the root), as the paper used."""
    params = model.parameters()
    if cfg.optimizer == "rmsprop_tf":
        return RMSpropTF(params, lr=cfg.lr, alpha=cfg.rmsprop_alpha, eps=cfg.rmsprop_eps,
                         momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                           weight_decay=cfg.weight_decay)


class LrFactor:
    """Multiplier of the base learning rate at optimiser step ``s`` (a picklable callable)."""

    def __init__(self, cfg: TrainConfig, steps_per_epoch: int, total_steps: int):
        self.kind = cfg.schedule
        self.warmup = max(cfg.warmup_steps, 0)
        self.decay_every = max(1, round(cfg.decay_epochs * steps_per_epoch))
        self.decay_rate = cfg.decay_rate
        self.total = max(total_steps, 1)

    def __call__(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup) if self.warmup else 1.0
        if self.kind == "step":  # exponential decay in stairs, e.g. x0.94 every 4 epochs
            return warm * self.decay_rate ** (step // self.decay_every)
        if self.kind == "cosine":
            progress = min(max(step - self.warmup, 0) / max(self.total - self.warmup, 1), 1.0)
            return warm * 0.5 * (1.0 + math.cos(math.pi * progress))
        return warm


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int,
                    total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, LrFactor(cfg, steps_per_epoch, total_steps))
