"""The multi-label protocol end to end on tiny models: training, thresholds, grid, transfer, risk, tables, resume."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import CONFIGS, TINY, compose_config

from cxrbench.data.labels import NIH_LABELS
from cxrbench.errors import ConfigError
from cxrbench.evaluation.multilabel import k_accuracy
from cxrbench.multilabel.evaluate import youden_thresholds
from cxrbench.multilabel.run import run_multilabel

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
    return tmp / "results", first, again


def test_every_cell_is_measured_once_and_read_back_on_resume(protocol):
    results, first, again = protocol
    cells = {(r["evaluation"], r["loss"], r["source"], r["model"], r["epsilon"] * 255, r["steps"]) for r in first["records"]}
    assert len(cells) == len(first["records"]) == 2 * (2 * 2 + 1 + 2)  # grid, one transfer pair, two risk losses
    assert ("untargeted", "bce", "nasnet", "xrv_densenet121", 1.0, 2) in cells
    assert ("risk", "ordinal", "xrv_densenet121", "xrv_densenet121", 8.0, 2) in cells
    assert first["runs"] == 2 * (2 + 2) and again["runs"] == 0
    assert all(r["reused"] for r in again["records"])
    assert len(list((results / "records" / "multilabel").glob("clean-*.json"))) == 2


def test_records_agree_with_their_per_image_outputs(protocol):
    results, first, _ = protocol
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
    assert r["k_accuracy"]["3"] == pytest.approx(k_accuracy(probs, labels.to_numpy(), 3).value)
    assert np.isnan(r["risk"]) and not np.isnan(next(x for x in first["records"] if x["evaluation"] == "risk")["risk"])


def test_tables_and_heat_map_render_from_the_records(protocol):
    results, first, _ = protocol
    out = results / "tables" / "multilabel"
    matrix = pd.read_csv(out / "transfer_k-max-seed0.csv")
    assert list(matrix.columns) == ["k", "crafted on", "NL", "DN121"]
    assert list(matrix["crafted on"]) == ["NL", "DN121", "clean"] * 2 and list(matrix["k"]) == [1] * 3 + [3] * 3
    cross = next(r for r in first["records"] if (r["source"], r["model"]) == ("nasnet", "xrv_densenet121"))
    row = matrix[(matrix["k"] == 3) & (matrix["crafted on"] == "NL")].iloc[0]
    assert row["DN121"] == pytest.approx(cross["k_accuracy"]["3"], abs=5e-4)
    clean = matrix[(matrix["k"] == 1) & (matrix["crafted on"] == "clean")].iloc[0]
    assert clean["DN121"] == pytest.approx(cross["clean"]["k_accuracy"]["1"], abs=5e-4)
    risk = pd.read_csv(out / "risk-max-seed0.csv")
    assert set(risk["loss"]) == {"BCE", "ORDINAL"} and "RISK" in set(risk["metric"])
    for stem in ("grid-max-seed0.md", "whitebox-max-seed0.tex", "multilabel_cells.csv"):
        assert (out / stem).exists()
    assert (results / "figures" / "multilabel" / "transfer_k-max-seed0.png").exists()


def test_youden_thresholds_by_hand():
    probs = np.array([[0.1, 0.5], [0.4, 0.5], [0.35, 0.5], [0.8, 0.5]])
    labels = np.array([[0, 1], [1, 1], [0, 1], [1, 1]])
    # label 0: cutting at 0.4 catches both positives and no negative (J = 1); label 1: one class -> 0.5
    assert youden_thresholds(probs, labels).tolist() == [0.4, 0.5]


@pytest.mark.parametrize("overrides,message", [
    (["task=binary"], "add task=multilabel"),
    (["multilabel.transfer={epsilon:3,steps:25}"], "must be a cell of the grid"),
    (["multilabel.risk_losses=[hinge]"], "unknown multilabel loss 'hinge'"),
])
def test_bad_protocol_configs_fail_before_any_work(overrides, message):
    from cxrbench.multilabel.run import plan

    with pytest.raises(ConfigError, match=message):
        plan(["experiment=multilabel_quick", *overrides], CONFIGS)


def test_multilabel_task_refuses_what_it_does_not_support():
    with pytest.raises(ConfigError, match="needs data.label_sets=nih"):
        compose_config(["task=multilabel", "data.label_sets=phantom"])
    with pytest.raises(ConfigError, match="binary task only"):
        compose_config(["task=multilabel", "train=adversarial"])
