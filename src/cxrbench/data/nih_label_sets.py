"""The joint distribution of ChestX-ray14's finding sets, from the metadata torchxrayvision ships.

A phantom case with findings draws its whole set at once from the 800 distinct non-empty finding
sets (label order ignored) of the 112,120-row ``Data_Entry_2017_v2020.csv`` (51,759 rows with a finding), weighted by how
many images carry each, so label co-occurrence (Effusion with Infiltration, rarely Infiltration
with Pneumothorax) and the number of findings per image are ChestX-ray14's own.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cxrbench.data.labels import NO_FINDING
from cxrbench.data.nih import bundled_metadata_path, load_metadata


@dataclass(frozen=True)
class FindingSets:
    """Distinct non-empty finding sets (sorted label tuples) and their probabilities among images with a finding."""

    sets: tuple[tuple[str, ...], ...]
    probabilities: np.ndarray
    images: int  # rows of the metadata with at least one finding


@lru_cache(maxsize=1)
def nih_finding_sets() -> FindingSets:
    """The empirical distribution of finding sets in the bundled NIH metadata (read once per process)."""
    labels = load_metadata(csv_path=bundled_metadata_path())["finding_labels"]
    positive = labels[labels != NO_FINDING].map(lambda s: "|".join(sorted(s.split("|"))))
    counts = positive.value_counts().sort_index()  # sorted by set name: the order never depends on ties
    sets = tuple(tuple(name.split("|")) for name in counts.index)
    return FindingSets(sets, counts.to_numpy(dtype=np.float64) / counts.sum(), int(counts.sum()))
