"""SIIM-ACR Pneumothorax (2019 Kaggle challenge; ChestX-ray14 images as DICOM) from a local copy.

Layout (``data.root``): the DICOM tree as distributed, ``dicom-images-train/<study>/<series>/
<SOPInstanceUID>.dcm`` (any depth: every ``*.dcm`` under the root is indexed by its file name), with
``train-rle.csv`` beside it. Metadata: ``data.csv``, else the root's ``train-rle.csv``, else
torchxrayvision's shipped ``siim-pneumothorax-train-rle.csv.gz``; columns ``ImageId`` and
`` EncodedPixels`` (with its leading space, as released), ``-1`` for no pneumothorax, one row per
mask otherwise. Images: DICOM read with pydicom (:mod:`cxrbench.data.images`).

Labels, 1 of the 14: Pneumothorax. Lacking (-1 in every row): the other 13. The binary target is
pneumothorax present; the multi-label task is refused (``label_names`` names one label).

Patients: the DICOM header's ``PatientID`` (read without pixels, once per run). The challenge's
anonymisation gave every image its own PatientID (the real fixture's is a fresh UUID), so the
"patient-disjoint" split is in effect image-wise: images of one ChestX-ray14 patient may fall in
train and test. Without a root (the phantom's label sets) the image id stands in for the patient.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.data.harmonise import harmonised_table
from cxrbench.data.local_source import LocalDataConfig, LocalSource
from cxrbench.data.metadata import metadata_path, read_metadata
from cxrbench.data.sources import register_data_source
from cxrbench.errors import DataError

_CSV = "train-rle.csv"
_WHAT = f"SIIM-ACR's {_CSV}"


@dataclass
class SiimDataConfig(LocalDataConfig):
    """The ``data=siim`` group."""

    source: str = "siim"


def _header_patient(path: Path) -> str | None:
    import pydicom  # a declared dependency; imported here so the metadata alone does not need it

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["PatientID"])
    except Exception as exc:  # pydicom raises several kinds for a damaged header
        raise DataError(f"corrupt DICOM header {path}: {' '.join(str(exc).split())}; re-download it") from exc
    return str(header.get("PatientID", "")) or None


def dicom_index(root: Path) -> dict[str, Path]:
    """Map each DICOM file's name without ``.dcm`` (its SOPInstanceUID) to its path.

    Raises:
        DataError: No DICOM is under ``root``, or one name is there twice.
    """
    index: dict[str, Path] = {}
    for path in sorted(root.rglob("*.dcm")):
        if path.stem in index:
            raise DataError(f"image {path.name} exists twice ({index[path.stem]} and {path}); delete one copy")
        index[path.stem] = path
    if not index:
        raise DataError(f"no .dcm files under {root}; unpack dicom-images-train/ there or fix data.root")
    return index


@register_data_source("siim")
class SiimSource(LocalSource):
    """SIIM-ACR's radiographs, Pneumothorax only (module docstring)."""

    schema = SiimDataConfig
    layout = f"the folder holding dicom-images-train/<study>/<series>/<SOPInstanceUID>.dcm and {_CSV}"
    labelled = ("Pneumothorax",)

    @staticmethod
    def label_names(config) -> tuple[str, ...]:
        """Pneumothorax only: a 14-label head would learn 13 columns of nothing."""
        return ("Pneumothorax",)

    @classmethod
    def metadata_table(cls, config, root: Path | None, csv: Path | None) -> pd.DataFrame:
        """The harmonised table, patients from the DICOM headers when the root holds the images."""
        path = metadata_path(csv, root, (_CSV,), "siim-pneumothorax-train-rle.csv.gz", _WHAT)
        raw = read_metadata(path, ("ImageId", "EncodedPixels"), _WHAT, dtype=str, skipinitialspace=True)
        raw["EncodedPixels"] = raw["EncodedPixels"].fillna("").str.strip()
        if (raw["ImageId"].isna() | (raw["EncodedPixels"] == "")).any():
            raise DataError(f"{path} has empty ImageId or EncodedPixels cells; -1 marks no pneumothorax")
        # One row per mask: an image with a pneumothorax may have several, one without has a single -1.
        positive = (raw["EncodedPixels"] != "-1").groupby(raw["ImageId"]).any()
        ids = positive.index.to_numpy(str)
        patients = ids
        if root is not None:
            index = dicom_index(root)
            # Missing images keep their own id here; the loader names them before any caching.
            patients = np.array([(_header_patient(index[i]) if i in index else None) or i for i in ids])
        table = harmonised_table(ids, patients, positive.to_numpy(int), {"Pneumothorax": positive.to_numpy(int)})
        table.attrs["source"] = str(path)
        return table

    @cached_property
    def _index(self) -> dict[str, Path]:
        self.check_root()
        return dicom_index(self.root)

    def image_path(self, image_id: str) -> Path:
        return self._index.get(image_id, self.root / f"{image_id}.dcm")
