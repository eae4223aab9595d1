"""Loader throughput: the uint8 preprocessing cache vs decoding and resizing PNGs every epoch.

    python benchmarks/loader.py [--n 64] [--source-size 1024] [--size 80] [--epochs 3]

Writes ``n`` generated 1024x1024 8-bit PNGs (phantom radiographs, so the compression is
realistic) to a temporary folder, then measures, side by side in one run:

* ``png``: every epoch decodes each PNG and resizes it (what a loader without a cache does);
* ``cache``: the first pass builds the memmap cache once, later epochs read batches from it.

Prints images/s for each and their ratio. Both paths return the same pixels (checked).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cxrbench.data.cache import build_cache, to_uint8
from cxrbench.data.datasets import CachedImageDataset
from cxrbench.data.nih import load_image
from cxrbench.data.phantom import generate


def _write_pngs(folder: Path, n: int, size: int) -> list[Path]:
    paths = []
    for i in range(n):
        path = folder / f"{i:08d}_000.png"
        Image.fromarray(to_uint8(generate(0, i, size).image)).save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="number of generated PNGs")
    parser.add_argument("--source-size", type=int, default=1024, help="side of the generated PNGs")
    parser.add_argument("--size", type=int, default=80, help="model input size (cache size)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        paths = _write_pngs(tmp, args.n, args.source_size)
        print(f"wrote {args.n} PNGs of {args.source_size}px in {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        for _ in range(args.epochs):
            png = np.stack([load_image(p, args.size) for p in paths])
        png_rate = args.n * args.epochs / (time.perf_counter() - t)

        t = time.perf_counter()
        cache = build_cache(tmp / "cache", {"source": "bench"}, [p.stem for p in paths], args.size,
                            lambda row: load_image(paths[row], args.size), progress=False)
        build_seconds = time.perf_counter() - t
        dataset = CachedImageDataset(cache, np.zeros(args.n), np.zeros((args.n, 14)))
        t = time.perf_counter()
        for _ in range(args.epochs):
            for start in range(0, args.n, args.batch_size):
                x, _ = dataset.batch(np.arange(start, min(start + args.batch_size, args.n)))
        cached_rate = args.n * args.epochs / (time.perf_counter() - t)
        first_and_rest = args.n * args.epochs / (build_seconds + args.n * (args.epochs - 1) / cached_rate)

        same = np.array_equal(np.asarray(cache.images), png)
        print(f"png decode+resize every epoch : {png_rate:10.1f} img/s")
        print(f"cache build (first epoch)     : {args.n / build_seconds:10.1f} img/s")
        print(f"cache read (later epochs)     : {cached_rate:10.1f} img/s")
        print(f"ratio cache read / png        : {cached_rate / png_rate:10.1f}x")
        print(f"ratio over {args.epochs} epochs incl. build: {first_and_rest / png_rate:10.1f}x")
        print(f"identical pixels              : {same}")


if __name__ == "__main__":
    main()
