"""Attack efficiency, measured side by side in one run.

    python benchmarks/attacks.py [--model irv2] [--size 80] [--batch 8] [--steps 10] [--checkpoint PATH]
    python benchmarks/attacks.py --checkpoint PATH --sections d [--images 8] [--attacks fgsm,pgd]
        [--images-for lbfgs=2,local_search=4] [--out results/bench/attack_cost.csv]
    # torchattacks is optional: pip install --no-deps torchattacks

(a) PGD overhead: wall time of k PGD iterations divided by k x the model's own forward+backward
    time on the same batch, for this project's iterative L∞ attack (one run at fixed ε),
    Foolbox's ``LinfPGD`` called directly, and torchattacks' ``PGD``.
(b) Minimal-ε search vs a fixed-ε grid at the same resolution: model calls (images through the
    model) per sample of the grow-then-bisect search, of Foolbox 3's ``LinfPGD`` with
    ``epsilons=grid`` (every grid value for every sample) and of an ascending grid that drops a
    sample at its first success, with the minimal ε each finds.
(c) Single pixel: wall time batched vs one candidate per forward (same result checked).
(d) Per-attack cost (needs ``--checkpoint``): each of the ten registered attacks with its
    ``quick`` profile (configs/attack/<name>.yaml: ``paper`` updated by ``quick``, less
    ``images``) on ``--images`` phantom test images with their true labels. Per image: model calls
    as the attack counts them (``stats.queries``: images forwarded, ``stats.gradients``: input
    gradients), images actually sent through the model (a counting wrapper; line searches and
    single pixel forward candidates past the first hit that ``queries`` leaves out), wall
    seconds, and the model's own per-image time for a forward and for a forward+backward,
    measured right before the attacks at batch 1, 8, 64, 128, 256 (forward) and 1, 8, 64
    (forward+backward) and interpolated (log-linear in the batch size) at the batch the attack's
    images actually travelled in (image-weighted mean over its calls: sum b² / sum b).
    ``ratio`` = wall ÷ ((queries − gradients) × forward + gradients × forward+backward): every
    gradient the attacks count is also counted as a query (one forward+backward pass), so the
    forward is not charged twice (``ratio_literal`` in ``--out`` charges it twice).
    ``ratio(calls)`` prices each call the wrapper saw at its own batch size. About 1: the time
    goes to the model; well above 1: to overhead (SciPy, Python loops, blur, noise draws).
    ``fwd share``: the fraction of wall time spent inside the model's forward, timed in the run
    (robust to contention; backward passes are not in it). On a busy machine pass
    ``--threads 1``: with 2 threads, OpenMP barriers stall whenever another process takes a core.

Models are the real timm networks wrapped as the pipeline wraps them: untrained on uniform noise
by default, or a trained checkpoint (``--checkpoint``; architecture, pooling and input size come
from the checkpoint) on the phantom test set's own images, read through ``PhantomSource.loader``
(uint8, the test set's forced positives) as the pipeline reads them; (b)'s minimal ε, and so the
early-stop grid's cost, depends on the weights.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import inspect
import json
import math
import time
from pathlib import Path

import foolbox as fb
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from omegaconf import OmegaConf

from cxrbench.attacks import PGD, SinglePixelAttack, create_attack, get_attack_spec, list_attacks
from cxrbench.attacks.base import AttackStats, logits_of
from cxrbench.attacks.deepfool import CountedModel
from cxrbench.attacks.gradient import logits_and_gradient
from cxrbench.data.phantom_source import PhantomDataConfig
from cxrbench.data.datasets import stratified_rows
from cxrbench.data.phantom_source import PhantomSource
from cxrbench.errors import ConfigError
from cxrbench.models import create_model
from cxrbench.training.checkpoint import load_weights, read_checkpoint

ATTACK_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "attack"
#: (d) batch sizes at which the model's per-image time is measured before the attacks.
FORWARD_BATCHES = (1, 8, 64, 128, 256)
BACKWARD_BATCHES = (1, 8, 64)


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
    counted = CountedModel(fmodel)
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


def load_checkpoint_model(path: Path) -> nn.Module:
    """The checkpoint's own variant (architecture, pooling, input size, head), weights loaded."""
    identity = read_checkpoint(path)["identity"]
    model = create_model(identity["model"], identity["pooling"], input_size=identity["input_size"],
                         channels=identity["channels"], num_classes=identity["num_classes"])
    load_weights(model, path)  # checks the identity again and loads the state dict
    return model.eval()


