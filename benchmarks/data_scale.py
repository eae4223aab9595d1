"""ChestX-ray14 at scale: cache build and training-loader throughput on a synthetic tree, extrapolated.

    python benchmarks/data_scale.py [--n 2000] [--sizes 299 331] [--processes 1 2] [--root DIR] [--keep]

Writes a synthetic ChestX-ray14 tree of ``--n`` images: rows of the real metadata CSV
(torchxrayvision's copy of Data_Entry_2017_v2020.csv, evenly spaced over the 112,120 ids) and
1024x1024 8-bit grayscale PNGs in ``images_001/images`` ... ``images_012/images``, each file in the
folder NIH's archives put it (the sorted ids: 4,999 in images_001, 10,000 in each of images_002-011,
7,121 in images_012). The pixels are phantom radiographs (:mod:`cxrbench.data.phantom`), a few
rendered once, each file a shifted copy, so the PNGs compress like images, not like noise.

Then, at each ``--sizes`` (the models' 299 and 331 px), in a fresh process per measurement so its
peak RSS is its own:

* the cache build through the pipeline's own path (``NihSource`` loader: PNG decode and
  antialiased bilinear resize; chunks written into ``images.u8``) on each of ``--processes``
  worker processes, once more on a quarter of the images with one process (peak RSS does not
  grow with the image count); images/s, images/s per worker, peak RSS of the builder and of its
  largest worker, disk allocated;
* the training loader: 20 epochs of random batches from the cache, as the training loop draws
  them (``CachedImageDataset.batch``: one sorted memmap read, uint8 to float); page cache warm.

Last, everything is extrapolated linearly to the full 112,120 images. The tree is deleted at the
end unless ``--keep``. docs/cluster.md records a run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FULL = 112_120
#: Images per archive folder, images_001 ... images_012, in sorted id order.
FOLDERS = (4_999,) + (10_000,) * 10 + (7_121,)
BASES = 8  # distinct phantom radiographs; each file is one of them, shifted


def _folder(rank: int) -> int:
    """The images_NNN folder (1-based) of the id at ``rank`` in the sorted full list."""
    edge = 0
    for number, count in enumerate(FOLDERS, start=1):
        edge += count
        if rank < edge:
            return number
    raise ValueError(f"rank {rank} is beyond the {FULL} images")


def write_tree(root: Path, n: int) -> dict:
    """The synthetic tree of ``n`` images under ``root``; returns what was written."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    from cxrbench.data.cache import to_uint8
    from cxrbench.data.nih import bundled_metadata_path
    from cxrbench.data.phantom import generate

    full = pd.read_csv(bundled_metadata_path()).sort_values("Image Index", kind="stable").reset_index(drop=True)
    assert len(full) == FULL == sum(FOLDERS), len(full)
    ranks = np.unique(np.linspace(0, FULL - 1, n).round().astype(int))
    started = time.perf_counter()
    bases = [to_uint8(generate(0, i, 1024).image) for i in range(BASES)]
    rng, sizes = np.random.default_rng(0), []
    for rank in ranks:
        folder = root / f"images_{_folder(int(rank)):03d}" / "images"
        folder.mkdir(parents=True, exist_ok=True)
        shift = tuple(int(s) for s in rng.integers(-40, 41, size=2))
        path = folder / full.at[rank, "Image Index"]
        Image.fromarray(np.roll(bases[rank % BASES], shift, axis=(0, 1))).save(path)
        sizes.append(path.stat().st_size)
    full.iloc[ranks].to_csv(root / "Data_Entry_2017_v2020.csv", index=False)
    seconds = time.perf_counter() - started
    return {"images": len(ranks), "folders": len({_folder(int(r)) for r in ranks}), "seconds": seconds,
            "mean_png_bytes": float(np.mean(sizes)), "tree_bytes": int(sum(sizes))}


