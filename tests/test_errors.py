"""Environment and value errors: one ``error:`` line naming the problem and the fix, nothing half-written."""
from pathlib import Path

import pytest
import torch

from conftest import TINY, compose_config, error_lines, run_cli
from nih_fixtures import make_mini_nih

from cxrbench.settings import TrainConfig
from cxrbench.data import create_data_source
from cxrbench.data.build import build_data
from cxrbench.data.nih import load_metadata
from cxrbench.errors import ConfigError, DataError, OutputError, TrainingError
from cxrbench.io import check_writable
from cxrbench.models import create_model
from cxrbench.kit.clean_run import run_clean
from cxrbench.kit.pipeline import resolve_paths
from cxrbench.runtime import resolve_runtime
from cxrbench.training.store import ensure_trained

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("overrides,message", [
    (["seed=-1"], "seed must be an integer in [0, 2**32)"),
    (["seed=4294967296"], "seed must be an integer in [0, 2**32)"),
    (["+seeds=[0,-2]"], "seeds[1] must be an integer in [0, 2**32)"),
    (["+seeds=[1,1]"], "distinct seeds"),
    (["train.max_steps=-5"], "train.max_steps must be positive"),
    (["train.max_steps=0"], "train.max_steps must be positive"),
    (["train.batch_size=0"], "train.batch_size must be positive"),
])
def test_bad_values_fail_before_any_work(overrides, message):
    with pytest.raises(ConfigError) as info:
        compose_config(overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_negative_seed_on_the_command_line_is_one_error_line(tmp_path):
    proc = run_cli(*TINY, "seed=-1", f"paths.results_dir={tmp_path / 'r'}", f"paths.cache_dir={tmp_path / 'c'}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc)
    assert "seed must be an integer in [0, 2**32)" in line
    assert not (tmp_path / "r").exists() and not (tmp_path / "c").exists()


@pytest.mark.parametrize("where", ["under_file", "unwritable"])
def test_results_folder_that_cannot_be_made_is_one_error_line(tmp_path, where):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    target = blocker / "results" if where == "under_file" else Path("/proc/cxrbench-results")
    proc = run_cli(*TINY, f"paths.results_dir={target}", f"paths.cache_dir={tmp_path / 'cache'}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = error_lines(proc)
    assert f"paths.results_dir={target}" in line and "writable folder" in line
    assert not (tmp_path / "cache").exists()  # the check leaves no trace


def test_writable_check_leaves_no_folders_behind(tmp_path):
    check_writable(tmp_path / "a" / "b" / "c", "paths.results_dir")
    assert not (tmp_path / "a").exists()
    with pytest.raises(OutputError, match="a_file is a file"):
        (tmp_path / "a_file").write_text("x")
        check_writable(tmp_path / "a_file" / "x", "paths.cache_dir")


def test_full_disk_during_checkpoint_write_is_one_error_and_no_partial_file(tiny_overrides, tmp_path, monkeypatch):
    cfg = compose_config(tiny_overrides + ["model=nasnet", "train.input_size=32", "train.max_steps=1"])

    def full_disk(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"partial")  # what a write cut short leaves
        raise RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file "
                           "data/3: file write failed")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OutputError) as info:
        run_clean(cfg, ROOT, log=lambda *_: None)
    message = str(info.value)
    assert "cannot write" in message and ".pt" in message and "file write failed" in message
    checkpoints = tmp_path / "results" / "checkpoints"
    assert not list(checkpoints.rglob("*.tmp")) and not list(checkpoints.rglob("*.pt"))
    assert not list(checkpoints.rglob("done.json"))  # a failed training is never marked done


def test_training_without_a_checkpoint_is_never_marked_done(tiny_overrides, tmp_path):
    cfg = compose_config(tiny_overrides + ["model=nasnet", "train.input_size=32"])
    paths = resolve_paths(cfg, ROOT)
    data = build_data(create_data_source(cfg.data, ROOT), 32, paths.cache, progress=False)
    recipe = TrainConfig(**{**cfg.train.__dict__, "max_steps": 0})  # what validation refuses up front
    with pytest.raises(TrainingError, match="without a validation checkpoint"):
        ensure_trained(create_model("nasnet", "max", input_size=32), data, recipe, paths.checkpoints,
                       resolve_runtime("cpu"), seed=0, progress=False)
    assert not list(paths.checkpoints.rglob("done.json"))


def test_header_only_metadata_csv_says_it_has_no_rows(tmp_path):
    make_mini_nih(tmp_path / "nih", n_images=8, n_patients=4)
    csv = next((tmp_path / "nih").glob("Data_Entry_2017*.csv"))
    csv.write_text(csv.read_text().splitlines()[0] + "\n")
    with pytest.raises(DataError, match="has a header but no rows"):
        load_metadata(tmp_path / "nih")
