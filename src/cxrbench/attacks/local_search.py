"""S1: Foolbox 1.x's ``LocalSearchAttack`` (Narodytska & Kasiviswanathan), Foolbox 3 contract.

The image is mapped to [−½, ½]. Each round perturbs, one candidate per location, a single pixel
(all channels) to p·sign(value), far outside the box, and scores every candidate by the
true-class probability. At the t locations whose candidates scored LOWEST (every Foolbox release
up to 2.0.x, so the paper's 1.x; Foolbox 2.1.0 flipped it to the highest, ``argsort(scores)[-t:]``)
the pixels are scaled by r and wrapped back into [−½, ½]; the image is then tested, and the next
locations are the (2d+1)² neighbourhoods of the chosen ones, without duplicates (1.x's
``PxPy = list(set(PxPy))``), of which a random subset of at most 128 is scored. All samples'
candidates of a round go through the model together.
"""
from __future__ import annotations

import foolbox as fb
import numpy as np
import torch

from cxrbench.attacks.base import CountingAttack, logits_of

#: At most this many locations per round and in the random start (Foolbox 1.x).
MAX_LOCATIONS = 128


class LocalSearchAttack(CountingAttack):
    """S1: greedy local search over pixel locations driven by true-class scores.

    Args:
        r: perturbation factor applied to chosen pixels (0 ≤ r ≤ 2).
        p: magnitude of the probing perturbation, in the [−½, ½] scale.
        d: half-width of the neighbourhood searched around chosen pixels.
        t: pixels changed per round.
        R: rounds.
        seed: run seed; each image's random start and per-round location subsets come from
            one generator keyed by (seed, image key) (see :meth:`CountingAttack.sample_rng`).
        batch_size: images per forward.
    """

    distance = fb.distances.l0
    needs = "scores"
    # Fewer rounds stop the search short of adversarials the full attack reaches.
    weakening = ("R",)

    def __init__(self, *, r: float = 1.5, p: float = 10.0, d: int = 5, t: int = 5, R: int = 150,
                 seed: int = 0, batch_size: int = 256):
        if not 0 <= r <= 2:
            raise ValueError(f"r must lie in [0, 2] so one wrap brings pixels back, got {r}")
        self.r, self.p, self.d, self.t, self.R = r, p, d, t, R
        self.seed, self.batch_size = seed, batch_size

    @torch.no_grad()
    def attack(self, model, x, y, rows):
        lo, hi = model.bounds
        mid, span = (lo + hi) / 2, hi - lo
        n, _, h, w = x.shape
        # Normalised state for the algorithm; ``image`` is what the model sees and what is
        # returned, equal to x bit for bit wherever no pixel was changed.
        state = (x - mid) / span
        image = x.clone()
        # One generator per image, so its draws do not depend on the other images in the batch.
        rngs = [self.sample_rng(rows[i]) for i in range(n)]
        locs = [rngs[i].permutation(h * w)[:min(int(0.1 * h * w), MAX_LOCATIONS)] for i in range(n)]
        found = np.full(n, np.nan)
        active = np.arange(n)
        for _ in range(self.R):
            if not len(active):
                break
            for i in active:
                locs[i] = locs[i][rngs[i].permutation(len(locs[i]))[:MAX_LOCATIONS]]
            scores = self._score(model, state, image, y, active, locs, mid, span)
            for i in active:
                self.stats.count(rows[i], queries=len(locs[i]))
                chosen = locs[i][np.argsort(scores[i], kind="stable")[:self.t]]
                for loc in chosen:  # distinct locations, so each pixel is wrapped once
                    a, b = divmod(int(loc), w)
                    v = self.r * state[i, :, a, b]
                    v = torch.where(v < -0.5, v + 1, torch.where(v > 0.5, v - 1, v))
                    state[i, :, a, b] = v
                    image[i, :, a, b] = (v * span + mid).clamp(lo, hi)
                locs[i] = _neighbourhoods(chosen, self.d, h, w)
            fooled = self._test(model, image, y, active)
            self.stats.count(rows[active], queries=1)
            for i in active[fooled]:
                found[i] = float((image[i] != x[i]).any(0).sum())
            active = active[~fooled]
        unfooled = torch.as_tensor(np.isnan(found), device=x.device)
        image[unfooled] = x[unfooled]
        return image, found

    def _score(self, model, state, image, y, active, locs, mid, span) -> dict[int, np.ndarray]:
        """True-class probability of every probing candidate of every active sample."""
        owners = np.concatenate([np.full(len(locs[i]), i) for i in active])
        where = np.concatenate([locs[i] for i in active])
        probs = np.empty(len(owners))
        for start in range(0, len(owners), self.batch_size):
            part = slice(start, start + self.batch_size)
            idx = torch.as_tensor(owners[part], device=image.device)
            a = torch.as_tensor(where[part] // image.shape[-1], device=image.device)
            b = torch.as_tensor(where[part] % image.shape[-1], device=image.device)
            k = torch.arange(len(idx), device=image.device)
            cand = image[idx]
            # Deliberately unclipped: the probe lies far outside the box, as in Foolbox 1.x.
            cand[k, :, a, b] = self.p * state[idx, :, a, b].sign() * span + mid
            logits = logits_of(model, cand)
            probs[part] = logits.softmax(1)[k, y[idx]].cpu().numpy()
        bounds = np.cumsum([0] + [len(locs[i]) for i in active])
        return {i: probs[bounds[j]:bounds[j + 1]] for j, i in enumerate(active)}

    def _test(self, model, image, y, active) -> np.ndarray:
        fooled = np.zeros(len(active), bool)
        for start in range(0, len(active), self.batch_size):
            idx = torch.as_tensor(active[start:start + self.batch_size], device=image.device)
            fooled[start:start + len(idx)] = (logits_of(model, image[idx]).argmax(1) != y[idx]).cpu().numpy()
        return fooled


def _neighbourhoods(chosen: np.ndarray, d: int, h: int, w: int) -> np.ndarray:
    """Distinct flat indices of the (2d+1)² squares around ``chosen``, clipped to the image.

    Overlapping squares list a location once, as Foolbox 1.x's ``list(set(PxPy))`` did; the
    (sorted) order does not matter because the next round takes a random permutation of them.
    """
    offsets = np.arange(-d, d + 1)
    a, b = np.divmod(chosen.astype(np.int64), w)
    rr = (a[:, None, None] + offsets[None, :, None]).repeat(len(offsets), 2)
    cc = (b[:, None, None] + offsets[None, None, :]).repeat(len(offsets), 1)
    ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    return np.unique((rr * w + cc)[ok])
