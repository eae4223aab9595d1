"""Google's radiologist-adjudicated labels of ChestX-ray14 (Majkowska et al. 2020) and their ChestX-ray14 labels.

torchxrayvision ships them as ``google2019_nih-chest-xray-labels.csv.gz``: 4,376 images of Google's
validation (2,414) and test (1,962) sets, one row per image, ``YES``/``NO`` for four findings. The
file holds no per-reader columns: each row is already the adjudicated reference standard, so the
reader rule here is to take it as it stands and to refuse a file that lists an image twice (e.g.
Google's per-reader release), rather than vote over readers ourselves.

Each finding is compared with a model through the ChestX-ray14 labels that denote it
(:data:`FINDINGS`): its score is the largest probability among them, it is called when any of them is
called at its own threshold, and its mined label is their union. "Airspace opacity" is alveolar
filling, which ChestX-ray14 names Consolidation, Infiltration, Pneumonia or Edema; Atelectasis
(volume loss), Effusion (pleural) and Nodule/Mass (focal) denote other findings even where they come
with an opacity. ChestX-ray14 has no fracture label, so Fracture is read but never scored.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.data.labels import NIH_LABELS
from cxrbench.data.metadata import bundled_file, read_metadata
from cxrbench.errors import DataError

EXPERT_FILE = "google2019_nih-chest-xray-labels.csv.gz"
#: Google's finding -> the ChestX-ray14 labels that denote it (empty: ChestX-ray14 cannot score it).
FINDINGS: dict[str, tuple[str, ...]] = {
    "Pneumothorax": ("Pneumothorax",),
    "Nodule or mass": ("Nodule", "Mass"),
    "Airspace opacity": ("Consolidation", "Infiltration", "Pneumonia", "Edema"),
    "Fracture": (),
}
#: The findings a ChestX-ray14 model has an output for.
SCORED = tuple(name for name, members in FINDINGS.items() if members)
REQUIRED = ("Image Index", "Patient ID", "Set Id", *FINDINGS)
_WHAT = f"Google's adjudicated ChestX-ray14 labels (torchxrayvision's {EXPERT_FILE})"
_VALUES = {"YES": 1, "NO": 0}


def expert_labels_path() -> Path:
    """torchxrayvision's shipped copy of Google's labels.

    Raises:
        DataError: torchxrayvision or the file is not installed.
    """
    return bundled_file(EXPERT_FILE, "reinstall torchxrayvision (its wheel ships the file)")


def load_expert_labels(path: Path | None = None) -> pd.DataFrame:
    """Google's labels, one row per image, indexed by ``image_id``.

    Args:
        path: The CSV (plain or gzipped); None: torchxrayvision's shipped copy.

    Returns:
        Columns ``patient_id``, ``set`` (Google's ``val`` or ``test``) and one 0/1 column per finding
        of :data:`FINDINGS`, sorted by image id.

    Raises:
        DataError: The file is missing or unreadable, lacks a column, lists an image twice, or holds a
            finding value other than YES/NO.
    """
    path = expert_labels_path() if path is None else Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; pass the path of {_WHAT}, or none for torchxrayvision's copy")
    raw = read_metadata(path, REQUIRED, _WHAT, dtype={"Image Index": str})
    ids = raw["Image Index"]
    if ids.isna().any() or ids.duplicated().any():
        first = ids[ids.duplicated()].iloc[0] if ids.duplicated().any() else "an empty 'Image Index'"
        raise DataError(f"{path} lists an image twice or without id (first: {first}); expected {_WHAT}, one "
                        "adjudicated row per image (a per-reader file is not read: its readers would need a vote)")
    patient = pd.to_numeric(raw["Patient ID"], errors="coerce")
    if patient.isna().any() or (patient % 1 != 0).any():
        bad = raw["Patient ID"][patient.isna() | (patient % 1 != 0)].iloc[0]
        raise DataError(f"{path} has a non-integer 'Patient ID' {bad!r}; re-download {_WHAT}")
    table = pd.DataFrame({"image_id": ids.astype(str), "patient_id": patient.astype(np.int64),
                          "set": raw["Set Id"].astype(str)})
    for finding in FINDINGS:
        values = raw[finding].astype(str).str.strip().str.upper()
        bad = values[~values.isin(_VALUES)]
        if len(bad):
            raise DataError(f"{path} has {len(bad)} '{finding}' values other than YES/NO (first: "
                            f"{raw[finding][bad.index[0]]!r}); re-download {_WHAT}")
        table[finding] = values.map(_VALUES).astype(np.int8)
    return table.set_index("image_id").sort_index()


def finding_scores(probs: pd.DataFrame) -> pd.DataFrame:
    """Per image and scored finding, the model's score: the largest probability among its labels.

    Args:
        probs: One ``p_<label>`` column per ChestX-ray14 label (a per-image prediction file).
    """
    return pd.DataFrame({f: probs[[f"p_{m}" for m in FINDINGS[f]]].max(axis=1) for f in SCORED}, index=probs.index)


def finding_calls(probs: pd.DataFrame, thresholds: dict[str, float]) -> pd.DataFrame:
    """Per image and scored finding, whether the model calls it: any of its labels at or over that label's threshold.

    Args:
        probs: One ``p_<label>`` column per ChestX-ray14 label.
        thresholds: Label -> the cell's threshold (a record's ``thresholds``, in :data:`NIH_LABELS` order).
    """
    return pd.DataFrame({f: np.logical_or.reduce([probs[f"p_{m}"].to_numpy() >= thresholds[m] for m in FINDINGS[f]])
                         for f in SCORED}, index=probs.index)


def mined_findings(labels: pd.DataFrame) -> pd.DataFrame:
    """Per image and scored finding, the mined label: 1 when ChestX-ray14's report mining found any of its labels.

    Args:
        labels: One ``y_<label>`` column per ChestX-ray14 label (1 present).
    """
    return pd.DataFrame({f: (labels[[f"y_{m}" for m in FINDINGS[f]]] == 1).any(axis=1).astype(np.int8)
                         for f in SCORED}, index=labels.index)


def thresholds_by_label(thresholds: list[float]) -> dict[str, float]:
    """A record's per-label thresholds (a list in :data:`NIH_LABELS` order) by label name.

    Raises:
        DataError: The list does not hold one threshold per ChestX-ray14 label.
    """
    if len(thresholds) != len(NIH_LABELS):
        raise DataError(f"a multi-label record holds {len(thresholds)} thresholds, expected one per ChestX-ray14 "
                        f"label ({len(NIH_LABELS)}); rerun the run that wrote it")
    return dict(zip(NIH_LABELS, map(float, thresholds)))
