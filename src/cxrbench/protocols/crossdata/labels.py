"""Which findings a model trained on one dataset is scored on in another: the labels both datasets label.

Every source's table carries the 14 ChestX-ray14 columns, -1 where the dataset does not label a
finding (:mod:`cxrbench.data.harmonise`). A model trained on CheXpert learnt nothing about Mass (its
loss skipped the -1 column), and CheXpert's images say nothing about it either, so a cross-dataset
cell ranks and scores only the labels both the training and the test data label: the intersection
of their :func:`~cxrbench.data.harmonise.labelled_names`, in ChestX-ray14 order. From the metadata
the sources ship: ChestX-ray14 and PadChest label all 14, CheXpert 7, SIIM-ACR Pneumothorax alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from cxrbench.data import data_source_class
from cxrbench.data.harmonise import labelled_names
from cxrbench.data.labels import NIH_LABELS
from cxrbench.errors import DataError


def shared_labels(trained: Sequence[str], tested: Sequence[str]) -> tuple[str, ...]:
    """The labels in both ``trained`` and ``tested``, in ChestX-ray14 order.

    Raises:
        DataError: they share none, so no cell can be scored.
    """
    shared = tuple(name for name in NIH_LABELS if name in set(trained) & set(tested))
    if not shared:
        raise DataError(f"the training data labels {', '.join(trained) or 'nothing'} and the test data "
                        f"{', '.join(tested) or 'nothing'}: no label in common to score; pair other datasets")
    return shared


def label_columns(names: Sequence[str]) -> np.ndarray:
    """The column of each of ``names`` among the 14 outputs (and label columns) of a multi-label model."""
    return np.array([NIH_LABELS.index(name) for name in names], dtype=np.int64)


def source_labels(source) -> tuple[str, ...]:
    """The labels a data source gives a value for, read off its harmonised table (no image is opened)."""
    return labelled_names(source.table())


@cache
def shipped_labels(dataset: str) -> tuple[str, ...]:
    """The labels registered dataset ``dataset`` labels in the metadata it ships (torchxrayvision's copy)."""
    return labelled_names(data_source_class(dataset).label_table())
