"""A SIGTERM during training saves a resume point at the step it arrived and then acts as before:
the default action ends the process, a Python handler (submitit's) is called. The run resumed from
that step ends with the same weights as an uninterrupted one (issue 23, point 2)."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from conftest import ROOT, TINY, compose_config

from cxrbench.data import create_data_source
from cxrbench.data.build import build_data
from cxrbench.models import create_model
from cxrbench.kit.pipeline import resolve_paths
from cxrbench.runtime import resolve_runtime
from cxrbench.training.checkpoint import load_weights, read_checkpoint
from cxrbench.training.loop import fit

#: Evaluations at steps 2 and 4: a SIGTERM during step 3 falls between them. DenseNet-121 (7M weights)
#: keeps last.pt at 85 MB where NASNet-L's is 1 GB.
SETTINGS = ["model=xrv_densenet121", "train.input_size=32", "train.max_steps=4", "train.eval_every=2",
            "train.bn_recalibration_batches=0"]


class Preempted(Exception):
    pass


def _fresh():
    torch.manual_seed(0)
    return create_model("xrv_densenet121", "max", input_size=32)


def _sigterm_during_step(model, at: int):
    """Make ``model`` raise SIGTERM in its own process during optimisation step ``at`` (1-based)."""
    calls = {"n": 0}
    forward = model.forward

    def forward_and_signal(x):
        if model.training and torch.is_grad_enabled():  # optimisation steps, not validation
            calls["n"] += 1
            if calls["n"] == at:
                signal.raise_signal(signal.SIGTERM)
        return forward(x)

    model.forward = forward_and_signal
    return model


def _same_weights(path_a, path_b) -> bool:
    a, b = _fresh(), _fresh()
    load_weights(a, path_a)
    load_weights(b, path_b)
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """The tiny config, its data and the uninterrupted run both tests compare with."""
    tmp = tmp_path_factory.mktemp("straight")
    overrides = TINY + [f"paths.results_dir={tmp / 'results'}", f"paths.cache_dir={tmp / 'cache'}"]
    cfg = compose_config(overrides + SETTINGS)
    data = build_data(create_data_source(cfg.data, ROOT), 32, resolve_paths(cfg, ROOT).cache, progress=False)
    straight = fit(_fresh(), data, cfg.train, tmp / "straight", resolve_runtime("cpu"), progress=False,
                   log=lambda line: None)
    return overrides, cfg, data, straight


def test_a_python_handler_gets_the_signal_after_the_resume_point_and_the_resumed_run_matches(setting, tmp_path):
    _, cfg, data, straight = setting
    runtime, run_dir, lines, seen = resolve_runtime("cpu"), tmp_path / "preempted", [], []

    def submitit_like(signum, frame):  # like submitit's checkpoint_and_exit: note it, leave
        seen.append((signum, read_checkpoint(run_dir / "last.pt")["step"]))
        raise Preempted

    previous = signal.signal(signal.SIGTERM, submitit_like)
    try:
        with pytest.raises(Preempted):
            fit(_sigterm_during_step(_fresh(), 3), data, cfg.train, run_dir, runtime, progress=False,
                log=lines.append)
        assert signal.getsignal(signal.SIGTERM) is submitit_like  # the loop put it back
    finally:
        signal.signal(signal.SIGTERM, previous)
    # Without the resume point the last checkpoint would be step 2's evaluation.
    assert seen == [(signal.SIGTERM, 3)]
    assert lines == [f"training preempted: SIGTERM at step 3 of 4; resume point saved to {run_dir / 'last.pt'}"]

    resumed = fit(_fresh(), data, cfg.train, run_dir, runtime, progress=False, log=lines.append)
    assert lines[-1] == f"training preempted: resuming at step 3 of 4 from {run_dir / 'last.pt'}"
    assert resumed.steps == 4 and [h["step"] for h in resumed.history] == [2, 4]
    assert resumed.history == straight.history
    assert _same_weights(resumed.best_path, straight.best_path)


# Slow: a fresh interpreter imports torch again. The same path (a plain sbatch job) runs in
# tests/test_slurm_requeue.py, which CI runs as root.
@pytest.mark.slow
def test_with_the_default_action_the_process_ends_by_sigterm_after_saving(setting, tmp_path):
    overrides, cfg, data, straight = setting
    run_dir = tmp_path / "killed"
    # A fresh interpreter, where SIGTERM has its default action (pytest's may not).
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        from conftest import compose_config
        from test_training_sigterm import SETTINGS, _fresh, _sigterm_during_step
        from cxrbench.data import create_data_source
        from cxrbench.data.build import build_data
        from cxrbench.kit.pipeline import resolve_paths
        from cxrbench.runtime import resolve_runtime
        from cxrbench.training.loop import fit
        cfg = compose_config({overrides!r} + SETTINGS)
        data = build_data(create_data_source(cfg.data, {str(ROOT)!r}), 32, resolve_paths(cfg, {str(ROOT)!r}).cache,
                          progress=False)
        fit(_sigterm_during_step(_fresh(), 3), data, cfg.train, {str(run_dir)!r}, resolve_runtime("cpu"),
            progress=False)
        print("not reached")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == -signal.SIGTERM, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [
        f"training killed: SIGTERM at step 3 of 4; resume point saved to {run_dir / 'last.pt'}"]
    assert read_checkpoint(run_dir / "last.pt")["step"] == 3

    resumed = fit(_fresh(), data, cfg.train, run_dir, resolve_runtime("cpu"), progress=False, log=lambda line: None)
    assert resumed.history == straight.history
    assert _same_weights(resumed.best_path, straight.best_path)

