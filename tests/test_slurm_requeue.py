"""A training job requeued mid-run (``scontrol requeue``) on a real local Slurm resumes from its
resume point instead of starting over (issue 23, point 2): the first execution saves ``last.pt``
at the step where Slurm's SIGTERM arrived, the second starts from that step, and the run finishes
every step and writes its record."""
import json
import re
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import TINY
from slurm_cluster import ROOT, cluster  # noqa: F401  (cluster: the fixture)

pytestmark = pytest.mark.slurm

STEPS, EVAL_EVERY = 40, 4
#: DenseNet-121 at 32 px: its last.pt is 85 MB (NASNet-L's is 1 GB), so each evaluation writes fast.
SETTINGS = TINY + ["model=xrv_densenet121", "train.input_size=32", f"train.max_steps={STEPS}",
                   f"train.eval_every={EVAL_EVERY}", "train.bn_recalibration_batches=0"]



def _wait(what: str, check, timeout: float, cluster) -> object:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout}s; squeue:\n{cluster.run('squeue').stdout}")
        time.sleep(0.2)
    return found


def _resume_step(results: Path) -> int | None:
    """The step of the run's ``last.pt``, once there is one (read lazily: it is rewritten meanwhile)."""
    for path in (results / "checkpoints").glob("*/last.pt"):
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)["step"]
        except (OSError, RuntimeError, KeyError):  # replaced or removed while we read it
            return None
    return None


def test_a_requeued_training_job_resumes_at_the_step_it_was_stopped(cluster, tmp_path):
    results = tmp_path / "results"
    log = tmp_path / "job.log"
    script = tmp_path / "train.sh"
    args = " ".join([*SETTINGS, f"paths.results_dir={results}", f"paths.cache_dir={tmp_path / 'cache'}"])
    script.write_text("#!/bin/bash\n"
                      'echo "execution ${SLURM_RESTART_COUNT:-0} of job $SLURM_JOB_ID"\n'
                      f"exec {sys.executable} {ROOT / 'scripts' / 'run.py'} {args}\n")
    # The job runs with sbatch's environment: one thread, like the job's one CPU.
    cluster.env = dict(cluster.env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.monotonic()
    # --open-mode=append: the second execution adds to the log instead of truncating it.
    sub = cluster.run("sbatch", "--parsable", "--requeue", "--open-mode=append", "-J", "cxrbench-requeue",
                      "-c", "1", "-o", str(log), str(script), cwd=ROOT)
    assert sub.returncode == 0, sub.stderr
    job = sub.stdout.strip()
    seen = _wait("last.pt with step > 0", lambda: _resume_step(results), 300, cluster)
    assert 0 < seen < STEPS

    requeue = cluster.run("scontrol", "requeue", job)
    requeued_at = time.monotonic()
    assert requeue.returncode == 0, requeue.stderr
    # Slurm 22.05 holds a requeued batch job for about two minutes (measured: EligibleTime = requeue
    # + 121 s); once the first execution has ended, make it eligible now.
    _wait("first execution ended", lambda: cluster.run("squeue", "-h", "-j", job, "-o", "%T").stdout.strip()
          == "PENDING", 60, cluster)
    assert cluster.run("scontrol", "update", f"JobId={job}", "StartTime=now").returncode == 0
    finished = _wait("COMPLETED line in the completion log", lambda: [
        r for r in cluster.jobcomp() if r["JobId"] == job and r["JobState"] == "COMPLETED"], 300, cluster)
    total_s, after_requeue_s = time.monotonic() - t0, time.monotonic() - requeued_at

    # The completion log has the requeued execution, then the completed one.
    lines = [r for r in cluster.jobcomp() if r["JobId"] == job]
    assert len(lines) == 2 and lines[0]["JobState"] in ("PENDING", "REQUEUED") and finished == lines[1:], lines

    text = log.read_text()
    first, _, second = text.partition(f"execution 1 of job {job}\n")
    assert first.startswith(f"execution 0 of job {job}\n") and second, text
    assert "CANCELLED AT" in first and "DUE TO JOB REQUEUE" in first
    directory = next((results / "checkpoints").iterdir())
    last = directory / "last.pt"
    stopped = re.findall(rf"^training {directory.name}: SIGTERM at step (\d+) of {STEPS}; resume point saved to "
                         rf"{re.escape(str(last))}$", first, re.M)
    resumed = re.findall(rf"^training {directory.name}: resuming at step (\d+) of {STEPS} from "
                         rf"{re.escape(str(last))}$", second, re.M)
    assert len(stopped) == 1 and "resuming" not in first, first
    # The second execution starts where the first stopped, past the step the test saw: nothing is redone.
    assert resumed == stopped and seen <= int(resumed[0]) < STEPS, (seen, stopped, resumed)

    done = json.loads((directory / "done.json").read_text())
    assert done["steps"] == STEPS
    assert [h["step"] for h in done["history"]] == list(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY))
    assert not last.exists() and (directory / "best.pt").is_file()
    record = Path(re.search(r"^record: (\S+)$", second, re.M).group(1))
    assert json.loads(record.read_text())["training"]["steps"] == STEPS
    print(f"\nrequeue: seen step {seen}, stopped and resumed at step {stopped[0]} of {STEPS}; "
          f"{total_s:.1f}s from sbatch to COMPLETED, {after_requeue_s:.1f}s of it after the requeue")
