"""Attack efficiency, measured side by side in one run.

    python benchmarks/attacks.py [--model irv2] [--size 80] [--batch 8] [--steps 10]
    # torchattacks is optional: pip install --no-deps torchattacks

(a) PGD overhead: wall time of k PGD iterations divided by k x the model's own forward+backward
    time on the same batch, for this project's iterative L∞ attack (one run at fixed ε),
    Foolbox's ``LinfPGD`` called directly, and torchattacks' ``PGD``.
(b) Minimal-ε search vs a fixed-ε grid: model calls (images through the model) per sample of
    the grow-then-bisect search against running one fixed-ε PGD per grid value until the first
    success, with the minimal ε each finds.
(c) Single pixel: wall time batched vs one candidate per forward (same result checked).

Models are the real timm networks, untrained (efficiency does not depend on the weights),
wrapped as the pipeline wraps them.
"""
from __future__ import annotations

import argparse
import time

import foolbox as fb
import numpy as np
import torch
import torch.nn.functional as F

from cxrbench.attacks import PGD, SinglePixelAttack
from cxrbench.attacks.base import AttackStats
from cxrbench.models import create_model


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def overhead(model, fmodel, x, y, steps: int, eps: float) -> dict[str, float]:
    def forward_backward():
        for _ in range(steps):
            xr = x.clone().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(model(xr), y), xr)

    forward_backward()  # warm-up
    base = _timed(forward_backward)
    # Ours: one full fixed-ε run, all k steps for every sample, as the other two do.
    ours = PGD(iterations=steps, rel_stepsize=0.01 / 0.3, return_early=False)
    ours.stats = AttackStats.empty(len(x))
    out = {"this project": _timed(lambda: ours.run_at(fmodel, x, y, torch.full((len(x),), eps),
                                                      np.arange(len(x)))) / base}
    theirs = fb.attacks.LinfPGD(rel_stepsize=0.01 / 0.3, steps=steps, random_start=False)
    out["foolbox LinfPGD"] = _timed(lambda: theirs(fmodel, x, y, epsilons=eps)) / base
    try:
        import torchattacks

        ta = torchattacks.PGD(model, eps=eps, alpha=eps / 30, steps=steps, random_start=False)
        out["torchattacks PGD"] = _timed(lambda: ta(x, y)) / base
    except ImportError:
        out["torchattacks PGD"] = float("nan")
    return out


def search_vs_grid(fmodel, x, y, steps: int, grid_points: int) -> dict[str, float]:
    search = PGD(iterations=steps, binary_search_steps=10)
    search(fmodel, x, y, epsilons=None)
    calls_search = search.stats.queries[search.stats.attacked].mean()
    grid = np.linspace(0, 1, grid_points + 1)[1:]
    resolution = grid[1] - grid[0]
    runner = PGD(iterations=steps)
    runner.stats = AttackStats.empty(len(x))
    found = np.full(len(x), np.nan)
    todo = np.flatnonzero(search.stats.attacked)
    for eps in grid:  # one fixed-ε run per grid value, only on samples not yet fooled
        if not len(todo):
            break
        idx = torch.as_tensor(todo)
        _, fooled = runner.run_at(fmodel, x[idx], y[idx], torch.full((len(todo),), eps), todo)
        found[todo[fooled.numpy()]] = eps
        todo = todo[~fooled.numpy()]
    calls_grid = runner.stats.queries[search.stats.attacked].mean()
    both = search.stats.attacked & ~np.isnan(found) & ~np.isnan(search.stats.found)
    return {"calls per sample, search": calls_search, "calls per sample, grid": calls_grid,
            "ratio grid/search": calls_grid / calls_search,
            "median minimal eps, search": float(np.median(search.stats.found[both])),
            "median minimal eps, grid": float(np.median(found[both])), "grid resolution": resolution}


def single_pixel(fmodel, x, y, max_pixels: int) -> dict[str, float]:
    batched = SinglePixelAttack(max_pixels=max_pixels, batch_size=256)
    single = SinglePixelAttack(max_pixels=max_pixels, batch_size=1)
    results = {}
    t_batched = _timed(lambda: results.setdefault("b", batched(fmodel, x, y, epsilons=None)[0]))
    t_single = _timed(lambda: results.setdefault("s", single(fmodel, x, y, epsilons=None)[0]))
    return {"seconds batched": t_batched, "seconds one per forward": t_single,
            "speed-up": t_single / t_batched, "same result": bool(torch.equal(results["b"], results["s"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="irv2")
    parser.add_argument("--pooling", default="max")
    parser.add_argument("--size", type=int, default=80)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="PGD iterations k")
    parser.add_argument("--eps", type=float, default=0.02)
    parser.add_argument("--grid-points", type=int, default=100)
    parser.add_argument("--max-pixels", type=int, default=64)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = create_model(args.model, args.pooling, input_size=args.size).eval()
    fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0))
    x = torch.rand(args.batch, 1, args.size, args.size)
    with torch.no_grad():
        y = model(x).argmax(1)  # the model's own labels: every sample starts correctly classified
    print(f"{args.model}/{args.pooling} at {args.size}px, batch {args.batch}, {torch.get_num_threads()} threads")
    print(f"(a) PGD wall time / ({args.steps} x forward+backward):")
    for name, ratio in overhead(model, fmodel, x, y, args.steps, args.eps).items():
        print(f"    {name:18s} {ratio:6.3f}")
    print(f"(b) minimal-eps search vs one fixed-eps PGD per grid value ({args.grid_points} points):")
    for name, value in search_vs_grid(fmodel, x, y, args.steps, args.grid_points).items():
        print(f"    {name:28s} {value:10.4f}")
    print(f"(c) single pixel, {args.max_pixels} pixels:")
    for name, value in single_pixel(fmodel, x, y, args.max_pixels).items():
        print(f"    {name:24s} {value}")


if __name__ == "__main__":
    main()
