"""``data.expert_subset``: a patient-disjoint ChestX-ray14 split that tests on the images Google relabelled.

The test split is every image of the metadata that Google's radiologists relabelled
(:mod:`cxrbench.data.expert_labels`), all of them, several per patient where Google chose several;
every other image of those patients is dropped, so no test patient is trained or validated on, and
validation is carved by whole patients from the rest as in the patient split. On the shipped
metadata: 4,376 test images of 1,695 patients; 22,545 further images of those patients dropped;
85,199 images of 29,110 patients left for train and validation (72,416 and 12,783 at seed 0).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from cxrbench.data.splits import Split, carve_val, check_disjoint
from cxrbench.errors import DataError

#: ``Split.name`` of this split (records' ``split.name``).
EXPERT_SPLIT = "expert"


def expert_split(meta: pd.DataFrame, relabelled: Iterable[str], seed: int, val_size: int | None = None) -> Split:
    """Test on the relabelled images of ``meta``; train and validate on the images of every other patient.

    Args:
        meta: Frame from :func:`cxrbench.data.nih.load_metadata`.
        relabelled: Image ids Google relabelled (the index of
            :func:`cxrbench.data.expert_labels.load_expert_labels`).
        seed: Seed of the validation carving.
        val_size: Validation images (approximate, whole patients); None: the paper's proportion.

    Raises:
        DataError: ``meta`` holds none of the relabelled images, or too few other patients are left.
    """
    meta = meta.sort_values("image_id", kind="stable").reset_index(drop=True)
    ids, patients = meta["image_id"].to_numpy(str), meta["patient_id"].to_numpy()
    in_test = np.isin(ids, np.asarray(list(relabelled), dtype=str))
    if not in_test.any():
        raise DataError(f"data.expert_subset=true, but none of the {len(meta)} images of the metadata is one Google's "
                        "radiologists relabelled; use the full ChestX-ray14 metadata (Data_Entry_2017*.csv) or "
                        "set data.expert_subset=false")
    rest = np.flatnonzero(~np.isin(patients, np.unique(patients[in_test])))
    if len(np.unique(patients[rest])) < 2:
        raise DataError(f"data.expert_subset=true leaves {len(np.unique(patients[rest]))} patient without a "
                        "relabelled image for train and val; use a metadata CSV with more patients")
    train, val = carve_val(rest, patients, np.random.default_rng(seed), val_size)
    split = Split(EXPERT_SPLIT, seed, ids[train], ids[val], ids[in_test])
    check_disjoint(split, meta)
    return split
