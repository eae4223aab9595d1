"""Training throughput of the four variants at the quick recipe's size, side by side.

    python benchmarks/train_speed.py [--size 80] [--batch-size 16] [--steps 6] [--warmup 2]
    python benchmarks/train_speed.py --adversarial-steps 3 --models irv2 --poolings max

One forward + backward + AdamW step per batch on random [0, 1] images, on the device the
pipeline would pick (CUDA with AMP and channels_last when present, CPU otherwise). Prints
train images/s for irv2/nasnet x max/avg and the ratios against IRv2 with max pooling. With
``--adversarial-steps k`` each variant is also trained as ``train=adversarial`` does (the batch
replaced by its k-step PGD adversarial, the training loop's own batch adversary) and the ratio
standard ÷ adversarial time per step is printed: the cost factor of adversarial training.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from cxrbench.models import create_model, list_models
from cxrbench.runtime import resolve_runtime
from cxrbench.training.adversarial import AdversaryConfig, build_batch_adversary


def images_per_second(name: str, pooling: str, size: int, batch_size: int, steps: int, warmup: int,
                      device: str, adversary: AdversaryConfig = AdversaryConfig()) -> float:
    runtime = resolve_runtime(device)
    torch.manual_seed(0)
    model = runtime.prepare(create_model(name, pooling, input_size=size)).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = runtime.batch(torch.rand(batch_size, 1, size, size))
    y = torch.randint(0, 2, (batch_size,), device=runtime.device)
    scaler = torch.amp.GradScaler("cuda", enabled=runtime.amp)
    perturb = build_batch_adversary(adversary, seed=0)
    for i in range(warmup + steps):
        if i == warmup:
            if runtime.device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with runtime.autocast():
            loss = F.cross_entropy(model(perturb(model, x, y, i)), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    if runtime.device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=80, help="input size (train=quick uses 80)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", nargs="+", default=list_models())
    parser.add_argument("--poolings", nargs="+", default=["max", "avg"])
    parser.add_argument("--adversarial-steps", type=int, default=0,
                        help="also time PGD adversarial training with this many steps (0: not)")
    args = parser.parse_args()

    rates, adversarial = {}, {}
    pgd = AdversaryConfig(method="pgd", steps=max(args.adversarial_steps, 1))
    for name in args.models:
        for pooling in args.poolings:
            rates[name, pooling] = images_per_second(name, pooling, args.size, args.batch_size, args.steps,
                                                     args.warmup, args.device)
            if args.adversarial_steps:
                adversarial[name, pooling] = images_per_second(name, pooling, args.size, args.batch_size,
                                                               args.steps, args.warmup, args.device, pgd)
    base = next(iter(rates.values()))
    print(f"train throughput at {args.size}px, batch {args.batch_size}, {torch.get_num_threads()} threads, "
          f"device {resolve_runtime(args.device).device}")
    for (name, pooling), rate in rates.items():
        print(f"  {name:7s} {pooling}: {rate:7.1f} img/s   ratio vs {'/'.join(next(iter(rates)))} {rate / base:5.2f}")
        if (name, pooling) in adversarial:
            slow = adversarial[name, pooling]
            print(f"  {name:7s} {pooling} PGD-AT ({args.adversarial_steps} steps): {slow:7.1f} img/s   "
                  f"time per step x{rate / slow:.2f} of standard training")


if __name__ == "__main__":
    main()
