"""The joint distribution of a registered dataset's finding sets, from the metadata it ships.

The phantom (``data=phantom data.label_sets=<dataset>``) draws the whole finding set of a case with
findings at once from the distinct non-empty sets (label order ignored) of that dataset's harmonised
label table (``label_table()`` of its source: the metadata torchxrayvision ships, read without a
root or images), weighted by how many images carry each. So label co-occurrence (Effusion with
Infiltration, rarely Infiltration with Pneumothorax) and the number of findings per image are the
dataset's own, and every protocol runs offline for it. For ``nih`` these are the 800 sets of the
112,120-row ``Data_Entry_2017_v2020.csv`` (51,759 rows with a finding). Only present findings (1)
make a set; a row whose findings are all outside the 14 (or -1) adds none.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from cxrbench.data.harmonise import labelled_names
from cxrbench.data.labels import NIH_LABELS
from cxrbench.data.sources import data_source_class, list_data_sources
from cxrbench.errors import ConfigError

#: The phantom's own label sets (one to three of its six findings), not drawn from a dataset.
PHANTOM_SETS = "phantom"


@dataclass(frozen=True)
class FindingSets:
    """Distinct non-empty finding sets (sorted label tuples) and their probabilities among images with a finding."""

    sets: tuple[tuple[str, ...], ...]
    probabilities: np.ndarray
    images: int  # rows of the metadata with at least one finding
    labelled: tuple[str, ...]  # the NIH labels the dataset provides (the others are -1 in its table)


def label_set_names() -> tuple[str, ...]:
    """What ``data.label_sets`` may name: the phantom's own, or a registered dataset shipping its labels."""
    return (PHANTOM_SETS, *(n for n in list_data_sources() if hasattr(data_source_class(n), "label_table")))


def check_label_sets(name: str) -> None:
    """Raise a ConfigError naming the valid choices unless ``name`` is one of :func:`label_set_names`."""
    if name not in label_set_names():
        raise ConfigError(f"unknown data.label_sets {name!r}; choose one of: {', '.join(label_set_names())}")


@cache
def finding_sets(name: str) -> FindingSets:
    """The empirical distribution of finding sets of dataset ``name`` (read once per process)."""
    check_label_sets(name)
    if name == PHANTOM_SETS:
        raise ConfigError("the phantom's own label sets are drawn by the phantom, not from a dataset")
    table = data_source_class(name).label_table()
    hot = table[list(NIH_LABELS)].to_numpy() == 1
    # Names joined in alphabetical order, as ChestX-ray14 writes its "Finding Labels".
    order = sorted(range(len(NIH_LABELS)), key=lambda j: NIH_LABELS[j])
    names = ["|".join(NIH_LABELS[j] for j in order if row[j]) for row in hot[hot.any(axis=1)]]
    counts = pd.Series(names).value_counts().sort_index()  # order never depends on ties
    sets = tuple(tuple(s.split("|")) for s in counts.index)
    return FindingSets(sets, counts.to_numpy(dtype=np.float64) / counts.sum(), int(counts.sum()),
                       labelled_names(table))


def nih_finding_sets() -> FindingSets:
    """ChestX-ray14's finding sets (the multi-label task's default phantom)."""
    return finding_sets("nih")
