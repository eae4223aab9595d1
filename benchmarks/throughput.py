"""Images per second of each network on this machine: the rates a plan (``plan_only=true``) prices work with.

    python benchmarks/throughput.py                                  # irv2 and nasnet at the quick size (80 px)
    python benchmarks/throughput.py --sizes 299,331 --batch 8        # the paper's sizes
    python benchmarks/throughput.py --models nasnet --sizes 331 --out results/throughput.json

Each network (randomly initialised, wrapped as the pipeline wraps it) runs ``--repeats`` timed
training-like forward+backward passes and forward-only passes of one batch, after one untimed
warm-up of each; the rates go into ``--out`` (default ``results/throughput.json``, which a plan
reads unless ``throughput=<file>`` names another), merged with the entries already there for
the same device. On a shared machine the rates are what this machine gives *now*: run it when
the machine is as busy as the experiment will find it (``--threads`` to pin torch's threads).
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from cxrbench.io import atomic_write_json
from cxrbench.kit.throughput import measure_network, network_name
from cxrbench.runtime import resolve_runtime


def device_name(runtime) -> str:
    if runtime.device.type == "cuda":
        return f"{torch.cuda.get_device_name(runtime.device)} (AMP, channels_last)"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="irv2,nasnet")
    parser.add_argument("--sizes", default="80", help="input sizes in pixels, comma-separated")
    parser.add_argument("--pooling", default="max")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="results/throughput.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runtime = resolve_runtime(args.device)
    device = device_name(runtime)
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    networks = previous.get("networks", {}) if previous.get("device") == device else {}
    print(f"{'network':<14} {'batch':>5} {'fwd+bwd img/s':>14} {'fwd img/s':>10} {'ratio':>6}")
    for model in args.models.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            rates = measure_network(model, args.pooling, size, runtime, batch=args.batch, repeats=args.repeats)
            name = network_name(model, size)
            networks[name] = {**rates, "batch": args.batch}
            print(f"{name:<14} {args.batch:>5} {rates['backward']:>14.1f} {rates['forward']:>10.1f} "
                  f"{rates['forward'] / rates['backward']:>6.2f}")
    atomic_write_json(out, {"device": device, "kind": "measured", "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            "networks": networks})
    print(f"rates -> {out}")


if __name__ == "__main__":
    main()