def _status_kib(pid: int | str, key: str) -> int:
    """A ``Vm*`` field of /proc/<pid>/status in KiB, 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith(key + ":")), 0)
    except OSError:
        return 0


class PeakMemory:
    """Peak resident memory of this process and of its children, sampled every 0.2 s.

    Read from /proc (``VmHWM``, ``VmRSS``), not ``getrusage``: Linux's ``ru_maxrss`` of a child
    started by fork + exec counts the parent's resident pages it held before the exec.
    """

    def __init__(self):
        self.me, self.worker_kib, self.total_kib = os.getpid(), 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _children(self) -> list[str]:
        kids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == self.me:
                        kids.append(pid)
            except (OSError, IndexError, ValueError):
                pass
        return kids

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            kids = self._children()
            self.worker_kib = max([self.worker_kib] + [_status_kib(k, "VmHWM") for k in kids])
            self.total_kib = max(self.total_kib, _status_kib(self.me, "VmRSS")
                                 + sum(_status_kib(k, "VmRSS") for k in kids))

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def own_mib(self) -> float:
        return _status_kib(self.me, "VmHWM") / 1024


def _source(root: Path):
    from types import SimpleNamespace

    from cxrbench.data.nih_source import NihSource

    # The settings NihSource reads (data=nih's defaults), without importing the config schema,
    # which imports torch: the builder's memory is then what a build needs.
    return NihSource(SimpleNamespace(root=str(root), csv=None, num_workers=1, num_processes=1, split="patient",
                                     seed=0, test_size=200, test_positives=93, val_size=None))


def measure_build(root: Path, cache_root: Path, size: int, processes: int, images: int) -> dict:
    """Build the cache of the first ``images`` ids at ``size`` on ``processes`` processes (one thread each)."""
    from cxrbench.data.cache import open_cache

    source = _source(root)
    ids = sorted(source.table().index)[:images]
    started = time.perf_counter()
    cache = open_cache(cache_root, source.description(), ids, size)
    with PeakMemory() as peak:
        cache.build(source.loader(ids, size), progress=False, workers=1, processes=processes)
    seconds = time.perf_counter() - started
    stat = os.stat(cache.target.images)
    return {"size": size, "processes": processes, "images": len(ids), "seconds": seconds,
            "rate": len(ids) / seconds, "rss_builder_mib": peak.own_mib,
            "rss_worker_mib": peak.worker_kib / 1024 if processes > 1 else None, "rss_total_mib": peak.total_kib / 1024,
            "disk_bytes": stat.st_blocks * 512, "file_bytes": stat.st_size, "directory": str(cache.directory)}


def measure_loader(directory: Path, batch_size: int, epochs: int = 20) -> dict:
    """``epochs`` epochs of random batches (a new order each) from the complete cache in ``directory``."""
    import numpy as np
    import torch

    from cxrbench.data.cache import ImageCache
    from cxrbench.data.datasets import CachedImageDataset

    meta = json.loads((directory / "meta.json").read_text())
    ids = (directory / "ids.txt").read_text().split()
    cache = ImageCache(directory, ids, meta["size"], meta["source"])
    dataset = CachedImageDataset(cache, np.zeros(len(ids)), np.zeros((len(ids), 14)))
    steps, seconds = len(ids) // batch_size, 0.0
    for epoch in range(epochs):
        order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(epoch)).numpy()
        started = time.perf_counter()
        for step in range(steps):
            x, _ = dataset.batch(order[step * batch_size:(step + 1) * batch_size])
        seconds += time.perf_counter() - started
    assert x.shape == (batch_size, 1, meta["size"], meta["size"]) and x.dtype == torch.float32
    return {"size": meta["size"], "images": epochs * steps * batch_size, "seconds": seconds,
            "rate": epochs * steps * batch_size / seconds, "rss_mib": _status_kib("self", "VmHWM") / 1024}


def _child(*args: str) -> dict:
    """Run one measurement in a fresh interpreter (its own peak RSS); returns its JSON line."""
    proc = subprocess.run([sys.executable, __file__, "--measure", *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"measurement {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def report(tree: dict, builds: list[dict], loaders: list[dict]) -> str:
    gib = 1024 ** 3
    lines = [f"synthetic ChestX-ray14: {tree['images']} images in {tree['folders']} folders, 1024x1024 8-bit PNG, "
             f"mean {tree['mean_png_bytes'] / 1024:.0f} KiB, {tree['tree_bytes'] / gib:.2f} GiB, written in "
             f"{tree['seconds']:.0f} s", "",
             "cache build (NihSource loader: PNG decode + antialiased bilinear resize; pwrite into images.u8):",
             f"{'size':>5} {'procs':>5} {'images':>6} {'s':>7} {'img/s':>7} {'img/s/proc':>10} "
             f"{'RSS builder':>11} {'RSS worker':>10} {'RSS sum':>8} {'disk':>9}"]
    for b in builds:
        worker = f"{b['rss_worker_mib']:.0f} MiB" if b["rss_worker_mib"] else "-"
        lines.append(f"{b['size']:>5} {b['processes']:>5} {b['images']:>6} {b['seconds']:>7.1f} {b['rate']:>7.1f} "
                     f"{b['rate'] / b['processes']:>10.1f} {b['rss_builder_mib']:>7.0f} MiB {worker:>10} "
                     f"{b['rss_total_mib']:>4.0f} MiB {b['disk_bytes'] / 2**20:>5.0f} MiB")
    lines += ["", "training loader (20 epochs of random batches from the cache, page cache warm):",
              f"{'size':>5} {'images':>6} {'s':>6} {'img/s':>8} {'MiB/s':>7} {'RSS':>8}"]
    for x in loaders:
        lines.append(f"{x['size']:>5} {x['images']:>6} {x['seconds']:>6.2f} {x['rate']:>8.0f} "
                     f"{x['rate'] * x['size'] ** 2 / 2**20:>7.0f} {x['rss_mib']:>4.0f} MiB")
    lines += ["", f"extrapolated to {FULL:,} images (linear in the image count; rates as measured above):"]
    for size in sorted({b["size"] for b in builds}):
        full = [b for b in builds if b["size"] == size and b["images"] == tree["images"]]
        per_proc = max(b["rate"] / b["processes"] for b in full)
        loader = next(x for x in loaders if x["size"] == size)
        lines.append(f"  {size} px: cache {FULL * size * size / gib:.2f} GiB on disk (N x {size}² bytes); build "
                     + ", ".join(f"{_hours(FULL / b['rate'])} on {b['processes']} proc" for b in full)
                     + f" as measured; {FULL / per_proc / 3600:.2f} process-hours at the best per-process rate "
                     f"({per_proc:.1f} img/s), the wall time on P processes if each has a core of its own; "
                     f"one loader pass {_hours(FULL / loader['rate'])}")
    lines.append(f"  source tree at this mean PNG size: {FULL * tree['mean_png_bytes'] / gib:.0f} GiB")
    quarter = [b for b in builds if b["images"] < tree["images"]]
    for b in quarter:
        same = next(c for c in builds if (c["size"], c["processes"]) == (b["size"], 1) and c["images"] == tree["images"])
        lines.append(f"  peak RSS, {b['size']} px, 1 proc: {b['rss_builder_mib']:.0f} MiB for {b['images']} images, "
                     f"{same['rss_builder_mib']:.0f} MiB for {same['images']} (pixels held: one chunk of 512 x "
                     f"{b['size']}² bytes = {512 * b['size'] ** 2 / 2**20:.0f} MiB per process; the ids, paths and "
                     "metadata grow with N)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="synthetic images (at least 4)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[299, 331])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=32, help="loader batch (IRv2's paper batch)")
    parser.add_argument("--root", type=Path, help="where to make the work folder (default: the temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the tree and caches")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:  # a child: one measurement, one JSON line
        kind, *rest = args.measure
        result = (measure_build(Path(rest[0]), Path(rest[1]), *map(int, rest[2:])) if kind == "build"
                  else measure_loader(Path(rest[0]), int(rest[1])))
        print(json.dumps(result))
        return
    if args.n < 4:
        parser.error("--n must be at least 4 (a quarter of it is one of the measurements)")
    # Always a folder of our own, so deleting it never touches what --root already held.
    work = Path(tempfile.mkdtemp(prefix="cxrbench-data-scale-", dir=args.root))
    try:
        print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}, Python "
              f"{platform.python_version()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
              f"{time.strftime('%Y-%m-%d %H:%M:%S')}", flush=True)
        tree = write_tree(work / "ChestX-ray14", args.n)
        builds, loaders = [], []
        for size in args.sizes:
            runs = [(1, args.n // 4)] + [(p, tree["images"]) for p in args.processes]
            for processes, images in runs:
                cache_root = work / f"cache-{size}-{processes}-{images}"
                builds.append(_child("build", str(work / "ChestX-ray14"), str(cache_root), str(size),
                                     str(processes), str(images)))
                print(json.dumps(builds[-1]), flush=True)
                if images != tree["images"] or processes != args.processes[-1]:
                    shutil.rmtree(cache_root)
            loaders.append(_child("loader", builds[-1]["directory"], str(args.batch_size)))
            print(json.dumps(loaders[-1]), flush=True)
        print("\n" + report(tree, builds, loaders))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
