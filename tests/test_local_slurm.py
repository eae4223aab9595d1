"""scripts/local_slurm.sh: a real one-node Slurm with munge comes up, runs srun and sbatch jobs, and
goes away leaving none of its daemons (issue 23). Needs root; installs slurm-wlm and munge with
apt-get where they are missing (CI runs as root)."""
import os
import re
import socket
import subprocess
import time

import pytest

from slurm_cluster import SCRIPT, destroy, ensure_slurm_packages, new_cluster

pytestmark = pytest.mark.slurm


@pytest.fixture
def cluster():
    ensure_slurm_packages()
    c = new_cluster()
    yield c
    destroy(c)


def test_start_is_idempotent_runs_srun_and_sbatch_and_stop_ends_its_daemons(cluster, tmp_path):
    t0 = time.monotonic()
    started = cluster.script("start")
    start_s = time.monotonic() - t0
    assert started.returncode == 0, started.stdout + started.stderr
    assert "started in" in started.stdout and f"SLURM_CONF={cluster.conf}" in started.stdout
    pids = cluster.pids()
    assert set(pids) == {"munged", "slurmctld", "slurmd"}
    assert all(os.path.isdir(f"/proc/{pid}") for pid in pids.values())
    assert os.stat(f"/proc/{pids['munged']}").st_uid == int(subprocess.check_output(["id", "-u", "munge"]))
    conf = cluster.conf.read_text()
    for line in ("ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobCompType=jobcomp/filetxt",
                 f"CPUs={os.cpu_count()}"):
        assert line in conf
    assert (cluster.state / "conf" / "cgroup.conf").read_text().strip() == "CgroupPlugin=cgroup/v1"

    again = cluster.script("start")
    assert again.returncode == 0 and "already running" in again.stdout
    assert cluster.pids() == pids

    t0 = time.monotonic()
    srun = cluster.run("srun", "hostname")
    srun_s = time.monotonic() - t0
    assert srun.returncode == 0, srun.stderr
    assert srun.stdout.strip() == socket.gethostname().split(".")[0]

    out = tmp_path / "job.out"
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho \"job $SLURM_JOB_ID on $SLURMD_NODENAME\"\n")
    t0 = time.monotonic()
    sub = cluster.run("sbatch", "--parsable", "-J", "cxrbench-probe", "-o", str(out), str(script), cwd=tmp_path)
    assert sub.returncode == 0, sub.stderr
    job = sub.stdout.strip().split(";")[0]
    assert re.fullmatch(r"\d+", job)
    row = cluster.wait_finished([job], timeout=60)[job]
    sbatch_s = time.monotonic() - t0
    assert (row["JobName"], row["State"]) == ("cxrbench-probe", "COMPLETED")
    assert out.read_text().strip() == f"job {job} on {srun.stdout.strip()}"

    status = cluster.script("status")
    assert status.returncode == 0 and "slurmd: running" in status.stdout

    # A job still running at stop is cancelled first, so none of its processes outlive the cluster.
    pidfile = tmp_path / "sleeper.pid"
    sleeper = cluster.run("sbatch", "--parsable", "-o", "/dev/null", "--wrap", f"echo $$ > {pidfile}; exec sleep 300",
                          cwd=tmp_path)
    assert sleeper.returncode == 0, sleeper.stderr
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, cluster.run("squeue").stdout
        time.sleep(0.2)
    sleep_pid = int(pidfile.read_text())

    t0 = time.monotonic()
    stopped = cluster.script("stop")
    stop_s = time.monotonic() - t0
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert f"cancelling jobs: {sleeper.stdout.strip()}" in stopped.stdout
    assert not os.path.isdir(f"/proc/{sleep_pid}"), "the cancelled job's process outlived stop"
    for name, pid in pids.items():
        assert f"{name}({pid})" in stopped.stdout
        assert not os.path.isdir(f"/proc/{pid}"), f"{name} ({pid}) still running after stop"
    assert cluster.pids() == {}
    assert cluster.script("status").returncode == 3
    assert "not running" in cluster.script("stop").stdout  # a second stop is a no-op
    print(f"\nlocal slurm: start {start_s:.2f}s, srun hostname {srun_s:.2f}s, "
          f"sbatch to COMPLETED {sbatch_s:.2f}s, stop {stop_s:.2f}s")


def test_start_refuses_a_non_root_user_with_the_sudo_line(cluster):
    proc = subprocess.run(["runuser", "-u", "nobody", "--", str(SCRIPT), "start"], capture_output=True, text=True,
                          env=cluster.env, timeout=30)
    assert proc.returncode == 1
    assert "error: 'start' must run as root" in proc.stderr and "sudo" in proc.stderr
    assert not (cluster.state / "conf" / "slurm.conf").exists()
