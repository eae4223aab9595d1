"""Miniature CheXpert, PadChest and SIIM-ACR trees on disk: real metadata rows, synthetic images in the real format.

The rows come from the metadata torchxrayvision ships (the same files the sources default to), so
the column names, value encodings and path layouts are the released ones; only the pixels are made
up (8-bit JPEG, 16-bit PNG, DICOM written with pydicom).
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from cxrbench.data.metadata import bundled_file
from PIL import Image

REAL_DICOM = Path(__file__).parent / "fixtures" / "real-cxr" / "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
PADCHEST_CSV = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"


@cache
def chexpert_rows(n_patients: int = 14) -> pd.DataFrame:
    """Every row (frontal and lateral) of the first ``n_patients`` patients of CheXpert's train.csv."""
    raw = pd.read_csv(bundled_file("chexpert_train.csv.gz", ""))
    patient = raw["Path"].str.extract(r"/(patient\d+)/", expand=False)
    return raw[patient.isin(sorted(patient.unique())[:n_patients])].reset_index(drop=True)


def make_mini_chexpert(root: Path, size: int = 40) -> pd.DataFrame:
    """CheXpert-v1.0-small's layout under ``root``: ``train.csv`` and ``train/patientX/studyN/viewK_*.jpg``."""
    rows = chexpert_rows()
    rng = np.random.default_rng(0)
    for path in rows["Path"]:
        file = Path(root) / path.split("/", 1)[1]
        file.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(file, quality=90)
    rows.to_csv(Path(root) / "train.csv", index=False)
    return rows


@cache
def padchest_rows() -> pd.DataFrame:
    """Real PadChest rows: 10 'normal' and 10 with a ChestX-ray14 finding (PA), one lateral, one 'kyphosis' only."""
    raw = pd.read_csv(bundled_file(PADCHEST_CSV + ".gz", ""), low_memory=False, dtype={"ImageID": str})
    raw = raw[raw["Labels"].notna()]
    pa = raw[raw["Projection"] == "PA"]
    normal = pa[pa["Labels"] == "['normal']"].head(10)
    finding = pa[pa["Labels"].str.contains("'pleural effusion'|'cardiomegaly'|'nodule'", regex=True)].head(10)
    lateral = raw[(raw["Projection"] == "L") & (raw["Labels"] == "['normal']")].head(1)
    other = pa[pa["Labels"] == "['kyphosis']"].head(1)
    return pd.concat([normal, finding, lateral, other]).reset_index(drop=True)


def make_mini_padchest(root: Path, size: int = 40) -> pd.DataFrame:
    """PadChest's layout under ``root``: its CSV and ``<ImageDir>/<ImageID>`` as 16-bit (12 bits used) PNGs."""
    rows = padchest_rows()
    rng = np.random.default_rng(1)
    for image_dir, image_id in zip(rows["ImageDir"], rows["ImageID"]):
        file = Path(root) / str(image_dir) / image_id
        file.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 4096, (size, size)).astype(np.uint16)).save(file)
    rows.to_csv(Path(root) / PADCHEST_CSV, index=False)
    return rows


def write_dicom(path: Path, pixels: np.ndarray, *, patient: str, photometric: str = "MONOCHROME2",
                window: tuple[float, float] | None = None, bits: int = 12) -> None:
    """A minimal uncompressed grayscale DICOM file, as a scanner's export would carry it."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        SecondaryCaptureImageStorage,
        generate_uid,
    )

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = path.stem
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.StudyInstanceUID = SecondaryCaptureImageStorage, path.stem, generate_uid()
    ds.PatientID, ds.Modality = patient, "CR"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits, bits - 1, 0
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@cache
def siim_rows() -> pd.DataFrame:
    """Real rows of SIIM-ACR's train-rle.csv: the fixture's image, 7 other negatives, 6 positive images (all masks)."""
    raw = pd.read_csv(bundled_file("siim-pneumothorax-train-rle.csv.gz", ""), dtype=str)
    negative = raw[raw[" EncodedPixels"].str.strip() == "-1"]["ImageId"]
    positive = raw[raw[" EncodedPixels"].str.strip() != "-1"]["ImageId"].drop_duplicates()
    ids = {REAL_DICOM.stem, *negative[negative != REAL_DICOM.stem].head(7), *positive.head(6)}
    return raw[raw["ImageId"].isin(ids)].reset_index(drop=True)


def make_mini_siim(root: Path, size: int = 32) -> pd.DataFrame:
    """SIIM-ACR's layout: ``train-rle.csv`` and ``dicom-images-train/<study>/<series>/<id>.dcm`` (the real one too)."""
    rows = siim_rows()
    rng = np.random.default_rng(2)
    for n, image_id in enumerate(rows["ImageId"].drop_duplicates()):
        folder = Path(root) / "dicom-images-train" / f"1.2.3.{n}" / f"1.2.3.{n}.1"
        folder.mkdir(parents=True, exist_ok=True)
        if image_id == REAL_DICOM.stem:
            (folder / REAL_DICOM.name).write_bytes(REAL_DICOM.read_bytes())
        else:
            write_dicom(folder / f"{image_id}.dcm", rng.integers(0, 4096, (size, size)), patient=f"patient-{n % 9}")
    rows.to_csv(Path(root) / "train-rle.csv", index=False)
    return rows
