"""The attack config group and the white-box / black-box attack run on the real networks."""
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from conftest import CONFIGS, TINY, compose_config, error_lines, run_cli

from cxrbench.attack_pipeline import attack_parameters, format_summary, run_attack
from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.config import peer_config
from cxrbench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_attack_group_offers_exactly_the_registered_attacks():
    assert sorted(p.stem for p in (CONFIGS / "attack").glob("*.yaml")) == sorted(list_attacks())


@pytest.mark.parametrize("name", list_attacks())
def test_each_attack_config_builds_its_registered_attack(name):
    cfg = compose_config([f"attack={name}"])
    spec = get_attack_spec(name)
    assert cfg.attack.name == name
    first_line = (CONFIGS / "attack" / f"{name}.yaml").read_text().splitlines()[0]
    assert first_line.startswith(f"# {spec.paper_id} ")  # the paper id heads each choice
    for train in ("quick", "paper"):
        params = cfg.attack.params(train)
        assert "images" in cfg.attack.paper  # the paper value of every quick reduction is stated
        attack = spec.builder(**params)
        for key, value in params.items():
            assert getattr(attack, key) == value


def test_quick_profile_applies_named_reductions_and_paper_profile_does_not():
    quick = compose_config(["attack=pgd"])
    paper = compose_config(["attack=pgd", "train=paper"])
    assert quick.attack.resolved_profile(quick.train.name) == "quick"
    assert paper.attack.resolved_profile(paper.train.name) == "paper"
    assert attack_parameters(paper, get_attack_spec("pgd"))["binary_search_steps"] == 20
    assert attack_parameters(quick, get_attack_spec("pgd"))["binary_search_steps"] == 8
    assert attack_parameters(quick, get_attack_spec("pgd"))["seed"] == 0  # the run seed reaches the attack
    forced = compose_config(["attack=pgd", "attack.profile=paper"])
    assert forced.attack.params(forced.train.name)["binary_search_steps"] == 20


@pytest.mark.parametrize("overrides,message", [
    (["attack=pgd", "+attack.paper.itrations=3"], "unknown parameter(s) ['itrations'] in attack.paper of 'pgd'"),
    (["attack=pgd", "+attack.quick.seedd=3"], "valid parameters: images, epsilon"),
    (["attack=fgsm", "+attack.quick.steps=10", "~attack.paper.steps"], "state the paper value"),
    (["attack=pgd", "attack.profile=fast"], "unknown attack.profile 'fast'; choose one of: auto, paper, quick"),
    (["attack=pgd", "++attack.quick.images=0"], "attack.quick.images must be a positive number"),
])
def test_invalid_attack_configs_fail_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as info:
        compose_config(overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unknown_attack_on_the_command_line_lists_the_valid_ones():
    proc = run_cli("attack=carlini", "model=nasnet")
    assert proc.returncode != 0
    (line,) = error_lines(proc)
    assert "unknown attack 'carlini'" in line
    assert all(name in line for name in list_attacks())


def test_peer_config_swaps_the_architecture_with_its_own_paper_sizes():
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIGS)):
        raw = compose(config_name="config", overrides=["model=nasnet", "train=paper", "attack=pgd",
                                                       "model.channels=3"])
    GlobalHydra.instance().clear()
    peer = peer_config(raw, "irv2", CONFIGS)
    assert (peer.model.name, peer.train.input_size, peer.train.batch_size) == ("irv2", 299, 32)
    assert peer.model.channels == 3 and peer.attack.name == "pgd"
    with pytest.raises(ConfigError, match="unknown model 'vgg'"):
        peer_config(raw, "vgg", CONFIGS)


def test_white_box_and_black_box_records_and_reuse(tiny_overrides, tmp_path):
    base = tiny_overrides + ["train.input_size=75", "attack=fgsm", "++attack.quick.images=6", "attack.chunk_size=4",
                             "pooling=avg"]
    cfg, peer = compose_config(base + ["model=nasnet"]), compose_config(base + ["model=irv2"])
    records = run_attack(cfg, peer, ROOT, log=lambda *_: None)

    pairs = [(r["setting"], r["source"], r["model"]) for r in records]
    assert pairs == [("white-box", "nasnet", "nasnet"), ("black-box", "irv2", "nasnet"),
                     ("white-box", "irv2", "irv2"), ("black-box", "nasnet", "irv2")]
    for r in records:
        assert (r["attack"], r["attack_id"], r["pooling"], r["images"]) == ("fgsm", "G1", "avg", 6)
        for key in ("accuracy", "auc", "success_rate", "git_sha", "versions", "seed", "split", "config"):
            assert key in r
        assert 0.0 <= r["accuracy"] <= 1.0
        assert Path(r["path"]).exists()
    adversarial = sorted((tmp_path / "results" / "adversarial").iterdir())
    assert [d.name.split("-")[:3] for d in adversarial] == [["irv2", "avg", "fgsm"], ["nasnet", "avg", "fgsm"]]
    for directory in adversarial:
        assert (directory / "done.json").exists()
        table = pd.read_parquet(directory / "part-00000.parquet")
        for column in ("image_id", "label", "clean_prob", "adv_prob", "success", "queries", "gradients",
                       "l0", "l2", "linf", "mse", "ssim", "psnr", "seconds"):
            assert column in table
        assert len(list(directory.glob("eval-*.parquet"))) == 2  # evaluated on both targets
        assert len(list(directory.glob("part-*.npz"))) == 2  # 6 images in chunks of 4

    summary = format_summary(records)
    assert "white-box" in summary and "black-box" in summary and "irv2" in summary

    again = run_attack(cfg, peer, ROOT, log=lambda *_: None)
    assert all(r["crafted_reused"] for r in again)
    assert [r["metrics"] for r in again] == [r["metrics"] for r in records]
    assert len(list((tmp_path / "results" / "records" / "attack").glob("*.json"))) == 4
    assert not list((tmp_path / "results").rglob("*.tmp"))
