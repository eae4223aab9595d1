"""Google's expert labels of ChestX-ray14: the shipped file, the mapping, the expert split and the table."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from conftest import CONFIGS, compose_config
from nih_fixtures import NIH_CSV_COLUMNS, make_mini_nih

from cxrbench.data.expert_labels import (FINDINGS, SCORED, expert_labels_path, finding_calls, finding_scores,
                                         load_expert_labels, mined_findings)
from cxrbench.data.expert_split import expert_split
from cxrbench.data.labels import NIH_LABELS
from cxrbench.data.nih import load_metadata
from cxrbench.errors import ConfigError, DataError
from cxrbench.protocols.multilabel.expert_table import cell_rows, write_expert_tables
from cxrbench.protocols.multilabel.run import run_multilabel
from cxrbench.records.store import load_records

ROOT = Path(__file__).resolve().parents[1]
#: Relabelled images put in the miniature tree: both classes of every scored finding, a patient with two
#: images (13), a fracture, and mined labels that disagree with the radiologists (00000013_026: a
#: pneumothorax the mining missed; 00000324_010: mined Infiltration, no airspace opacity for them).
RELABELLED = ("00000013_008.png", "00000013_026.png", "00001437_052.png", "00005140_011.png", "00000744_001.png",
              "00000218_002.png", "00001555_003.png", "00000181_034.png", "00000193_002.png", "00000324_010.png",
              "00000457_001.png", "00000468_027.png")


def _google() -> pd.DataFrame:
    """The shipped file read plainly, without the code under test."""
    return pd.read_csv(expert_labels_path()).set_index("Image Index")


def test_the_shipped_file_is_one_adjudicated_row_per_relabelled_image():
    expert = load_expert_labels()
    assert len(expert) == 4376 and expert.index.is_unique and expert["patient_id"].nunique() == 1695
    assert expert["set"].value_counts().to_dict() == {"val": 2414, "test": 1962}
    assert expert[list(FINDINGS)].sum().to_dict() == {"Pneumothorax": 238, "Nodule or mass": 605,
                                                      "Airspace opacity": 2166, "Fracture": 186}
    assert expert.loc["00000013_026.png", list(FINDINGS)].tolist() == [1, 0, 0, 0]
    assert expert.loc["00000218_002.png", list(FINDINGS)].tolist() == [0, 1, 1, 0]
    assert expert.loc["00000193_002.png", ["Fracture", "patient_id"]].tolist() == [1, 193]
    # Every relabelled image is in ChestX-ray14's metadata, with the same patient.
    meta = load_metadata().set_index("image_id")
    assert (meta.loc[expert.index, "patient_id"] == expert["patient_id"]).all()


def test_findings_map_onto_chestxray14_labels_by_max_union_and_any_call():
    assert FINDINGS["Nodule or mass"] == ("Nodule", "Mass") and FINDINGS["Fracture"] == ()
    assert set(FINDINGS["Airspace opacity"]) == {"Consolidation", "Infiltration", "Pneumonia", "Edema"}
    assert SCORED == ("Pneumothorax", "Nodule or mass", "Airspace opacity")
    probs = pd.DataFrame(0.1, index=["a", "b", "c"], columns=[f"p_{n}" for n in NIH_LABELS])
    probs.loc["a", ["p_Nodule", "p_Mass"]] = [0.5, 0.6]     # max 0.6, but under Mass's threshold: not called
    probs.loc["b", ["p_Nodule", "p_Mass"]] = [0.65, 0.2]    # Nodule over its own threshold: called
    probs.loc["c", "p_Edema"] = 0.9
    thresholds = {**dict.fromkeys(NIH_LABELS, 0.5), "Nodule": 0.6, "Mass": 0.7}
    assert finding_scores(probs)["Nodule or mass"].tolist() == [0.6, 0.65, 0.1]
    assert finding_calls(probs, thresholds)["Nodule or mass"].tolist() == [False, True, False]
    assert finding_calls(probs, thresholds)["Airspace opacity"].tolist() == [False, False, True]
    labels = pd.DataFrame(0, index=["a", "b"], columns=[f"y_{n}" for n in NIH_LABELS])
    labels.loc["a", "y_Mass"] = labels.loc["b", "y_Pneumonia"] = 1
    mined = mined_findings(labels)
    assert list(mined.columns) == list(SCORED) and mined.loc["a"].tolist() == [0, 1, 0]
    assert mined.loc["b"].tolist() == [0, 0, 1]


@pytest.mark.parametrize("spoil, needle", [
    (lambda f: f.drop(columns="Airspace opacity"), "missing columns ['Airspace opacity']"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "lists an image twice"),
    (lambda f: f.assign(Pneumothorax=f["Pneumothorax"].where(f.index != 3, "MAYBE")), "other than YES/NO"),
    (lambda f: f.assign(**{"Patient ID": "x"}), "non-integer 'Patient ID'"),
])
def test_bad_files_give_one_clear_error(tmp_path, spoil, needle):
    path = tmp_path / "labels.csv"
    spoil(pd.read_csv(expert_labels_path()).head(20)).to_csv(path, index=False)
    with pytest.raises(DataError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_expert_labels(path)


def test_corrupt_or_missing_files_give_one_clear_error(tmp_path):
    (tmp_path / "labels.csv.gz").write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(DataError, match="cannot read metadata CSV .*labels.csv.gz.*re-download"):
        load_expert_labels(tmp_path / "labels.csv.gz")
    with pytest.raises(DataError, match="does not exist"):
        load_expert_labels(tmp_path / "absent.csv")


def test_the_expert_split_tests_on_every_relabelled_image_of_the_real_metadata():
    meta, expert = load_metadata(), load_expert_labels()
    split = expert_split(meta, expert.index, seed=0)
    assert split.name == "expert" and set(split.test) == set(expert.index)
    assert split.sizes() == {"train": 72416, "val": 12783, "test": 4376}   # docs/datasets.md
    patient = meta.set_index("image_id")["patient_id"]
    test_patients = set(patient[split.test])
    assert len(test_patients) == 1695 and test_patients.isdisjoint(patient[np.concatenate([split.train, split.val])])
    with pytest.raises(DataError, match="none of the 3 images"):
        expert_split(meta[~meta["image_id"].isin(expert.index)].head(3), expert.index, seed=0)


def test_expert_subset_is_checked_when_the_config_is():
    with pytest.raises(ConfigError, match="data.expert_subset=true builds its own patient-disjoint split"):
        compose_config(["data=nih", "data.root=/data/cxr14", "data.expert_subset=true", "data.split=official"])
    assert compose_config(["data=nih", "data.root=/data/cxr14", "data.expert_subset=true"]).data.expert_subset


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("expert")
    real = _google().loc[list(RELABELLED)].reset_index()[list(NIH_CSV_COLUMNS)]
    make_mini_nih(tmp / "nih", n_images=24, n_patients=8, real_rows=real)
    overrides = ["data=nih", f"data.root={tmp / 'nih'}", "data.expert_subset=true", "data.val_size=6",
                 "task=multilabel", "multilabel=default", "grid.poolings=[max]", "train.input_size=32",
                 "train.max_steps=1", "train.eval_every=1", "train.batch_size=4", "train.eval_batch_size=16",
                 "train.bn_recalibration_batches=1", "progress=false", "multilabel.models=[xrv_densenet121]",
                 "multilabel.epsilons=[8]", "multilabel.steps=[1]", "multilabel.transfer={epsilon:8,steps:1}",
                 "multilabel.risk_losses=[]", "multilabel.images=null",
                 f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}"]
    report = run_multilabel(overrides, CONFIGS, ROOT, log=lambda *_: None)
    return tmp / "results", report


def test_expert_subset_tests_on_the_relabelled_images_only(run):
    results, report = run
    record = report["records"][0]
    assert record["split"]["name"] == "expert" and record["split"]["sizes"]["test"] == len(RELABELLED)
    assert set(pd.read_parquet(results / record["per_sample"])["image_id"]) == set(RELABELLED)
    clean = pd.read_parquet(next((results / "predictions" / "multilabel").glob("*.parquet")))
    assert set(clean.query("split == 'test'")["image_id"]) == set(RELABELLED)
    assert not set(clean.query("split == 'val'")["image_id"]) & set(RELABELLED)


#: The mapping, restated here so the table is checked against an independent reading of it.
MEMBERS = {"Pneumothorax": ["Pneumothorax"], "Nodule or mass": ["Nodule", "Mass"],
           "Airspace opacity": ["Consolidation", "Infiltration", "Pneumonia", "Edema"]}


def _figures(truth: np.ndarray, probs: pd.DataFrame, members: list[str], thresholds: dict) -> dict:
    scores = probs[[f"p_{m}" for m in members]].to_numpy().max(axis=1)
    called = (probs[[f"p_{m}" for m in members]].to_numpy() >= [thresholds[m] for m in members]).any(axis=1)
    auc = roc_auc_score(truth, scores) if 0 < truth.sum() < len(truth) else np.nan
    return {"AUC": auc, "sensitivity": called[truth].mean(), "specificity": (~called[~truth]).mean()}


def test_the_expert_table_agrees_with_the_per_image_files(run):
    results, report = run
    table = pd.read_csv(results / "tables" / "multilabel" / "expert_labels-max-seed0.csv", dtype={"steps": str})
    assert set(table["evaluation"]) == {"clean", "untargeted"}
    assert set(table["finding"]) == {*SCORED, "Fracture (not scored)"}
    cell = next(r for r in report["records"] if r["evaluation"] == "untargeted")
    adversarial = pd.read_parquet(results / cell["per_sample"]).set_index("image_id")
    ids = adversarial.index
    clean = pd.read_parquet(next((results / "predictions" / "multilabel").glob("*.parquet")))
    clean = clean.query("split == 'test'").set_index("image_id").loc[ids]
    google = _google().loc[ids]
    thresholds = dict(zip(NIH_LABELS, cell["thresholds"]))
    rows = table[table["evaluation"] == "untargeted"].set_index(["finding", "labels"])
    for finding, members in MEMBERS.items():
        truths = {"expert": (google[finding] == "YES").to_numpy(),
                  "mined": clean[[f"y_{m}" for m in members]].to_numpy().max(axis=1) == 1}
        for labels, truth in truths.items():
            row = rows.loc[(finding, labels)]
            assert (row["n"], row["positives"]) == (len(RELABELLED), truth.sum())
            for name, probs in (("clean", clean), ("adversarial", adversarial)):
                for measure, value in _figures(truth, probs, members, thresholds).items():
                    assert row[f"{measure} {name}"] == pytest.approx(value, abs=5e-4, nan_ok=True), (finding, labels)
    assert rows.loc[("Nodule or mass", "expert"), "positives"] == 3 and rows.loc[("Airspace opacity", "mined"),
                                                                                  "positives"] == 1
    fracture = rows.loc[("Fracture (not scored)", "expert")]
    assert fracture["positives"] == 1 and np.isnan(fracture["AUC clean"])
    assert "no fracture label" in (results / "tables" / "multilabel" / "expert_labels-max-seed0.md").read_text()


def test_no_table_for_other_data_or_cells_without_relabelled_images(run, tmp_path):
    results, report = run
    records = [{**r, "data": {**r["data"], "source": "phantom"}} for r in report["records"]]
    assert write_expert_tables(results, records, tmp_path, log=lambda *_: None) == {}
    cell = report["records"][0]
    clean = next(r for r in load_records(results / "records", kinds=("multilabel",)) if r["evaluation"] == "clean")
    others = load_expert_labels().drop(index=list(RELABELLED))
    assert cell_rows(results, cell, clean, others, {}) == []
    assert len(cell_rows(results, cell, clean, load_expert_labels(), {})) == 2 * len(SCORED) + 1
