"""Gradient-based attacks G1-G4 of Taghanaki et al. 2018, as minimal-perturbation searches.

* G1 FGSM: one gradient at x₀, then the first adversarial on an ε grid (Foolbox 1.x
  ``GradientSignAttack``), refined once when it is found early.
* G2 PGD and G4 L∞ BIM: Foolbox 1.x's iterative L∞ attack with early return inside its ε search
  (``binary_search=True``): up to 20 values ε, 1.5ε, … until one fools, then bisection from 0.

G3 DeepFool lives in :mod:`cxrbench.attacks.deepfool`.
"""
from __future__ import annotations

import foolbox as fb
import numpy as np
import torch
import torch.nn.functional as F

from cxrbench.attacks.base import AttackStats, CountingAttack, logits_of
from cxrbench.attacks.line_search import LineSearchAttack


def logits_and_gradient(model: fb.Model, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits at ``x`` and the gradient of the summed cross-entropy for ``y``, in one pass."""
    x = x.detach().requires_grad_(True)
    logits = logits_of(model, x)
    (grad,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x)
    return logits.detach(), grad


class FGSM(LineSearchAttack):
    """G1: x' = clip(x₀ + ε·sign(∇CE)·(max−min)) for ε on a grid, first adversarial kept.

    Args:
        steps: grid points in (0, max_epsilon] (1000 in the paper's Foolbox).
        max_epsilon: top of the grid, relative to the bounds' range.
        refine_within: refine when the first hit lies within this many grid points...
        refine_steps: ...by searching this many points in (0, ε].
        chunk: grid points evaluated together per sample (speed only).
        batch_size: images per forward.
    """

    distance = fb.distances.linf

    def __init__(self, *, steps: int = 1000, max_epsilon: float = 1.0, refine_within: int = 20,
                 refine_steps: int = 20, chunk: int = 16, batch_size: int = 128):
        self.steps, self.max_epsilon = steps, max_epsilon
        self.refine_within, self.refine_steps = refine_within, refine_steps
        self.chunk, self.batch_size = chunk, batch_size

    def grid(self) -> np.ndarray:
        return np.linspace(0, self.max_epsilon, self.steps + 1)[1:]

    def prepare(self, model, x, y, rows):
        _, grad = logits_and_gradient(model, x, y)
        self.stats.count(rows, queries=1, gradients=1)
        lo, hi = model.bounds
        return grad.sign() * (hi - lo)

    def perturb(self, x, eps, state, model):
        return x + eps.view(-1, *([1] * (x.dim() - 1))) * state

    def attack(self, model, x, y, rows):
        grid = self.grid()
        direction = self.prepare(model, x, y, rows)
        adv, found = self.search(model, x, y, rows, grid, direction)
        early = np.flatnonzero(found <= grid[min(self.refine_within, len(grid)) - 1])
        for i in early:  # Foolbox 1.x refines once when the first hit came very early
            one = slice(i, i + 1)
            fine = np.linspace(0, found[i], self.refine_steps + 1)[1:]
            sub_adv, sub_found = self.search(model, x[one], y[one], rows[one], fine, direction[one])
            if not np.isnan(sub_found[0]):
                adv[i], found[i] = sub_adv[0], sub_found[0]
        return adv, found


class IterativeLinfAttack(CountingAttack):
    """G2 PGD / G4 BIM: sign-gradient steps in an ε-ball, inside Foolbox 1.x's ε search.

    One run at ε: ``iterations`` steps of α = ``rel_stepsize``·ε·(max−min), projection onto the
    ε-ball, clipping; a sample stops at its first adversarial iterate (``return_early``). The
    search is Foolbox 1.x's ``_run_binary_search`` with α/ε fixed: try ``epsilon``, 1.5·epsilon,
    … (at most ``growth_tries`` values) until one fools, else give up; then bisect
    ``binary_search_steps`` times between 0 and that ε (from 0, as 1.x did, not from the last
    failing ε). Only unsolved samples are worked on. The returned image is the smallest-MSE
    adversarial seen in any run; ``found`` is the smallest fooling ε and ``stats.lower`` the
    largest ε tried that did not fool (0 when none failed, NaN for samples never fooled).

    Args:
        epsilon: first ε, relative to the bounds' range.
        rel_stepsize: α/ε (BIM 0.05/0.3, PGD 0.01/0.3 in Foolbox 1.x).
        iterations: steps per run.
        binary_search_steps: bisections after the first success (1.x: 20).
        growth_tries: ε values the ×1.5 search tries before giving up (1.x: 20, i.e. up to
            1.5¹⁹·epsilon).
        random_start: start from a uniform point in the ε-ball (off in the paper), drawn per
            (seed, image key, ε) like 1.x's fresh draw for every ε tried.
        return_early: stop a sample at its first adversarial iterate (Foolbox 1.x default).
        seed: random-start seed.
        batch_size: images per forward/backward.
    """

    distance = fb.distances.linf
    #: The keyword that sets the iterations of one run at fixed ε: its step budget.
    budget_param = "iterations"
    #: Parameters of the minimal-ε search only (no part of a run at fixed ε).
    search_params = ("epsilon", "binary_search_steps", "growth_tries")
    #: :meth:`run_trajectory` records the step each sample first fell (budget studies read every budget off it).
    trajectory = True

    def __init__(self, *, epsilon: float = 0.3, rel_stepsize: float = 0.05 / 0.3, iterations: int = 10,
                 binary_search_steps: int = 20, growth_tries: int = 20, random_start: bool = False,
                 return_early: bool = True, seed: int = 0, batch_size: int = 64):
        if growth_tries < 1:
            raise ValueError(f"growth_tries must be at least 1 (the first ε), got {growth_tries}")
        self.epsilon, self.rel_stepsize, self.iterations = epsilon, rel_stepsize, iterations
        self.binary_search_steps, self.growth_tries = binary_search_steps, growth_tries
        self.random_start, self.return_early = random_start, return_early
        self.seed, self.batch_size = seed, batch_size

    def run_at(self, model, x0: torch.Tensor, y: torch.Tensor, eps: torch.Tensor,
               rows: np.ndarray, hit_at: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One run at per-sample ``eps``; returns (last or first adversarial iterate, fooled).

        Args:
            model: the Foolbox model.
            x0: clean images.
            y: labels.
            eps: per-sample ε, relative to the bounds' range.
            rows: the samples' indices into :attr:`stats` (they also key the random start).
            hit_at: where given (length N, filled with -1), receives the step whose iterate first
                fooled each sample (0: the start itself).

        Returns:
            The final iterates (the first adversarial one where ``return_early``) and whether
            each sample was fooled.
        """
        lo, hi = model.bounds
        shape = (-1,) + (1,) * (x0.dim() - 1)
        radius = (eps * (hi - lo)).view(shape)
        step = self.rel_stepsize * radius
        x = x0.clone()
        if self.random_start:
            # Keyed by the image and the exact ε, so a start does not depend on the batch and
            # every ε tried gets a fresh one, as 1.x drew a new start for each try.
            unit = np.stack([self.sample_rng(int(r), _float_bits(e)).uniform(-1.0, 1.0, tuple(x0.shape[1:]))
                             for r, e in zip(rows, eps.tolist())])
            x = (x + torch.from_numpy(unit).to(x) * radius).clamp(lo, hi)
        fooled = torch.zeros(len(x0), dtype=torch.bool, device=x0.device)
        active = torch.arange(len(x0), device=x0.device)
        for i in range(self.iterations + 1):
            if i == self.iterations:  # the last iterate still needs its verdict
                with torch.no_grad():
                    hit = logits_of(model, x[active]).argmax(1) != y[active]
                self.stats.count(rows[active.cpu().numpy()], queries=1)
            else:
                # The forward of the gradient pass doubles as the adversarial check of the current
                # iterate, so early return costs no extra model call.
                logits, grad = logits_and_gradient(model, x[active], y[active])
                self.stats.count(rows[active.cpu().numpy()], queries=1, gradients=1)
                hit = logits.argmax(1) != y[active]
                if not self.return_early:
                    hit = torch.zeros_like(hit)
            fooled[active[hit]] = True
            if hit_at is not None:
                hit_at[active[hit]] = i
            active = active[~hit]
            if i == self.iterations or not len(active):
                break
            grad = grad[~hit]
            moved = x[active] + step[active] * grad.sign()
            x[active] = torch.minimum(torch.maximum(moved, x0[active] - radius[active]),
                                      x0[active] + radius[active]).clamp(lo, hi)
        return x, fooled

    def run_fixed(self, model, x: torch.Tensor, y: torch.Tensor, epsilon: float, *,
                  keys: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One run at a fixed ε (no search) on every sample given, in batches of ``batch_size``.

        The fixed-budget counterpart of ``run``: the caller passes the samples to attack (those the
        model classifies correctly) and gets the adversarial where the run fooled (else the input)
        and whether it fooled. :attr:`stats` counts the model calls; ``keys`` key the random starts.
        """
        out, fooled, _ = self._fixed(model, x, y, epsilon, keys, trajectory=False)
        return out, fooled

    def run_trajectory(self, model, x: torch.Tensor, y: torch.Tensor, epsilon: float, *,
                       keys: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """:meth:`run_fixed`, plus the step whose iterate first fooled each sample (-1: none did).

        The step size is a fraction of ε, not of the budget, and a sample stops at its first
        adversarial iterate, so a run of ``k`` ≤ ``iterations`` steps fools exactly the samples
        whose first fooling step is at most ``k``: one run gives every smaller budget.
        """
        if not self.return_early:
            raise ValueError("a trajectory gives every smaller budget only with return_early=True")
        return self._fixed(model, x, y, epsilon, keys, trajectory=True)

    def _fixed(self, model, x: torch.Tensor, y: torch.Tensor, epsilon: float, keys: np.ndarray | None, *,
               trajectory: bool) -> tuple[torch.Tensor, torch.Tensor, np.ndarray | None]:
        n = len(x)
        self.stats, self._keys = AttackStats.empty(n), self._check_keys(keys, n)
        self.stats.attacked[:] = True
        out, fooled = x.clone(), torch.zeros(n, dtype=torch.bool, device=x.device)
        steps = torch.full((n,), -1, dtype=torch.long, device=x.device) if trajectory else None
        for start in range(0, n, self.batch_size):
            part = np.arange(start, min(start + self.batch_size, n))
            idx = torch.as_tensor(part, device=x.device)
            eps = torch.full((len(part),), float(epsilon), dtype=x.dtype, device=x.device)
            if trajectory:
                hit_at = torch.full((len(part),), -1, dtype=torch.long, device=x.device)
                adv, hit = self.run_at(model, x[idx], y[idx], eps, part, hit_at=hit_at)
                steps[idx] = hit_at
            else:
                adv, hit = self.run_at(model, x[idx], y[idx], eps, part)
            out[idx[hit]] = adv[hit]
            fooled[idx] = hit
        self.stats.found[fooled.cpu().numpy()] = epsilon
        return out, fooled, None if steps is None else steps.cpu().numpy()

    def attack(self, model, x, y, rows):
        n = len(x)
        best, best_mse = x.clone(), torch.full((n,), float("inf"), device=x.device)
        failed = np.zeros(n)               # largest ε tried that did not fool
        good = np.full(n, np.nan)          # smallest ε known to fool (1.x's ``good``)

        def try_eps(sel: np.ndarray, eps: np.ndarray) -> np.ndarray:
            fooled = np.zeros(len(sel), bool)
            for start in range(0, len(sel), self.batch_size):
                part = sel[start:start + self.batch_size]
                idx = torch.as_tensor(part, device=x.device)
                e = torch.as_tensor(eps[start:start + self.batch_size], dtype=x.dtype, device=x.device)
                adv, hit = self.run_at(model, x[idx], y[idx], e, rows[part])
                mse = (adv - x[idx]).flatten(1).pow(2).mean(1)
                better = hit & (mse < best_mse[idx])
                best[idx[better]] = adv[better]
                best_mse[idx[better]] = mse[better]
                fooled[start:start + len(part)] = hit.cpu().numpy()
            np.maximum.at(failed, sel[~fooled], eps[~fooled])
            return fooled

        # 1.x: ``for i in range(k): if try_epsilon(epsilon): break; epsilon *= 1.5``.
        eps = np.full(n, float(self.epsilon))
        todo = np.arange(n)
        for _ in range(self.growth_tries):
            hit = try_eps(todo, eps[todo])
            good[todo[hit]] = eps[todo[hit]]
            todo = todo[~hit]
            if not len(todo):
                break
            eps[todo] *= 1.5
        # 1.x: ``bad = 0; good = epsilon``, then k bisections. Starting from 0 rather than from
        # the last failing ε repeats 1.x's first few (wasted) midpoints on purpose.
        solved = np.flatnonzero(~np.isnan(good))
        bad = np.zeros(n)
        for _ in range(self.binary_search_steps):
            if not len(solved):
                break
            mid = (good[solved] + bad[solved]) / 2
            hit = try_eps(solved, mid)
            good[solved[hit]] = mid[hit]
            bad[solved[~hit]] = mid[~hit]
        self.stats.lower[rows] = np.where(np.isnan(good), np.nan, failed)
        unsolved = torch.as_tensor(np.isnan(good), device=x.device)
        best[unsolved] = x[unsolved]
        return best, good


def _float_bits(value: float) -> int:
    """The IEEE-754 bits of ``value`` as a non-negative integer (a seed word for one ε)."""
    return int(np.float64(value).view(np.uint64))
