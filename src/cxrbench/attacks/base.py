"""What every attack here shares: Foolbox 3's minimisation contract plus per-sample accounting.

Each attack is a Foolbox-3 :class:`~foolbox.attacks.base.MinimizationAttack`: ``run(model,
inputs, criterion)`` returns, per sample, the smallest-perturbation adversarial it found, or the
input unchanged where it found none. On top of that contract the attacks here record, per
sample, how many images they sent through the model (``queries``), how many input gradients they
took (``gradients``) and the size of the perturbation parameter that fooled (``found``: ε, c, σ,
contrast level...; NaN where not fooled). Samples the model already misclassifies are not attacked
(Foolbox 1.x behaviour, which the paper's numbers rest on).

Randomised attacks draw their randomness per image from ``(seed, image key, ...)``, where the
key comes from the image id (:func:`image_key`), so an image gets the same noise, pixel order or
locations whatever batch or chunk it is crafted in.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

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


def image_key(image_id: str) -> int:
    """A stable 63-bit integer for an image id, to key that image's random draws.

    The first 8 bytes of the id's SHA-256, shifted to 63 bits so the key fits a signed int64
    (numpy and torch index arrays) and is a valid non-negative ``SeedSequence`` entropy word.
    Unlike ``hash()``, it does not change between interpreter runs.

    Args:
        image_id: the image's identifier (e.g. its file name).

    Returns:
        An integer in [0, 2**63).
    """
    digest = hashlib.sha256(image_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def keyed_rng(seed: int, key: int, *extra: int) -> np.random.Generator:
    """The generator of one image's draws: a function of (seed, image key, extra) only.

    Args:
        seed: the attack's run seed.
        key: the image key (:func:`image_key`, or the sample's position by default).
        *extra: further non-negative integers separating independent draws of one image
            (e.g. a grid step).

    Returns:
        A fresh :class:`numpy.random.Generator`.
    """
    return np.random.default_rng([int(seed), int(key), *(int(e) for e in extra)])


class CountingAttack(MinimizationAttack):
    """A minimisation attack that keeps :class:`AttackStats` of its last ``run``.

    Subclasses implement :meth:`attack` on torch tensors in [lo, hi] with labels ``y``; this
    class handles Foolbox's tensor types, skips already misclassified samples and returns
    unfooled samples unchanged. Randomised subclasses take their per-image generators from
    :meth:`sample_rng`.
    """

    #: Which resources the attack needs from the model: gradients, scores or decisions only.
    needs: str = "gradients"
    #: Parameters whose reduction makes a weaker attack, not merely a cheaper or coarser one
    #: (e.g. fewer local-search rounds stop short of adversarials the full attack would find,
    #: whereas fewer bisection steps only report the same adversarial less precisely).
    weakening: tuple[str, ...] = ()
    #: Run seed of randomised attacks (they set it in ``__init__``).
    seed: int = 0
    stats: AttackStats
    # Per-sample keys of the last run; None until a run (then rows stand in for keys).
    _keys: np.ndarray | None = None

    def run(self, model: fb.Model, inputs: Any, criterion: Any, *, early_stop: float | None = None,
            keys: Sequence[int] | np.ndarray | torch.Tensor | None = None, **kwargs: Any) -> Any:
        """Attack ``inputs``; Foolbox 3's ``attack(fmodel, x, y, epsilons=None, keys=...)`` calls this.

        Args:
            model: the Foolbox model.
            inputs: images within the model's bounds.
            criterion: labels or a :class:`foolbox.criteria.Misclassification`.
            early_stop: ignored (minimisation attacks search for the smallest perturbation).
            keys: one non-negative integer per sample (:func:`image_key` of its id) keying that
                sample's random draws, so results do not depend on the batch it comes in;
                default ``0 … n-1``, the sample positions.
            **kwargs: ignored, as Foolbox's attacks ignore unknown keyword arguments.

        Returns:
            The adversarials, in the type of ``inputs`` (inputs unchanged where not fooled).
        """
        x, restore_type = ep.astensor_(inputs)
        criterion = fb.criteria.Misclassification(criterion) if not isinstance(
            criterion, fb.criteria.Criterion) else criterion
        if not isinstance(criterion, fb.criteria.Misclassification):
            raise ValueError(f"{type(self).__name__} supports untargeted misclassification only")
        xt: torch.Tensor = x.raw
        yt: torch.Tensor = ep.astensor(criterion.labels).raw.to(xt.device)
        self.stats = AttackStats.empty(len(xt))
        self._keys = self._check_keys(keys, len(xt))
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

    @staticmethod
    def _check_keys(keys, n: int) -> np.ndarray:
        if keys is None:
            return np.arange(n, dtype=np.int64)
        if isinstance(keys, torch.Tensor):
            keys = keys.detach().cpu().numpy()
        out = np.asarray(keys)
        if out.shape == (0,) and n == 0:  # np.array([]) is float64: an empty chunk has no keys
            return np.zeros(0, np.int64)
        if out.shape != (n,) or not np.issubdtype(out.dtype, np.integer):
            raise ValueError(f"keys must be {n} integers, one per sample, got {out.dtype} of shape {out.shape}")
        if (out < 0).any() or int(out.max(initial=0)) >= 2 ** 63:  # SeedSequence needs >= 0; int64 storage
            raise ValueError("keys must lie in [0, 2**63) (use image_key)")
        return out.astype(np.int64)

    def sample_key(self, row: int) -> int:
        """The key of sample ``row`` of the last run (``row`` itself before any run)."""
        return int(row) if self._keys is None else int(self._keys[row])

    def sample_rng(self, row: int, *extra: int) -> np.random.Generator:
        """Generator for sample ``row`` (an index into :attr:`stats`), keyed by (seed, key, extra).

        Args:
            row: the sample's position in the last ``run``.
            *extra: non-negative integers separating independent draws of the same image.

        Returns:
            A generator that depends on the seed, the sample's key and ``extra`` only.
        """
        return keyed_rng(self.seed, self.sample_key(row), *extra)

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
