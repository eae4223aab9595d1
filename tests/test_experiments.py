"""Every experiment config states its exact command (the one entry) first, composes, validates and plans."""
import re
import subprocess
import sys

import pytest

from conftest import CONFIGS, compose_config, run_cli

from cxrbench.app import cli
from cxrbench.app.run import single_plan
from cxrbench.protocols import get_protocol, list_protocols

EXPERIMENTS = sorted(p.stem for p in (CONFIGS / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_names_its_command_validates_and_plans(name):
    command = (CONFIGS / "experiment" / f"{name}.yaml").read_text().splitlines()[1]
    match = re.fullmatch(r"# python scripts/run\.py (?:-m )?experiment=(\w+)(?: (data\.root)=\S+)?", command)
    assert match and match[1] == name, command
    overrides = [f"experiment={name}"] + (["data.root=/tmp"] if match[2] else [])
    cfg = compose_config(overrides)
    assert cfg.data.source == ("nih" if match[2] else "phantom")
    plan = get_protocol(cfg.protocol).plan(overrides, CONFIGS) if cfg.protocol else single_plan(cfg)
    assert plan.items and all(isinstance(item, str) for item in plan.items)


def test_every_protocol_has_an_experiment():
    named = {compose_config([f"experiment={name}"] + (["data.root=/tmp"] if "nih" in name or name == "paper" else []))
             .protocol for name in EXPERIMENTS}
    assert set(list_protocols()) <= named


def test_the_one_entry_plans_an_experiment_without_running_it(tmp_path):
    proc = run_cli("experiment=quick", "plan_only=true", "grid.attacks=[fgsm,pgd]", "grid.poolings=[max]",
                   f"paths.results_dir={tmp_path / 'r'}")
    assert proc.returncode == 0, proc.stderr
    assert "plan (paper): 2 items" in proc.stdout
    assert "seed 0 max fgsm: crafted on and tested on irv2, nasnet" in proc.stdout
    assert not (tmp_path / "r" / "records").exists() and not (tmp_path / "r" / "checkpoints").exists()


def _console(*args: str, tmp_path) -> subprocess.CompletedProcess:
    """``cxrbench <args>`` as the console script runs it (``[project.scripts]`` points at this module)."""
    return subprocess.run([sys.executable, "-m", "cxrbench.app.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)


def test_the_console_script_lists_plans_and_refuses_what_it_does_not_know(tmp_path, capsys):
    # One call as its own process (the installed entry); the rest through the same main in this process.
    planned = _console("run", "experiment=robust_quick", "plan_only=true", f"paths.results_dir={tmp_path / 'r'}",
                       tmp_path=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "plan (robust): 3 items" in planned.stdout and "irv2/max seed 0 (quick recipe, pgd-at)" in planned.stdout
    assert cli.main(["protocols"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == list_protocols()
    assert cli.main(["run", "experiment=robust_quick", "robust.attacks=[pgd,fgsm]"]) == 2
    assert "error: robust.attacks: 'fgsm' has no fixed-ε run" in capsys.readouterr().err
    assert cli.main(["bogus"]) == 2 and "cxrbench run" in capsys.readouterr().out
