"""scripts/reproduce.py: the experiment grid through the attack pipeline, resumable, rendered."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from conftest import CONFIGS, TINY

from cxrbench.protocols.paper.attack import format_summary
from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.errors import ConfigError
from cxrbench.protocols.paper.experiment import format_report, plan, reproduce

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "taghanaki2018_table1_whitebox.csv"


def test_plan_covers_the_grid_and_validates_every_cell_first():
    base, cells = plan(["experiment=quick"], CONFIGS)
    assert len(cells) == 20 and base.train.name == "quick" and base.data.source == "phantom"
    assert {(c.pooling, c.attack) for c in cells} == {(p, a) for p in ("max", "avg") for a in base.grid.attacks}
    assert all((c.cfg.model.name, *(p.model.name for p in c.peers)) == ("irv2", "nasnet") for c in cells)
    with pytest.raises(ConfigError, match="unknown attack 'cw'"):
        plan(["experiment=quick", "grid.attacks=[pgd,cw]"], CONFIGS)
    with pytest.raises(ConfigError, match="grid.attacks"):
        plan(["experiment=quick", "attack=pgd"], CONFIGS)
    with pytest.raises(ConfigError, match="two architectures"):
        plan(["experiment=quick", "grid.models=[irv2]"], CONFIGS)
    with pytest.raises(ConfigError, match="names a model twice"):
        plan(["experiment=quick", "grid.models=[irv2,nasnet,irv2]"], CONFIGS)


@pytest.mark.parametrize("launcher,target", [("basic", "BasicLauncher"), ("joblib", "JoblibLauncher"),
                                             ("submitit_slurm", "SlurmLauncher")])
def test_sweep_experiment_spans_the_paper_grid_under_each_documented_launcher(launcher, target):
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIGS)):
        cfg = compose(config_name="config", overrides=["experiment=sweep", f"hydra/launcher={launcher}"],
                      return_hydra_config=True)
    GlobalHydra.instance().clear()
    assert cfg.hydra.launcher._target_.endswith(target)
    params = cfg.hydra.sweeper.params
    assert sorted(params["attack"].split(",")) == sorted(list_attacks(paper_only=True))
    assert (params["model"], params["pooling"]) == ("irv2,nasnet", "max,avg")
    readme = (ROOT / "README.md").read_text()
    assert f"hydra/launcher={launcher}" in readme or launcher == "basic"


def test_paper_experiment_is_the_full_protocol():
    base, cells = plan(["experiment=paper", "data.root=/nonexistent"], CONFIGS)
    assert (base.data.source, base.data.split, base.train.name) == ("nih", "paper", "paper")
    assert all(c.cfg.attack.resolved_profile(c.cfg.train.name) == "paper" for c in cells)
    assert all(c.cfg.attack.images(c.cfg.train.name) is None for c in cells)  # all 200 test images
    assert {c.cfg.train.input_size for c in cells} == {299} and {c.peers[0].train.input_size for c in cells} == {331}


def test_reproduce_runs_the_grid_resumes_and_renders_tables(tiny_overrides, tmp_path):
    overrides = tiny_overrides + ["experiment=quick", "train.input_size=75", "grid.attacks=[fgsm,contrast_reduction]",
                                  "grid.poolings=[avg]", "++attack.quick.images=6", "++attack.quick.steps=20",
                                  "attack.chunk_size=4"]
    first = reproduce(overrides, CONFIGS, ROOT, log=lambda *_: None)
    assert (first.cells, first.crafted, first.crafted_reused) == (2, 4, 0)  # 2 attacks x 2 source models
    results = tmp_path / "results"
    records = [json.loads(Path(p).read_text()) for p in first.records]
    fgsm = [r for r in records if r["attack"] == "fgsm"]
    assert [(r["setting"], r["source"], r["model"]) for r in fgsm] == [
        ("white-box", "irv2", "irv2"), ("black-box", "nasnet", "irv2"),
        ("white-box", "nasnet", "nasnet"), ("black-box", "irv2", "nasnet")]
    for r in records:
        assert (r["pooling"], r["images"], r["attack_id"]) == ("avg", 6, get_attack_spec(r["attack"]).paper_id)
        for key in ("accuracy", "auc", "success_rate", "git_sha", "versions", "seed", "split", "config"):
            assert key in r
        assert 0.0 <= r["accuracy"] <= 1.0 and (results / r["per_sample"]).exists()
    assert "white-box" in format_summary(fgsm) and "black-box" in format_summary(fgsm)
    adversarial = sorted((results / "adversarial").iterdir())
    assert len(adversarial) == 4
    for directory in adversarial:
        table = pd.read_parquet(directory / "part-00000.parquet")
        for column in ("image_id", "label", "clean_prob", "adv_prob", "success", "queries", "gradients",
                       "l0", "l2", "linf", "mse", "ssim", "psnr", "seconds"):
            assert column in table
        assert (directory / "done.json").exists() and len(list(directory.glob("part-*.npz"))) == 2  # 6 in 4s
        assert len(list(directory.glob("eval-*.parquet"))) == 2  # evaluated on both targets

    again = reproduce(overrides, CONFIGS, ROOT, log=lambda *_: None)
    assert (again.crafted, again.crafted_reused) == (0, 4) and "4 reused" in format_report(again)
    rerun = [json.loads(Path(p).read_text()) for p in again.records]
    assert [r["metrics"] for r in rerun] == [r["metrics"] for r in records]
    # Reusing a crafted set keeps the provenance of the run that crafted it.
    assert all(r["crafted_reused"] for r in rerun) and not any(r["crafted_reused"] for r in records)
    assert [r["crafted_by"] for r in rerun] == [r["crafted_by"] for r in records]
    assert all(r["crafted_by"]["created"] and "git_sha" in r["crafted_by"] for r in rerun)
    assert len(list((results / "records" / "attack").glob("*.json"))) == 8
    assert not list(results.rglob("*.tmp"))

    table = pd.read_csv(results / "tables" / "seed0" / "table1_whitebox.csv")
    reference = pd.read_csv(REFERENCE)
    assert list(table.columns) == list(reference.columns)
    keys = ["setting", "pooling", "model", "metric"]
    assert table[keys].astype(str).values.tolist() == reference[keys].astype(str).values.tolist()
    avg, mp = table[table["pooling"] == "AP"], table[table["pooling"] == "MP"]
    assert avg["clean"].notna().all() and avg["G1"].notna().all() and avg["D2"].notna().all()
    assert avg["G2"].isna().all() and mp["clean"].isna().all()  # not run: missing, never filled
    assert (results / "tables" / "seed0" / "table2_blackbox.csv").exists()
    assert (results / "figures" / "seed0" / "figure1_examples.png").exists()


def _tiny_experiment(tmp: Path, seed: int) -> list[str]:
    return (TINY + [f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}", f"seed={seed}",
                    "experiment=quick", "train.input_size=75", "grid.attacks=[fgsm,gaussian_noise]",
                    "grid.poolings=[max]", "++attack.quick.images=6", "++attack.quick.steps=20"])


@pytest.mark.slow
def test_same_seed_gives_identical_tables_and_another_seed_does_not(tmp_path):
    tables = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        reproduce(_tiny_experiment(tmp_path / name, seed), CONFIGS, ROOT, log=lambda *_: None)
        out = tmp_path / name / "results" / "tables" / f"seed{seed}"
        tables[name] = [(out / f).read_bytes() for f in ("table1_whitebox.csv", "table2_blackbox.csv")]
    assert tables["a"] == tables["b"]
    assert tables["a"] != tables["c"]


def test_seeds_run_the_whole_grid_once_per_seed_and_render_mean_and_sd(tmp_path):
    # IRv2 beside DenseNet-121 rather than NASNet-L: the seed loop and the mean ± sd are the same, at a
    # fraction of the cost (Tables 1-2 keep IRv2's rows; the paper pair runs in the test above).
    overrides = _tiny_experiment(tmp_path, 0)[:-1] + ["grid.attacks=[fgsm]", "++attack.quick.images=4",
                                                      "++attack.quick.steps=10", "seeds=[0,1]",
                                                      "grid.models=[irv2,xrv_densenet121]"]
    report = reproduce(overrides, CONFIGS, ROOT, log=lambda *_: None)
    assert report.seeds == [0, 1] and report.cells == 2 and sorted(report.seed_seconds) == [0, 1]
    assert "seed 1:" in format_report(report)
    records = [json.loads(Path(p).read_text()) for p in report.records]
    assert sorted({r["seed"] for r in records}) == [0, 1]
    tables = tmp_path / "results" / "tables"
    for seed in (0, 1):
        assert (tables / f"seed{seed}" / "table1_whitebox.md").exists()
    summary = pd.read_csv(tables / "table1_whitebox_mean_sd.csv")
    row = summary[(summary["pooling"] == "MP") & (summary["model"] == "IR2") & (summary["metric"] == "acc")].iloc[0]
    clean = [r["accuracy"] for r in records if r["model"] == "irv2" and r["setting"] == "white-box"]
    assert row["G1_mean"] == pytest.approx(np.mean(clean), abs=1e-4)
    assert row["G1_sd"] == pytest.approx(np.std(clean, ddof=1), abs=1e-4)
