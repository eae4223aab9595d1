"""Every experiment config states its exact command first and composes into a valid run."""
import re

import pytest

from conftest import CONFIGS, ROOT, compose_config

EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_names_its_command_and_validates(name):
    command = (CONFIGS / "experiment" / f"{name}.yaml").read_text().splitlines()[1]
    match = re.fullmatch(r"# python (scripts/\w+\.py) (?:-m )?experiment=(\w+)(?: (data\.root)=\S+)?", command)
    assert match and match[2] == name and (ROOT / match[1]).exists(), command
    cfg = compose_config([f"experiment={name}"] + (["data.root=/tmp"] if match[3] else []))
    assert cfg.data.source == ("nih" if match[3] else "phantom")