def phantom_data_config(checkpoint: Path) -> PhantomDataConfig:
    """``PhantomDataConfig()``, or the phantom data settings recorded next to the checkpoint."""
    recorded = checkpoint.parent / "config.json"
    if recorded.is_file():
        data = json.loads(recorded.read_text()).get("data", {})
        if data.get("source", "phantom") != "phantom":
            raise SystemExit(f"{checkpoint} was trained on {data.get('source')!r} data; "
                             "this benchmark reads the phantom test set only")
        known = {f.name for f in dataclasses.fields(PhantomDataConfig)}
        return PhantomDataConfig(**{k: v for k, v in data.items() if k in known})
    return PhantomDataConfig()


def phantom_test_images(config: PhantomDataConfig, size: int, n: int,
                        seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``n`` test images as the pipeline reads them: uint8 from ``PhantomSource.loader``, / 255.

    The rows are picked as the pipeline picks its attacked subset (``stratified_rows``, seeded,
    keeping the finding prevalence), so positives and negatives both appear.
    """
    source = PhantomSource(config)
    test = list(source.split().test)
    targets = source.table().loc[test, "target"].to_numpy()
    rows = stratified_rows(targets, n, seed)
    ids = [test[r] for r in rows]
    load = source.loader(ids, size)
    x = torch.stack([torch.from_numpy(load(j).astype(np.float32) / 255.0) for j in range(len(ids))])
    if x.dim() == 3:
        x = x[:, None]
    return x, torch.as_tensor(targets[rows], dtype=torch.long), ids


def quick_parameters(name: str, seed: int = 0) -> dict:
    """The attack's ``quick`` profile as the pipeline builds it: ``paper`` updated by ``quick``,
    without ``images``, plus the run seed where the attack takes one."""
    cfg = OmegaConf.load(ATTACK_CONFIGS / f"{name}.yaml")
    params = dict(OmegaConf.to_container(cfg.paper, resolve=True))
    params.update(OmegaConf.to_container(cfg.get("quick") or {}, resolve=True))
    params.pop("images", None)
    if "seed" in inspect.signature(get_attack_spec(name).builder).parameters:
        params.setdefault("seed", seed)
    return params


class CallCounter(nn.Module):
    """Wraps the classifier and records every call: batch size, graph or not, forward seconds."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.reset()

    def reset(self) -> None:
        self.forward_batches: list[int] = []   # calls without a graph (pure forwards)
        self.gradient_batches: list[int] = []  # calls building a graph (a backward follows)
        self.forward_seconds = 0.0             # inside the model's forward, both kinds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        out = self.inner(x)
        self.forward_seconds += time.perf_counter() - start
        (self.gradient_batches if torch.is_grad_enabled() else self.forward_batches).append(len(x))
        return out


def per_call_times(fmodel, x: torch.Tensor, y: torch.Tensor, reps: int) -> dict[str, dict[int, float]]:
    """Seconds per image of a forward and of a forward+backward (the input gradient, as the
    attacks take it) through the same Foolbox model, median of ``reps`` calls per batch size."""
    def batch(b: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = math.ceil(b / len(x))
        return x.repeat(k, 1, 1, 1)[:b].contiguous(), y.repeat(k)[:b]

    def forward(xb, yb):
        with torch.no_grad():
            logits_of(fmodel, xb)

    def forward_backward(xb, yb):
        logits_and_gradient(fmodel, xb, yb)

    xb, yb = batch(8)
    forward(xb, yb)  # warm-up (allocator, first-call paths)
    forward_backward(xb, yb)
    out: dict[str, dict[int, float]] = {"forward": {}, "forward_backward": {}}
    for kind, fn, sizes in (("forward", forward, FORWARD_BATCHES),
                            ("forward_backward", forward_backward, BACKWARD_BATCHES)):
        for b in sizes:
            xb, yb = batch(b)
            out[kind][b] = float(np.median([_timed(lambda: fn(xb, yb)) for _ in range(reps)])) / b
    return out


def per_image_at(times: dict[int, float], b: float) -> float:
    """Per-image time at batch ``b``: log-linear between measured sizes, clamped at the ends."""
    sizes = sorted(times)
    return float(np.interp(math.log(max(b, 1.0)), [math.log(s) for s in sizes], [times[s] for s in sizes]))


def attack_cost(fmodel_of, counter: CallCounter, x: torch.Tensor, y: torch.Tensor,
                times: dict[str, dict[int, float]], names: list[str],
                images_for: dict[str, int], done=None) -> list[dict]:
    """Run each attack with its quick profile; one row of cost figures per attack.

    ``done(rows)`` is called after each attack, so a run cut short keeps what it measured.
    """
    rows = []
    for name in names:
        spec = get_attack_spec(name)
        params = quick_parameters(name)
        n = min(images_for.get(name, len(x)), len(x))
        attack = create_attack(name, **params)
        counter.reset()
        torch.manual_seed(0)
        wall = _timed(lambda: attack(fmodel_of, x[:n], y[:n], epsilons=None))
        stats = attack.stats
        q, g = float(stats.queries.mean()), float(stats.gradients.mean())
        fwd_calls, grad_calls = counter.forward_batches, counter.gradient_batches
        # The batch a forwarded image typically travelled in (image-weighted mean: sum b^2 / sum b).
        fwd_b = float(np.sum(np.square(fwd_calls)) / np.sum(fwd_calls)) if fwd_calls else float("nan")
        grad_b = float(np.sum(np.square(grad_calls)) / np.sum(grad_calls)) if grad_calls else float("nan")
        t_fwd = per_image_at(times["forward"], fwd_b if fwd_calls else 1)
        t_fb = per_image_at(times["forward_backward"], grad_b if grad_calls else 1)
        model_s = ((q - g) * t_fwd + g * t_fb) * n           # what the counted calls should cost
        calls_s = (sum(b * per_image_at(times["forward"], b) for b in fwd_calls)
                   + sum(b * per_image_at(times["forward_backward"], b) for b in grad_calls))
        rows.append({
            "id": spec.paper_id, "attack": name, "title": spec.title, "images": n,
            "attacked": int(stats.attacked.sum()), "fooled": int((~np.isnan(stats.found)).sum()),
            "queries_per_image": q, "gradients_per_image": g,
            "forwarded_per_image": (sum(fwd_calls) + sum(grad_calls)) / n,
            "graph_calls_per_image": sum(grad_calls) / n,
            "model_calls": len(fwd_calls) + len(grad_calls),
            "seconds_per_image": wall / n, "wall_seconds": wall,
            "forward_batch": fwd_b, "forward_s_per_image": t_fwd,
            "gradient_batch": grad_b, "forward_backward_s_per_image": t_fb,
            "ratio": wall / model_s if model_s > 0 else float("nan"),
            "ratio_literal": wall / ((q * t_fwd + g * t_fb) * n) if q + g > 0 else float("nan"),
            "ratio_calls": wall / calls_s if calls_s > 0 else float("nan"),
            "forward_share": counter.forward_seconds / wall,
            "params": params,
        })
        if done is not None:
            done(rows)
    return rows


def print_cost_table(rows: list[dict], *, header: bool = True) -> None:
    if header:
        print_cost_header()
    for r in rows:
        print_cost_row(r)


def print_cost_header() -> None:
    head = (f"    {'id':3s} {'attack':19s} {'fooled':>6s} {'queries':>8s} {'grads':>7s} {'fwd img':>8s} {'s/img':>8s} "
            f"{'fwd b':>6s} {'fwd s/img':>9s} {'fb b':>5s} {'fb s/img':>9s} {'ratio':>6s} {'r(calls)':>8s} "
            f"{'fwd share':>9s}")
    print(head)
    print("    " + "-" * (len(head) - 4), flush=True)


def print_cost_row(r: dict) -> None:
    # A dash: the attack made no call of that kind (its per-image time is not used).
    gb, gt = (("-", "-") if math.isnan(r["gradient_batch"]) else
              (f"{r['gradient_batch']:.0f}", f"{r['forward_backward_s_per_image']:.4f}"))
    fb_, ft = (("-", "-") if math.isnan(r["forward_batch"]) else
               (f"{r['forward_batch']:.0f}", f"{r['forward_s_per_image']:.4f}"))
    fooled = f"{r['fooled']}/{r['images']}"
    print(f"    {r['id']:3s} {r['attack']:19s} {fooled:>6s} {r['queries_per_image']:8.1f} "
          f"{r['gradients_per_image']:7.1f} {r['forwarded_per_image']:8.1f} {r['seconds_per_image']:8.3f} "
          f"{fb_:>6s} {ft:>9s} {gb:>5s} {gt:>9s} "
          f"{r['ratio']:6.2f} {r['ratio_calls']:8.2f} {r['forward_share']:9.2f}")


def write_cost(path: Path, rows: list[dict], meta: dict) -> list[Path]:
    """``.csv`` / ``.json`` by suffix; any other (or no) suffix writes both."""
    path = Path(path)
    targets = [path] if path.suffix in (".csv", ".json") else [path.with_suffix(".csv"), path.with_suffix(".json")]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".json":
            target.write_text(json.dumps({**meta, "attacks": rows}, indent=2, default=str) + "\n")
        else:
            with target.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=[k for k in rows[0] if k != "params"] + ["params"])
                writer.writeheader()
                for r in rows:
                    writer.writerow({**r, "params": json.dumps(r["params"], sort_keys=True)})
    return targets


def _names(value: str | None) -> list[str]:
    if not value:
        return list_attacks()
    names = [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        get_attack_spec(name)  # unknown names list the valid ones
    return names


def _images_for(value: str | None) -> dict[str, int]:
    out = {}
    for item in (value or "").split(","):
        if item.strip():
            name, _, n = item.partition("=")
            get_attack_spec(name.strip())
            out[name.strip()] = int(n)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="irv2", help="without --checkpoint (the checkpoint names its own)")
    parser.add_argument("--pooling", default="max", help="without --checkpoint")
    parser.add_argument("--size", type=int, default=80, help="without --checkpoint (it gives the input size)")
    parser.add_argument("--batch", type=int, default=8, help="(a)-(c) images")
    parser.add_argument("--steps", type=int, default=10, help="PGD iterations k")
    parser.add_argument("--eps", type=float, default=0.02)
    parser.add_argument("--bisections", type=int, default=5, help="(b) the search's bisections (quick profile: 5)")
    parser.add_argument("--checkpoint", default=None,
                        help="trained weights (e.g. results/checkpoints/<variant>/best.pt); phantom test images then")
    parser.add_argument("--max-pixels", type=int, default=64)
    parser.add_argument("--sections", default=None,
                        help="comma-separated subset of a,b,c,d (default: a,b,c, plus d with --checkpoint)")
    parser.add_argument("--images", type=int, default=8, help="(d) test images per attack")
    parser.add_argument("--images-for", default=None,
                        help="(d) fewer images for some attacks, e.g. lbfgs=2,local_search=4 (the first of --images)")
    parser.add_argument("--attacks", default=None, help="(d) comma-separated attack names (default: all ten)")
    parser.add_argument("--timing-reps", type=int, default=3, help="(d) timed calls per batch size (median)")
    parser.add_argument("--out", default=None, help="(d) write the table: .csv, .json, or both for another suffix")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's); 1 keeps timings stable on a busy machine, where "
                             "OpenMP barriers of 2+ threads stall whenever another process takes a core")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sections = set((args.sections or ("a,b,c,d" if args.checkpoint else "a,b,c")).replace(" ", "").split(","))
    if sections - set("abcd") or not sections:
        parser.error(f"--sections takes a comma-separated subset of a,b,c,d, got {args.sections!r}")
    if "d" in sections and not args.checkpoint:
        parser.error("section d needs --checkpoint (a trained model; untrained ones make the searches meaningless)")
    try:
        names, images_for = _names(args.attacks), _images_for(args.images_for)
    except (ConfigError, ValueError) as exc:
        parser.error(str(exc))

    torch.manual_seed(0)
    data_config = None
    if args.checkpoint:  # a trained quick model on the phantom test set's own images: realistic minimal ε
        checkpoint = Path(args.checkpoint)
        model = load_checkpoint_model(checkpoint)
        identity = model.identity
        size = identity.input_size
        data_config = phantom_data_config(checkpoint)
        x, _, _ = phantom_test_images(data_config, size, args.batch)
        label = f"{identity.model}/{identity.pooling} at {size}px from {checkpoint}"
    else:
        model = create_model(args.model, args.pooling, input_size=args.size).eval()
        x = torch.rand(args.batch, 1, args.size, args.size)
        label = f"{args.model}/{args.pooling} at {args.size}px (untrained)"
    fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0))
    print(f"{label}, {torch.get_num_threads()} threads, sections {','.join(sorted(sections))}")
    if sections & set("abc"):
        with torch.no_grad():
            y = model(x).argmax(1)  # the model's own labels: every sample starts correctly classified
        print(f"(a)-(c) on {len(x)} images")
    if "a" in sections:
        print(f"(a) PGD wall time / ({args.steps} x forward+backward):")
        for name, ratio in overhead(model, fmodel, x, y, args.steps, args.eps).items():
            print(f"    {name:18s} {ratio:6.3f}")
    if "b" in sections:
        print(f"(b) minimal-eps search ({args.bisections} bisections) vs one fixed-eps PGD per grid value:")
        for name, value in search_vs_grid(fmodel, x, y, args.steps, args.bisections).items():
            print(f"    {name:42s} {value:10.4f}")
    if "c" in sections:
        print(f"(c) single pixel, {args.max_pixels} pixels:")
        for name, value in single_pixel(fmodel, x, y, args.max_pixels).items():
            print(f"    {name:24s} {value}")
    if "d" in sections:
        started = time.perf_counter()
        xd, yd, ids = phantom_test_images(data_config, model.identity.input_size, args.images)
        with torch.no_grad():
            correct = (model(xd).argmax(1) == yd).sum().item()
        print(f"(d) per-attack cost, quick profiles, {len(xd)} phantom test images (true labels: "
              f"{int(yd.sum())} with a finding; model right on {correct}): {ids[0]} ... {ids[-1]}")
        times = per_call_times(fmodel, xd, yd, args.timing_reps)
        print(f"    model time per image (median of {args.timing_reps} calls per batch size, "
              f"measured before the attacks; images loaded and timed in {time.perf_counter() - started:.0f} s):")
        for kind, per in times.items():
            print(f"      {kind:17s} " + "  ".join(f"b{b}: {t:.4f}" for b, t in per.items()))
        counter = CallCounter(model).eval()
        counted = fb.PyTorchModel(counter, bounds=(0.0, 1.0))
        print("    per image: queries / grads as the attack counts them (stats), 'fwd img' images actually sent "
              "through the model;")
        print("    'fwd b' / 'fb b' the batch its forwarded / differentiated images travelled in (image-weighted "
              "mean over its calls),")
        print("    at which the per-image times 'fwd s/img' / 'fb s/img' are read (log-linear between measured "
              "batch sizes);")
        print("    ratio = wall / ((queries - grads) x fwd + grads x fb); r(calls) prices each actual call at its "
              "own batch;")
        print("    fwd share = time inside the model's forward (timed in the run) / wall; fooled = images fooled / "
              "images run.")
        print_cost_header()
        meta = {"model": model.identity.as_dict(), "checkpoint": str(args.checkpoint), "image_ids": ids,
                "threads": torch.get_num_threads(), "timing_reps": args.timing_reps,
                "per_image_seconds": {k: {str(b): t for b, t in v.items()} for k, v in times.items()}}

        def done(rows: list[dict]) -> None:
            print_cost_row(rows[-1])
            if args.out:  # rewritten after every attack: a run cut short keeps what it measured
                write_cost(Path(args.out), rows, meta)

        attack_cost(counted, counter, xd, yd, times, names, images_for, done)
        print(f"    (d) took {time.perf_counter() - started:.0f} s" + (f"; table in {args.out}" if args.out else ""))


if __name__ == "__main__":
    main()
