"""Assemble the three cached splits of a data source at one input size."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cxrbench.data.cache import build_cache
from cxrbench.data.datasets import CachedImageDataset, DataBundle
from cxrbench.data.labels import NIH_LABELS
from cxrbench.data.sources import DataSource


def build_data(source: DataSource, size: int, cache_dir: Path, *, progress: bool = True,
               subsets: tuple[str, ...] = ("train", "val", "test")) -> DataBundle:
    """Split, cache (once) and wrap the images of ``source`` at ``size`` pixels.

    Subsets not in ``subsets`` are left empty, so evaluation-only runs do not
    cache the training images.
    """
    split = source.split()
    table = source.table()
    description = source.description()
    datasets = {}
    for subset in ("train", "val", "test"):
        ids = list(getattr(split, subset)) if subset in subsets else []
        cache = build_cache(cache_dir, description, ids, size, source.loader(ids, size), progress=progress,
                            workers=source.workers)
        rows = table.loc[ids] if ids else table.iloc[:0]
        datasets[subset] = CachedImageDataset(cache, rows["target"].to_numpy(),
                                              rows[list(NIH_LABELS)].to_numpy(dtype=np.int8))
    return DataBundle(split=split, description=description, **datasets)
