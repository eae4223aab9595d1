"""The embedded default data: phantom radiographs split like the paper's protocol."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cxrbench.data.cache import to_uint8
from cxrbench.data.labels import NIH_FINDING_PREVALENCE, NIH_LABELS
from cxrbench.data.harmonise import UNLABELLED
from cxrbench.data.label_sets import PHANTOM_SETS, check_label_sets, finding_sets
from cxrbench.data.phantom import PHANTOM_FINDINGS, PhantomParams, case_rng, generate, sample_case
from cxrbench.data.sources import data_source_class, register_data_source
from cxrbench.data.splits import Split
from cxrbench.errors import ConfigError

_STREAMS = {"train": 0, "val": 1, "test": 2}


@dataclass
class PhantomDataConfig:
    """The ``data=phantom`` group: how many phantom radiographs of each split, and how they look."""

    source: str = "phantom"
    n_train: int = 3000
    n_val: int = 300
    n_test: int = 200
    test_positives: int = 93
    prevalence: float = NIH_FINDING_PREVALENCE
    lesion_contrast: float = 1.5
    noise: float = 0.02
    seed: int = 0
    label_sets: str = "phantom"   # phantom: six findings (binary task); a dataset (nih, chexpert...): its joint finding sets


@register_data_source("phantom")
class PhantomSource:
    """Train/val images drawn at the configured prevalence; the test set has exactly
    ``test_positives`` finding images out of ``n_test`` (93 of 200, as in the paper)."""

    workers = 1  # rendering is NumPy-bound and fast; threads would only contend
    processes = 1  # its loader is a closure (no pickling), and rendering is cheap
    schema = PhantomDataConfig

    @staticmethod
    def check_config(config: PhantomDataConfig) -> None:
        """The label sets are the phantom's own or a registered dataset's."""
        check_label_sets(config.label_sets)

    @staticmethod
    def label_names(config: PhantomDataConfig) -> tuple[str, ...]:
        """The findings the phantom's label sets name: a dataset's label sets give what that dataset gives."""
        if config.label_sets == PHANTOM_SETS:
            return PHANTOM_FINDINGS
        dataset = data_source_class(config.label_sets)
        return dataset.label_names(dataset.schema()) if hasattr(dataset, "schema") else NIH_LABELS

    def __init__(self, config, project_root: Path | None = None):
        if not 0 <= config.test_positives <= config.n_test:
            raise ConfigError(f"data.test_positives={config.test_positives} must lie in [0, data.n_test]")
        self.config = config
        check_label_sets(config.label_sets)
        self.params = PhantomParams(prevalence=config.prevalence, lesion_contrast=config.lesion_contrast,
                                    noise=config.noise, label_sets=config.label_sets)

    def description(self) -> dict:
        # The default label sets leave the description (and every checkpoint key) as before they existed.
        skip = {"source"} | ({"label_sets"} if self.config.label_sets == "phantom" else set())
        return {"source": "phantom", **{k: v for k, v in asdict(self.config).items() if k not in skip}}

    def _stream_seed(self, subset: str) -> int:
        return self.config.seed * 10 + _STREAMS[subset]

    @cached_property
    def _forced_test(self) -> np.ndarray:
        order = np.random.default_rng([self.config.seed, 93]).permutation(self.config.n_test)
        forced = np.zeros(self.config.n_test, dtype=bool)
        forced[order[: self.config.test_positives]] = True
        return forced

    def _positive(self, subset: str, index: int) -> bool | None:
        return bool(self._forced_test[index]) if subset == "test" else None

    @staticmethod
    def _parse(image_id: str) -> tuple[str, int]:
        _, subset, index = image_id.split("-")
        return subset, int(index)

    @cached_property
    def _ids(self) -> dict[str, list[str]]:
        c = self.config
        sizes = {"train": c.n_train, "val": c.n_val, "test": c.n_test}
        return {s: [f"phantom-{s}-{i:06d}" for i in range(n)] for s, n in sizes.items()}

    def split(self) -> Split:
        ids = self._ids
        return Split(name="phantom", seed=self.config.seed, train=np.array(ids["train"]),
                     val=np.array(ids["val"]), test=np.array(ids["test"]))

    @cached_property
    def _table(self) -> pd.DataFrame:
        rows = []
        for subset, ids in self._ids.items():
            for index, image_id in enumerate(ids):
                rng = case_rng(self._stream_seed(subset), index)
                case = sample_case(rng, self.params, self._positive(subset, index))
                rows.append([image_id, _STREAMS[subset] * 10**7 + index, case.target, "|".join(case.findings) or "No Finding",
                             *case.label_vector()])
        table = pd.DataFrame(rows, columns=["image_id", "patient_id", "target", "finding_labels", *NIH_LABELS])
        if self.config.label_sets != PHANTOM_SETS:
            # Labels the dataset lacks are -1 here too, so the tasks see the dataset's own gaps.
            lacking = [n for n in NIH_LABELS if n not in finding_sets(self.config.label_sets).labelled]
            table[lacking] = UNLABELLED
        return table.set_index("image_id", drop=False)

    def table(self) -> pd.DataFrame:
        return self._table

    def loader(self, ids: list[str], size: int) -> Callable[[int], np.ndarray]:
        def load(row: int) -> np.ndarray:
            subset, index = self._parse(ids[row])
            sample = generate(self._stream_seed(subset), index, size, self.params, self._positive(subset, index))
            return to_uint8(sample.image)
        return load
