"""A Hydra multirun through hydra/launcher=submitit_slurm on a real local Slurm (issue 23): every job
of a 4-job tiny sweep runs as a Slurm array task, writes its record, and the records equal those of
the same sweep run locally (basic launcher), all but the fields that name times and paths."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY
from slurm_cluster import ROOT, cluster  # noqa: F401  (cluster: the fixture)

pytestmark = pytest.mark.slurm

SWEEP = ["pooling=max,avg", "seed=0,1"]
#: DenseNet-121 (7M parameters): each of the 8 jobs writes its checkpoints, NASNet-L's (88M) cost most of the test.
SETTINGS = TINY + ["model=xrv_densenet121", "train.input_size=32", "train.max_steps=1", "train.bn_recalibration_batches=0"]
SLURM = ["hydra/launcher=submitit_slurm", "hydra.launcher.partition=local", "hydra.launcher.cpus_per_task=1",
         "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=10"]
#: What differs between two runs of the same cell: when, how long, and where the store lives.
VOLATILE = {"created", "wall_seconds"}



def _sweep(results: Path, extra: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    args = ["-m", *SWEEP, *SETTINGS, f"paths.results_dir={results}", f"paths.cache_dir={results.parent / 'cache'}",
            *extra]
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "run.py"), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=900)


def _records(results: Path) -> dict[tuple, dict]:
    out = {}
    for path in sorted((results / "records").rglob("*.json")):
        r = json.loads(path.read_text())
        for key in VOLATILE:
            r.pop(key)
        r["training"].pop("train_seconds")
        r["training"].pop("checkpoint")
        r["config"].pop("paths")
        out[(r["model"], r["pooling"], r["seed"])] = r
    return out


def test_a_submitit_slurm_sweep_runs_every_job_on_slurm_and_matches_the_local_sweep(cluster, tmp_path):
    # One CPU per job: the jobs' torch threads follow it, as do the local sweep's.
    env = dict(cluster.env, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    on_slurm = tmp_path / "slurm" / "results"
    t0 = time.monotonic()
    proc = _sweep(on_slurm, SLURM, env)
    slurm_s = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # Every job ran as a Slurm array task: submitit's folders name them, the completion log
    # (`sacct -c`) lists them as COMPLETED on this node, in the repository's working directory.
    submitit = sorted((on_slurm / "hydra" / "multirun").glob("*/*/.submitit"))
    assert len(submitit) == 1
    tasks = sorted(p.name for p in submitit[0].iterdir() if re.fullmatch(r"\d+_\d+", p.name))
    array = {t.split("_")[0] for t in tasks}
    assert len(tasks) == 4 and len(array) == 1, tasks
    array_id = array.pop()
    # The launcher returns once every result file exists; the completion log follows at job end.
    deadline = time.monotonic() + 60
    while len(finished := [r for r in cluster.jobcomp() if r.get("ArrayJobId") == array_id]) < 4:
        assert time.monotonic() < deadline, f"array {array_id}: {len(finished)} of 4 tasks in the completion log"
        time.sleep(0.5)
    assert sorted(r["ArrayTaskId"] for r in finished) == ["0", "1", "2", "3"]
    assert all((r["JobState"], r["WorkDir"], r["Partition"]) == ("COMPLETED", str(ROOT), "local") for r in finished)
    sacct = cluster.wait_finished([r["JobId"] for r in finished], timeout=10)
    assert {row["State"] for row in sacct.values()} == {"COMPLETED"}

    # ... and each wrote its record (the task's own log names it).
    records_by_task = {}
    for task in tasks:
        log = (submitit[0] / task / f"{task}_0_log.out").read_text()
        assert f"JobEnvironment(job_id={task}," in log
        records_by_task[task] = re.search(r"^record: (\S+)$", log, re.M).group(1)
    assert len(set(records_by_task.values())) == 4
    assert all(Path(p).is_file() and Path(p).is_relative_to(on_slurm) for p in records_by_task.values())

    locally = tmp_path / "local" / "results"
    t0 = time.monotonic()
    proc = _sweep(locally, [], env)
    local_s = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    slurm_records, local_records = _records(on_slurm), _records(locally)
    assert sorted(slurm_records) == [("xrv_densenet121", p, s) for p in ("avg", "max") for s in (0, 1)]
    assert slurm_records == local_records
    print(f"\n4-job sweep: {slurm_s:.1f}s through Slurm (array {array_id}), {local_s:.1f}s locally (basic launcher)")
