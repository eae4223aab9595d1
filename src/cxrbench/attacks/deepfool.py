"""G3 DeepFool of Taghanaki et al. 2018: Foolbox 3's ``L2DeepFoolAttack``, the close equivalent of the 1.x attack."""
from __future__ import annotations

import eagerpy as ep
import foolbox as fb
import numpy as np
import torch

from cxrbench.attacks.base import CountingAttack, is_fooled


class DeepFool(CountingAttack):
    """G3: Foolbox 3's ``L2DeepFoolAttack`` (overshoot on the summed perturbation).

    Args:
        steps: maximum DeepFool iterations (100 in the paper's Foolbox).
        overshoot: relative overshoot.
        loss: ``logits`` or ``crossentropy``.
    """

    distance = fb.distances.l2

    def __init__(self, *, steps: int = 100, overshoot: float = 0.05, loss: str = "crossentropy"):
        self.steps, self.overshoot, self.loss = steps, overshoot, loss

    def attack(self, model, x, y, rows):
        counted = CountedModel(model)
        inner = fb.attacks.L2DeepFoolAttack(steps=self.steps, overshoot=self.overshoot, loss=self.loss)
        adv = inner.run(counted, ep.astensor(x), fb.criteria.Misclassification(ep.astensor(y))).raw
        # Foolbox's DeepFool forwards the whole batch at every step and takes one gradient.
        self.stats.count(rows, queries=counted.calls + 1, gradients=counted.gradient_calls)
        fooled = is_fooled(model, adv, y)
        adv = torch.where(fooled.view(-1, *([1] * (x.dim() - 1))), adv, x)
        size = (adv - x).flatten(1).norm(dim=1).cpu().numpy()
        return adv, np.where(fooled.cpu().numpy(), size, np.nan)


class CountedModel(fb.models.Model):
    """Counts calls (and calls that build a graph) to a Foolbox model.

    Public so that benchmarks can count the model calls of any Foolbox attack the same way
    :class:`DeepFool` does.

    Args:
        inner: the Foolbox model to wrap.
    """

    def __init__(self, inner: fb.Model) -> None:
        self.inner, self.calls, self.gradient_calls = inner, 0, 0

    @property
    def bounds(self):
        return self.inner.bounds

    def __call__(self, inputs):
        self.calls += 1
        self.gradient_calls += int(ep.astensor(inputs).raw.requires_grad)
        return self.inner(inputs)
