"""How fast each network runs on a machine: measured here, or stated for the machine a run will go to.

A plan turns its work into image passes through each network (forward-and-backward for training
steps and attack gradients, forward only for validation, queries and evaluation) and divides them
by these rates. The rates come from a file: ``benchmarks/throughput.py`` measures them on the
current machine and writes ``results/throughput.json``; for a target GPU, write the same file
with its figures (``docs/cluster.md``: sizing a run)::

    {"device": "1x A100-80GB", "kind": "stated",
     "networks": {"nasnet@331": {"backward": 180.0, "forward": 600.0},
                  "irv2@299": {"backward": 420.0, "forward": 1400.0}}}

Rates are images per second. A network measured at another input size is scaled by the pixel
count (a convolutional network's work grows with it), and the plan says so.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from cxrbench.errors import ConfigError
from cxrbench.io import read_json
from cxrbench.models.factory import create_model
from cxrbench.runtime import Runtime

DIRECTIONS = ("backward", "forward")


def network_name(model: str, input_size: int) -> str:
    """How a rate file names a network at one input size: ``nasnet@331``."""
    return f"{model}@{input_size}"


@dataclass(frozen=True)
class Throughput:
    """Images per second of each network, forward-and-backward and forward only, on one device."""

    device: str
    networks: dict[str, dict[str, float]] = field(default_factory=dict)
    kind: str = "measured"   # measured (benchmarks/throughput.py) | stated (figures given for a target)
    source: str = ""

    def rate(self, network: str, direction: str) -> tuple[float, str] | None:
        """Images/s of ``network`` (``model@size``) in ``direction``, and how it was obtained; None: no figure.

        An exact entry is used as it is; else the same model's entry of the nearest size, scaled by
        the ratio of pixel counts.
        """
        if network in self.networks and direction in self.networks[network]:
            return float(self.networks[network][direction]), self.kind
        model, size = network.rsplit("@", 1)
        same = [(abs(int(n.rsplit("@", 1)[1]) - int(size)), n) for n in self.networks
                if n.rsplit("@", 1)[0] == model and direction in self.networks[n]]
        if not same:
            return None
        _, nearest = min(same)
        known = int(nearest.rsplit("@", 1)[1])
        return self.networks[nearest][direction] * (known / int(size)) ** 2, f"scaled from {nearest}"


def load_throughput(path: Path) -> Throughput:
    """Read a rate file (the format above).

    Raises:
        ConfigError: the file is missing, unreadable or not in the format, naming what to fix.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"throughput file {path} does not exist; measure this machine with python "
                          "benchmarks/throughput.py, or write the target's figures there (docs/cluster.md)")
    raw = read_json(path, "throughput file", "write it as docs/cluster.md shows, or measure with "
                                             "python benchmarks/throughput.py")
    networks = raw.get("networks") if isinstance(raw, dict) else None
    if not isinstance(networks, dict) or not isinstance(raw.get("device"), str):
        raise ConfigError(f"throughput file {path} needs a 'device' string and a 'networks' mapping of "
                          "'<model>@<size>' to {'backward': images/s, 'forward': images/s}")
    for name, rates in networks.items():
        if "@" not in name or not isinstance(rates, dict) or not all(
                isinstance(rates.get(d), (int, float)) and rates[d] > 0 for d in DIRECTIONS if d in rates):
            raise ConfigError(f"throughput file {path}: entry {name!r} must be '<model>@<size>' with positive "
                              f"images/s under 'backward' and/or 'forward', got {rates!r}")
    kind = raw.get("kind", "measured")
    if kind not in ("measured", "stated"):
        raise ConfigError(f"throughput file {path}: 'kind' is measured or stated, got {kind!r}")
    return Throughput(raw["device"], {k: dict(v) for k, v in networks.items()}, kind, str(path))


def measure_network(model: str, pooling: str, input_size: int, runtime: Runtime, *, channels: int = 1,
                    batch: int = 16, repeats: int = 3) -> dict[str, float]:
    """Images/s of one randomly initialised network: a training-like forward+backward, and forward alone.

    One untimed warm-up pass of each kind comes first (allocator, cuDNN autotuning).
    """
    net = runtime.prepare(create_model(model, pooling, input_size=input_size, channels=channels))
    x = torch.rand(batch, 1, input_size, input_size, device=runtime.device)
    y = torch.randint(0, 2, (batch,), device=runtime.device)
    rates = {}
    for direction in DIRECTIONS:
        net.train(direction == "backward")
        timings = []
        for i in range(repeats + 1):
            _sync(runtime)
            start = time.perf_counter()
            with runtime.autocast(), torch.set_grad_enabled(direction == "backward"):
                loss = torch.nn.functional.cross_entropy(net(x), y)
            if direction == "backward":
                loss.backward()
                net.zero_grad(set_to_none=True)
            _sync(runtime)
            if i:
                timings.append(time.perf_counter() - start)
        rates[direction] = batch / (sum(timings) / len(timings))
    return rates


def _sync(runtime: Runtime) -> None:
    if runtime.device.type == "cuda":
        torch.cuda.synchronize(runtime.device)


def price(loads, throughput: Throughput | None) -> tuple[float | None, set[str]]:
    """Seconds the image passes ``loads`` take at ``throughput``, and how the rates were obtained.

    None when a network has no rate (no throughput file, or no entry for that model at any size).
    """
    if throughput is None:
        return None, set()
    seconds, bases = 0.0, set()
    for load in loads:
        for direction in DIRECTIONS:
            passes = getattr(load, direction)
            if not passes:
                continue
            found = throughput.rate(load.network, direction)
            if found is None:
                return None, {f"no rate for {load.network}"}
            rate, basis = found
            seconds += passes / rate
            if basis.startswith("scaled"):
                bases.add(f"{load.network} {direction} {basis}")
    return seconds, bases
