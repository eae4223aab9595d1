"""ChestX-ray14 (NIH) metadata and image files as they are laid out on disk."""

from __future__ import annotations

import importlib.util
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.data.images import load_image  # noqa: F401  (ChestX-ray14's reader is the shared one)
from cxrbench.data.labels import NIH_LABELS, NO_FINDING
from cxrbench.errors import DataError

REQUIRED_COLUMNS: tuple[str, ...] = ("Image Index", "Finding Labels", "Patient ID")

_BUNDLED_NAME = "Data_Entry_2017_v2020.csv.gz"
_CSV_PATTERNS = ("Data_Entry_2017*.csv", "Data_Entry_2017*.csv.gz")
_ROOT_HINT = "(the folder holding images_*/ or images/ and Data_Entry_2017.csv)"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _missing_root(root: Path) -> DataError:
    return DataError(
        f"data root {root} does not exist; set data.root=/path/to/ChestX-ray14 {_ROOT_HINT}"
    )


def bundled_metadata_path() -> Path:
    """Return torchxrayvision's shipped copy of the ChestX-ray14 metadata CSV.

    The package is located without importing it, because importing
    torchxrayvision pulls in heavy dependencies and takes seconds.

    Raises:
        DataError: torchxrayvision or its bundled CSV is not installed.
    """
    spec = importlib.util.find_spec("torchxrayvision")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "data" / _BUNDLED_NAME
        if candidate.is_file():
            return candidate
    raise DataError(
        f"torchxrayvision's bundled {_BUNDLED_NAME} was not found; install torchxrayvision "
        f"or put Data_Entry_2017.csv in data.root {_ROOT_HINT}"
    )


def find_metadata_csv(root: Path) -> Path | None:
    """Find the NIH metadata CSV directly inside ``root``.

    Args:
        root: Dataset folder.

    Returns:
        The CSV with the newest name (``Data_Entry_2017_v2020.csv`` beats
        ``Data_Entry_2017.csv``; plain beats gzipped), or None if there is none.
    """
    root = Path(root)
    if not root.is_dir():
        return None
    found = {p for pattern in _CSV_PATTERNS for p in root.glob(pattern) if p.is_file()}
    if not found:
        return None
    return max(found, key=lambda p: (p.name.removesuffix(".gz"), not p.name.endswith(".gz")))


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype={"Image Index": str, "Finding Labels": str})
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise DataError(
            f"cannot read metadata CSV {path}: {_one_line(exc)}; re-download Data_Entry_2017.csv "
            "or remove it to fall back to torchxrayvision's bundled copy"
        ) from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path} is missing columns {missing}; expected the NIH Data_Entry_2017 CSV with "
            f"columns {', '.join(REQUIRED_COLUMNS)}"
        )
    if raw.empty:
        raise DataError(f"{path} has a header but no rows; it must list one row per image "
                        "(the NIH Data_Entry_2017 CSV has 112,120)")
    return raw


def _multi_hot(labels: pd.Series, path: Path) -> pd.DataFrame:
    dummies = labels.str.get_dummies(sep="|")
    unknown = sorted(set(dummies.columns) - set(NIH_LABELS) - {NO_FINDING})
    if unknown:
        raise DataError(
            f"{path} has unknown finding labels {unknown}; 'Finding Labels' must hold "
            f"'{NO_FINDING}' or '|'-joined names from {', '.join(NIH_LABELS)}"
        )
    if NO_FINDING in dummies.columns:
        # "No Finding" next to a finding would make the binary target ambiguous.
        mixed = labels[(dummies[NO_FINDING] == 1) & (labels != NO_FINDING)]
        if len(mixed):
            raise DataError(
                f"{path} combines '{NO_FINDING}' with findings in {len(mixed)} rows "
                f"(first: {mixed.iloc[0]!r}); fix those rows' 'Finding Labels'"
            )
    return dummies.reindex(columns=list(NIH_LABELS), fill_value=0).astype(np.int8)


