"""Torch datasets over preprocessed uint8 caches; pixels reach the model in [0, 1]."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from cxrbench.data.cache import ImageCache


class CachedImageDataset(torch.utils.data.Dataset):
    """Images of one split from an :class:`ImageCache`, with binary and 14-label targets."""

    def __init__(self, cache: ImageCache, targets: np.ndarray, labels: np.ndarray):
        if not (len(cache) == len(targets) == len(labels)):
            raise ValueError("cache, targets and labels disagree in length")
        self.cache = cache
        self.ids = cache.ids
        self.targets = np.asarray(targets, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int8)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(np.array(self.cache.images[index], dtype=np.float32) / 255.0)
        return image.unsqueeze(0), int(self.targets[index])

    def batch(self, rows: np.ndarray, labels: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``[B, 1, S, S]`` and targets for ``rows`` in one memmap read.

        ``labels``: the 14-label vectors (float, for a multi-label loss) instead of the binary targets.
        """
        rows = np.asarray(rows)
        order = np.argsort(rows, kind="stable")  # sorted reads are sequential on disk
        images = np.empty((len(rows), self.cache.size, self.cache.size), dtype=np.uint8)
        images[order] = self.cache.images[rows[order]]
        x = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
        if labels:
            return x, torch.from_numpy(self.labels[rows].astype(np.float32))
        return x, torch.from_numpy(self.targets[rows])


class SubsetView:
    """Some rows of a :class:`CachedImageDataset`, with the same reading interface."""

    def __init__(self, dataset: CachedImageDataset, rows: np.ndarray):
        self.dataset, self.rows = dataset, np.asarray(rows, dtype=np.int64)
        self.ids = [dataset.ids[r] for r in self.rows]
        self.targets = dataset.targets[self.rows]
        self.labels = dataset.labels[self.rows]
        self.cache = dataset.cache

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, rows: np.ndarray, labels: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dataset.batch(self.rows[np.asarray(rows)], labels)


def stratified_rows(targets: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """A seeded subset of ``n`` rows keeping the positive fraction; all rows when ``n`` is None or too big."""
    targets = np.asarray(targets)
    if n is None or n >= len(targets):
        return np.arange(len(targets))
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(targets == 1), np.flatnonzero(targets != 1)
    n_pos = int(round(n * len(positives) / len(targets)))
    n_pos = min(max(n_pos, 1 if len(positives) else 0), len(positives), n)
    chosen = np.concatenate([rng.permutation(positives)[:n_pos], rng.permutation(negatives)[:n - n_pos]])
    return np.sort(chosen)


def iterate_batches(dataset: CachedImageDataset, batch_size: int, *, shuffle: bool = False,
                    generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, targets)`` batches; shuffled with ``generator`` when asked."""
    n = len(dataset)
    order = torch.randperm(n, generator=generator).numpy() if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        yield dataset.batch(order[start:start + batch_size])


@dataclass
class DataBundle:
    """The three splits of one dataset at one input size."""

    train: CachedImageDataset
    val: CachedImageDataset
    test: CachedImageDataset
    split: "Split"  # noqa: F821  (cxrbench.data.splits.Split)
    description: dict
