"""Assemble the three cached splits of a data source at one input size, or fill a share of their caches."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cxrbench.data.cache import build_cache, open_cache
from cxrbench.data.datasets import CachedImageDataset, DataBundle
from cxrbench.data.labels import NIH_LABELS
from cxrbench.data.sources import DataSource
from cxrbench.errors import ConfigError

SUBSETS = ("train", "val", "test")


def build_data(source: DataSource, size: int, cache_dir: Path, *, progress: bool = True,
               subsets: tuple[str, ...] = SUBSETS) -> DataBundle:
    """Split, cache (once) and wrap the images of ``source`` at ``size`` pixels.

    Subsets not in ``subsets`` are left empty, so evaluation-only runs do not
    cache the training images.
    """
    split = source.split()
    table = source.table()
    description = source.description()
    datasets = {}
    for subset in SUBSETS:
        ids = list(getattr(split, subset)) if subset in subsets else []
        cache = build_cache(cache_dir, description, ids, size, source.loader(ids, size), progress=progress,
                            workers=source.workers, processes=source.processes)
        rows = table.loc[ids] if ids else table.iloc[:0]
        datasets[subset] = CachedImageDataset(cache, rows["target"].to_numpy(),
                                              rows[list(NIH_LABELS)].to_numpy(dtype=np.int8))
    return DataBundle(split=split, description=description, **datasets)


def fill_data_shard(source: DataSource, size: int, cache_dir: Path, shard: int, shards: int, *,
                    progress: bool = True) -> dict[str, tuple[int, bool]]:
    """Fill shard ``shard`` of ``shards`` of the caches :func:`build_data` would build.

    Returns subset -> (images this call filled, whether the subset's cache is complete now).

    Every task of a sharing array calls this with its own ``shard``; the caches are complete once
    all have (the last to finish marks each cache complete).
    """
    split, done = source.split(), {}
    for subset in SUBSETS:
        ids = list(getattr(split, subset))
        cache = open_cache(cache_dir, source.description(), ids, size)
        filled = cache.fill_shard(source.loader(ids, size), shard, shards, workers=source.workers,
                                  processes=source.processes, progress=progress)
        done[subset] = filled, cache.complete
    return done


def slurm_array_shard(env: Mapping[str, str]) -> tuple[int, int] | None:
    """(this task's shard, the number of shards) inside a Slurm array job, None outside one.

    Raises:
        ConfigError: the array is not one contiguous range of task ids (``--array=0-15``), so
            its task ids cannot number the shards.
    """
    if "SLURM_ARRAY_TASK_ID" not in env:
        return None
    task, first, last = (int(env[f"SLURM_ARRAY_TASK_{k}"]) for k in ("ID", "MIN", "MAX"))
    count = int(env["SLURM_ARRAY_TASK_COUNT"])
    if last - first + 1 != count:
        raise ConfigError(f"the Slurm array's {count} task ids run from {first} to {last} with gaps; submit the "
                          f"cache build as one contiguous range, e.g. sbatch --array=0-{count - 1}")
    return task - first, count
