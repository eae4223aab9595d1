"""Split builders: sizes, quotas, patient disjointness, determinism, files."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxrbench.data.nih import load_metadata
from cxrbench.data.splits import SPLIT_KINDS, Split, make_split
from cxrbench.errors import ConfigError, DataError
from nih_fixtures import make_mini_nih


@pytest.fixture(scope="module")
def real_meta(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    # An empty root has no CSV, so this is torchxrayvision's bundled 112,120-row copy.
    return load_metadata(tmp_path_factory.mktemp("no_csv"))


@pytest.fixture(scope="module")
def paper(real_meta: pd.DataFrame) -> Split:
    with pytest.warns(UserWarning, match="image-wise and shares patients"):
        return make_split(real_meta, "paper", seed=0)


@pytest.fixture(scope="module")
def patient(real_meta: pd.DataFrame) -> Split:
    return make_split(real_meta, "patient", seed=0)


def _positives(meta: pd.DataFrame, ids: np.ndarray) -> int:
    return int(meta.set_index("image_id").loc[ids, "target"].sum())


def _patients(meta: pd.DataFrame, ids: np.ndarray) -> set[int]:
    return set(meta.set_index("image_id").loc[ids, "patient_id"].tolist())


def test_paper_split_sizes_and_quota(real_meta: pd.DataFrame, paper: Split) -> None:
    assert paper.name == "paper" and paper.seed == 0
    assert paper.sizes() == {"train": 95_128, "val": 16_792, "test": 200}
    assert _positives(real_meta, paper.test) == 93
    assert len(paper.test) - _positives(real_meta, paper.test) == 107
    everything = np.concatenate([paper.train, paper.val, paper.test])
    assert len(set(everything)) == len(real_meta) == len(everything)
    assert set(everything) == set(real_meta["image_id"])
    assert all(np.all(part[:-1] < part[1:]) for part in (paper.train, paper.val, paper.test))
    # Image-wise sampling leaks patients, which is exactly what the warning is about.
    assert _patients(real_meta, paper.train) & _patients(real_meta, paper.test)


def test_paper_split_is_deterministic_per_seed(real_meta: pd.DataFrame, paper: Split) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again = make_split(real_meta.sample(frac=1.0, random_state=1), "paper", seed=0)
        other = make_split(real_meta, "paper", seed=1)
    assert again.digest() == paper.digest()
    assert np.array_equal(again.test, paper.test)
    assert other.digest() != paper.digest()
    assert not np.array_equal(other.test, paper.test)


def test_patient_split_is_patient_disjoint(real_meta: pd.DataFrame, patient: Split) -> None:
    sizes = patient.sizes()
    assert sizes["test"] == 200 and _positives(real_meta, patient.test) == 93
    groups = {p: _patients(real_meta, getattr(patient, p)) for p in ("train", "val", "test")}
    assert not groups["train"] & groups["val"]
    assert not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]
    assert len(groups["test"]) == 200, "one test image per test patient"
    # Test patients' other images are dropped, nothing else is.
    dropped = real_meta[real_meta["patient_id"].isin(groups["test"])]
    assert sum(sizes.values()) == len(real_meta) - len(dropped) + 200
    assert abs(sizes["val"] / (sizes["train"] + sizes["val"]) - 16_792 / 111_920) < 0.005
    assert make_split(real_meta, "patient", seed=0).digest() == patient.digest()
    assert make_split(real_meta, "patient", seed=1).digest() != patient.digest()


def test_official_split_on_mini_tree(tmp_path: Path) -> None:
    written = make_mini_nih(tmp_path, n_images=60, n_patients=16)
    meta = load_metadata(tmp_path)
    split = make_split(meta, "official", seed=0, root=tmp_path)
    listed_test = (tmp_path / "test_list.txt").read_text().split()
    listed_train_val = (tmp_path / "train_val_list.txt").read_text().split()
    assert split.test.tolist() == sorted(listed_test)
    assert sorted([*split.train, *split.val]) == sorted(listed_train_val)
    assert len(split.val) > 0 and len(split.train) > len(split.val)
    assert not _patients(meta, split.train) & _patients(meta, split.val)
    assert len(listed_test) + len(listed_train_val) == len(written)


def test_official_split_needs_both_lists_known_ids(tmp_path: Path) -> None:
    make_mini_nih(tmp_path)
    meta = load_metadata(tmp_path)
    with open(tmp_path / "test_list.txt", "a") as handle:
        handle.write("99999999_000.png\n")
    with pytest.raises(DataError, match=r"1 ids in test_list.txt are not in the metadata"):
        make_split(meta, "official", seed=0, root=tmp_path)
    (tmp_path / "test_list.txt").unlink()
    with pytest.raises(DataError, match=r"test_list.txt, which is missing.*data.split=patient"):
        make_split(meta, "official", seed=0, root=tmp_path)


def test_unknown_kind_and_bad_quota_arguments(real_meta: pd.DataFrame) -> None:
    with pytest.raises(ConfigError) as err:
        make_split(real_meta, "random", seed=0)
    assert all(kind in str(err.value) for kind in SPLIT_KINDS)
    with pytest.raises(ConfigError, match="inconsistent"):
        make_split(real_meta, "patient", seed=0, test_size=10, test_positives=11)


@pytest.mark.parametrize("kind", ["paper", "patient"])
def test_unmet_quota_on_tiny_frame(tmp_path: Path, kind: str) -> None:
    make_mini_nih(tmp_path, n_images=20, n_patients=6, official_lists=False)
    meta = load_metadata(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(DataError, match=r"data.test_size / data.test_positives") as err:
            make_split(meta, kind, seed=0)
    if kind == "paper":
        # The fixture alternates classes: 10 finding and 10 no-finding images.
        expected = "has 10 and 10"
    else:
        # Too few for the quota, so every patient with a finding goes to the positives.
        with_pos = set(meta.loc[meta["target"] == 1, "patient_id"])
        with_neg_only = set(meta.loc[meta["target"] == 0, "patient_id"]) - with_pos
        expected = f"only {len(with_pos)} and {len(with_neg_only)} are available"
    assert expected in str(err.value)
    small = make_split(meta, "patient", seed=0, test_size=2, test_positives=1)
    assert small.sizes()["test"] == 2 and _positives(meta, small.test) == 1


def test_write_is_atomic_and_matches_digest(tmp_path: Path, patient: Split) -> None:
    target = tmp_path / "out" / "split.csv"
    digest = patient.write(target)
    data = target.read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest == patient.digest()
    assert [p.name for p in target.parent.iterdir()] == ["split.csv"]
    written = pd.read_csv(target, dtype=str)
    assert list(written.columns) == ["image_id", "split"]
    assert written["split"].value_counts().to_dict() == patient.sizes()
    pd.testing.assert_frame_equal(written, patient.membership().astype(str), check_dtype=False)
    assert data.startswith(b"image_id,split\n") and b"\r" not in data
    # Overwriting keeps a single file and the same bytes.
    assert patient.write(target) == digest
    assert [p.name for p in target.parent.iterdir()] == ["split.csv"]


def test_split_rejects_overlapping_parts() -> None:
    with pytest.raises(ValueError, match="twice or in two parts"):
        Split("phantom", 0, np.array(["a", "b"]), np.array(["b"]), np.array(["c"]))
    custom = Split("phantom", 3, np.array(["b", "a"]), np.array([], dtype=str), np.array(["c"]))
    assert custom.train.tolist() == ["a", "b"]
    assert custom.membership()["split"].tolist() == ["test", "train", "train"]
