"""Every attack cell says what it measured: one image space, its own clean figure, its full configuration."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import CONFIGS, TINY, compose_config
from nih_fixtures import make_mini_nih

from cxrbench.evaluation.metrics import binary_metrics
from cxrbench.models import create_model
from cxrbench.protocols.paper.experiment import plan, reproduce

ROOT = Path(__file__).resolve().parents[1]
#: FGSM whose whole grid lies below any decision change: nothing is fooled, every image comes back unchanged.
UNFOOLING_FGSM = ["grid.attacks=[fgsm]", "grid.poolings=[max]", "++attack.{profile}.max_epsilon=1e-6",
                  "++attack.{profile}.steps=2", "++attack.{profile}.images={images}"]


def _records(results: Path) -> tuple[dict, list[dict]]:
    docs = [json.loads(p.read_text()) for p in sorted((results / "records").rglob("*.json"))]
    clean = {(d["model"], d["pooling"]): d for d in docs if d["kind"] == "clean"}
    return clean, [d for d in docs if d["kind"] == "attack"]


def _check_unfooled_cells_equal_clean(results: Path, n_attacked: int) -> None:
    clean, attacks = _records(results)
    assert {r["setting"] for r in attacks} == {"white-box", "black-box"} and len(attacks) == 4
    for record in attacks:
        assert record["metrics"]["crafting_success_rate"] == 0.0 and record["images"] == n_attacked
        per_sample = pd.read_parquet(results / clean[(record["model"], record["pooling"])]["per_sample"])
        ids = pd.read_parquet(results / record["per_sample"])["image_id"]
        same = per_sample.set_index("image_id").loc[ids]
        expected = binary_metrics(same["label"].to_numpy(), same["prob"].to_numpy())
        # Exactly, not approximately: the target saw the same tensors as in its clean pass.
        assert (record["accuracy"], record["auc"]) == (expected["accuracy"], expected["auc"])
        assert (record["clean_accuracy"], record["clean_auc"]) == (expected["accuracy"], expected["auc"])
        if n_attacked == len(per_sample):
            whole = clean[(record["model"], record["pooling"])]
            assert (record["accuracy"], record["auc"]) == (whole["accuracy"], whole["auc"])


def _unfooled_run(tmp: Path, images: int) -> Path:
    overrides = TINY + [f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}",
                        "experiment=quick", "train.input_size=75"]
    overrides += [o.format(profile="quick", images=images) for o in UNFOOLING_FGSM]
    reproduce(overrides, CONFIGS, ROOT, log=lambda *_: None, render=False)
    return tmp / "results"


@pytest.fixture(scope="module")
def all_test_images(tmp_path_factory) -> Path:
    """The unfooling grid on all 10 test images; its checkpoints and cache serve the subset's run too."""
    return _unfooled_run(tmp_path_factory.mktemp("unfooled"), 10)


def test_a_cell_where_nothing_was_fooled_equals_the_clean_figure_of_all_its_images(all_test_images):
    _check_unfooled_cells_equal_clean(all_test_images, 10)


def test_a_cell_where_nothing_was_fooled_equals_the_clean_figure_of_its_subset(all_test_images, tmp_path):
    # The same trained pair (copied checkpoints: only the crafting and evaluation run again) on 6 of the images.
    shutil.copytree(all_test_images / "checkpoints", tmp_path / "results" / "checkpoints")
    shutil.copytree(all_test_images.parent / "cache", tmp_path / "cache")
    results = _unfooled_run(tmp_path, 6)
    assert all(c["training"]["reused"] for c in _records(results)[0].values())
    _check_unfooled_cells_equal_clean(results, 6)


def test_paper_recipe_shares_one_image_space_between_299_and_331_px_models():
    _, cells = plan(["experiment=paper", "data.root=/nonexistent"], CONFIGS)
    sizes = {(c.cfg.train.input_size, c.peers[0].train.input_size) for c in cells}
    spaces = {(c.cfg.train.canonical_size, c.peers[0].train.canonical_size) for c in cells}
    assert sizes == {(299, 331)} and spaces == {(331, 331)}


def test_a_model_resizes_to_its_own_input_inside_its_wrapper_differentiably():
    torch.manual_seed(0)
    model = create_model("irv2", "max", input_size=75).eval()
    x = torch.rand(2, 1, 90, 90, requires_grad=True)
    out = model(x)
    (grad,) = torch.autograd.grad(out[:, 1].sum(), x)
    assert out.shape == (2, 2) and grad.shape == x.shape and grad.abs().sum() > 0


def test_quick_checkpoint_keys_do_not_depend_on_the_image_space_field_when_it_is_the_input_size():
    from cxrbench.data import create_data_source
    from cxrbench.training.store import checkpoint_key

    cfg = compose_config(["model=irv2"])
    other = compose_config(["model=irv2", "train.image_size=80"])
    wider = compose_config(["model=irv2", "train.image_size=96"])
    source = create_data_source(cfg.data, ROOT)
    model = create_model("irv2", "max", input_size=80)
    keys = [checkpoint_key(source.description(), "split", model.identity, c.train, 0) for c in (cfg, other, wider)]
    assert keys[0] == keys[1] != keys[2]


@pytest.mark.slow
def test_paper_sizes_on_a_miniature_chestxray14_tree(tmp_path):
    make_mini_nih(tmp_path / "nih", n_images=40, n_patients=12, size=64)
    overrides = [f"paths.results_dir={tmp_path / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}",
                 "data=nih", f"data.root={tmp_path / 'nih'}", "data.test_size=4", "data.test_positives=2",
                 "data.val_size=4", "train=paper", "train.epochs=null", "train.max_steps=2", "train.eval_every=1",
                 "train.batch_size=2", "train.eval_batch_size=4", "progress=false"]
    overrides += [o.format(profile="paper", images=2) for o in UNFOOLING_FGSM]
    reproduce(overrides, CONFIGS, ROOT, log=lambda *_: None, render=False)
    _check_unfooled_cells_equal_clean(tmp_path / "results", 2)
    clean, _ = _records(tmp_path / "results")
    assert {r["model_identity"]["input_size"] for r in clean.values()} == {299, 331}
    assert {r["image_size"] for r in clean.values()} == {331}
    crafted = next((tmp_path / "results" / "adversarial").glob("*/part-00000.npz"))
    assert np.load(crafted)["adversarial"].shape[-1] == 331
