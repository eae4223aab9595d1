"""Models you bring (model=external) through the attack command, the robust table and the API, never trained."""
import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import CONFIGS, ROOT, compose_config, run_cli
from external_fixtures import (TINY_CNN, XRV, OneLogit, measured, records_under, run_overrides, tiny_cnn,
                               torchscript_file, xrv_state_dict)

from cxrbench.app.api import benchmark
from cxrbench.data import create_data_source
from cxrbench.data.build import build_data
from cxrbench.data.phantom import PHANTOM_FINDINGS
from cxrbench.protocols.robust.run import run_robust

QUIET = {"log": lambda _: None}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_torchscript_model_is_target_and_transfer_source_of_the_attack_command_and_the_api_agrees(tmp_path):
    script = torchscript_file(tmp_path / "tiny.pt")
    attack = ["attack=fgsm", "attack.quick.images=6", "++attack.quick.steps=20", "grid.models=[external,nasnet]"]
    proc = run_cli(*run_overrides(tmp_path, *attack, *TINY_CNN, f"model.path={script}"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = tmp_path / "results"
    cli = {(r["setting"], r["model"], r["source"]): r for r in records_under(results, "attack")}
    assert set(cli) == {("white-box", "external", "external"), ("black-box", "external", "nasnet"),
                        ("white-box", "nasnet", "nasnet"), ("black-box", "nasnet", "external")}
    sha = _sha(script)
    for r in cli.values():   # its key, wherever it appears, is the file's digest
        key = r["model_key"] if r["model"] == "external" else r["source_key"] if r["source"] == "external" else None
        assert key is None or key.startswith(f"ext-{sha[:16]}-")
    external = cli[("white-box", "external", "external")]
    assert external["training"]["external"]["sha256"] == sha and external["training"]["reused"] is True
    assert [p.name.split("-")[0] for p in (results / "checkpoints").iterdir()] == ["nasnet"]   # never trained

    # The same module handed to the API, with the same settings: the same measurements (nasnet is reused).
    records, frame = benchmark(tiny_cnn(), attacks=["fgsm"], input_size=32, results_dir=results,
                               overrides=run_overrides(tmp_path, *attack), **QUIET)
    api = {(r["setting"], r["model"], r["source"]): r for r in records}
    assert set(api) == set(cli) and len(frame) == 4
    assert api[("white-box", "external", "external")]["model_key"] != external["model_key"]  # a module, not the file
    for cell, record in cli.items():
        assert measured(api[cell]) == measured(record), cell


def test_a_torchxrayvision_state_dict_runs_the_attack_command_with_its_calibration_switched_off(tmp_path):
    path, thresholds = xrv_state_dict(tmp_path / "xrv.pt")
    proc = run_cli(*run_overrides(tmp_path, "attack=fgsm", "attack.quick.images=4", "++attack.quick.steps=20", "grid.models=[external]", *XRV,
                                  f"model.path={path}"), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (record,) = records_under(tmp_path / "results", "attack")
    ext = record["training"]["external"]
    assert record["model_key"].startswith(f"ext-{_sha(path)[:16]}-") and ext["sha256"] == _sha(path)
    assert ext["op_threshs"]["switched_off"] is True
    assert ext["op_threshs"]["values"] == [None if math.isnan(v) else v for v in thresholds.tolist()]
    assert ext["mapped_labels"] == list(PHANTOM_FINDINGS) and ext["missing_labels"] == []   # the binary phantom's six
    assert len(ext["ignored_outputs"]) == 18 - 6 and record["setting"] == "white-box"
    assert not (tmp_path / "results" / "checkpoints").exists()


@pytest.mark.parametrize("kind", ["torchscript", "xrv"])
def test_the_robust_table_runs_on_an_external_model_without_training(tmp_path, kind):
    model = ([*TINY_CNN, f"model.path={torchscript_file(tmp_path / 'tiny.pt')}"] if kind == "torchscript"
             else [*XRV, f"model.path={xrv_state_dict(tmp_path / 'xrv.pt')[0]}"])
    walk = ["protocol=robust", "robust=default", "robust.variants={quick:[external],adversarial:[]}", "grid.poolings=[max]",
            "robust.epsilons=[1,4]", "robust.iterations=2", "robust.images=4", "robust.attacks=[pgd]"]
    report = run_robust(run_overrides(tmp_path, *walk, *model), CONFIGS, ROOT, **QUIET)
    assert (report["computed"], report["reused"]) == (2, 0)
    assert {r["model"] for r in report["records"]} == {"external"}
    assert all(r["training"]["reused"] and "external" in r["training"] for r in report["records"])
    assert not (tmp_path / "results" / "checkpoints").exists()
    table = (tmp_path / "results" / "tables" / "robust" / "robust_accuracy.md").read_text()
    assert "| 0 | MP EXT | 2 | 4 |" in table


def _balanced_on_the_test_split(model, tmp_path: Path):
    """Shift ``model``'s finding logit so that it calls half of the phantom's test images a finding."""
    cfg = compose_config(run_overrides(tmp_path))
    test = build_data(create_data_source(cfg.data, ROOT), 32, tmp_path / "cache", progress=False, subsets=("test",)).test
    x, _ = test.batch(np.arange(len(test)))
    with torch.no_grad():
        out = model(x)
        model.head.bias[1] -= (out[:, 1] - out[:, 0]).median()
    return model


def test_a_one_logit_model_decides_as_its_two_logit_equivalent(tmp_path):
    two = _balanced_on_the_test_split(tiny_cnn(seed=3), tmp_path)
    settings = dict(attacks=["fgsm"], input_size=32, results_dir=tmp_path / "results",
                    overrides=run_overrides(tmp_path, "attack.quick.images=6"), **QUIET)
    (as_two,), _ = benchmark(two, output="two_logits", **settings)
    (as_one,), _ = benchmark(OneLogit(two), output="one_logit", **settings)
    assert as_one["model_key"] != as_two["model_key"]
    for key in ("accuracy", "clean_accuracy", "success_rate", "images", "n_positive"):
        assert as_one[key] == as_two[key], key
    clean = [pd.read_parquet(tmp_path / "results" / "predictions" / "clean" / f"external-max-{r['model_key']}.parquet")
             for r in (as_two, as_one)]
    assert (clean[0]["pred"] == clean[1]["pred"]).all() and clean[0]["pred"].nunique() == 2   # both classes decided
    assert (clean[0]["prob"] - clean[1]["prob"]).abs().max() < 1e-6
    evaluated = [pd.read_parquet(tmp_path / "results" / r["per_sample"]) for r in (as_two, as_one)]
    pred = next(c for c in evaluated[0].columns if "pred" in c)
    assert (evaluated[0][pred].to_numpy() == evaluated[1][pred].to_numpy()).all()
