"""Transfer over any set of models: every (source, target) pair, the matrices, Tables 1-2 kept to the paper's pair."""
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import CONFIGS, TINY

from cxrbench.models import create_model, get_model_spec
from cxrbench.protocols.paper.experiment import reproduce

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["irv2", "nasnet", "xrv_densenet121"]


@pytest.fixture(scope="module")
def three_models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("transfer")
    overrides = TINY + [f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}",
                        "experiment=quick", "train.input_size=75", "grid.attacks=[fgsm]", "grid.poolings=[max]",
                        f"grid.models=[{','.join(MODELS)}]", "++attack.quick.images=6", "++attack.quick.steps=10"]
    report = reproduce(overrides, CONFIGS, ROOT, log=lambda *_: None)
    return tmp / "results", report, [json.loads(Path(p).read_text()) for p in report.records]


def test_every_source_is_tested_on_every_target(three_models):
    _, report, records = three_models
    assert report.crafted == 3
    pairs = {(r["source"], r["model"]): r["setting"] for r in records}
    assert len(records) == 9 and set(pairs) == {(s, t) for s in MODELS for t in MODELS}
    assert all((setting == "white-box") == (s == t) for (s, t), setting in pairs.items())


def test_transfer_matrix_holds_each_pair_under_registry_labels(three_models):
    results, _, records = three_models
    out = results / "tables" / "transfer"
    matrix = pd.read_csv(out / "fgsm-max-seed0-quick-accuracy.csv")
    labels = [get_model_spec(m).paper_id for m in MODELS]
    assert list(matrix.columns) == ["crafted on \\ tested on", *labels]
    assert list(matrix.iloc[:, 0]) == [*labels, "clean"]
    by_pair = {(r["source"], r["model"]): r for r in records}
    for i, source in enumerate(MODELS):
        for target, label in zip(MODELS, labels):
            assert float(matrix.loc[i, label].split(" [")[0]) == pytest.approx(by_pair[source, target]["accuracy"],
                                                                               abs=5e-4)
    assert float(matrix.iloc[-1][labels[2]]) == pytest.approx(by_pair["irv2", MODELS[2]]["clean_accuracy"], abs=5e-4)
    for suffix in ("accuracy.md", "accuracy.tex", "auc.csv"):
        assert (out / f"fgsm-max-seed0-quick-{suffix}").exists()
    assert len(pd.read_csv(out / "transfer_cells.csv")) == 9
    assert (results / "figures" / "transfer" / "fgsm-max-seed0-quick.png").exists()


def test_tables_1_2_keep_to_the_paper_pair(three_models):
    results, _, records = three_models
    table = pd.read_csv(results / "tables" / "seed0" / "table2_blackbox.csv")
    row = table[(table["pooling"] == "MP") & (table["model"] == "IR2") & (table["metric"] == "acc")].iloc[0]
    (paper_peer,) = [r for r in records if (r["source"], r["model"]) == ("nasnet", "irv2")]
    assert row["G1"] == pytest.approx(paper_peer["accuracy"], abs=5e-4)
    assert "DN121" not in set(table["model"])


def test_torchxrayvision_densenet_takes_pixels_in_its_own_range_and_gives_raw_logits():
    model = create_model("xrv_densenet121", "avg", input_size=32).eval()
    seen = {}
    model.backbone.features.register_forward_pre_hook(lambda _, args: seen.setdefault("x", args[0]))
    x = torch.zeros(1, 1, 32, 32)
    x[0, 0, 0, 1], x[0, 0, 0, 2] = 0.5, 1.0
    with torch.no_grad():
        out = model(x)
        logits = model.backbone.classifier(model.backbone.features2(x * 2048 - 1024))
    assert seen["x"][0, 0, 0, :3].tolist() == [-1024.0, 0.0, 1024.0]  # torchxrayvision's input range
    assert model.backbone.op_threshs is None and not model.backbone.apply_sigmoid
    assert out.shape == (1, 2) and torch.allclose(out, logits, atol=1e-4)  # raw logits: no sigmoid, no thresholds
    assert "AvgPool" in type(model.backbone.features.pool0).__name__  # the stem's max pool swapped
