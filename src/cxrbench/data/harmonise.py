"""Harmonising a dataset's own labels onto the 14 ChestX-ray14 columns every source's table carries.

Each public dataset names its findings its own way (CheXpert's "Pleural Effusion", PadChest's
"pleural effusion" or "loculated pleural effusion") and labels only some of the 14. A source maps
its names onto :data:`~cxrbench.data.labels.NIH_LABELS` with :func:`harmonised_table`, which fixes
the convention every task and metric relies on:

* ``1``: the finding is present; ``0``: it is absent;
* ``-1`` (:data:`UNLABELLED`): this dataset does not say, either because it has no such label at
  all (SIIM-ACR's 13 columns besides Pneumothorax) or because its label is withheld for this image
  (CheXpert's uncertain mentions under ``data.uncertain=ignore``). The multi-label loss and ROC-AUC
  skip these entries; the k-robust metrics count them as "not a present finding".

The binary ``target`` is 1 when any finding the dataset marks is present, whatever the source
decides counts as one (stated in each source's docstring).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cxrbench.data.labels import NIH_LABELS
from cxrbench.errors import DataError

#: The value of a label column this dataset does not provide for that image (see the module docstring).
UNLABELLED = -1


def harmonised_table(image_ids: Sequence[str], patient_ids: Sequence, target: Sequence[int],
                     labels: Mapping[str, Sequence[int]], **extra: Sequence) -> pd.DataFrame:
    """The table a source's ``table()`` returns, indexed by ``image_id``.

    Args:
        image_ids: One unique id per image (the cache and the split name images by it).
        patient_ids: The patient of each image (the patient-disjoint split groups by it).
        target: The binary target per image: 1 finding, 0 none.
        labels: NIH label name -> per image 1 / 0 / -1 for the labels this dataset has; every
            NIH label it lacks becomes a column of -1.
        **extra: Further per-image columns (``view``, ``finding_labels``...) kept as given.

    Raises:
        ValueError: a name in ``labels`` is not one of the 14 (a bug in the source's label map).
        DataError: image ids repeat, or a label column holds a value other than 1, 0, -1.
    """
    unknown = sorted(set(labels) - set(NIH_LABELS))
    if unknown:
        raise ValueError(f"label map names {unknown}, which are not ChestX-ray14 labels {NIH_LABELS}")
    n = len(image_ids)
    frame = pd.DataFrame({"image_id": pd.Series(image_ids, dtype=str).to_numpy(),
                          "patient_id": np.asarray(patient_ids),
                          "target": np.asarray(target, dtype=np.int8)})
    for name in NIH_LABELS:
        column = np.asarray(labels[name]) if name in labels else np.full(n, UNLABELLED)
        if not np.isin(column, (1, 0, UNLABELLED)).all():
            raise DataError(f"label {name} holds values other than 1, 0 and {UNLABELLED}; fix the label map")
        frame[name] = column.astype(np.int8)
    for key, values in extra.items():
        frame[key] = np.asarray(values)
    duplicated = frame["image_id"][frame["image_id"].duplicated()]
    if len(duplicated):
        raise DataError(f"the metadata lists {len(duplicated)} images twice (first: {duplicated.iloc[0]}); "
                        "keep one row per image")
    frame = frame.sort_values("image_id", kind="stable").reset_index(drop=True)
    return frame.set_index("image_id", drop=False)


def labelled_names(table: pd.DataFrame) -> tuple[str, ...]:
    """The NIH labels ``table`` gives a value (0 or 1) for at least one image, in NIH order."""
    return tuple(name for name in NIH_LABELS if (table[name] != UNLABELLED).any())


def terms_to_labels(term_sets: Sequence[frozenset[str]], label_map: Mapping[str, frozenset[str]]
                    ) -> dict[str, np.ndarray]:
    """Per NIH label, 1 where an image's set of the dataset's terms meets the label's synonyms, else 0."""
    return {name: np.fromiter((not terms.isdisjoint(synonyms) for terms in term_sets), dtype=np.int8,
                              count=len(term_sets))
            for name, synonyms in label_map.items()}
