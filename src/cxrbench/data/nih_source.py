"""ChestX-ray14 from a user-supplied root, laid out as NIH distributes it."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from cxrbench.data.expert_labels import load_expert_labels
from cxrbench.data.expert_split import expert_split
from cxrbench.data.labels import NIH_LABELS
from cxrbench.data.local_source import ImageFiles, resolve
from cxrbench.data.nih import bundled_metadata_path, index_images, load_metadata, resolve_image_paths
from cxrbench.data.sources import register_data_source
from cxrbench.data.splits import Split, make_split
from cxrbench.errors import ConfigError, DataError


@dataclass
class NihDataConfig:
    """The ``data=nih`` group: where ChestX-ray14 lies and how it is split."""

    source: str = "nih"
    root: Optional[str] = None
    csv: Optional[str] = None
    split: str = "patient"
    seed: int = 0
    test_size: int = 200
    test_positives: int = 93
    val_size: Optional[int] = None
    num_workers: int = 2
    num_processes: int = 1
    expert_subset: bool = False


@register_data_source("nih")
class NihSource:
    """Metadata from the root's CSV (or torchxrayvision's bundled copy), pixels from the root."""

    schema = NihDataConfig

    @staticmethod
    def check_config(config: NihDataConfig) -> None:
        """A root is given (its contents are checked when the source is built); the expert subset is patient-wise."""
        if not config.root:
            raise ConfigError("data=nih needs data.root=/path/to/ChestX-ray14 (the folder with images_*/ "
                              "or images/ and Data_Entry_2017.csv)")
        if not isinstance(config.expert_subset, bool):
            raise ConfigError(f"data.expert_subset must be true or false, got {config.expert_subset!r}")
        if config.expert_subset and config.split != "patient":
            raise ConfigError(f"data.expert_subset=true builds its own patient-disjoint split (test: the images "
                              f"Google relabelled), so it cannot be combined with data.split={config.split}; "
                              "drop data.split or set data.expert_subset=false")

    @staticmethod
    def label_names(config: NihDataConfig) -> tuple[str, ...]:
        return NIH_LABELS

    @staticmethod
    def label_table() -> pd.DataFrame:
        """The shipped metadata's table (torchxrayvision's copy; no root, no images): the phantom's label sets."""
        return load_metadata(csv_path=bundled_metadata_path())

    def __init__(self, config, project_root: Path | None = None):
        self.config = config
        self.root = resolve(config.root, project_root)
        self.csv = resolve(config.csv, project_root)
        self.workers = max(1, config.num_workers)
        self.processes = config.num_processes
        if not isinstance(self.processes, int) or self.processes < 1:
            raise ConfigError(f"data.num_processes must be a whole number of at least 1, got {self.processes!r}")

    def check_root(self) -> None:
        """Fail early, before any work, when images are needed but the root is missing."""
        if self.root is None:
            raise DataError("data=nih needs data.root=/path/to/ChestX-ray14 (the folder with images_*/ "
                            "or images/ and Data_Entry_2017.csv)")
        if not self.root.is_dir():
            raise DataError(f"data root {self.root} does not exist; set data.root=/path/to/ChestX-ray14 "
                            "(the folder holding images_*/ or images/ and Data_Entry_2017.csv)")

    @cached_property
    def _table(self) -> pd.DataFrame:
        root = self.root if self.root is not None and self.root.is_dir() else None
        return load_metadata(root, csv_path=self.csv).set_index("image_id", drop=False)

    def table(self) -> pd.DataFrame:
        return self._table

    def description(self) -> dict:
        return {"source": "nih", "root": str(self.root.resolve()) if self.root else None,
                "metadata": self._table.attrs.get("source")}

    def split(self) -> Split:
        """The configured split; with ``data.expert_subset`` the test split is every relabelled image."""
        c = self.config
        if c.expert_subset:
            return expert_split(self._table.reset_index(drop=True), load_expert_labels().index, c.seed, c.val_size)
        return make_split(self._table.reset_index(drop=True), c.split, c.seed, root=self.root,
                          test_size=c.test_size, test_positives=c.test_positives, val_size=c.val_size)

    @cached_property
    def _index(self) -> dict[str, Path]:
        self.check_root()
        return index_images(self.root)

    def loader(self, ids: list[str], size: int) -> Callable[[int], np.ndarray]:
        # Fails on the first missing image, before caching.
        return ImageFiles(tuple(resolve_image_paths(self._index, ids)), size)
