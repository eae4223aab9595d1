"""CheXpert, PadChest and SIIM-ACR on miniature trees of their real metadata rows, plus one real DICOM."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cxrbench.data import create_data_source, data_source_class
from cxrbench.data.images import load_image, read_pixels
from cxrbench.data.labels import NIH_LABELS
from cxrbench.errors import ConfigError, DataError
from cxrbench.kit.clean_run import run_clean

from conftest import compose_config
from public_fixtures import (
    PADCHEST_CSV,
    REAL_DICOM,
    make_mini_chexpert,
    make_mini_padchest,
    make_mini_siim,
    write_dicom,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["data.test_size=4", "data.test_positives=2", "data.val_size=4"]
RUN = ["model=xrv_densenet121", "train.input_size=32", "train.max_steps=2", "train.eval_every=1", "train.batch_size=4",
       "train.eval_batch_size=16", "train.bn_recalibration_batches=1", "progress=false"]
P1 = "train/patient00001/study1/view1_frontal.jpg"   # No Finding, Support Devices
P2 = "train/patient00002/study2/view1_frontal.jpg"   # Lung Opacity and Fracture 1; Cardiomegaly, Effusion... uncertain


def _source(name: str, root: Path, *overrides: str):
    return create_data_source(compose_config([f"data={name}", f"data.root={root}", *SMALL, *overrides]).data, ROOT)


def _disjoint(source) -> None:
    split, patient = source.split(), source.table()["patient_id"]
    parts = {p: set(patient[list(getattr(split, p))]) for p in ("train", "val", "test")}
    assert not (parts["train"] & parts["test"] or parts["val"] & parts["test"] or parts["train"] & parts["val"])
    assert sum(split.sizes().values()) > 0 and split.sizes()["test"] == 4


def test_chexpert_labels_harmonised_and_uncertain_policy(tmp_path):
    make_mini_chexpert(tmp_path)
    tables = {p: _source("chexpert", tmp_path, f"data.uncertain={p}").table() for p in ("zeros", "ones", "ignore")}
    zeros, ones, ignore = tables["zeros"], tables["ones"], tables["ignore"]
    assert zeros.loc[P1, "target"] == 0 and zeros.loc[P1, list(NIH_LABELS)].tolist().count(0) == 7
    for lacking in ("Infiltration", "Mass", "Nodule", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"):
        assert (zeros[lacking] == -1).all()
    assert zeros.loc[P2, ["target", "Cardiomegaly", "Effusion", "Pneumonia"]].tolist() == [1, 0, 0, 0]
    assert ones.loc[P2, ["target", "Cardiomegaly", "Effusion", "Pneumonia"]].tolist() == [1, 1, 1, 0]
    assert ignore.loc[P2, ["target", "Cardiomegaly", "Effusion", "Pneumonia"]].tolist() == [1, -1, -1, 0]
    assert set(zeros["view"]) <= {"PA", "AP"} and all(i.startswith("train/patient") for i in zeros.index)
    with_laterals = _source("chexpert", tmp_path, "data.views=[PA,AP,L]").table()
    assert len(with_laterals) > len(zeros) and "L" in set(with_laterals["view"])


def test_padchest_terms_map_onto_the_14_and_16_bit_pngs_scale(tmp_path):
    rows = make_mini_padchest(tmp_path)
    source = _source("padchest", tmp_path)
    table = source.table()
    normal = rows["ImageID"][0]
    assert table.loc[normal, "target"] == 0 and (table.loc[normal, list(NIH_LABELS)] == 0).all()
    for image_id, labels in zip(rows["ImageID"][10:20], rows["Labels"][10:20]):
        assert table.loc[image_id, "target"] == 1
        assert table.loc[image_id, "Effusion"] == int("'pleural effusion'" in labels)
        assert table.loc[image_id, "Cardiomegaly"] == int("'cardiomegaly'" in labels)
    assert rows["ImageID"][21] not in table.index  # 'kyphosis' only: neither finding nor normal
    assert rows["ImageID"][20] not in table.index  # lateral
    negative = _source("padchest", tmp_path, "data.other_findings=negative").table()
    assert negative.loc[rows["ImageID"][21], "target"] == 0
    pixels = source.loader([normal], 40)(0)
    assert pixels.dtype == np.uint8 and pixels.max() > 200  # 12 bits of 16 scaled to the full 8


def test_patient_disjoint_splits(tmp_path):
    make_mini_chexpert(tmp_path / "c")
    make_mini_padchest(tmp_path / "p")
    make_mini_siim(tmp_path / "s")
    for name, folder in (("chexpert", "c"), ("padchest", "p"), ("siim", "s")):
        _disjoint(_source(name, tmp_path / folder))


def test_siim_reads_dicom_patients_and_only_pneumothorax(tmp_path):
    rows = make_mini_siim(tmp_path)
    source = _source("siim", tmp_path)
    table = source.table()
    assert len(table) == rows["ImageId"].nunique() == 14 and table["target"].sum() == 6
    assert (table["target"] == table["Pneumothorax"]).all()
    assert (table[[n for n in NIH_LABELS if n != "Pneumothorax"]] == -1).all().all()
    assert table.loc[REAL_DICOM.stem, "patient_id"] == "16d7f894-55d7-4d95-8957-d18987f0e981"
    image = source.loader([REAL_DICOM.stem], 64)(0)
    assert image.shape == (64, 64) and image.dtype == np.uint8
    with pytest.raises(ConfigError, match="data=siim gives 1"):
        compose_config(["data=siim", f"data.root={tmp_path}", "task=multilabel"])


def test_the_real_dicom_reads_as_stored_and_dicom_rules_apply(tmp_path):
    import pydicom

    stored = pydicom.dcmread(REAL_DICOM).pixel_array
    assert np.array_equal(read_pixels(REAL_DICOM), stored)  # 8-bit MONOCHROME2, no window: kept as is
    assert load_image(REAL_DICOM, 32).shape == (32, 32)
    ramp = np.tile(np.arange(0, 4096, 64), (64, 1))
    write_dicom(tmp_path / "1.2.1.dcm", ramp, patient="a")
    write_dicom(tmp_path / "1.2.2.dcm", ramp, patient="a", photometric="MONOCHROME1")
    write_dicom(tmp_path / "1.2.3.dcm", ramp, patient="a", window=(2048, 1024))
    m2, m1, w = (read_pixels(tmp_path / f) for f in ("1.2.1.dcm", "1.2.2.dcm", "1.2.3.dcm"))
    assert m2[0, 0] == 0 and m2[0, -1] == round(4032 * 255 / 4095) and np.array_equal(m1, 255 - m2)
    assert w[0, 0] == 0 and w[0, -1] == 255 and 0 < w[0, 32] < 255  # only the window's 1024 values span 0..255
    (tmp_path / "bad.dcm").write_bytes(REAL_DICOM.read_bytes()[:2000])
    with pytest.raises(DataError, match="corrupt image .*bad.dcm"):
        read_pixels(tmp_path / "bad.dcm")


def test_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="data.root=/path/to/chexpert"):
        compose_config(["data=chexpert"])
    with pytest.raises(DataError, match="does not exist"):
        _source("chexpert", tmp_path / "absent").table()
    rows = make_mini_padchest(tmp_path)
    rows.drop(columns=["Projection"]).to_csv(tmp_path / PADCHEST_CSV, index=False)
    with pytest.raises(DataError, match=r"missing columns \['Projection'\]"):
        _source("padchest", tmp_path).table()
    rows.to_csv(tmp_path / PADCHEST_CSV, index=False)
    (tmp_path / str(rows["ImageDir"][0]) / rows["ImageID"][0]).unlink()
    source = _source("padchest", tmp_path)
    with pytest.raises(DataError, match="1 of 1 images in the metadata have no file"):
        source.loader([rows["ImageID"][0]], 16)
    with pytest.raises(ConfigError, match="unknown data.uncertain"):
        compose_config(["data=chexpert", "data.root=/x", "data.uncertain=maybe"])


@pytest.mark.slow  # 3-5 min each on the shared, busy CPUs (two DenseNet-121 runs at 32 px); run with -m slow
@pytest.mark.parametrize("name,maker", [("chexpert", make_mini_chexpert), ("padchest", make_mini_padchest)])
def test_binary_and_multilabel_run_end_to_end(tmp_path, name, maker):
    maker(tmp_path / name)
    for task in ("binary", "multilabel"):
        cfg = compose_config([f"data={name}", f"data.root={tmp_path / name}", *SMALL, *RUN, f"task={task}"], tmp_path)
        record = run_clean(cfg, ROOT, log=lambda *_: None)
        assert record["config"]["task"]["name"] == task and record["config"]["data"]["source"] == name
        assert record["images"] == 4 and record["split"]["name"] == "patient"
        if task == "multilabel":
            auc = record["metrics"]["per_label_auc"]
            lacking = [n for n in NIH_LABELS if n not in data_source_class(name).labelled]
            assert all(auc[n] is None or np.isnan(auc[n]) for n in lacking)


def test_phantom_draws_any_registered_datasets_label_sets():
    from cxrbench.data.label_sets import finding_sets

    cfg = compose_config(["data.label_sets=chexpert", "task=multilabel", "data.n_train=60", "data.n_val=4",
                          "data.n_test=4", "data.test_positives=2"])
    table = create_data_source(cfg.data, ROOT).table()
    labelled = data_source_class("chexpert").labelled
    drawn = {n for s in table["finding_labels"] if s != "No Finding" for n in s.split("|")}
    assert drawn and drawn <= set(labelled)
    assert (table[[n for n in NIH_LABELS if n not in labelled]] == -1).all().all()
    sets = finding_sets("chexpert")
    assert set(sets.labelled) == set(labelled) and abs(sets.probabilities.sum() - 1) < 1e-9
    assert ("Effusion",) in sets.sets and all(set(s) <= set(labelled) for s in sets.sets)
