"""Train/val/test splits of the ChestX-ray14 metadata, reproducible from a seed."""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.errors import ConfigError, DataError
from cxrbench.io import atomic_write

SPLIT_KINDS = ("paper", "patient", "official")

# Taghanaki et al. (2018): 16,792 val images out of the 111,920 left after a 200-image test set.
_VAL_FRACTION = 16_792 / 111_920
_PARTS = ("train", "val", "test")
_QUOTA_HINT = "lower data.test_size / data.test_positives or use more data"


@dataclass(frozen=True, eq=False)
class Split:
    """Image ids of each part of a split; compare splits with ``digest()``.

    Attributes:
        name: How the split was built ("paper", "patient", "official", or a
            source-defined name such as "phantom").
        seed: Seed it was drawn with.
        train: Sorted training image ids.
        val: Sorted validation image ids.
        test: Sorted test image ids.
    """

    name: str
    seed: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for part in _PARTS:
            ids = np.sort(np.asarray(getattr(self, part), dtype=str).reshape(-1))
            ids.setflags(write=False)
            object.__setattr__(self, part, ids)
        everything = np.concatenate([self.train, self.val, self.test])
        if len(np.unique(everything)) != len(everything):
            raise ValueError(f"split {self.name!r} lists an image twice or in two parts")
        if any(any(c in i for c in ',"\n\r') for i in everything):
            raise ValueError(f"split {self.name!r} has image ids with commas, quotes or newlines")

    def sizes(self) -> dict[str, int]:
        """Number of images in each part."""
        return {part: len(getattr(self, part)) for part in _PARTS}

    def membership(self) -> pd.DataFrame:
        """One row per image: ``image_id`` and ``split``, sorted by split then id."""
        frame = pd.DataFrame(
            {
                "image_id": np.concatenate([getattr(self, p) for p in _PARTS]),
                "split": np.repeat(_PARTS, [len(getattr(self, p)) for p in _PARTS]),
            }
        )
        return frame.sort_values(["split", "image_id"], kind="stable").reset_index(drop=True)

    def _csv_bytes(self) -> bytes:
        # Written by hand rather than with to_csv so the bytes (and the digest)
        # cannot drift with pandas versions or platform line endings.
        rows = self.membership().itertuples(index=False)
        return ("image_id,split\n" + "".join(f"{i},{s}\n" for i, s in rows)).encode("utf-8")

    def digest(self) -> str:
        """SHA-256 hex digest of the membership CSV ``write`` produces."""
        return hashlib.sha256(self._csv_bytes()).hexdigest()

    def write(self, path: Path) -> str:
        """Write the membership CSV atomically and return its digest."""
        data = self._csv_bytes()
        atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))
        return hashlib.sha256(data).hexdigest()


def _val_target(n_rest: int, val_size: int | None) -> int:
    target = round(_VAL_FRACTION * n_rest) if val_size is None else val_size
    if not 0 < target < n_rest:
        raise DataError(
            f"val size {target} does not fit the {n_rest} images left after the test set; "
            "set data.val_size between 1 and that count minus 1"
        )
    return target


def _paper(meta: pd.DataFrame, seed: int, n_pos: int, n_neg: int, val_size: int | None) -> Split:
    rng = np.random.default_rng(seed)
    ids, target = meta["image_id"].to_numpy(str), meta["target"].to_numpy()
    pos, neg = np.flatnonzero(target == 1), np.flatnonzero(target == 0)
    if len(pos) < n_pos or len(neg) < n_neg:
        raise DataError(
            f"the test set needs {n_pos} finding and {n_neg} no-finding images but the metadata "
            f"has {len(pos)} and {len(neg)}; {_QUOTA_HINT}"
        )
    test = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)])
    rest = rng.permutation(np.setdiff1d(np.arange(len(ids)), test))
    n_val = _val_target(len(rest), val_size)
    warnings.warn(
        "the paper split is image-wise and shares patients across train/val/test, so test "
        "scores are optimistic; use data.split=patient for a patient-disjoint split",
        UserWarning,
        stacklevel=3,
    )
    return Split("paper", seed, ids[rest[n_val:]], ids[rest[:n_val]], ids[test])


