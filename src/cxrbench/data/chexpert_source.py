"""CheXpert (Irvin et al. 2019) from a local copy of CheXpert-v1.0 or CheXpert-v1.0-small.

Layout (``data.root``): the unpacked folder holding ``train/patientXXXXX/studyN/viewK_frontal.jpg``
(and ``valid/...``) with ``train.csv`` (and ``valid.csv``) beside them; their ``Path`` column reads
``CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg``, the part after the first folder
is the image id and its path under the root. Metadata: ``data.csv``, else the root's ``train.csv``
plus ``valid.csv``, else torchxrayvision's shipped ``chexpert_train.csv.gz`` (the 223,414 rows of
``train.csv``). Images: 8-bit JPEG. Patients: the ``patientXXXXX`` folder; splits are patient-disjoint.

Labels, 7 of the 14: Atelectasis, Cardiomegaly, Effusion (CheXpert's "Pleural Effusion"),
Pneumonia, Pneumothorax, Consolidation, Edema. Lacking (-1 in every row): Infiltration, Mass and
Nodule (CheXpert's "Lung Opacity" and "Lung Lesion" are broader, so neither maps onto one NIH
label), Emphysema, Fibrosis, Pleural_Thickening ("Pleural Other" is broader), Hernia.

Binary target: 1 when any of CheXpert's 12 pathology observations (all but "No Finding" and
"Support Devices", including the unmapped ones) is positive after the uncertain policy, else 0.

Uncertain mentions (``-1.0`` in the CSV; blank means not mentioned, read as 0), ``data.uncertain``:

* ``zeros`` (default, U-Zeros): uncertain is absent. It keeps every image with a defined target and
  a "finding" is what the report asserts; Irvin et al. (2019, Table 3) found no single policy best
  across their five competition labels, so the default is the one that invents no positive and
  drops no image.
* ``ones`` (U-Ones): uncertain is present.
* ``ignore`` (U-Ignore): uncertain is -1 (masked by the multi-label loss and AUC); an image whose only
  findings are uncertain has no binary target and is left out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.data.harmonise import UNLABELLED, harmonised_table
from cxrbench.data.local_source import LocalDataConfig, LocalSource
from cxrbench.data.metadata import bundled_file, read_metadata
from cxrbench.data.sources import register_data_source
from cxrbench.errors import ConfigError, DataError

#: CheXpert observation -> the NIH label it is.
LABEL_MAP = {"Atelectasis": "Atelectasis", "Cardiomegaly": "Cardiomegaly", "Pleural Effusion": "Effusion",
             "Pneumonia": "Pneumonia", "Pneumothorax": "Pneumothorax", "Consolidation": "Consolidation",
             "Edema": "Edema"}
#: The pathology observations whose presence makes the binary target 1.
PATHOLOGIES = ("Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
               "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
               "Fracture")
UNCERTAIN_POLICIES = ("zeros", "ones", "ignore")
_WHAT = "CheXpert's train.csv"


@dataclass
class CheXpertDataConfig(LocalDataConfig):
    """The ``data=chexpert`` group."""

    source: str = "chexpert"
    uncertain: str = "zeros"                                               # zeros | ones | ignore
    views: list[str] = field(default_factory=lambda: ["PA", "AP"])         # frontal only; "L" adds laterals


def _observations(raw: pd.DataFrame, policy: str) -> pd.DataFrame:
    values = raw[list(PATHOLOGIES)].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    if not values.isin((1.0, 0.0, -1.0)).all().all():
        raise DataError(f"{_WHAT} has observation values other than 1, 0, -1 and blank; re-download it")
    replacement = {"zeros": 0, "ones": 1, "ignore": UNLABELLED}[policy]
    return values.replace(-1.0, replacement).astype(np.int8)


@register_data_source("chexpert")
class CheXpertSource(LocalSource):
    """CheXpert's frontal radiographs, 7 of the 14 labels (module docstring)."""

    schema = CheXpertDataConfig
    layout = "the folder holding train/patientXXXXX/studyN/*.jpg and train.csv"
    labelled = tuple(LABEL_MAP.values())

    @classmethod
    def check_config(cls, config) -> None:
        """The common fields, a known uncertain policy and known views."""
        super().check_config(config)
        if config.uncertain not in UNCERTAIN_POLICIES:
            raise ConfigError(f"unknown data.uncertain {config.uncertain!r}; choose one of: "
                              f"{', '.join(UNCERTAIN_POLICIES)}")
        if not config.views or not set(config.views) <= {"PA", "AP", "L"}:
            raise ConfigError(f"data.views={config.views!r}: choose among PA, AP (frontal) and L (lateral)")

    @classmethod
    def metadata_table(cls, config, root: Path | None, csv: Path | None) -> pd.DataFrame:
        """The harmonised table of ``data.csv``, the root's train.csv + valid.csv, or the shipped copy."""
        if csv is not None:
            paths = [csv]
        elif root is not None and (root / "train.csv").is_file():
            paths = [p for p in (root / "train.csv", root / "valid.csv") if p.is_file()]
        else:
            paths = [bundled_file("chexpert_train.csv.gz", f"put {_WHAT} in data.root")]
        required = ("Path", "Frontal/Lateral", "AP/PA", *PATHOLOGIES)
        raw = pd.concat([read_metadata(p, required, _WHAT) for p in paths], ignore_index=True)
        view = raw["AP/PA"].where(raw["Frontal/Lateral"] == "Frontal", "L").fillna("")
        chosen = view.isin(config.views).to_numpy()
        raw, view = raw[chosen].reset_index(drop=True), view[chosen].reset_index(drop=True)
        if raw.empty:
            raise DataError(f"no image of {', '.join(map(str, paths))} has a view in data.views={config.views}")
        image_id = raw["Path"].astype(str).str.split("/", n=1).str[1]
        patient = raw["Path"].astype(str).str.extract(r"/(patient\d+)/", expand=False)
        if image_id.isna().any() or patient.isna().any():
            bad = raw["Path"][image_id.isna() | patient.isna()].iloc[0]
            raise DataError(f"{_WHAT} has a Path {bad!r} not of the form "
                            "CheXpert-v1.0-small/train/patientXXXXX/studyN/viewK_frontal.jpg; fix that column")
        observed = _observations(raw, config.uncertain)
        positive = (observed == 1).any(axis=1)
        unknown = ~positive & (observed == UNLABELLED).any(axis=1)
        keep = ~unknown.to_numpy()  # only under ignore: an image whose findings are all uncertain
        table = harmonised_table(image_id[keep], patient[keep], positive[keep].astype(int),
                                 {nih: observed[name][keep] for name, nih in LABEL_MAP.items()}, view=view[keep])
        table.attrs["source"] = ", ".join(str(p) for p in paths)
        return table

    def image_path(self, image_id: str) -> Path:
        return self.root / image_id
