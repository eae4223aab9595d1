"""Bad input found by trying the tool as a new user: each is one ``error:`` line naming the problem and
the fix, raised before any work (no data cache, no Hydra output folder), never a traceback."""
from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CONFIGS, ROOT, TINY, compose_config, error_lines, run_cli

from cxrbench.app.preflight import preflight
from cxrbench.kit.compose import load_config
from cxrbench.errors import CheckpointError, ConfigError

TEXT = "these are my notes, not weights\n"


def _paths(tmp_path: Path) -> list[str]:
    return [f"paths.results_dir={tmp_path / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}"]


def _robust_main(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("robust_script", ROOT / "scripts" / "robust.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


@pytest.fixture
def full_disk(tmp_path: Path):
    """A 256 KiB tmpfs filled to ENOSPC: a results disk that is already full (needs root to mount)."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command here: cannot make a full file system")
    disk = tmp_path / "full"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:  # unbuffered, so the last partial write is all that fails
                os.write(fd, b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_a_full_results_disk_is_one_error_before_hydra_writes(tmp_path, full_disk):
    proc = run_cli(*TINY, f"paths.results_dir={full_disk / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = error_lines(proc)
    assert f"paths.results_dir={full_disk / 'results'}" in line and "No space left on device" in line
    assert "free space there" in line
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]  # no .hydra, no results folder
    assert not (tmp_path / "cache").exists()


def test_a_text_file_as_model_weights_says_what_it_is(tmp_path):
    notes = tmp_path / "weights.pt"
    notes.write_text(TEXT)
    with pytest.raises(ConfigError) as info:
        compose_config([f"model.weights={notes}"])
    message = str(info.value)
    assert f"model.weights {notes} is a text file" in message and "torch.save" in message
    assert "pickled" not in message and "\n" not in message


def test_loading_a_text_file_as_weights_says_what_it_is(tmp_path):
    from cxrbench.models import create_model
    from cxrbench.models.init_weights import initialise_from

    notes = tmp_path / "weights.pt"
    notes.write_text(TEXT)
    with pytest.raises(CheckpointError, match=r"is a text file, not a PyTorch weights file") as info:
        initialise_from(create_model("nasnet", "max", input_size=32), notes)
    assert "pickled" not in str(info.value)


def test_missing_model_weights_fail_before_the_data_cache_is_built(tmp_path):
    missing = tmp_path / "nowhere" / "weights.pt"
    proc = run_cli(*TINY, f"model.weights={missing}", *_paths(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = error_lines(proc)
    assert f"model.weights {missing} does not exist" in line and "drop model.weights" in line
    assert not (tmp_path / "cache").exists() and not (tmp_path / "results").exists()


def test_emptied_robust_variants_say_so(tmp_path, capsys):
    argv = ["experiment=robust_quick", *TINY, *_paths(tmp_path), "robust.variants.quick=[]",
            "robust.variants.adversarial=[]"]
    assert _robust_main(argv) == 2
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "robust.variants lists no model" in line and "robust.variants.quick=[irv2]" in line
    assert "run scripts/run.py experiment=robust_quick first" not in err and not (tmp_path / "results").exists()


def test_the_readme_mapping_syntax_adds_a_recipe_to_robust_variants():
    run = load_config(["experiment=robust_quick", "robust.variants={paper:[irv2]}"], CONFIGS)
    assert run.robust.variants == {"quick": ["irv2", "nasnet"], "adversarial": ["irv2"], "paper": ["irv2"]}
    run = load_config(["experiment=robust_quick", "robust.variants.paper=[nasnet]"], CONFIGS)  # one entry, dotted
    assert run.robust.variants["paper"] == ["nasnet"] and run.robust.variants["quick"] == ["irv2", "nasnet"]


def test_an_unknown_recipe_in_robust_variants_is_one_error(tmp_path, capsys):
    assert _robust_main(["experiment=robust_quick", *TINY, *_paths(tmp_path), "robust.variants={fancy:[irv2]}"]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert "robust.variants.fancy" in line and "'fancy' is not a training recipe" in line
    assert "adversarial, paper, quick" in line and "unknown config key" not in line


def test_run_py_explains_how_to_add_a_recipe_key():
    with pytest.raises(ConfigError, match=r"\+robust\.variants\.fancy=\[irv2\]"):
        preflight(["experiment=robust_quick", "robust.variants={fancy:[irv2]}"], CONFIGS)
