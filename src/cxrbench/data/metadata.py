"""Metadata files of the public datasets: the copies torchxrayvision ships, a user's own CSV, read with clear errors."""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cxrbench.errors import DataError


def metadata_path(csv: Path | None, root: Path | None, names: Sequence[str], bundled: str, what: str) -> Path:
    """Which metadata file a source reads: ``data.csv``, else the first of ``names`` in the root, else the bundled copy.

    Args:
        csv: An explicit CSV (``data.csv``); it must exist.
        root: The dataset folder searched for ``names`` (None: not searched).
        names: File names the dataset's own download uses, in order of preference.
        bundled: The name of torchxrayvision's shipped copy.
        what: How the user knows the file (named in errors).

    Raises:
        DataError: ``csv`` is missing, or neither the root nor torchxrayvision has the file.
    """
    if csv is not None:
        if not Path(csv).is_file():
            raise DataError(f"metadata CSV {csv} does not exist; pass the path of {what} as data.csv")
        return Path(csv)
    for name in names if root is not None else ():
        if (Path(root) / name).is_file():
            return Path(root) / name
    return bundled_file(bundled, f"put {what} in data.root or pass it as data.csv")


def bundled_file(name: str, fix: str) -> Path:
    """A metadata file torchxrayvision ships in its ``data/`` folder, found without importing it.

    Importing torchxrayvision pulls in heavy dependencies and takes seconds.

    Args:
        name: The file name, e.g. ``chexpert_train.csv.gz``.
        fix: What the user can do instead (named in the error).

    Raises:
        DataError: torchxrayvision or the file is not installed.
    """
    spec = importlib.util.find_spec("torchxrayvision")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "data" / name
        if candidate.is_file():
            return candidate
    raise DataError(f"torchxrayvision's bundled {name} was not found; install torchxrayvision or {fix}")


def read_metadata(path: Path, required: Sequence[str], what: str, **read_csv) -> pd.DataFrame:
    """Read a metadata CSV (plain or compressed) and check its columns.

    Args:
        path: The CSV.
        required: Columns that must be there.
        what: How the user knows the file (named in errors), e.g. "CheXpert's train.csv".
        **read_csv: Passed to :func:`pandas.read_csv`.

    Raises:
        DataError: The file is missing, unreadable, lacks a column or has no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"metadata CSV {path} does not exist; pass the path of {what} as data.csv")
    try:
        raw = pd.read_csv(path, **read_csv)
    except Exception as exc:  # pandas, gzip, zip and zlib each raise their own kinds for a bad file
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"cannot read metadata CSV {path}: {message}; re-download {what}") from exc
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise DataError(f"{path} is missing columns {missing}; expected {what} with columns {', '.join(required)}")
    if raw.empty:
        raise DataError(f"{path} has a header but no rows; expected {what}, one row per image")
    return raw
