"""Preprocessing cache: each image resized once to the model's size, stored as uint8.

Layout of one cache directory (keyed by source, image set and size)::

    images.u8     raw uint8 memmap, shape (N, size, size)
    filled.npy    bool per image: already written (lets an interrupted build resume)
    ids.txt       the image ids, one per line, in row order
    meta.json     size, count and source description; written last, marks completion

Builds take a file lock, so concurrent jobs wanting the same cache wait for one
builder instead of writing the same file twice.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from filelock import FileLock
from tqdm.auto import tqdm

from cxrbench.io import atomic_write_text

ImageLoader = Callable[[int], np.ndarray]  # row index -> uint8 (size, size)


def cache_key(description: dict, ids: Sequence[str], size: int) -> str:
    """Stable key of (source description, exact id list, size)."""
    h = hashlib.sha256(json.dumps(description, sort_keys=True).encode())
    h.update("\n".join(ids).encode())
    h.update(str(size).encode())
    return h.hexdigest()[:16]


class ImageCache:
    """A uint8 memmap of ``len(ids)`` square images of ``size`` pixels."""

    def __init__(self, directory: Path, ids: Sequence[str], size: int, description: dict):
        self.directory = Path(directory)
        self.ids = list(ids)
        self.size = size
        self.description = description
        self._images: np.memmap | None = None

    @property
    def complete(self) -> bool:
        return (self.directory / "meta.json").exists()

    def build(self, load: ImageLoader, *, progress: bool = True, desc: str = "caching",
              workers: int = 1) -> "ImageCache":
        """Fill every missing image with ``load(row)``, on ``workers`` threads; a no-op when complete.

        Progress is saved every 512 images, so an interrupted build resumes where it stopped.
        """
        if self.complete:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.directory / ".lock")):
            if self.complete:  # another job finished it while we waited
                return self
            n, shape = len(self.ids), (len(self.ids), self.size, self.size)
            path = self.directory / "images.u8"
            mode = "r+" if path.exists() and path.stat().st_size == int(np.prod(shape)) else "w+"
            images = np.memmap(path, dtype=np.uint8, mode=mode, shape=shape)
            filled_path = self.directory / "filled.npy"
            filled = np.load(filled_path) if mode == "r+" and filled_path.exists() else np.zeros(n, bool)
            todo = np.flatnonzero(~filled)
            with tqdm(total=len(todo), desc=desc, disable=not progress, leave=False) as bar, \
                    ThreadPoolExecutor(max(1, workers)) as pool:
                # Pillow and NumPy release the GIL while decoding and resizing, so threads scale.
                for start in range(0, len(todo), 512):
                    chunk = todo[start:start + 512]
                    for row, image in zip(chunk, pool.map(load, (int(r) for r in chunk))):
                        images[row] = image
                        bar.update(1)
                    filled[chunk] = True
                    images.flush()  # pixels on disk before the marks, so a resumed build trusts them
                    np.save(filled_path, filled)
            images.flush()
            np.save(filled_path, filled)
            del images
            atomic_write_text(self.directory / "ids.txt", "\n".join(self.ids) + "\n")
            atomic_write_text(self.directory / "meta.json", json.dumps(
                {"size": self.size, "count": n, "source": self.description}, indent=2, sort_keys=True))
        return self

    @property
    def images(self) -> np.memmap:
        if self._images is None:
            if not self.complete:
                raise RuntimeError(f"cache {self.directory} is not built yet")
            self._images = np.memmap(self.directory / "images.u8", dtype=np.uint8, mode="r",
                                     shape=(len(self.ids), self.size, self.size))
        return self._images

    def __len__(self) -> int:
        return len(self.ids)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Quantise a float image in [0, 1] to uint8 (round to nearest)."""
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def build_cache(root: Path, description: dict, ids: Iterable[str], size: int, load: ImageLoader,
                *, progress: bool = True, workers: int = 1) -> ImageCache:
    """Open (building if needed) the cache of ``ids`` at ``size`` under ``root``."""
    ids = list(ids)
    key = cache_key(description, ids, size)
    cache = ImageCache(Path(root) / f"{description.get('source', 'images')}-{size}px-{key}", ids, size,
                       description)
    return cache.build(load, progress=progress, desc=f"caching {len(ids)} images at {size}px", workers=workers)
