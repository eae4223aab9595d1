"""scripts/cache.py as a two-task array on a real local Slurm (issue 23, point 4): the tasks split each
cache's chunks between them and leave, byte for byte, the caches a run builds by itself."""
import re
import sys
import time

import pytest

from nih_fixtures import make_mini_nih
from slurm_cluster import ROOT, cluster  # noqa: F401  (cluster: the fixture)

from cxrbench.kit.compose import load_config
from cxrbench.data import create_data_source
from cxrbench.data.build import build_data

pytestmark = pytest.mark.slurm



def test_a_slurm_array_shares_the_cache_build_of_a_run(cluster, tmp_path):
    # 1,100 images: the training cache has 2 chunks of 512 rows, one for each task.
    make_mini_nih(tmp_path / "nih", n_images=1100, n_patients=300, size=16)
    overrides = ["data=nih", f"data.root={tmp_path / 'nih'}", "data.test_size=20", "data.test_positives=10",
                 "data.val_size=60", "train.input_size=32", "progress=false",
                 f"paths.results_dir={tmp_path / 'results'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    command = " ".join([sys.executable, str(ROOT / "scripts" / "cache.py"), *overrides])
    cluster.env = dict(cluster.env, OMP_NUM_THREADS="1")  # the tasks run with sbatch's environment
    t0 = time.monotonic()
    sub = cluster.run("sbatch", "--parsable", "--array=0-1", "-c", "1", "-J", "cxrbench-cache",
                      "-o", str(tmp_path / "task-%a.log"), "--wrap", f"exec {command}", cwd=ROOT)
    assert sub.returncode == 0, sub.stderr
    array = sub.stdout.strip()
    deadline = time.monotonic() + 300
    while len(done := [r for r in cluster.jobcomp() if r.get("ArrayJobId") == array]) < 2:
        assert time.monotonic() < deadline, cluster.run("squeue").stdout
        time.sleep(0.5)
    seconds = time.monotonic() - t0
    assert sorted((r["ArrayTaskId"], r["JobState"]) for r in done) == [("0", "COMPLETED"), ("1", "COMPLETED")]

    cfg = load_config(overrides, ROOT / "configs")
    source = create_data_source(cfg.data, ROOT)
    sizes = source.split().sizes()
    assert 512 < sizes["train"] <= 1024, sizes
    filled = {}
    for task in (0, 1):
        log = (tmp_path / f"task-{task}.log").read_text()
        line = re.search(rf"^shard {task} of 2 at 32px filled in .*$", log, re.M)
        assert line, log
        filled[task] = {s: int(n) for s, n in re.findall(r"(train|val|test) \+(\d+) images", line.group(0))}
    # Chunk 1 of the training cache is task 1's; chunk 0 of every cache is task 0's.
    assert filled[1] == {"train": sizes["train"] - 512, "val": 0, "test": 0}
    assert filled[0] == {"train": 512, "val": sizes["val"], "test": sizes["test"]}

    # The run finds every cache complete (nothing left to fill) and equal to one built without Slurm.
    shared = build_data(source, 32, tmp_path / "cache", progress=False)
    alone = build_data(source, 32, tmp_path / "alone", progress=False)
    for subset in ("train", "val", "test"):
        a, b = getattr(shared, subset).cache, getattr(alone, subset).cache
        for name in ("images.u8", "ids.txt", "meta.json"):
            assert (a.directory / name).read_bytes() == (b.directory / name).read_bytes(), (subset, name)
    print(f"\n2-task cache array: {seconds:.1f}s from sbatch to both tasks in the completion log; {sizes}")
