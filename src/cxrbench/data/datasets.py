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

    def batch(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``[B, 1, S, S]`` and targets for ``rows`` in one memmap read."""
        rows = np.asarray(rows)
        order = np.argsort(rows, kind="stable")  # sorted reads are sequential on disk
        images = np.empty((len(rows), self.cache.size, self.cache.size), dtype=np.uint8)
        images[order] = self.cache.images[rows[order]]
        x = torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
        return x, torch.from_numpy(self.targets[rows])


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
