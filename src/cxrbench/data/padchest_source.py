"""PadChest (Bustos et al. 2020) from a local copy of its PNGs.

Layout (``data.root``): the unpacked image folders as BIMCV distributes them, ``<ImageDir>/<ImageID>``
(``0/``, ``1/``, ... ``54/``), or all PNGs in the root itself; the metadata CSV
``PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv`` (or ``.csv.gz``) in the root, else
``data.csv``, else torchxrayvision's shipped copy. Images: 16-bit grayscale PNGs (mostly 12 bits
used), scaled to 8 bits by the smallest bit depth holding their maximum (:mod:`cxrbench.data.images`).
Patients: ``PatientID``; splits are patient-disjoint. Views: ``Projection`` in ``data.views``
(default the frontal ones, PA, AP and AP_horizontal, i.e. supine).

Labels: all 14, from the report-derived terms of the ``Labels`` column (a Python list string,
e.g. ``['pleural effusion', 'cardiomegaly']``), each NIH label the terms in :data:`LABEL_MAP`
(exact terms, so 'pseudonodule' is not a Nodule nor 'subcutaneous emphysema' an Emphysema).

Binary target: 1 when a term maps onto one of the 14; 0 when the report is read as 'normal' (its
only term). Images with other terms only (e.g. 'kyphosis', 'chronic changes', 'unchanged') are
neither; ``data.other_findings``: ``drop`` (default: no other abnormality poses as "no finding") or
``negative`` (they count as 0, as ChestX-ray14's "No Finding" means none of its 14). Images marked
'exclude' by the PadChest authors and rows without labels are left out.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.data.harmonise import harmonised_table, terms_to_labels
from cxrbench.data.local_source import LocalDataConfig, LocalSource
from cxrbench.data.metadata import metadata_path, read_metadata
from cxrbench.data.sources import register_data_source
from cxrbench.errors import ConfigError, DataError

_CSV = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
_WHAT = f"PadChest's {_CSV}"

#: NIH label -> the PadChest terms that are it.
LABEL_MAP: dict[str, frozenset[str]] = {
    "Atelectasis": frozenset({"atelectasis", "atelectasis basal", "laminar atelectasis", "lobar atelectasis",
                              "segmental atelectasis", "round atelectasis", "total atelectasis"}),
    "Cardiomegaly": frozenset({"cardiomegaly"}),
    "Effusion": frozenset({"pleural effusion", "loculated pleural effusion", "loculated fissural effusion"}),
    "Infiltration": frozenset({"infiltrates", "interstitial pattern", "reticular interstitial pattern",
                               "reticulonodular interstitial pattern", "ground glass pattern", "alveolar pattern"}),
    "Mass": frozenset({"mass", "pulmonary mass"}),
    "Nodule": frozenset({"nodule", "multiple nodules"}),
    "Pneumonia": frozenset({"pneumonia", "atypical pneumonia"}),
    "Pneumothorax": frozenset({"pneumothorax", "hydropneumothorax"}),
    "Consolidation": frozenset({"consolidation", "air bronchogram"}),
    "Edema": frozenset({"pulmonary edema"}),
    "Emphysema": frozenset({"emphysema"}),
    "Fibrosis": frozenset({"pulmonary fibrosis"}),
    "Pleural_Thickening": frozenset({"pleural thickening", "apical pleural thickening",
                                     "calcified pleural thickening"}),
    "Hernia": frozenset({"hiatal hernia"}),
}
NORMAL, EXCLUDE = "normal", "exclude"
OTHER_FINDINGS = ("drop", "negative")


@dataclass
class PadChestDataConfig(LocalDataConfig):
    """The ``data=padchest`` group."""

    source: str = "padchest"
    views: list[str] = field(default_factory=lambda: ["PA", "AP", "AP_horizontal"])
    other_findings: str = "drop"    # drop | negative: images whose terms are none of the 14 and not 'normal'


def _terms(labels: pd.Series) -> list[frozenset[str]]:
    out = []
    for row, text in labels.items():
        try:
            terms = ast.literal_eval(text)
        except (ValueError, SyntaxError) as exc:
            raise DataError(f"{_WHAT} row {row} has a Labels cell {text!r} that is not a list of terms; "
                            "re-download the CSV") from exc
        out.append(frozenset(str(t).strip() for t in terms) - {""})
    return out


@register_data_source("padchest")
class PadChestSource(LocalSource):
    """PadChest's radiographs with all 14 labels from its report terms (module docstring)."""

    schema = PadChestDataConfig
    layout = f"the folder holding <ImageDir>/<ImageID>.png (or the PNGs themselves) and {_CSV}"

    @classmethod
    def check_config(cls, config) -> None:
        """The common fields and a known rule for images with other findings."""
        super().check_config(config)
        if config.other_findings not in OTHER_FINDINGS:
            raise ConfigError(f"unknown data.other_findings {config.other_findings!r}; choose one of: "
                              f"{', '.join(OTHER_FINDINGS)}")
        if not config.views:
            raise ConfigError("data.views is empty; list PadChest Projection values, e.g. [PA, AP, AP_horizontal]")

    @classmethod
    def metadata_table(cls, config, root: Path | None, csv: Path | None) -> pd.DataFrame:
        """The harmonised table of ``data.csv``, the root's CSV or the shipped copy."""
        path = metadata_path(csv, root, (_CSV, _CSV + ".gz"), _CSV + ".gz", _WHAT)
        raw = read_metadata(path, ("ImageID", "ImageDir", "PatientID", "Projection", "Labels"), _WHAT,
                            dtype={"ImageID": str, "PatientID": str}, low_memory=False)
        raw = raw[raw["Projection"].isin(config.views) & raw["Labels"].notna()].reset_index(drop=True)
        terms = _terms(raw["Labels"])
        labels = terms_to_labels(terms, LABEL_MAP)
        finding = np.any([labels[name] for name in LABEL_MAP], axis=0)
        normal = np.array([t <= {NORMAL} and NORMAL in t for t in terms], dtype=bool)
        excluded = np.array([EXCLUDE in t for t in terms], dtype=bool)
        keep = ~excluded & (finding | normal | (config.other_findings == "negative"))
        if not keep.any():
            raise DataError(f"no image of {path} has a view in data.views={config.views} and usable labels")
        table = harmonised_table(raw["ImageID"][keep], raw["PatientID"][keep], finding[keep].astype(int),
                                 {name: column[keep] for name, column in labels.items()},
                                 view=raw["Projection"][keep], image_dir=raw["ImageDir"][keep].astype(str))
        table.attrs["source"] = str(path)
        return table

    def image_path(self, image_id: str) -> Path:
        nested = self.root / str(self._table.at[image_id, "image_dir"]) / image_id
        return nested if nested.is_file() or not (self.root / image_id).is_file() else self.root / image_id