def load_metadata(root: Path | None = None, csv_path: Path | None = None) -> pd.DataFrame:
    """Load and validate the ChestX-ray14 metadata, one row per image.

    Args:
        root: Dataset folder searched for ``Data_Entry_2017*.csv``; when it has
            none, torchxrayvision's bundled copy is used.
        csv_path: Explicit CSV; takes precedence over ``root``.

    Returns:
        Frame sorted by ``image_id`` with columns ``image_id``, ``patient_id``,
        ``finding_labels``, ``target`` (1 for any finding), one 0/1 column per
        name in NIH_LABELS, and ``view``. ``attrs["source"]`` names the CSV.

    Raises:
        DataError: The CSV is missing, unreadable or inconsistent.
    """
    if csv_path is not None:
        path = Path(csv_path)
        if not path.is_file():
            raise DataError(f"metadata CSV {path} does not exist; pass the path of Data_Entry_2017.csv")
    elif root is not None and not Path(root).is_dir():
        raise _missing_root(Path(root))
    else:
        found = find_metadata_csv(Path(root)) if root is not None else None
        path = found if found is not None else bundled_metadata_path()

    raw = _read_csv(path)
    if raw["Image Index"].isna().any() or raw["Finding Labels"].isna().any():
        raise DataError(
            f"{path} has empty 'Image Index' or 'Finding Labels' cells; fill or drop those rows"
        )
    duplicated = raw["Image Index"][raw["Image Index"].duplicated()]
    if len(duplicated):
        raise DataError(
            f"{path} lists {len(duplicated)} images twice (first: {duplicated.iloc[0]}); "
            "keep one row per 'Image Index'"
        )
    patient = pd.to_numeric(raw["Patient ID"], errors="coerce")
    if patient.isna().any() or (patient % 1 != 0).any():
        bad = raw["Patient ID"][patient.isna() | (patient % 1 != 0)].iloc[0]
        raise DataError(f"{path} has a non-integer 'Patient ID' {bad!r}; fix that column")

    labels = raw["Finding Labels"].astype(str)
    meta = pd.DataFrame(
        {
            "image_id": raw["Image Index"].astype(str),
            "patient_id": patient.astype(np.int64),
            "finding_labels": labels,
            "target": (labels != NO_FINDING).astype(np.int8),
        }
    )
    meta = pd.concat([meta, _multi_hot(labels, path)], axis=1)
    view = raw["View Position"].fillna("").astype(str) if "View Position" in raw else ""
    meta["view"] = view
    meta = meta.sort_values("image_id", kind="stable").reset_index(drop=True)
    meta.attrs["source"] = str(path)
    return meta


def index_images(root: Path) -> dict[str, Path]:
    """Map each PNG file name under ``root`` to its path.

    Both NIH layouts are searched: ``images_*/images/*.png`` (the Kaggle and
    box.com archives unpacked side by side) and a flat ``images/*.png``.

    Raises:
        DataError: ``root`` is missing, holds no PNGs, or holds one name twice.
    """
    root = Path(root)
    if not root.is_dir():
        raise _missing_root(root)
    patterns = ("images_*/images/*.png", "images/*.png")
    index: dict[str, Path] = {}
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            if path.name in index:
                raise DataError(
                    f"image {path.name} exists twice ({index[path.name]} and {path}); "
                    "delete one copy so each image is unpacked once"
                )
            index[path.name] = path
    if not index:
        raise DataError(
            f"no PNG images under {root} (searched {root}/{patterns[0]} and {root}/{patterns[1]}); "
            "unpack the ChestX-ray14 images_*.tar.gz archives there or fix data.root"
        )
    return index


def resolve_image_paths(index: dict[str, Path], image_ids: Sequence[str]) -> list[Path]:
    """Look up the file of every image id, in order.

    Raises:
        DataError: Some ids have no file; names the first and counts them.
    """
    missing = [image_id for image_id in image_ids if image_id not in index]
    if missing:
        raise DataError(
            f"{len(missing)} of {len(image_ids)} images in the metadata have no file (first: "
            f"{missing[0]}); unpack all images_*.tar.gz archives into data.root or use a CSV "
            "listing only the images you have"
        )
    return [index[image_id] for image_id in image_ids]
