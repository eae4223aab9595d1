"""What every public dataset read from a local copy shares: config fields, root checks, split, pixels.

A dataset file subclasses :class:`LocalSource` and supplies only what is its own: its config
schema (a subclass of :class:`LocalDataConfig` with ``source`` set to its name), the labels it has
(``labelled``), :meth:`LocalSource.metadata_table` (its metadata harmonised onto the 14 columns by
:func:`~cxrbench.data.harmonise.harmonised_table`, reading no image) and
:meth:`LocalSource.image_path` (where an image of its layout lies). Splits are patient-disjoint by
default (:func:`~cxrbench.data.splits.make_split`, the code ChestX-ray14 uses) wherever the
metadata names patients.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.data.images import load_image
from cxrbench.data.labels import NIH_LABELS
from cxrbench.data.splits import Split, make_split
from cxrbench.errors import ConfigError, DataError

#: Splits a local dataset offers: patient-disjoint, or image-wise (as the paper; shares patients).
LOCAL_SPLITS = ("patient", "paper")


@dataclass
class LocalDataConfig:
    """Fields every local dataset's ``data=`` group has (a dataset's schema adds its own)."""

    source: str = ""
    root: str | None = None   # the dataset folder, laid out as its publisher distributes it
    csv: str | None = None    # the metadata CSV (default: the one in root, else torchxrayvision's copy)
    split: str = "patient"
    seed: int = 0
    test_size: int = 200
    test_positives: int = 93
    val_size: int | None = None
    num_workers: int = 2
    num_processes: int = 1


_RUN_ONLY = {f.name for f in fields(LocalDataConfig)} - {"source"}


def resolve(path: str | None, project_root: Path | None) -> Path | None:
    """A config path made absolute against the project root (``~`` expanded)."""
    if path is None:
        return None
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() or project_root is None else (project_root / p)


@dataclass(frozen=True)
class ImageFiles:
    """Row -> that row's file at ``size`` pixels: a plain object, so cache worker processes can receive it."""

    paths: tuple[Path, ...]
    size: int

    def __call__(self, row: int) -> np.ndarray:
        return load_image(self.paths[row], self.size)


class LocalSource:
    """A registered dataset read from ``data.root`` (subclasses set the class attributes below)."""

    schema: type = LocalDataConfig
    #: How the folder ``data.root`` must look, for error messages.
    layout: str = ""
    #: The NIH labels this dataset provides; the others are -1 in every row.
    labelled: tuple[str, ...] = NIH_LABELS

    @classmethod
    def check_config(cls, config) -> None:
        """A root is given, the split is one a local dataset offers, the worker counts are whole numbers."""
        name = cls.schema.source
        if not config.root:
            raise ConfigError(f"data={name} needs data.root=/path/to/{name} ({cls.layout})")
        if config.split not in LOCAL_SPLITS:
            raise ConfigError(f"unknown data.split {config.split!r} for data={name}; choose one of: "
                              f"{', '.join(LOCAL_SPLITS)}")
        if not isinstance(config.num_processes, int) or config.num_processes < 1:
            raise ConfigError(f"data.num_processes must be a whole number of at least 1, got {config.num_processes!r}")

    @staticmethod
    def label_names(config) -> tuple[str, ...]:
        """The 14 columns the table carries (those the dataset lacks hold -1, which the tasks skip)."""
        return NIH_LABELS

    @classmethod
    def metadata_table(cls, config, root: Path | None, csv: Path | None) -> pd.DataFrame:
        """The harmonised table of the dataset's metadata; reads no image. Subclasses implement it."""
        raise NotImplementedError

    @classmethod
    def label_table(cls) -> pd.DataFrame:
        """The harmonised table of the shipped metadata under the default config (no root, no images)."""
        return cls.metadata_table(cls.schema(), None, None)

    def image_path(self, image_id: str) -> Path:
        """Where image ``image_id`` lies under the root. Subclasses implement it."""
        raise NotImplementedError

    def __init__(self, config, project_root: Path | None = None):
        type(self).check_config(config)
        self.config = config
        self.root = resolve(config.root, project_root)
        self.csv = resolve(config.csv, project_root)
        self.workers = max(1, config.num_workers)
        self.processes = config.num_processes

    def check_root(self) -> None:
        """Fail before any work when the root is missing."""
        if self.root is None or not self.root.is_dir():
            raise DataError(f"data root {self.root} does not exist; set data.root=/path/to/{self.config.source} "
                            f"({self.layout})")

    @cached_property
    def _table(self) -> pd.DataFrame:
        self.check_root()
        return type(self).metadata_table(self.config, self.root, self.csv)

    def table(self) -> pd.DataFrame:
        return self._table

    def description(self) -> dict:
        # The dataset's own options change the table, so they key the cache and the checkpoints too.
        options = {k: v for k, v in asdict(self.config).items() if k not in _RUN_ONLY}
        return {**options, "root": str(self.root.resolve()), "metadata": self._table.attrs.get("source")}

    def split(self) -> Split:
        c = self.config
        return make_split(self._table.reset_index(drop=True), c.split, c.seed, test_size=c.test_size,
                          test_positives=c.test_positives, val_size=c.val_size)

    def loader(self, ids: list[str], size: int) -> Callable[[int], np.ndarray]:
        """Fails on missing images before caching, naming the first and counting them."""
        self.check_root()
        paths = [self.image_path(i) for i in ids]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise DataError(f"{len(missing)} of {len(ids)} images in the metadata have no file (first: {missing[0]}); "
                            f"unpack the whole dataset into data.root ({self.layout}) or use a data.csv listing "
                            "only the images you have")
        return ImageFiles(tuple(paths), size)
