"""A real one-node Slurm for tests, through scripts/local_slurm.sh (never a mocked scheduler).

Each cluster gets its own state directory and free ports, so a test cluster neither meets a
user's cluster started with the script's defaults nor outlives its test.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local_slurm.sh"
APT_LINE = ["apt-get", "install", "-y", "slurm-wlm", "munge"]
BINARIES = ["/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/srun", "/usr/bin/sbatch",
            "/usr/bin/sacct", "/usr/bin/squeue", "/usr/bin/scancel", "/usr/bin/sinfo", "/usr/bin/scontrol"]


def ensure_slurm_packages() -> None:
    """Skip unless root; install the Debian packages where they are missing and apt-get exists."""
    if os.geteuid() != 0:
        pytest.skip("the local Slurm needs root (slurmctld and slurmd run as root); CI runs as root")
    if all(os.access(b, os.X_OK) for b in BINARIES):
        return
    if shutil.which("apt-get") is None:
        pytest.skip(f"Slurm and munge are not installed and there is no apt-get to run: {' '.join(APT_LINE)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], APT_LINE):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    state: Path
    env: dict[str, str]          # the script's settings and SLURM_CONF: pass to every Slurm client

    @property
    def conf(self) -> Path:
        return self.state / "conf" / "slurm.conf"

    def script(self, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=self.env, timeout=timeout)

    def start(self) -> str:
        proc = self.script("start")
        assert proc.returncode == 0, f"local_slurm.sh start failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    def run(self, *cmd: str, timeout: int = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(list(cmd), capture_output=True, text=True, env=self.env, timeout=timeout,
                              cwd=cwd or self.state)

    def pids(self) -> dict[str, int]:
        files = {"munged": self.state / "munge" / "munged.pid", "slurmctld": self.state / "run" / "slurmctld.pid",
                 "slurmd": self.state / "run" / "slurmd.pid"}
        return {name: int(f.read_text().strip()) for name, f in files.items() if f.exists()}

    def completed_jobs(self) -> dict[str, dict[str, str]]:
        """``sacct -c`` (the jobcomp/filetxt log): job id -> its fields, for every finished job."""
        proc = self.run("sacct", "-c", "-S", "2000-01-01", "--parsable2", "-o", "JobID,JobName,State,NodeList,WorkDir")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.strip().splitlines()
        header = lines[0].split("|")
        return {row["JobID"]: row for row in (dict(zip(header, line.split("|"))) for line in lines[1:])}

    def jobcomp(self) -> list[dict[str, str]]:
        """The job completion log itself, one dict per finished job (KEY=VALUE fields). It carries
        ArrayJobId and ArrayTaskId, which the 22.05 ``sacct -c`` reader does not parse."""
        path = self.state / "log" / "jobcomp.txt"
        lines = path.read_text().splitlines() if path.exists() else []
        return [dict(f.split("=", 1) for f in line.split() if "=" in f) for line in lines]

    def wait_finished(self, job_ids: list[str], timeout: float = 120) -> dict[str, dict[str, str]]:
        deadline = time.monotonic() + timeout
        while True:
            done = self.completed_jobs()
            if all(j in done for j in job_ids):
                return {j: done[j] for j in job_ids}
            if time.monotonic() > deadline:
                queue = self.run("squeue").stdout
                raise AssertionError(f"jobs {job_ids} not finished after {timeout}s; squeue:\n{queue}")
            time.sleep(0.5)


def new_cluster() -> Cluster:
    """A cluster description (not started) in a fresh directory munged (user munge) can traverse."""
    state = Path(tempfile.mkdtemp(prefix="cxrbench-slurm-test-", dir="/tmp"))
    state.chmod(0o755)
    env = dict(os.environ, CXRBENCH_SLURM_DIR=str(state), CXRBENCH_SLURM_CTLD_PORT=str(_free_port()),
               CXRBENCH_SLURM_SLURMD_PORT=str(_free_port()), SLURM_CONF=str(state / "conf" / "slurm.conf"))
    return Cluster(state=state, env=env)


def destroy(cluster: Cluster) -> None:
    """Stop the cluster (jobs, then its daemons by pid file) and remove its directory."""
    cluster.script("purge")
    shutil.rmtree(cluster.state, ignore_errors=True)


@pytest.fixture
def cluster():
    """A fresh one-node Slurm for one test (installed where missing), purged afterwards."""
    ensure_slurm_packages()
    c = new_cluster()
    c.start()
    yield c
    destroy(c)
