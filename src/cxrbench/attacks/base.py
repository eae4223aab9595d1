"""What every attack here shares: Foolbox 3's minimisation contract plus per-sample accounting.

Each attack is a Foolbox-3 :class:`~foolbox.attacks.base.MinimizationAttack`: ``run(model,
inputs, criterion)`` returns, per sample, the smallest-perturbation adversarial it found, or the
input unchanged where it found none. On top of that contract the attacks here record, per
sample, how many images they sent through the model (``queries``), how many input gradients they
took (``gradients``) and the size of the perturbation parameter that fooled (``found``: ε, c, σ,
contrast level...; NaN where not fooled). Samples the model already misclassifies are not attacked
(Foolbox 1.x behaviour, which the paper's numbers rest on).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import eagerpy as ep
import foolbox as fb
import numpy as np
import torch
from foolbox.attacks.base import MinimizationAttack


@dataclass
class AttackStats:
    """Per-sample bookkeeping of one ``run`` (arrays of length N)."""

    queries: np.ndarray
    gradients: np.ndarray
    found: np.ndarray
    attacked: np.ndarray
    lower: np.ndarray  # largest perturbation tried that did not fool, where a search brackets one


    @classmethod
    def empty(cls, n: int) -> "AttackStats":
        return cls(queries=np.zeros(n, np.int64), gradients=np.zeros(n, np.int64),
                   found=np.full(n, np.nan), attacked=np.zeros(n, bool), lower=np.full(n, np.nan))

    def count(self, rows: np.ndarray | torch.Tensor | slice, *, queries: int = 0, gradients: int = 0) -> None:
        """Add ``queries`` forwards and ``gradients`` backward passes to each sample in ``rows``."""
        if isinstance(rows, torch.Tensor):
            rows = rows.detach().cpu().numpy()
        self.queries[rows] += queries
        self.gradients[rows] += gradients

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class CountingAttack(MinimizationAttack):
    """A minimisation attack that keeps :class:`AttackStats` of its last ``run``.

    Subclasses implement :meth:`attack` on torch tensors in [lo, hi] with labels ``y``; this
    class handles Foolbox's tensor types, skips already misclassified samples and returns
    unfooled samples unchanged.
    """

    #: Which resources the attack needs from the model: gradients, scores or decisions only.
    needs: str = "gradients"
    stats: AttackStats

    def run(self, model: fb.Model, inputs, criterion, *, early_stop: float | None = None, **kwargs):
        x, restore_type = ep.astensor_(inputs)
        criterion = fb.criteria.Misclassification(criterion) if not isinstance(
            criterion, fb.criteria.Criterion) else criterion
        if not isinstance(criterion, fb.criteria.Misclassification):
            raise ValueError(f"{type(self).__name__} supports untargeted misclassification only")
        xt: torch.Tensor = x.raw
        yt: torch.Tensor = ep.astensor(criterion.labels).raw.to(xt.device)
        self.stats = AttackStats.empty(len(xt))
        with torch.no_grad():
            clean_pred = logits_of(model, xt).argmax(1)
        self.stats.count(slice(None), queries=1)
        correct = (clean_pred == yt).cpu().numpy()
        self.stats.attacked[:] = correct
        out = xt.clone()
        rows = np.flatnonzero(correct)
        if len(rows):
            idx = torch.as_tensor(rows, device=xt.device)
            adv, found = self.attack(model, xt[idx], yt[idx], rows)
            out[idx] = adv
            self.stats.found[rows] = found
        return restore_type(ep.astensor(out))

    def attack(self, model: fb.Model, x: torch.Tensor, y: torch.Tensor,
               rows: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """Attack correctly classified ``x`` (labels ``y``; ``rows`` index into :attr:`stats`).

        Returns the adversarials (inputs unchanged where not fooled) and the found
        perturbation parameter per sample (NaN where not fooled).
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()) if not k.startswith("_")
                         and k != "stats")
        return f"{type(self).__name__}({args})"


def logits_of(model: fb.Model, x: torch.Tensor) -> torch.Tensor:
    """Logits of a Foolbox model on a torch batch, as a torch tensor."""
    return model(ep.astensor(x)).raw


def is_fooled(model: fb.Model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Top-1 differs from ``y`` (the paper's criterion), without an autograd graph."""
    with torch.no_grad():
        return logits_of(model, x).argmax(1) != y
