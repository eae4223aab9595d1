"""End to end on the real networks at minimum size: train, record, reuse, resume."""
import json
from importlib import metadata
from pathlib import Path

import pytest
import torch

from conftest import compose_config

from cxrbench.data import create_data_source
from cxrbench.data.build import build_data
from cxrbench.errors import CheckpointError
from cxrbench.models import create_model
from cxrbench.kit.clean_run import run_clean
from cxrbench.kit.pipeline import resolve_paths
from cxrbench.records.schema import check_record
from cxrbench.training.checkpoint import load_weights, read_checkpoint
from cxrbench.training.loop import fit
from cxrbench.runtime import resolve_runtime
from cxrbench.training.store import ensure_trained

ROOT = Path(__file__).resolve().parents[1]


def _records(tmp: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp / "results" / "records").rglob("*.json"))]


def test_run_writes_a_record_and_second_run_reuses_the_checkpoint(tiny_overrides, tmp_path):
    cfg = compose_config(tiny_overrides + ["model=nasnet", "pooling=avg", "train.input_size=32"])
    first = run_clean(cfg, ROOT, log=lambda *_: None)
    assert first["training"]["reused"] is False
    m = first["metrics"]
    assert m["n"] == 10 and m["n_positive"] == 4 and 0.0 <= m["accuracy"] <= 1.0
    assert (first["model"], first["pooling"], first["kind"], first["images"]) == ("nasnet", "avg", "clean", 10)
    assert first["model_identity"] == {"model": "nasnet", "timm_name": "nasnetalarge", "pooling": "avg",
                                       "input_size": 32, "channels": 1, "num_classes": 2}
    check_record(json.loads(Path(first["path"]).read_text()), "clean record")
    for key in ("git_sha", "versions", "seed", "split", "config"):
        assert key in first
    assert first["versions"]["torch"] == metadata.version("torch")
    assert len(first["split"]["digest"]) == 64
    assert (tmp_path / "results" / "splits" / "phantom-0.csv").exists()

    second = run_clean(cfg, ROOT, log=lambda *_: None)
    assert second["training"]["reused"] is True
    assert second["metrics"] == first["metrics"]  # same weights, same data, deterministic
    assert len(_records(tmp_path)) == 1  # same key: the record is replaced, not duplicated
    leftovers = [p for p in (tmp_path / "results").rglob("*.tmp")]
    assert leftovers == []


def test_interrupted_training_resumes_from_last_checkpoint(tiny_overrides, tmp_path):
    # DenseNet-121: the loop is the same for every network, and its resume point is 85 MB where NASNet-L's is 1 GB.
    cfg = compose_config(tiny_overrides + ["model=xrv_densenet121", "train.input_size=32", "train.max_steps=4",
                                           "train.eval_every=2"])
    paths = resolve_paths(cfg, ROOT)
    runtime = resolve_runtime("cpu")
    data = build_data(create_data_source(cfg.data, ROOT), 32, paths.cache, progress=False)

    def fresh():
        torch.manual_seed(0)
        return create_model("xrv_densenet121", "max", input_size=32)

    straight = fit(fresh(), data, cfg.train, tmp_path / "straight", runtime, progress=False)
    # The last step writes no resume point: the run is over, and the store deletes it once done.
    assert read_checkpoint(tmp_path / "straight" / "last.pt")["step"] == 2

    class Stop(Exception):
        pass

    interrupted = tmp_path / "interrupted"
    model = fresh()
    calls = {"n": 0}
    original_forward = model.forward

    def forward_then_stop(x):
        if model.training and torch.is_grad_enabled():  # optimisation steps, not BN re-estimation
            calls["n"] += 1
            if calls["n"] == 3:  # after step 2's checkpoint, during step 3
                raise Stop
        return original_forward(x)

    model.forward = forward_then_stop
    with pytest.raises(Stop):
        fit(model, data, cfg.train, interrupted, runtime, progress=False)
    assert (interrupted / "last.pt").exists()
    resumed = fit(fresh(), data, cfg.train, interrupted, runtime, progress=False)
    assert resumed.steps == straight.steps == 4
    assert [h["step"] for h in resumed.history] == [2, 4]
    a, b = fresh(), fresh()
    load_weights(a, straight.best_path)
    load_weights(b, resumed.best_path)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_checkpoint_store_refuses_a_foreign_checkpoint(tiny_overrides, tmp_path):
    cfg = compose_config(tiny_overrides + ["model=nasnet", "train.input_size=32", "train.max_steps=1"])
    paths = resolve_paths(cfg, ROOT)
    runtime = resolve_runtime("cpu")
    data = build_data(create_data_source(cfg.data, ROOT), 32, paths.cache, progress=False)
    trained = ensure_trained(create_model("nasnet", "max", input_size=32), data, cfg.train, paths.checkpoints,
                             runtime, seed=0, progress=False)
    with pytest.raises(CheckpointError, match="holds nasnet/max pooling at 32px"):
        load_weights(create_model("nasnet", "avg", input_size=32), trained.directory / "best.pt")
