"""First-adversarial line searches over an ascending grid (FGSM and the decision attacks).

Foolbox 1.x walked a grid of perturbation sizes upward and stopped at the first adversarial,
one model call per grid point and per image. Here every unsolved sample is expanded into
``chunk`` consecutive grid points at once and the candidates are forwarded together; samples
that are solved drop out, so the search only keeps working on the unsolved ones. The result is
exactly what the sequential walk returns, and ``stats.queries`` counts what it would have
queried (the position of the first adversarial), independent of ``chunk``.
"""
from __future__ import annotations

import numpy as np
import torch

from cxrbench.attacks.base import CountingAttack, logits_of


class LineSearchAttack(CountingAttack):
    """Base of attacks that perturb along one parameter and keep the smallest that fools.

    Subclasses define :meth:`grid` and :meth:`perturb`; :meth:`prepare` may compute a
    per-sample direction first (FGSM's gradient sign).
    """

    chunk: int
    batch_size: int

    def grid(self) -> np.ndarray:
        """Ascending perturbation sizes to try."""
        raise NotImplementedError

    def prepare(self, model, x: torch.Tensor, y: torch.Tensor, rows: np.ndarray) -> object:
        """Per-sample state shared by all grid points (default: none)."""
        return None

    def perturb(self, x: torch.Tensor, eps: torch.Tensor, state: object, model) -> torch.Tensor:
        """Candidates ``x[i]`` perturbed by ``eps[i]`` (``state`` sliced to the same rows)."""
        raise NotImplementedError

    def attack(self, model, x, y, rows):
        adv, found = self.search(model, x, y, rows, self.grid(), self.prepare(model, x, y, rows))
        return adv, found

    @torch.no_grad()
    def search(self, model, x: torch.Tensor, y: torch.Tensor, rows: np.ndarray, grid: np.ndarray,
               state: object) -> tuple[torch.Tensor, np.ndarray]:
        """Walk ``grid`` upward for every sample; return first adversarials and their sizes."""
        n, k = len(x), len(grid)
        found = np.full(n, np.nan)
        out = x.clone()
        position = np.zeros(n, np.int64)  # next grid index per sample
        active = np.arange(n)
        lo, hi = model.bounds
        while len(active):
            take = np.minimum(self.chunk, k - position[active])
            owners = np.repeat(active, take)
            steps = np.concatenate([np.arange(p, p + t) for p, t in zip(position[active], take)])
            fooled = np.zeros(len(owners), bool)
            for start in range(0, len(owners), self.batch_size):
                part = slice(start, start + self.batch_size)
                idx = torch.as_tensor(owners[part], device=x.device)
                eps = torch.as_tensor(grid[steps[part]], dtype=x.dtype, device=x.device)
                cand = self.perturb(x[idx], eps, _take(state, idx), model).clamp(lo, hi)
                fooled[part] = (logits_of(model, cand).argmax(1) != y[idx]).cpu().numpy()
                hit = np.flatnonzero(fooled[part])
                for j in hit:  # keep the first (lowest) grid point per owner
                    i = owners[start + j]
                    if np.isnan(found[i]) or grid[steps[start + j]] < found[i]:
                        found[i] = grid[steps[start + j]]
                        out[i] = cand[j]
            still = []
            for i, t in zip(active, take):
                if np.isnan(found[i]):
                    position[i] += t
                    self.stats.count(rows[i], queries=int(t))
                    if position[i] < k:
                        still.append(i)
                else:  # the sequential walk would have stopped at the first hit
                    at = int(np.searchsorted(grid, found[i]))
                    self.stats.count(rows[i], queries=at - position[i] + 1)
                    self.stats.lower[rows[i]] = grid[at - 1] if at else 0.0
            active = np.asarray(still, dtype=np.int64)
        return out, found


def _take(state: object, idx: torch.Tensor) -> object:
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state[idx]
    if isinstance(state, tuple):
        return tuple(_take(s, idx) for s in state)
    raise TypeError(f"unsupported per-sample state {type(state).__name__}")
