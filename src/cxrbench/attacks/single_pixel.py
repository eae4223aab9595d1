"""S2: Foolbox 1.x's ``SinglePixelAttack``, ported to the Foolbox 3 contract.

Sequentially, the attack visits ``max_pixels`` pixels in a random order and, at each, sets all
channels to the lower bound, tests, then to the upper bound, tests, stopping at the first
adversarial. Here the candidates of all unsolved samples are forwarded in batches: each round
every unsolved sample contributes its next few candidates in that same order. The returned image
is exactly the one the sequential walk would return, and ``stats.queries`` counts what the walk
would have queried (up to and including the first adversarial); :attr:`forwarded` counts the
candidate images actually sent through the model, which batching can make larger.
"""
from __future__ import annotations

import foolbox as fb
import numpy as np
import torch

from cxrbench.attacks.base import CountingAttack, logits_of


class SinglePixelAttack(CountingAttack):
    """S2: the first single pixel set to min or max that changes the decision.

    Each sample's pixel order is a permutation drawn from (seed, image key) (see
    :meth:`CountingAttack.sample_rng`): an image gets the same order whatever batch it is in.

    Args:
        max_pixels: pixels tried per sample (two candidates each).
        seed: run seed of the pixel orders.
        batch_size: images per forward.
    """

    distance = fb.distances.l0
    needs = "labels"
    # Fewer pixels tried leaves adversarial pixels the full attack would reach untried.
    weakening = ("max_pixels",)

    def __init__(self, *, max_pixels: int = 1000, seed: int = 0, batch_size: int = 256):
        self.max_pixels, self.seed, self.batch_size = max_pixels, seed, batch_size

    @property
    def forwarded(self) -> np.ndarray:
        """Per sample, candidate images forwarded in the last run (excluding the clean forward)."""
        return self._forwarded

    @torch.no_grad()
    def attack(self, model, x, y, rows):
        n, _, h, w = x.shape
        orders = np.stack([self.sample_rng(rows[i]).permutation(h * w)[:self.max_pixels] for i in range(n)])
        k = 2 * orders.shape[1]  # candidate j: pixel orders[j // 2], lower bound if j even
        self._forwarded = np.zeros(len(self.stats.queries), np.int64)
        out, found = x.clone(), np.full(n, np.nan)
        position = np.zeros(n, np.int64)
        active = np.arange(n)
        while len(active):
            # Split the batch among the unsolved samples so that a sample which fools early
            # wastes few forwards, while a lone hard sample still fills whole batches.
            share = max(1, self.batch_size // len(active))
            take = np.minimum(share, k - position[active])
            owners = np.repeat(active, take)
            steps = np.concatenate([np.arange(p, p + t) for p, t in zip(position[active], take)])
            first = np.full(n, -1)
            for start in range(0, len(owners), self.batch_size):
                part = slice(start, start + self.batch_size)
                cand = self._candidates(model, x, orders, owners[part], steps[part])
                idx = torch.as_tensor(owners[part], device=x.device)
                fooled = (logits_of(model, cand).argmax(1) != y[idx]).cpu().numpy()
                for o, s in zip(owners[part][fooled], steps[part][fooled]):
                    if first[o] < 0 or s < first[o]:
                        first[o] = s
            still = []
            for i, t in zip(active, take):
                self._forwarded[rows[i]] += t
                if first[i] >= 0:
                    out[i] = self._candidates(model, x, orders, np.array([i]), np.array([first[i]]))[0]
                    found[i] = 1.0
                    self.stats.count(rows[i], queries=int(first[i] - position[i] + 1))
                else:
                    self.stats.count(rows[i], queries=int(t))
                    position[i] += t
                    if position[i] < k:
                        still.append(i)
            active = np.asarray(still, dtype=np.int64)
        return out, found

    @staticmethod
    def _candidates(model, x: torch.Tensor, orders: np.ndarray, owners: np.ndarray,
                    steps: np.ndarray) -> torch.Tensor:
        """Copies of ``x[owners]`` with the pixel of each candidate step set to min or max."""
        lo, hi = model.bounds
        w = x.shape[-1]
        pixel = orders[owners, steps // 2]
        a = torch.as_tensor(pixel // w, device=x.device)
        b = torch.as_tensor(pixel % w, device=x.device)
        value = torch.where(torch.as_tensor(steps % 2 == 0, device=x.device),
                            torch.tensor(lo, dtype=x.dtype, device=x.device),
                            torch.tensor(hi, dtype=x.dtype, device=x.device))
        cand = x[torch.as_tensor(owners, device=x.device)]  # advanced indexing copies
        cand[torch.arange(len(owners), device=x.device), :, a, b] = value[:, None]
        return cand
