"""What a training batch is made of: clean images, or PGD adversarials of them (Madry et al. 2018).

The training loop asks :func:`build_batch_adversary` once, before the first step, for a function
``(model, x, y, step) -> x_train``; standard training gets the identity, ``train=adversarial`` gets
L∞ PGD in pixel units ([0, 1] images) with a random start in the ε-ball, so the loop itself never
branches on the regime.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cxrbench.settings import AdversaryConfig, epsilon_label, step_label  # noqa: F401  (re-exported)

BatchAdversary = Callable[[nn.Module, torch.Tensor, torch.Tensor, int], torch.Tensor]

#: Adversaries a training recipe may name (``train.adversary.method``).
METHODS = ("none", "pgd")
#: Version of the adversarial-training protocol, part of every adversarially trained checkpoint's key.
#: 1 (unversioned keys): BatchNorm re-estimated on clean batches, best checkpoint by clean validation
#: AUC. 2: BatchNorm re-estimated on the adversary's batches, best checkpoint by robust validation
#: accuracy at the training ε (:func:`robust_accuracy`), clean AUC breaking ties.
AT_PROTOCOL = 2


def pgd_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epsilon: float, steps: int,
              alpha: float, random_start: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """L∞ PGD on the cross-entropy of ``y``: the adversarial batch to train on (no graph kept).

    The model is attacked in the mode it is in (training mode during training, as Madry et al.'s
    reference implementation does); only the input gradient is taken, parameter gradients stay untouched.
    """
    x0 = x.detach()
    adv = x0.clone()
    if random_start:
        noise = torch.rand(x0.shape, generator=generator, device="cpu").to(x0) * 2 - 1
        adv = (adv + epsilon * noise).clamp(0.0, 1.0)
    for _ in range(steps):
        adv.requires_grad_(True)
        (grad,) = torch.autograd.grad(F.cross_entropy(model(adv).float(), y), adv)
        with torch.no_grad():
            adv = adv + alpha * grad.sign()
            adv = torch.minimum(torch.maximum(adv, x0 - epsilon), x0 + epsilon).clamp(0.0, 1.0)
    return adv.detach()


def build_batch_adversary(cfg: AdversaryConfig, seed: int) -> BatchAdversary:
    """The batch transform of the recipe: identity, or PGD with random starts keyed by (seed, step).

    Args:
        cfg: the recipe's adversary.
        seed: the run seed. The random start of training step ``step`` comes from a generator
            of (seed, step), so a run resumed from ``last.pt`` draws what the uninterrupted one would.

    Returns:
        ``(model, x, y, step) -> images to train on``.
    """
    if cfg.method == "none":
        return lambda model, x, y, step: x

    def adversary(model: nn.Module, x: torch.Tensor, y: torch.Tensor, step: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
        return pgd_batch(model, x, y, epsilon=cfg.epsilon, steps=cfg.steps, alpha=cfg.alpha,
                         random_start=cfg.random_start, generator=generator)

    return adversary


@torch.no_grad()
def robust_accuracy(model: nn.Module, dataset, cfg: AdversaryConfig, runtime, *, batch_size: int,
                    seed: int) -> float:
    """Accuracy of ``model`` (eval mode) on ``dataset`` under the training adversary: PGD at its ε and steps.

    The checkpoint selection score of adversarial training: a model chosen by clean accuracy or AUC
    is the one that gave up robustness for it. Random starts come from a generator of (seed, batch),
    so every validation of a run attacks with the same starts and scores are comparable across steps.
    """
    was_training = model.training
    model.eval()
    correct = 0
    for k, start in enumerate(range(0, len(dataset), batch_size)):
        x, y = dataset.batch(np.arange(start, min(start + batch_size, len(dataset))))
        x, y = runtime.batch(x), y.to(runtime.device)   # fp32, as every evaluation
        generator = torch.Generator().manual_seed(seed * 1_000_003 + k)
        with torch.enable_grad():
            adv = pgd_batch(model, x, y, epsilon=cfg.epsilon, steps=cfg.steps, alpha=cfg.alpha,
                            random_start=cfg.random_start, generator=generator)
        correct += int((model(adv).float().argmax(1) == y).sum())
    model.train(was_training)
    return correct / max(len(dataset), 1)
