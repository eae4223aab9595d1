"""Preprocessing cache: each image resized once to the model's size, stored as uint8.

Layout of one cache directory (keyed by source, image set and size)::

    images.u8       raw uint8 memmap, shape (N, size, size), created at its full size before any row
    filled-512/     one empty file per finished chunk of 512 rows (000000, 000001, ...): lets an
                    interrupted build resume, and several processes or Slurm array tasks fill one cache
    ids.txt         the image ids, one per line, in row order
    meta.json       size, count and source description; written last, marks completion

Builds take a file lock, so concurrent jobs wanting the same cache wait for one builder instead of
writing the same file twice; the builder fills the chunks on threads or worker processes
(:mod:`cxrbench.data.cache_fill`), holding one chunk's pixels per worker at a time, so memory does
not grow with the number of images. A Slurm array shares one build instead
(:meth:`ImageCache.fill_shard`, ``scripts/cache.py``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from filelock import FileLock

from cxrbench.data.cache_fill import ChunkTarget, ImageLoader, fill_chunks
from cxrbench.errors import OutputError
from cxrbench.io import atomic_write_text

#: Rows per chunk: the unit of resumption and of work handed to a worker (its buffer: 512 x size² bytes).
CHUNK_ROWS = 512


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.2f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


def cache_key(description: dict, ids: Sequence[str], size: int) -> str:
    """Stable key of (source description, exact id list, size)."""
    h = hashlib.sha256(json.dumps(description, sort_keys=True).encode())
    h.update("\n".join(ids).encode())
    h.update(str(size).encode())
    return h.hexdigest()[:16]


class ImageCache:
    """A uint8 memmap of ``len(ids)`` square images of ``size`` pixels, filled in chunks of ``chunk_rows``."""

    def __init__(self, directory: Path, ids: Sequence[str], size: int, description: dict,
                 chunk_rows: int = CHUNK_ROWS):
        self.directory = Path(directory)
        self.ids = list(ids)
        self.size = size
        self.description = description
        self.target = ChunkTarget(self.directory / "images.u8", self.directory / f"filled-{chunk_rows}",
                                  len(self.ids), size, chunk_rows)
        self._images: np.memmap | None = None

    @property
    def complete(self) -> bool:
        return (self.directory / "meta.json").exists()

    def _lock(self) -> FileLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / ".lock"))

    def _create(self) -> None:
        """Make ``images.u8`` exist at its full size (sparse); under the lock.

        Raises:
            OutputError: the disk has less free space than the whole cache needs.
        """
        t = self.target
        nbytes = t.count * t.size * t.size
        if t.images.exists() and t.images.stat().st_size != nbytes:
            t.images.unlink()  # a file of another shape (an older layout)
        if not t.images.exists():
            free = shutil.disk_usage(self.directory).free
            if free < nbytes:
                raise OutputError(f"the data cache {t.images} needs {_size(nbytes)} and {self.directory} has "
                                  f"{_size(free)} free; free space there or point paths.cache_dir at a larger disk")
            shutil.rmtree(t.filled, ignore_errors=True)  # no marker may vouch for a new file's rows
            # Sized beside it, then linked into place: the file appears whole, and where the lock is
            # local to each node (NFS mounted with local_lock) two tasks creating it at once cannot
            # replace each other's file under rows already written: the second link fails.
            fd, tmp = tempfile.mkstemp(prefix=".images.u8.", dir=self.directory)
            try:
                os.ftruncate(fd, nbytes)
                os.close(fd)
                try:
                    os.link(tmp, t.images)
                except FileExistsError:
                    pass
            finally:
                os.unlink(tmp)
        t.filled.mkdir(exist_ok=True)

    def _finish(self) -> bool:
        """Write ``ids.txt`` and ``meta.json`` once every chunk is marked; under the lock."""
        if self.complete or self.target.missing():
            return self.complete
        atomic_write_text(self.directory / "ids.txt", "\n".join(self.ids) + "\n")
        atomic_write_text(self.directory / "meta.json", json.dumps(
            {"size": self.size, "count": len(self.ids), "source": self.description}, indent=2, sort_keys=True))
        return True

    def build(self, load: ImageLoader, *, progress: bool = True, desc: str = "caching",
              workers: int = 1, processes: int = 1) -> "ImageCache":
        """Fill every missing chunk with ``load(row)``; a no-op when complete.

        Args:
            load: row -> uint8 ``(size, size)`` image; must pickle when ``processes > 1``.
            progress: show a progress bar.
            desc: its label.
            workers: threads decoding images in each process (Pillow and NumPy release the GIL).
            processes: worker processes (1: the chunks are filled in this process).
        """
        if self.complete:
            return self
        with self._lock():
            if self.complete:  # another job finished it while we waited
                return self
            self._create()
            fill_chunks(self.target, self.target.missing(), load, threads=workers, processes=processes,
                        progress=progress, desc=desc)
            self._finish()
        return self

    def fill_shard(self, load: ImageLoader, shard: int, shards: int, *, workers: int = 1, processes: int = 1,
                   progress: bool = False) -> int:
        """Fill the missing chunks ``c`` with ``c % shards == shard``: one task of ``shards`` sharing a build.

        The lock is held only to create the file and to mark the cache complete, so the tasks fill
        at the same time; whichever finds every chunk marked writes ``meta.json`` (see ``complete``).

        Returns:
            The number of images this call filled.
        """
        if not 0 <= shard < shards:
            raise ValueError(f"shard {shard} is not one of 0..{shards - 1}")
        if self.complete:
            return 0
        with self._lock():
            self._create()
        mine = [c for c in self.target.missing() if c % shards == shard]
        fill_chunks(self.target, mine, load, threads=workers, processes=processes, progress=progress,
                    desc=f"caching shard {shard}/{shards}")
        with self._lock():
            self._finish()
        return sum(len(self.target.rows(c)) for c in mine)

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


def open_cache(root: Path, description: dict, ids: Iterable[str], size: int) -> ImageCache:
    """The cache of ``ids`` at ``size`` under ``root`` (built or not)."""
    ids = list(ids)
    key = cache_key(description, ids, size)
    return ImageCache(Path(root) / f"{description.get('source', 'images')}-{size}px-{key}", ids, size, description)


def build_cache(root: Path, description: dict, ids: Iterable[str], size: int, load: ImageLoader,
                *, progress: bool = True, workers: int = 1, processes: int = 1) -> ImageCache:
    """Open (building if needed) the cache of ``ids`` at ``size`` under ``root``."""
    cache = open_cache(root, description, ids, size)
    return cache.build(load, progress=progress, desc=f"caching {len(cache)} images at {size}px", workers=workers,
                       processes=processes)
