"""The attack config group and the white-box / black-box attack run on the real networks."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from conftest import CONFIGS, compose_config, error_lines, run_cli

from cxrbench.kit.crafting import attack_parameters
from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.kit.config import peer_config
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
    reduced = OmegaConf.load(CONFIGS / "attack" / "pgd.yaml").quick.binary_search_steps
    assert reduced < 20 and attack_parameters(quick, get_attack_spec("pgd"))["binary_search_steps"] == reduced
    assert quick.attack.images(quick.train.name) is not None and paper.attack.images(paper.train.name) is None
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
