"""ChestX-ray14 metadata loading, image indexing and image decoding."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxrbench.data.labels import NIH_LABELS, NO_FINDING
from cxrbench.data.nih import (
    REQUIRED_COLUMNS,
    bundled_metadata_path,
    find_metadata_csv,
    index_images,
    load_image,
    load_metadata,
    resolve_image_paths,
)
from cxrbench.errors import ConfigError, DataError
from nih_fixtures import I16_ROWS, NIH_CSV_COLUMNS, RGBA_ROWS, make_mini_nih


@pytest.fixture()
def mini(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    return tmp_path, make_mini_nih(tmp_path)


def test_fixture_mirrors_the_real_csv_header() -> None:
    with gzip.open(bundled_metadata_path(), "rt") as handle:
        header = handle.readline().rstrip("\n").split(",")
    assert tuple(header) == NIH_CSV_COLUMNS
    assert set(REQUIRED_COLUMNS) <= set(header)


def test_load_metadata_columns_target_and_multi_hot(mini) -> None:
    root, written = mini
    meta = load_metadata(root)
    assert list(meta.columns) == [
        "image_id", "patient_id", "finding_labels", "target", *NIH_LABELS, "view"
    ]
    assert meta.attrs["source"] == str(root / "Data_Entry_2017_v2020.csv")
    assert meta["image_id"].tolist() == sorted(written["Image Index"])
    assert meta["target"].dtype == np.int8 and meta["Effusion"].dtype == np.int8
    assert meta["patient_id"].dtype == np.int64

    expected = written.set_index("Image Index").loc[meta["image_id"]]
    assert meta["patient_id"].tolist() == expected["Patient ID"].tolist()
    assert meta["view"].tolist() == expected["View Position"].tolist()
    for row, text in zip(meta.itertuples(index=False), expected["Finding Labels"]):
        names = set(text.split("|"))
        assert row.finding_labels == text
        assert row.target == (0 if text == NO_FINDING else 1)
        assert [getattr(row, n) for n in NIH_LABELS] == [int(n in names) for n in NIH_LABELS]
    assert 0 < meta["target"].sum() < len(meta)
    assert (meta[list(NIH_LABELS)].sum(axis=1) > 1).any(), "fixture should hold multi-label rows"


def test_falls_back_to_bundled_csv_when_root_has_none(tmp_path: Path) -> None:
    assert find_metadata_csv(tmp_path) is None
    meta = load_metadata(tmp_path)
    assert meta.attrs["source"] == str(bundled_metadata_path())
    assert len(meta) == 112_120
    assert int(meta["target"].sum()) == 51_759
    assert meta["patient_id"].nunique() == 30_805
    assert set(meta["view"]) == {"PA", "AP"}
    # Every finding of the vocabulary occurs in the real data.
    assert (meta[list(NIH_LABELS)].sum() > 0).all()
    assert int(meta["Hernia"].sum()) == 227


def test_find_metadata_csv_prefers_newest_name(tmp_path: Path) -> None:
    (tmp_path / "Data_Entry_2017.csv").write_text("x\n")
    assert find_metadata_csv(tmp_path) == tmp_path / "Data_Entry_2017.csv"
    (tmp_path / "Data_Entry_2017_v2020.csv.gz").write_bytes(b"")
    assert find_metadata_csv(tmp_path) == tmp_path / "Data_Entry_2017_v2020.csv.gz"
    (tmp_path / "Data_Entry_2017_v2020.csv").write_text("x\n")
    assert find_metadata_csv(tmp_path) == tmp_path / "Data_Entry_2017_v2020.csv"


def test_missing_column_is_named(mini) -> None:
    root, written = mini
    bad = root / "bad.csv"
    written.drop(columns=["Patient ID"]).to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"missing columns \['Patient ID'\]") as err:
        load_metadata(csv_path=bad)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda df: df.assign(**{"Finding Labels": "Mass|Tumour"}), "unknown finding labels ['Tumour']"),
        (lambda df: pd.concat([df, df.iloc[:1]]), "lists 1 images twice"),
        (lambda df: df.assign(**{"Patient ID": "abc"}), "non-integer 'Patient ID'"),
        (lambda df: df.assign(**{"Finding Labels": "No Finding|Mass"}), "combines 'No Finding'"),
    ],
)
def test_inconsistent_metadata_is_rejected(mini, change, needle) -> None:
    root, written = mini
    change(written).to_csv(root / "Data_Entry_2017_v2020.csv", index=False)
    with pytest.raises(DataError) as err:
        load_metadata(root)
    assert needle in str(err.value)


def test_unreadable_csv_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "Data_Entry_2017.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read metadata CSV"):
        load_metadata(tmp_path)


def test_missing_root_is_a_data_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    for call in (lambda: index_images(missing), lambda: load_metadata(missing)):
        with pytest.raises(DataError, match=f"data root {missing} does not exist; set data.root="):
            call()


@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_both_layouts_are_indexed(tmp_path: Path, layout: str) -> None:
    written = make_mini_nih(tmp_path, layout=layout)
    index = index_images(tmp_path)
    assert sorted(index) == sorted(written["Image Index"])
    folders = {p.parent.relative_to(tmp_path).as_posix() for p in index.values()}
    expected = {"images_001/images", "images_002/images"} if layout == "nested" else {"images"}
    assert folders == expected
    paths = resolve_image_paths(index, list(written["Image Index"][:3]))
    assert [p.name for p in paths] == list(written["Image Index"][:3])


def test_empty_root_and_missing_ids(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no PNG images under .*images_\*/images/\*\.png"):
        index_images(tmp_path)
    index = {"a.png": tmp_path / "a.png"}
    with pytest.raises(DataError, match=r"2 of 3 images .* \(first: b\.png\)"):
        resolve_image_paths(index, ["a.png", "b.png", "c.png"])


def test_load_image_modes(mini) -> None:
    root, written = mini
    index = index_images(root)
    ids = written["Image Index"]
    modes = {}
    for row in (0, *I16_ROWS, *RGBA_ROWS):
        path = index[ids[row]]
        with Image.open(path) as img:
            modes[row] = img.mode
            if img.mode == "I;16":
                expected8 = (np.asarray(img).astype(np.int64) // 257).astype(np.uint8)
            else:
                expected8 = np.asarray(img.convert("L"))
        for size in (32, 16):
            out = load_image(path, size)
            assert out.shape == (size, size) and out.dtype == np.uint8
        assert np.array_equal(load_image(path, 32), expected8)
    assert modes == {0: "L", 1: "I;16", 2: "I;16", 3: "RGBA"}


def test_load_image_scales_12_bit_and_resizes_smoothly(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 4095, 64).round().astype(np.uint16), (64, 1))
    Image.fromarray(ramp).save(tmp_path / "r.png")
    out = load_image(tmp_path / "r.png", 64)
    assert out[0, 0] == 0 and out[0, -1] == 255
    small = load_image(tmp_path / "r.png", 8)
    assert np.all(np.diff(small[0].astype(int)) > 0)
    with pytest.raises(ConfigError):
        load_image(tmp_path / "r.png", 0)


def test_corrupt_images_are_data_errors(mini) -> None:
    root, written = mini
    garbage = root / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    source = index_images(root)[written["Image Index"][0]].read_bytes()
    truncated = root / "truncated.png"
    truncated.write_bytes(source[: len(source) // 2])
    for path in (garbage, truncated):
        with pytest.raises(DataError, match="corrupt image") as err:
            load_image(path, 16)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError, match="does not exist"):
        load_image(root / "absent.png", 16)
