"""Bad input gets one clear error line and a non-zero exit, before any work starts."""
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import TINY, error_lines, run_cli
from nih_fixtures import make_mini_nih

from cxrbench.models import create_model
from cxrbench.training.checkpoint import save_checkpoint

NIH_TINY = ["data=nih", "data.test_size=4", "data.test_positives=2", "data.val_size=4", "model=nasnet",
            "train.input_size=32", "train.max_steps=1", "train.batch_size=4", "train.bn_recalibration_batches=1",
            "progress=false"]


def _paths(tmp: Path) -> list[str]:
    return [f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}"]


def _assert_one_error(proc, *fragments: str) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = error_lines(proc)
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def test_unknown_model_lists_valid_choices():
    # In a process of its own, as typed: the one line and the exit status are all that reach the terminal.
    proc = run_cli("model=resnet9", process=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [_assert_one_error(proc, "unknown model 'resnet9'", "irv2, nasnet")]


def test_misspelt_key_names_it_and_lists_valid_keys():
    _assert_one_error(run_cli("train.lrr=0.1"), "train.lrr", "lr,")


def test_misspelt_key_in_a_sweep_fails_before_launch():
    _assert_one_error(run_cli("-m", "pooling=max,avgg"), "unknown pooling 'avgg'", "avg, max")


def test_missing_data_root(tmp_path):
    proc = run_cli(*NIH_TINY, f"data.root={tmp_path / 'nowhere'}", *_paths(tmp_path))
    _assert_one_error(proc, "does not exist", "data.root=")
    assert not (tmp_path / "results" / "checkpoints").exists()  # nothing started


def test_corrupt_image(tmp_path):
    root = tmp_path / "nih"
    meta = make_mini_nih(root, n_images=24, n_patients=12)
    victim = next(root.rglob(meta["Image Index"][5]))
    victim.write_bytes(victim.read_bytes()[:60])  # truncated PNG
    proc = run_cli(*NIH_TINY, f"data.root={root}", *_paths(tmp_path))
    _assert_one_error(proc, "corrupt image", victim.name)


def test_csv_with_wrong_columns(tmp_path):
    root = tmp_path / "nih"
    make_mini_nih(root, n_images=24, n_patients=12)
    csv = root / "Data_Entry_2017_v2020.csv"
    pd.read_csv(csv).rename(columns={"Patient ID": "PatientId"}).to_csv(csv, index=False)
    _assert_one_error(run_cli(*NIH_TINY, f"data.root={root}", *_paths(tmp_path)), "Patient ID")


def test_checkpoint_of_another_variant(tmp_path):
    path = tmp_path / "nasnet_max.pt"
    save_checkpoint(path, create_model("nasnet", "max", input_size=32))
    proc = run_cli(*TINY, "model=nasnet", "pooling=avg", "train.input_size=32", f"model.checkpoint={path}",
                   *_paths(tmp_path))
    _assert_one_error(proc, "nasnet/max", "nasnet/avg")
    assert not (tmp_path / "cache").exists()  # refused before any data work


def test_corrupt_checkpoint_file(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint")
    proc = run_cli(*TINY, "model=nasnet", "train.input_size=32", f"model.checkpoint={path}", *_paths(tmp_path))
    _assert_one_error(proc, "cannot read checkpoint")
