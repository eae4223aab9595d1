"""The multi-label protocol end to end on tiny models: training, thresholds, grid, transfer, risk, tables, resume."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import CONFIGS, TINY, compose_config

from cxrbench.data.labels import NIH_LABELS
from cxrbench.errors import ConfigError
from cxrbench.evaluation.multilabel import k_accuracy, k_accuracy_paper, mlacc
from cxrbench.kit.multilabel_clean import youden_thresholds
from cxrbench.protocols.multilabel.run import run_multilabel
from cxrbench.records.store import load_records

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def protocol(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multilabel")
    overrides = TINY + [f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}",
                        "experiment=multilabel_quick", "train.input_size=32", "data.n_train=40", "data.n_val=30",
                        "data.n_test=12", "data.test_positives=8", "multilabel.models=[nasnet,xrv_densenet121]",
                        "multilabel.epsilons=[1,8]", "multilabel.steps=[1,2]", "multilabel.transfer={epsilon:1,steps:2}",
                        "multilabel.risk={epsilon:8,steps:2}", "multilabel.risk_losses=[bce,ordinal]",
                        "multilabel.images=6"]
    first = run_multilabel(overrides, CONFIGS, ROOT, log=lambda *_: None)
    again = run_multilabel(overrides, CONFIGS, ROOT, log=lambda *_: None)
    # The old behaviour, asked for explicitly: its cells must not be the default's (other keys, other files).
    old = run_multilabel(overrides + ["multilabel.reference=prediction", "multilabel.epsilons=[1]"], CONFIGS, ROOT,
                         log=lambda *_: None)
    return tmp / "results", first, again, old


def test_every_cell_is_measured_once_and_read_back_on_resume(protocol):
    results, first, again, _ = protocol
    cells = {(r["evaluation"], r["loss"], r["source"], r["model"], r["epsilon"] * 255, r["steps"]) for r in first["records"]}
    assert len(cells) == len(first["records"]) == 2 * (2 * 2 + 1 + 2)  # grid, one transfer pair, two risk losses
    assert ("untargeted", "bce", "nasnet", "xrv_densenet121", 1.0, 2) in cells
    assert ("risk", "ordinal", "xrv_densenet121", "xrv_densenet121", 8.0, 2) in cells
    assert first["runs"] == 2 * (2 + 2) and again["runs"] == 0
    assert all(r["reused"] for r in again["records"])
    assert len(list((results / "records" / "multilabel").glob("clean-*.json"))) == 2
    untargeted = [r for r in first["records"] if r["evaluation"] == "untargeted"]
    assert {(r["reference"], r["attack_params"]["reference"]) for r in untargeted} == {("truth", "truth")}
    assert all(r["reference"] == "" and "reference" not in r["attack_params"]
               for r in first["records"] if r["evaluation"] == "risk")


def test_the_prediction_reference_gets_its_own_cells(protocol):
    results, first, _, old = protocol
    # Every untargeted cell at eps 1 is computed anew (2 runs), the risk cells are read back.
    assert old["runs"] == 2
    fresh = [r for r in old["records"] if r["evaluation"] == "untargeted"]
    assert fresh and all(not r.get("reused") and r["reference"] == "prediction" for r in fresh)
    truth = {r["cell_key"] for r in first["records"] if r["evaluation"] == "untargeted"}
    assert truth.isdisjoint(r["cell_key"] for r in fresh)
    assert all(r.get("reused") for r in old["records"] if r["evaluation"] == "risk")


def test_records_agree_with_their_per_image_outputs(protocol):
    results, first, _, _ = protocol
    for r in first["records"]:
        table = pd.read_parquet(results / r["per_sample"])
        assert list(table.columns) == ["image_id"] + [f"p_{n}" for n in NIH_LABELS] and len(table) == r["images"] == 6
        assert r["model_identity"]["num_classes"] == 14 and r["config"]["task"]["name"] == "multilabel"
    # The k-accuracy of one cell recomputed from its stored probabilities and the test labels.
    r = next(r for r in first["records"] if r["evaluation"] == "untargeted" and r["source"] != r["model"])
    probs = pd.read_parquet(results / r["per_sample"]).filter(like="p_").to_numpy()
    clean = pd.read_parquet(results / "predictions" / "multilabel" / Path(
        next(c for c in (results / "predictions" / "multilabel").iterdir() if r["model"] in c.name)).name)
    labels = clean.set_index("image_id").loc[pd.read_parquet(results / r["per_sample"])["image_id"]].filter(like="y_")
    truth = labels.to_numpy()
    assert r["k_accuracy"]["3"] == pytest.approx(k_accuracy(probs, truth, 3).value)
    # One field, one meaning, one n: accuracy and auc over all `images`, each k-robust figure with its own n.
    assert r["images"] == len(probs) and r["images_with_finding"] == int(truth.any(1).sum())
    assert r["accuracy"] == pytest.approx(mlacc(probs >= np.array(r["thresholds"]), truth))
    assert r["k_accuracy_paper"]["3"] == pytest.approx(k_accuracy_paper(probs, truth, 3))
    # The prior: the target's training-split frequencies, scored on the same images.
    prior = np.array([r["prior"]["frequency"][name] for name in NIH_LABELS])  # JSON keeps names, not order
    assert 0 < prior.sum() and r["prior"]["k_accuracy"]["1"] == pytest.approx(
        k_accuracy(np.tile(prior, (len(truth), 1)), truth, 1).value)
    assert np.isnan(r["risk"]) and not np.isnan(next(x for x in first["records"] if x["evaluation"] == "risk")["risk"])


def test_no_white_box_truth_cell_scores_above_clean(protocol):
    # Issue 21's acceptance: under the truth-referenced attack no k-robust accuracy rises (either reading).
    _, first, _, old = protocol
    white = [r for r in first["records"] if r["evaluation"] == "untargeted" and r["source"] == r["model"]]
    assert white and all(r["attack_params"]["keep"] for r in white)
    for r in white:
        for field in ("k_accuracy", "k_accuracy_paper"):
            for k, value in r[field].items():
                assert value <= r["clean"][field][k] + 1e-9, (r["model"], r["epsilon"] * 255, r["steps"], field, k)
    # The away-from-the-prediction threat model is the plain walk, kept for comparison.
    assert all("keep" not in r["attack_params"] for r in old["records"] if r["evaluation"] == "untargeted")


def test_tables_and_heat_map_render_from_the_records(protocol):
    results, first, _, _ = protocol
    out = results / "tables" / "multilabel"
    matrix = pd.read_csv(out / "transfer_k-max-seed0-truth-bce.csv")
    assert list(matrix.columns) == ["metric", "k", "crafted on", "NL", "DN121"]
    assert list(matrix["metric"].unique()) == ["k-robust", "k-robust (Def. 1)", "k-consistency"]
    assert list(matrix["crafted on"]) == ["NL", "DN121", "clean", "prior"] * 6
    cross = next(r for r in first["records"] if (r["source"], r["model"]) == ("nasnet", "xrv_densenet121")
                 and r["evaluation"] == "untargeted")

    def cell(metric, k, row):
        return matrix[(matrix["metric"] == metric) & (matrix["k"] == k) & (matrix["crafted on"] == row)].iloc[0]["DN121"]

    assert cell("k-robust", 3, "NL") == pytest.approx(cross["k_accuracy"]["3"], abs=5e-4)
    assert cell("k-robust (Def. 1)", 1, "NL") == pytest.approx(cross["k_accuracy_paper"]["1"], abs=5e-4)
    assert cell("k-consistency", 3, "NL") == pytest.approx(cross["k_consistency"]["3"], abs=5e-4)
    assert cell("k-robust", 1, "clean") == pytest.approx(cross["clean"]["k_accuracy"]["1"], abs=5e-4)
    assert cell("k-robust", 3, "prior") == pytest.approx(cross["prior"]["k_accuracy"]["3"], abs=5e-4)
    whitebox = pd.read_csv(out / "whitebox-max-seed0-truth-bce.csv")
    assert list(whitebox["model"]) == ["NL", "DN121", "prior"] and "k=3 consistency" in whitebox.columns
    grid = pd.read_csv(out / "grid-max-seed0-truth-bce.csv")
    assert set(grid["metric"]) == {"k-robust", "k-robust (Def. 1)", "k-consistency"} and "prior" in set(grid["model"])
    # The old behaviour's cells render apart, under their own name.
    assert (out / "transfer_k-max-seed0-prediction-bce.md").exists()
    assert "ascended away from the prediction" in (out / "grid-max-seed0-prediction-bce.md").read_text()
    risk = pd.read_csv(out / "risk-max-seed0.csv")
    assert set(risk["loss"]) == {"BCE", "ORDINAL"} and "RISK" in set(risk["metric"])
    assert "k=3 k-robust of the prior" in set(risk["metric"]) and "k=1 k-consistency" in set(risk["metric"])
    for stem in ("grid-max-seed0-truth-bce.md", "whitebox-max-seed0-truth-bce.tex", "multilabel_cells.csv"):
        assert (out / stem).exists()
    assert (results / "figures" / "multilabel" / "transfer_k-max-seed0-truth-bce.png").exists()


def test_records_from_before_issue_21_still_load_as_they_were_meant(protocol, tmp_path):
    results, first, _, _ = protocol
    new = next(r for r in first["records"] if r["evaluation"] == "untargeted")
    written = json.loads(Path(new["path"]).read_text())
    # What such a record held: no reference, Definition 1 or prior; `accuracy` = the 1-robust accuracy.
    old = {key: value for key, value in written.items()
           if key not in ("reference", "images_with_finding", "k_accuracy_paper", "prior")}
    old["accuracy"] = old["k_accuracy"]["1"]
    (tmp_path / "multilabel").mkdir()
    (tmp_path / "multilabel" / "old.json").write_text(json.dumps(old))
    loaded, = load_records(tmp_path, kinds=("multilabel",))
    assert loaded["reference"] == "prediction"  # the only behaviour before the option
    assert loaded["accuracy"] == written["mlacc"] and loaded["k_accuracy"] == written["k_accuracy"]
    assert loaded["images_with_finding"] == written["metrics"]["images_with_finding"]
    assert loaded["k_accuracy_paper"] == {} and loaded["prior"] == {}


def test_youden_thresholds_by_hand():
    probs = np.array([[0.1, 0.5], [0.4, 0.5], [0.35, 0.5], [0.8, 0.5]])
    labels = np.array([[0, 1], [1, 1], [0, 1], [1, 1]])
    # label 0: cutting at 0.4 catches both positives and no negative (J = 1); label 1: one class -> 0.5
    assert youden_thresholds(probs, labels).tolist() == [0.4, 0.5]


@pytest.mark.parametrize("overrides,message", [
    (["task=binary"], "add task=multilabel"),
    (["multilabel.transfer={epsilon:3,steps:25}"], "must be a cell of the grid"),
    (["multilabel.risk_losses=[hinge]"], "unknown multilabel risk loss 'hinge'"),
])
def test_bad_protocol_configs_fail_before_any_work(overrides, message):
    from cxrbench.protocols.multilabel.run import plan

    with pytest.raises(ConfigError, match=message):
        plan(["experiment=multilabel_quick", *overrides], CONFIGS)


def test_multilabel_task_refuses_what_it_does_not_support():
    with pytest.raises(ConfigError, match="data.label_sets=nih draws all 14"):
        compose_config(["task=multilabel", "data.label_sets=phantom"])
    with pytest.raises(ConfigError, match="binary task only"):
        compose_config(["task=multilabel", "train=adversarial"])
