"""Filling chunks of an image cache: load the rows, write them in place, mark the chunk done.

A chunk is ``chunk_rows`` consecutive rows. Its pixels are collected in one buffer (``chunk_rows x
size x size`` bytes: 46 MB at 299 px, 56 MB at 331 px, whatever the number of images), written with
positioned writes (``os.pwrite``) and synced before its marker file exists, so a marker always means
pixels on disk. Writes go through the file rather than a shared memory map because several
processes, possibly on several nodes (a Slurm array), write disjoint rows of one file: a written
byte range reaches the file as written, whereas a dirty page of a map would be written back whole,
over a neighbour's rows that share the page.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from cxrbench.errors import OutputError

ImageLoader = Callable[[int], np.ndarray]  # row index -> uint8 (size, size)


@dataclass(frozen=True)
class ChunkTarget:
    """Where a cache's chunks go: the image file, the marker folder and the geometry."""

    images: Path
    filled: Path
    count: int
    size: int
    chunk_rows: int

    @property
    def chunks(self) -> int:
        return -(-self.count // self.chunk_rows)

    def rows(self, chunk: int) -> range:
        start = chunk * self.chunk_rows
        return range(start, min(start + self.chunk_rows, self.count))

    def marker(self, chunk: int) -> Path:
        return self.filled / f"{chunk:06d}"

    def missing(self) -> list[int]:
        """The chunks without a marker, in order (one directory listing, not a stat per chunk)."""
        done = set(os.listdir(self.filled)) if self.filled.is_dir() else set()
        return [c for c in range(self.chunks) if self.marker(c).name not in done]


def _write_at(path: Path, offset: int, buffer: np.ndarray) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            view = memoryview(np.ascontiguousarray(buffer)).cast("B")
            while view:  # pwrite may write less than asked (Linux caps one call near 2 GiB)
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written
            os.fsync(fd)  # pixels on disk before the marker, so a resumed build can trust the marker
        finally:
            os.close(fd)
    except OSError as exc:  # e.g. the disk filled up after the cache was created (it is sparse)
        raise OutputError(f"cannot write the data cache {path} ({exc.strerror or exc}); free space there or "
                          "point paths.cache_dir at another disk") from None


def fill_chunk(target: ChunkTarget, chunk: int, load: ImageLoader, pool: Executor | None = None) -> int:
    """Load, write and mark one chunk; returns its number of rows."""
    rows = target.rows(chunk)
    buffer = np.empty((len(rows), target.size, target.size), dtype=np.uint8)
    images = pool.map(load, rows) if pool is not None else map(load, rows)
    for i, image in enumerate(images):
        buffer[i] = image
    _write_at(target.images, rows.start * target.size * target.size, buffer)
    target.marker(chunk).touch()  # an empty file: created whole or not at all
    return len(rows)


_WORKER: dict = {}


def _start_worker(load: ImageLoader, threads: int) -> None:
    _WORKER["load"] = load
    _WORKER["pool"] = ThreadPoolExecutor(threads) if threads > 1 else None


def _fill_in_worker(target: ChunkTarget, chunk: int) -> int:
    return fill_chunk(target, chunk, _WORKER["load"], _WORKER["pool"])


def fill_chunks(target: ChunkTarget, chunks: list[int], load: ImageLoader, *, threads: int = 1,
                processes: int = 1, progress: bool = True, desc: str = "caching") -> None:
    """Fill ``chunks`` with ``load``: ``processes`` worker processes, each decoding on ``threads`` threads.

    Worker processes are started with ``spawn`` (a fork of a process that holds torch's thread
    pools is not safe), so ``load`` must pickle: a module-level function or a plain object such as
    :class:`cxrbench.data.nih_source.ImageFiles`, not a closure.

    Raises:
        ValueError: ``threads`` or ``processes`` below 1, or ``processes > 1`` with a loader that
            does not pickle.
    """
    if threads < 1 or processes < 1:
        raise ValueError(f"threads and processes must be at least 1, got {threads} and {processes}")
    total = sum(len(target.rows(c)) for c in chunks)
    with tqdm(total=total, desc=desc, disable=not progress, leave=False) as bar:
        if processes == 1 or len(chunks) < 2:
            with ThreadPoolExecutor(threads) if threads > 1 else nullcontext() as pool:
                for chunk in chunks:
                    bar.update(fill_chunk(target, chunk, load, pool))
            return
        try:
            pickle.dumps(load)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ValueError(f"a build on {processes} processes needs a loader that pickles ({exc}); "
                             "use processes=1 for this source") from None
        pool = ProcessPoolExecutor(min(processes, len(chunks)), mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(load, threads))
        try:
            for done in as_completed([pool.submit(_fill_in_worker, target, c) for c in chunks]):
                bar.update(done.result())
        except BaseException:
            # Queued chunks would otherwise still run before the error surfaces.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
