"""Shared test helpers: compose the real Hydra config, then shrink it."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from cxrbench.app import cli
from cxrbench.kit.compose import compose_job, config_groups
from cxrbench.kit.config import RunConfig, validate
from cxrbench.protocols import get_protocol

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"

#: Test processes running side by side: pytest-xdist's workers (``-n``, set in pyproject.toml), 1 without.
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
#: Each worker takes its share of the cores; the processes a test starts (the CLI, as a user runs it)
#: inherit the same share through OMP_NUM_THREADS, so two workers never oversubscribe two cores.
THREADS = max(1, min(2, (os.cpu_count() or 1) // WORKERS))
torch.set_num_threads(THREADS)
if WORKERS > 1:
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(THREADS)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per core and two more, at most 4 (each holds real timm networks in memory).

    The extra workers fill the cores a worker leaves idle while it waits on the processes its test
    started (the CLI, Slurm jobs); on 2 cores 4 workers took 11:31, 3 took 12:49 (docs/measurements.md).
    """
    return max(1, min(4, (os.cpu_count() or 1) + 2))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each module on one worker (``--dist loadgroup``) and every Slurm test on the same one.

    A module's tests share module-scoped fixtures (a trained grid, a store) that would otherwise be
    built once per worker; the Slurm tests bring up one real cluster at a time.
    """
    for item in items:
        group = "slurm" if item.get_closest_marker("slurm") else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))

#: Overrides that shrink the phantom pipeline to seconds (NASNet accepts 32 px, IRv2 needs 75). Precise BN
#: runs on one batch, not the quick recipe's 20, and once, at the end: with 2 training steps the 20 batches
#: and a second validation with its checkpoint writes were most of the cost.
TINY = ["data.n_train=24", "data.n_val=12", "data.n_test=10", "data.test_positives=4",
        "train.max_steps=2", "train.eval_every=2", "train.batch_size=4", "train.eval_batch_size=16",
        "train.bn_recalibration_batches=1", "progress=false"]


def compose_config(overrides: list[str], tmp: Path | None = None) -> RunConfig:
    """The real composed config (``configs/config.yaml``) with ``overrides``, validated as the entry does
    (composed against the schemas as the preflight composes it, one-line errors included, then validated,
    then the settings of the protocol an experiment names)."""
    extra = [f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}"] if tmp else []
    cfg = compose_job(CONFIGS, "config", overrides + extra, config_groups(CONFIGS), extend=False)
    run = validate(cfg)
    if run.protocol:
        get_protocol(run.protocol).check(run)
    return run


def run_cli(*args: str, timeout: int = 300, process: bool = False) -> subprocess.CompletedProcess:
    """The one entry with ``args``, as a user runs it; its exit code, standard output and error.

    By default in this process through the console script (``cxrbench run``: the preflight and the Hydra
    job of ``scripts/run.py``), which spares each call the ~9 s a fresh interpreter spends importing torch,
    timm and the rest. ``process=True`` runs ``scripts/run.py`` in a subprocess (``timeout`` applies
    there), for what only a process shows: its exit status and everything that reaches the terminal.
    """
    if process:
        return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), *args], capture_output=True,
                              text=True, timeout=timeout, cwd=ROOT)
    out, err, argv, cwd = io.StringIO(), io.StringIO(), sys.argv[:], os.getcwd()
    root_logger = logging.getLogger()
    handlers, level = root_logger.handlers[:], root_logger.level
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["run", *args])
            except SystemExit as exc:  # the Hydra job exits 2 on bad input, as the script does
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        # Hydra leaves its job's logging, its global state and sys.argv behind; the next test starts clean.
        GlobalHydra.instance().clear()
        root_logger.handlers[:], root_logger.level = handlers, level
        sys.argv[:] = argv
        os.chdir(cwd)
    return subprocess.CompletedProcess(["cxrbench", "run", *args], code, out.getvalue(), err.getvalue())


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def tiny_overrides(tmp_path: Path) -> list[str]:
    return TINY + [f"paths.results_dir={tmp_path / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}"]