def carve_val(rows: np.ndarray, patients: np.ndarray, rng: np.random.Generator,
               val_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into (train, val) by whole patients, val ≈ the target image count."""
    order, counts = np.unique(patients[rows], return_counts=True)
    if len(order) < 2:
        raise DataError(f"only {len(order)} patient is left for train and val; {_QUOTA_HINT}")
    shuffled = rng.permutation(len(order))
    target = _val_target(len(rows), val_size)
    cumulative = np.cumsum(counts[shuffled])
    n_val_patients = int(np.clip(np.searchsorted(cumulative, target) + 1, 1, len(order) - 1))
    in_val = np.isin(patients[rows], order[shuffled[:n_val_patients]])
    return rows[~in_val], rows[in_val]


def check_disjoint(split: Split, meta: pd.DataFrame) -> None:
    """Refuse a split whose parts share a patient (a bug in its builder, hence RuntimeError)."""
    patient_of = dict(zip(meta["image_id"], meta["patient_id"]))
    groups = {p: {patient_of[i] for i in getattr(split, p)} for p in _PARTS}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = groups[a] & groups[b]
        if shared:
            raise RuntimeError(f"{split.name} split shares {len(shared)} patients between {a} and {b}")


def _patient(meta: pd.DataFrame, seed: int, n_pos: int, n_neg: int, val_size: int | None) -> Split:
    rng = np.random.default_rng(seed)
    ids, target = meta["image_id"].to_numpy(str), meta["target"].to_numpy()
    patients = meta["patient_id"].to_numpy()
    rows_of = pd.Series(np.arange(len(ids))).groupby(patients).indices
    shuffled = rng.permutation(np.unique(patients))
    with_pos, with_neg = set(patients[target == 1]), set(patients[target == 0])
    # One test image per patient; positive quota first, then negatives from other patients.
    pos_patients = [p for p in shuffled if p in with_pos][:n_pos]
    taken = set(pos_patients)
    neg_patients = [p for p in shuffled if p in with_neg and p not in taken][:n_neg]
    if len(pos_patients) < n_pos or len(neg_patients) < n_neg:
        raise DataError(
            f"a patient-disjoint test set needs {n_pos} patients with a finding image and {n_neg} "
            f"others with a no-finding image but only {len(pos_patients)} and {len(neg_patients)} "
            f"are available; {_QUOTA_HINT}"
        )
    test = [rng.choice(rows_of[p][target[rows_of[p]] == 1]) for p in pos_patients]
    test += [rng.choice(rows_of[p][target[rows_of[p]] == 0]) for p in neg_patients]
    # Other images of test patients are dropped, so no patient straddles test and train/val.
    rest = np.flatnonzero(~np.isin(patients, pos_patients + neg_patients))
    train, val = carve_val(rest, patients, rng, val_size)
    split = Split("patient", seed, ids[train], ids[val], ids[np.asarray(test, dtype=np.int64)])
    check_disjoint(split, meta)
    return split


def _read_list(root: Path, name: str) -> list[str]:
    path = root / name
    if not path.is_file():
        raise DataError(
            f"official split needs {path}, which is missing; copy {name} from the ChestX-ray14 "
            "release into data.root or use data.split=patient"
        )
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _official(meta: pd.DataFrame, seed: int, root: Path | None, val_size: int | None) -> Split:
    if root is None:
        raise ConfigError(
            "official split needs data.root holding train_val_list.txt and test_list.txt; "
            "set data.root or use data.split=patient"
        )
    train_val, test = _read_list(Path(root), "train_val_list.txt"), _read_list(Path(root), "test_list.txt")
    row_of = pd.Series(np.arange(len(meta)), index=meta["image_id"])
    for name, listed in (("train_val_list.txt", train_val), ("test_list.txt", test)):
        unknown = [i for i in listed if i not in row_of.index]
        if unknown:
            raise DataError(
                f"{len(unknown)} ids in {name} are not in the metadata (first: {unknown[0]}); "
                "use the metadata CSV from the same ChestX-ray14 release as the lists"
            )
    overlap = set(train_val) & set(test)
    if overlap or len(set(train_val)) != len(train_val) or len(set(test)) != len(test):
        raise DataError(
            f"train_val_list.txt and test_list.txt repeat or share images ({len(overlap)} shared); "
            "restore the original lists"
        )
    patients = meta["patient_id"].to_numpy()
    ids = meta["image_id"].to_numpy(str)
    shared = set(patients[row_of[train_val]]) & set(patients[row_of[test]])
    if shared:
        raise DataError(
            f"{len(shared)} patients appear in both train_val_list.txt and test_list.txt; "
            "restore the original patient-disjoint lists or use data.split=patient"
        )
    train, val = carve_val(row_of[train_val].to_numpy(), patients, np.random.default_rng(seed), val_size)
    split = Split("official", seed, ids[train], ids[val], np.asarray(test, dtype=str))
    check_disjoint(split, meta)
    return split


def make_split(meta: pd.DataFrame, kind: str, seed: int, *, root: Path | None = None,
               test_size: int = 200, test_positives: int = 93, val_size: int | None = None) -> Split:
    """Build a train/val/test split of ``load_metadata``'s frame.

    Args:
        meta: Frame from ``cxrbench.data.nih.load_metadata``.
        kind: "paper" (image-wise, as Taghanaki et al. 2018), "patient"
            (patient-disjoint) or "official" (NIH's train_val/test lists).
        seed: Seed for every random choice; same seed, same split.
        root: Dataset folder with the official lists (``official`` only).
        test_size: Test images for ``paper`` and ``patient``.
        test_positives: How many of those have a finding.
        val_size: Validation images (approximate for patient-wise carving);
            default 16792/111920 of what remains after the test set.

    Raises:
        ConfigError: Unknown kind or impossible quota arguments.
        DataError: The data cannot satisfy the quotas, or lists are missing.
    """
    if kind not in SPLIT_KINDS:
        raise ConfigError(f"unknown split {kind!r}; set data.split to one of {', '.join(SPLIT_KINDS)}")
    if not 0 <= test_positives <= test_size or test_size < 1:
        raise ConfigError(
            f"data.test_positives={test_positives} and data.test_size={test_size} are inconsistent; "
            "need 0 <= test_positives <= test_size and test_size >= 1"
        )
    # Sort first so the split depends only on the content of meta, not its row order.
    meta = meta.sort_values("image_id", kind="stable").reset_index(drop=True)
    if kind == "paper":
        return _paper(meta, seed, test_positives, test_size - test_positives, val_size)
    if kind == "patient":
        return _patient(meta, seed, test_positives, test_size - test_positives, val_size)
    return _official(meta, seed, root, val_size)
