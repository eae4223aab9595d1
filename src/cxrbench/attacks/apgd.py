"""APGD-CE (Croce & Hein 2020): the step-size-free PGD of AutoAttack, run by the authors' own code.

The optimiser is ``pyautoattack`` (the PyPI package of github.com/fra31/auto-attack), used with
its standard settings: 100 iterations, 1 restart, ρ = 0.75, cross-entropy loss, L∞. What this
module adds is what the rest of the project needs from an attack:

* per-sample ε (a ``[B, 1, 1, 1]`` tensor, which the library's projection and step sizes
  broadcast), so G2's minimal-ε search (grow ×1.5, then bisect) runs on it unchanged;
* random starts drawn per (seed, image key, ε, restart), as AutoAttack's start
  ``x + ε·t/‖t‖∞`` with ``t`` uniform in [-1, 1], but independent of the batch;
* model calls counted as they happen, so a test can check that 100 iterations are 101 gradients.

AutoAttack's other components need more classes than the binary task has: APGD-DLR's loss
divides by the gap between the largest and the third-largest logit, APGD-T and FAB-T target the
3 (resp. 9) next classes. :func:`refuse_multiclass_component` says so instead of running them.
"""
from __future__ import annotations

import numpy as np
import torch
from pyautoattack.autopgd_base import APGDAttack

from cxrbench.attacks.base import logits_of
from cxrbench.attacks.gradient import IterativeLinfAttack, _float_bits
from cxrbench.errors import ConfigError

#: AutoAttack components and the number of classes each needs (APGD-CE: any).
COMPONENT_CLASSES = {"apgd-ce": 2, "apgd-dlr": 3, "apgd-t": 4, "fab-t": 4, "square": 2}


def refuse_multiclass_component(component: str, num_classes: int) -> None:
    """Raise a :class:`ConfigError` when an AutoAttack component cannot run on ``num_classes`` logits."""
    need = COMPONENT_CLASSES.get(component)
    if need is None:
        raise ConfigError(f"unknown AutoAttack component {component!r}; known: {', '.join(COMPONENT_CLASSES)}")
    if num_classes < need:
        raise ConfigError(
            f"{component} needs at least {need} classes and this task has {num_classes}: APGD-DLR divides by "
            "the gap between the largest and third-largest logit, APGD-T and FAB-T target the next 3 classes "
            "by score. On the binary task use apgd (APGD-CE), which applies to any number of classes.")


class APGD(IterativeLinfAttack):
    """APGD-CE at fixed L∞ ε (:meth:`run_at`) inside G2's minimal-ε search (:meth:`attack`).

    The search is :class:`~cxrbench.attacks.gradient.IterativeLinfAttack`'s: try ``epsilon``,
    1.5·epsilon, … (``growth_tries`` values) until a run fools, then bisect
    ``binary_search_steps`` times from 0; each try is one full APGD-CE run (no early return:
    APGD's step-size schedule depends on the iteration budget).

    Args:
        epsilon: first ε of the search, relative to the bounds' range.
        n_iter: APGD iterations per run (AutoAttack standard: 100).
        n_restarts: random restarts; each attacks the samples not yet fooled (standard: 1).
        rho: step-size halving threshold (standard: 0.75).
        binary_search_steps: bisections after the first success.
        growth_tries: ε values the ×1.5 search tries before giving up.
        seed: random-start seed.
        batch_size: images per forward/backward.
    """

    weakening = ("n_iter", "n_restarts")
    budget_param = "n_iter"
    trajectory = False   # its step-size schedule depends on the budget: a shorter run is no prefix

    def __init__(self, *, epsilon: float = 0.3, n_iter: int = 100, n_restarts: int = 1, rho: float = 0.75,
                 binary_search_steps: int = 20, growth_tries: int = 20, seed: int = 0, batch_size: int = 64):
        if n_iter < 1 or n_restarts < 1 or growth_tries < 1:
            raise ValueError("n_iter, n_restarts and growth_tries must be at least 1")
        self.epsilon, self.n_iter, self.n_restarts, self.rho = epsilon, n_iter, n_restarts, rho
        self.binary_search_steps, self.growth_tries = binary_search_steps, growth_tries
        self.seed, self.batch_size = seed, batch_size

    def _start(self, x0: torch.Tensor, radius: torch.Tensor, rows: np.ndarray, eps: list[float],
               restart: int) -> torch.Tensor:
        t = np.stack([self.sample_rng(int(r), _float_bits(e), restart).uniform(-1.0, 1.0, tuple(x0.shape[1:]))
                      for r, e in zip(rows, eps)])
        t = torch.from_numpy(t).to(x0)
        t = t / t.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, *([1] * (x0.dim() - 1)))
        return x0 + radius * t

    def run_at(self, model, x0: torch.Tensor, y: torch.Tensor, eps: torch.Tensor,
               rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """APGD-CE runs at per-sample ``eps`` (relative to the bounds' range) from keyed random starts.

        Returns:
            The adversarial where a restart fooled (the input elsewhere) and whether each sample was fooled.
        """
        lo, hi = model.bounds
        if (lo, hi) != (0, 1):
            raise ValueError(f"APGD runs in [0, 1] (AutoAttack clips there); the model's bounds are {(lo, hi)}")
        shape = (-1,) + (1,) * (x0.dim() - 1)
        out, fooled = x0.clone(), torch.zeros(len(x0), dtype=torch.bool, device=x0.device)
        calls = []

        def predict(t: torch.Tensor) -> torch.Tensor:
            calls.append(len(t))
            return logits_of(model, t)

        for restart in range(self.n_restarts):
            todo = torch.nonzero(~fooled).flatten()
            if not len(todo):
                break
            radius = (eps[todo] * (hi - lo)).view(shape)
            engine = APGDAttack(predict, n_iter=self.n_iter, norm="Linf", n_restarts=1, eps=radius, seed=self.seed,
                                loss="ce", rho=self.rho, device=x0.device)
            engine.init_hyperparam(x0[todo])
            part = rows[todo.cpu().numpy()]
            start = self._start(x0[todo], radius, part, eps[todo].tolist(), restart)
            calls.clear()
            with torch.random.fork_rng(devices=[]):  # the library draws a start of its own; keep global RNG untouched
                _, robust, _, adv = engine.attack_single_run(x0[todo], y[todo], x_init=start)
            # Every call of one run goes to all its samples (batch_size rows); count what happened.
            self.stats.count(part, queries=len(calls), gradients=len(calls))
            hit = ~robust.bool()
            out[todo[hit]] = adv[hit].detach()
            fooled[todo[hit]] = True
        return out, fooled
