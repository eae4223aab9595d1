"""Build a run's preprocessing caches ahead of training: in one job, or shared by the tasks of a Slurm array.

    python scripts/cache.py data=nih data.root=/data/ChestX-ray14 train=paper model=irv2 data.num_processes=8
    sbatch --array=0-15 -c 2 --wrap "python scripts/cache.py data=nih data.root=/data/ChestX-ray14 \\
        train=paper model=irv2 data.num_workers=2"

Builds the train, val and test caches that scripts/run.py with the same overrides would build (at
train.canonical_size) and exits; the run then finds them complete. Inside a Slurm array (one
contiguous range of task ids) task i of n fills the chunks c with c % n == i of each cache, on
data.num_processes processes of data.num_workers threads; whichever task finds every chunk filled
marks the cache complete. A task that dies leaves its chunks unmarked: rerun the array (or this
command without one) and only the missing chunks are filled. docs/cluster.md has measured rates.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def build(argv: list[str]) -> str:
    # Imported here, not at the top: cache worker processes start by re-importing this file, and
    # these imports pull in torch, which the workers do not need.
    from cxrbench.kit.compose import load_config
    from cxrbench.data import create_data_source
    from cxrbench.data.build import build_data, fill_data_shard, slurm_array_shard
    from cxrbench.io import check_writable
    from cxrbench.kit.pipeline import resolve_paths

    cfg = load_config(argv, CONFIGS)
    paths = resolve_paths(cfg, ROOT)
    check_writable(paths.cache, "paths.cache_dir")
    source = create_data_source(cfg.data, paths.root)
    if hasattr(source, "check_root"):
        source.check_root()
    size, started = cfg.train.canonical_size, time.perf_counter()
    shard = slurm_array_shard(os.environ)
    if shard is None:
        data = build_data(source, size, paths.cache, progress=cfg.progress)
        caches = {s: getattr(data, s).cache for s in ("train", "val", "test")}
        return "\n".join([f"caches at {size}px complete in {time.perf_counter() - started:.1f} s:",
                          *(f"  {s}: {len(c)} images in {c.directory}" for s, c in caches.items())])
    done = fill_data_shard(source, size, paths.cache, *shard, progress=cfg.progress)
    state = ", ".join(f"{s} +{n} images, {'complete' if d else 'waiting for other shards'}"
                      for s, (n, d) in done.items())
    return f"shard {shard[0]} of {shard[1]} at {size}px filled in {time.perf_counter() - started:.1f} s: {state}"


def main(argv: list[str]) -> int:
    from cxrbench.app.preflight import script_main

    return script_main(argv, __doc__, build)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
