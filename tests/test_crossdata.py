"""Across datasets (issue 24, point 4): models trained on one dataset, attacked white-box on the test images of another.

End to end on miniature ChestX-ray14, CheXpert and PadChest trees (real metadata rows, synthetic
images), one DenseNet-121 training step per dataset at 32 px and one PGD step: records, the Table 3 layout and its shared-label
counts, resume; the shared labels of the shipped metadata; bad settings refused before any work.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import CONFIGS
from nih_fixtures import make_mini_nih
from public_fixtures import make_mini_chexpert, make_mini_padchest

from cxrbench.data import data_source_class
from cxrbench.data.labels import NIH_LABELS
from cxrbench.errors import ConfigError, DataError
from cxrbench.evaluation.multilabel import k_accuracy
from cxrbench.protocols import RenderRequest, get_protocol
from cxrbench.protocols.crossdata.cells import LabelColumns
from cxrbench.protocols.crossdata.labels import label_columns, shared_labels, shipped_labels
from cxrbench.protocols.crossdata.plan import plan_crossdata
from cxrbench.protocols.crossdata.run import run_crossdata

ROOT = Path(__file__).resolve().parents[1]
#: The seven CheXpert labels among the 14, in ChestX-ray14 order.
CHEXPERT = ("Atelectasis", "Cardiomegaly", "Effusion", "Pneumonia", "Pneumothorax", "Consolidation", "Edema")
STEM = "crossdata-xrv_densenet121-max-seed0-bce-eps8-steps1"


def _dataset(name: str, root: Path) -> str:
    """``crossdata.datasets.<name>=[...]`` loading the miniature tree at ``root`` (items quoted: they hold '=')."""
    items = [f"data={name}", f"data.root={root}", "data.test_size=4", "data.test_positives=2", "data.val_size=4"]
    return f"crossdata.datasets.{name}=[{','.join(repr(item) for item in items)}]"


def _overrides(tmp: Path) -> list[str]:
    return ["experiment=crossdata_quick", f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}",
            *(_dataset(name, tmp / name) for name in ("nih", "chexpert", "padchest")),
            "crossdata.images=4", "crossdata.steps=1", "crossdata.epsilon=8", "train.input_size=32",
            "train.max_steps=1", "train.eval_every=1", "train.batch_size=4", "train.eval_batch_size=16",
            "train.bn_recalibration_batches=0", "progress=false"]


@pytest.fixture(scope="module")
def crossed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crossdata")
    make_mini_nih(tmp / "nih", n_images=40, n_patients=12, size=40)
    make_mini_chexpert(tmp / "chexpert")
    make_mini_padchest(tmp / "padchest")
    # One thread: at 32 px a DenseNet's per-layer overhead dominates, and on a busy 2-core machine a second
    # OpenMP thread mostly spins (measured: ~15 s on one thread, several times that on two under load).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = run_crossdata(_overrides(tmp), CONFIGS, ROOT, log=lambda *_: None)
        again = run_crossdata(_overrides(tmp), CONFIGS, ROOT, log=lambda *_: None, render=False)
    finally:
        torch.set_num_threads(threads)
    return tmp / "results", first, again


def test_every_pair_is_measured_on_its_shared_labels(crossed):
    results, first, _ = crossed
    cells = {(r["train_on"], r["test_on"]): r for r in first["records"]}
    assert first["computed"] == len(first["records"]) == len(cells) == 9
    for (a, b), r in cells.items():
        assert r["kind"] == "crossdata" and r["data"]["source"] == b and r["train_data"]["source"] == a
        assert r["split"]["name"] == "patient" and r["images"] == 4 and r["config"]["task"]["name"] == "multilabel"
        expected = CHEXPERT if "chexpert" in (a, b) else NIH_LABELS
        assert tuple(r["shared_labels"]) == expected and r["n_shared"] == len(expected)
        assert r["epsilon"] == pytest.approx(8 / 255) and r["steps"] == 1 and r["attack_params"]["keep"]
        # White-box, truth-referenced with keep: no image ends better than its clean self.
        for k in ("1", "3"):
            assert r["k_accuracy"][k] <= r["clean"]["k_accuracy"][k] + 1e-9 or np.isnan(r["k_accuracy"][k])
        # The per-image table holds the shared labels only, and the record's figure is recomputed from it.
        table = pd.read_parquet(results / r["per_sample"])
        assert [c[2:] for c in table.columns if c.startswith("p_")] == list(expected)
        truth, probs = table.filter(regex="^y_").to_numpy(), table.filter(regex="^p_").to_numpy()
        assert r["images_with_finding"] == int((truth == 1).any(1).sum())
        if r["images_with_finding"]:
            assert r["k_accuracy"]["3"] == pytest.approx(k_accuracy(probs, truth, 3).value)
        assert len(r["thresholds"]) == len(expected)
    # One model per training dataset: its weights are the same whatever it is tested on.
    assert len({r["model_key"] for r in first["records"]}) == 3
    assert all(r["model_key"] == cells[(r["train_on"], "nih")]["model_key"] for r in first["records"])


def test_the_table_renders_rows_trained_on_columns_tested_on(crossed):
    results, first, _ = crossed
    table = pd.read_csv(results / "tables" / "crossdata" / f"{STEM}.csv")
    assert list(table.columns) == ["trained on", "metric", "D1 ChestX-ray14", "D2 CheXpert", "D3 PadChest"]
    assert list(table["trained on"].unique()) == ["ChestX-ray14", "CheXpert", "PadChest"]
    assert len(table) == 3 * 6
    counts = table[table["metric"] == "n (with a finding), labels scored"].set_index("trained on")
    cell = {(r["train_on"], r["test_on"]): r for r in first["records"]}
    assert counts.loc["PadChest", "D2 CheXpert"].endswith(", 7") and counts.loc["PadChest", "D1 ChestX-ray14"].endswith(", 14")
    r = cell[("chexpert", "padchest")]
    assert counts.loc["CheXpert", "D3 PadChest"] == f"4 ({r['images_with_finding']}), 7"
    k3 = table[(table["metric"] == "k=3 k-robust") & (table["trained on"] == "ChestX-ray14")].iloc[0]
    r = cell[("nih", "padchest")]
    clean, attacked = (float(v) if v != "n/a" else np.nan for v in k3["D3 PadChest"].split(" → "))
    assert clean == pytest.approx(r["clean"]["k_accuracy"]["3"], abs=5e-4, nan_ok=True)
    assert attacked == pytest.approx(r["k_accuracy"]["3"], abs=5e-4, nan_ok=True)
    notes = (results / "tables" / "crossdata" / f"{STEM}.md").read_text()
    assert f"7 ({', '.join(CHEXPERT)}): ChestX-ray14 → CheXpert, CheXpert → ChestX-ray14" in notes and "14 (all 14 ChestX-ray14 labels)" in notes
    long = pd.read_csv(results / "tables" / "crossdata" / "crossdata_cells.csv")
    assert len(long) == 9 and set(long["n_shared"]) == {7, 14}
    # scripts/report.py renders it through the protocol, from the records alone.
    written = get_protocol("crossdata").render(results, RenderRequest(), log=lambda *_: None)
    assert written[f"{STEM}.md"].read_text() == notes


def test_a_second_run_reads_every_cell_back(crossed):
    _, first, again = crossed
    assert again["computed"] == 0 and len(again["records"]) == 9 and all(r["reused"] for r in again["records"])
    assert {r["cell_key"] for r in again["records"]} == {r["cell_key"] for r in first["records"]}


def test_shared_labels_of_the_shipped_metadata_and_only_they_are_ranked():
    assert shipped_labels("siim") == ("Pneumothorax",) == data_source_class("siim").labelled
    assert shipped_labels("chexpert") == CHEXPERT
    assert shared_labels(shipped_labels("siim"), shipped_labels("chexpert")) == ("Pneumothorax",)
    assert shared_labels(NIH_LABELS, shipped_labels("chexpert")) == CHEXPERT
    assert shared_labels(shipped_labels("chexpert"), NIH_LABELS[::-1]) == CHEXPERT   # ChestX-ray14 order
    with pytest.raises(DataError, match="no label in common"):
        shared_labels(("Mass", "Nodule"), shipped_labels("chexpert"))
    # A model most sure of Mass (which CheXpert does not label): cut to the shared columns, Mass never ranks.
    logits = torch.arange(14, dtype=torch.float32)[None].flip(1)
    logits[0, NIH_LABELS.index("Mass")] = 99.0
    head = LabelColumns(torch.nn.Identity(), label_columns(CHEXPERT))
    out = head(logits)
    assert out.shape == (1, 7) and out[0].argmax().item() == 0   # Atelectasis, the largest shared logit
    assert out[0].tolist() == [logits[0, NIH_LABELS.index(n)].item() for n in CHEXPERT]


@pytest.mark.parametrize("overrides,message", [
    (["++crossdata.datasets.mimic=['data=nih']"], "crossdata.datasets names 'mimic', which is not a registered dataset"),
    (["crossdata.datasets.bogus=['data=nih']"], "unknown config key 'crossdata.datasets.bogus'"),
    (["crossdata.train_on=[nih,mimic]"], "crossdata.train_on names 'mimic', which crossdata.datasets does not define"),
    (["crossdata.test_on=[chexpert,chexpert]"], "crossdata.test_on must list distinct datasets"),
    (["crossdata.datasets.chexpert=['data=phantom','data.label_sets=padchest']"],
     "crossdata.datasets.chexpert: its overrides load data=phantom with data.label_sets=padchest, not chexpert"),
    (["crossdata.datasets.nih=['data=siim','data.root=/x']"], "crossdata.datasets.nih: .*data=siim gives 1"),
    (["crossdata.datasets.nih=['model=irv2']"], "'model=irv2', which is no data override"),
    (["data.n_train=40"], "put data settings in crossdata.datasets"),
    (["task=binary"], "add task=multilabel"),
    (["crossdata.models=[resnet]"], "unknown model in crossdata.models 'resnet'"),
])
def test_bad_settings_fail_before_any_work(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        run_crossdata(["experiment=crossdata_quick", f"paths.results_dir={tmp_path / 'r'}", *overrides], CONFIGS, ROOT,
                      log=lambda *_: None)
    assert not (tmp_path / "r").exists()


def test_the_quick_experiment_plans_the_three_phantoms():
    plan = plan_crossdata(["experiment=crossdata_quick"], CONFIGS)
    assert plan.pairs()[:3] == [("nih", "nih"), ("nih", "chexpert"), ("nih", "padchest")] and len(plan.pairs()) == 9
    assert {name: cfgs[0].data.label_sets for name, cfgs in plan.variants.items()} == {
        "nih": "nih", "chexpert": "chexpert", "padchest": "padchest"}
    assert all(c.model.name == "xrv_densenet121" and c.task.name == "multilabel" for cs in plan.variants.values()
               for c in cs)
