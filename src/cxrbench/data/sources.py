"""Data-source registry: each source turns its config into a split, labels and pixels."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import pandas as pd

from cxrbench.errors import ConfigError


class DataSource(Protocol):
    """What the pipeline needs from a dataset.

    ``table`` has one row per image with ``image_id``, ``patient_id``, ``target``
    and one int column per ChestX-ray14 label: 1 present, 0 absent, -1 not labelled
    by this dataset (a label it lacks, or one it withholds for that image, e.g.
    CheXpert's uncertain mentions under ``data.uncertain=ignore``); the multi-label
    loss and ROC-AUC skip -1 entries, the k-robust metrics count them as absent
    (:mod:`cxrbench.data.harmonise`). ``loader`` returns a function that
    renders row ``i`` of ``ids`` as a uint8 ``(size, size)`` image; ``processes``
    processes, each on ``workers`` threads, call it while the cache is built (more
    than one process: the loader must pickle).
    """

    workers: int
    processes: int

    def description(self) -> dict: ...

    def table(self) -> pd.DataFrame: ...

    def split(self) -> "Split": ...  # noqa: F821

    def loader(self, ids: list[str], size: int) -> Callable[[int], np.ndarray]: ...


_SOURCES: dict[str, Callable[[Any, Path], DataSource]] = {}


def register_data_source(name: str):
    """Class decorator adding a source constructible as ``cls(config, project_root)``.

    The class names its config group's schema (``schema``, a dataclass with ``source: str = name``)
    and checks a typed config with ``check_config(config)`` before any work.
    """
    def add(cls):
        if name in _SOURCES:
            raise ValueError(f"data source {name!r} is already registered")
        _SOURCES[name] = cls
        return cls
    return add


def list_data_sources() -> list[str]:
    return sorted(_SOURCES)


def data_source_class(name: str) -> type:
    """The registered class of source ``name``; an unknown name lists the valid ones."""
    try:
        return _SOURCES[name]
    except KeyError:
        raise ConfigError(f"unknown data source {name!r}; choose one of: {', '.join(list_data_sources())}") from None


def create_data_source(config: Any, project_root: Path) -> DataSource:
    """Instantiate the source named by ``config.source``."""
    return data_source_class(config.source)(config, project_root)
