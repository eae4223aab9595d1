"""Attack efficiency, measured side by side in one run.

    python benchmarks/attacks.py [--model irv2] [--size 80] [--batch 8] [--steps 10] [--checkpoint PATH]
    # torchattacks is optional: pip install --no-deps torchattacks

(a) PGD overhead: wall time of k PGD iterations divided by k x the model's own forward+backward
    time on the same batch, for this project's iterative L∞ attack (one run at fixed ε),
    Foolbox's ``LinfPGD`` called directly, and torchattacks' ``PGD``.
(b) Minimal-ε search vs a fixed-ε grid at the same resolution: model calls (images through the
    model) per sample of the grow-then-bisect search, of Foolbox 3's ``LinfPGD`` with
    ``epsilons=grid`` (every grid value for every sample) and of an ascending grid that drops a
    sample at its first success, with the minimal ε each finds.
(c) Single pixel: wall time batched vs one candidate per forward (same result checked).

Models are the real timm networks wrapped as the pipeline wraps them: untrained on uniform noise
by default, or a trained checkpoint on phantom images (``--checkpoint``); (b)'s minimal ε, and
so the early-stop grid's cost, depends on the weights.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import foolbox as fb
import numpy as np
import torch
import torch.nn.functional as F

from cxrbench.attacks import PGD, SinglePixelAttack
from cxrbench.attacks.base import AttackStats
from cxrbench.attacks.gradient import _CountedModel
from cxrbench.config import PhantomDataConfig
from cxrbench.data.phantom import PhantomParams, generate
from cxrbench.models import create_model
from cxrbench.training.checkpoint import load_weights


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


def search_vs_grid(fmodel, x, y, steps: int, bisections: int) -> dict[str, float]:
    """Calls per sample to find each sample's minimal ε at one resolution, three ways.

    A grid is fixed before the data is seen: it spans (0, start ε] (further where the search had to
    grow ε) with the search's final bracket width (start ε / 2^bisections) as its step, so all
    three resolve the same minimal ε.
    """
    search = PGD(iterations=steps, binary_search_steps=bisections)
    search(fmodel, x, y, epsilons=None)
    solved = np.flatnonzero(search.stats.attacked & ~np.isnan(search.stats.found))
    if not len(solved):
        raise SystemExit("(b) the search fooled no sample; raise --steps or use another model")
    xs, ys = x[solved], y[solved]
    resolution = search.epsilon / 2**bisections
    top = max(search.epsilon, float(np.nanmax(search.stats.found)))
    grid = np.arange(1, int(np.ceil(top / resolution - 1e-9)) + 1) * resolution

    # Foolbox 3's own way to a minimal ε: every grid value for every sample (epsilons=grid).
    # Each of its model calls takes the whole batch, so calls are calls per sample.
    counted = _CountedModel(fmodel)
    theirs = fb.attacks.LinfPGD(rel_stepsize=search.rel_stepsize, steps=steps, random_start=False)
    _, _, success = theirs(counted, xs, ys, epsilons=[float(e) for e in grid])
    success = success.cpu().numpy()
    found_fb = np.where(success.any(0), grid[success.argmax(0)], np.nan)

    # An ascending grid that drops each sample at its first fooling value (early return too).
    runner = PGD(iterations=steps, rel_stepsize=search.rel_stepsize)
    runner.stats = AttackStats.empty(len(xs))
    found_grid, todo = np.full(len(xs), np.nan), np.arange(len(xs))
    for eps in grid:
        if not len(todo):
            break
        idx = torch.as_tensor(todo)
        _, fooled = runner.run_at(fmodel, xs[idx], ys[idx], torch.full((len(todo),), eps), todo)
        found_grid[todo[fooled.numpy()]] = eps
        todo = todo[~fooled.numpy()]

    calls = {"search": search.stats.queries[solved].mean(), "grid, foolbox epsilons=grid": counted.calls,
             "grid, stop at first success": runner.stats.queries.mean()}
    out = {f"calls per sample, {k}": v for k, v in calls.items()}
    out.update({f"ratio {k} / search": v / calls["search"] for k, v in calls.items() if k != "search"})
    out.update({"grid points": len(grid), "resolution": resolution, "samples": len(xs),
                "median minimal eps, search": float(np.median(search.stats.found[solved])),
                "median minimal eps, foolbox grid": float(np.nanmedian(found_fb)),
                "median minimal eps, early-stop grid": float(np.nanmedian(found_grid)),
                "max |search - foolbox grid| / resolution":
                    float(np.nanmax(np.abs(search.stats.found[solved] - found_fb)) / resolution)})
    return out


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
    parser.add_argument("--bisections", type=int, default=5, help="(b) the search's bisections (quick profile: 5)")
    parser.add_argument("--checkpoint", default=None,
                        help="trained weights (e.g. results/checkpoints/<variant>/best.pt); phantom images then")
    parser.add_argument("--max-pixels", type=int, default=64)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = create_model(args.model, args.pooling, input_size=args.size).eval()
    if args.checkpoint:  # a trained quick model on phantom test-stream images: realistic minimal ε
        load_weights(model, Path(args.checkpoint))
        params = PhantomParams(lesion_contrast=PhantomDataConfig.lesion_contrast)
        x = torch.stack([torch.from_numpy(generate(2, i, args.size, params).image)[None] for i in range(args.batch)])
    else:
        x = torch.rand(args.batch, 1, args.size, args.size)
    fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0))
    with torch.no_grad():
        y = model(x).argmax(1)  # the model's own labels: every sample starts correctly classified
    print(f"{args.model}/{args.pooling} at {args.size}px, batch {args.batch}, {torch.get_num_threads()} threads")
    print(f"(a) PGD wall time / ({args.steps} x forward+backward):")
    for name, ratio in overhead(model, fmodel, x, y, args.steps, args.eps).items():
        print(f"    {name:18s} {ratio:6.3f}")
    print(f"(b) minimal-eps search ({args.bisections} bisections) vs one fixed-eps PGD per grid value:")
    for name, value in search_vs_grid(fmodel, x, y, args.steps, args.bisections).items():
        print(f"    {name:42s} {value:10.4f}")
    print(f"(c) single pixel, {args.max_pixels} pixels:")
    for name, value in single_pixel(fmodel, x, y, args.max_pixels).items():
        print(f"    {name:24s} {value}")


if __name__ == "__main__":
    main()
