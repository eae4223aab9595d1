"""One experiment end to end: train, attack, tabulate, plot.

``scripts/run.py experiment=quick`` walks the experiment's grid (every attack × pooling,
crafted on every model of ``grid.models`` and tested on every one) through :func:`cxrbench.protocols.paper.attack.run_attack`, the code path of
``scripts/run.py attack=<a> pooling=<p>``, so this command, single runs and multirun sweep jobs
share one store of trained models and crafted adversarials. Whatever is finished is reused: a
killed run started again picks up at the first unfinished chunk of the first unfinished cell.
Tables and figures are then rendered from the records alone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm.auto import tqdm

from cxrbench.errors import ConfigError
from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import RunConfig, peer_config, validate
from cxrbench.kit.pipeline import resolve_paths
from cxrbench.protocols.paper.attack import run_attack
from cxrbench.protocols.paper.render import render_all
from cxrbench.protocols.paper.transfer import render_transfer


@dataclass
class Cell:
    """One (seed, pooling, attack) of the grid: every model, white-box and black-box."""

    seed: int
    pooling: str
    attack: str
    cfg: RunConfig
    peers: list[RunConfig]


@dataclass
class ReproduceReport:
    """What a reproduce run did and where its outputs are."""

    results: Path = Path("results")
    cells: int = 0
    crafted: int = 0                 # adversarial sets crafted in this run
    crafted_reused: int = 0          # ...and found finished on disk
    seeds: list[int] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    seed_seconds: dict[int, float] = field(default_factory=dict)  # wall time of each seed's cells
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def _is_attack_override(line: str) -> bool:
    return line.lstrip("+~").split("=", 1)[0].split(".", 1)[0] == "attack"


def plan(overrides: list[str], config_dir: Path) -> tuple[RunConfig, list[Cell]]:
    """Compose and validate every cell's config before any work starts.

    ``attack.*`` overrides (``attack.quick.images=50``) apply to every attack of the grid. With
    ``seeds=[0,1,2]`` the whole grid runs once per seed (each seed trains its own models), seed by
    seed, so a finished seed's tables are complete before the next one starts.
    """
    if any(line.lstrip("+~").startswith("attack=") for line in overrides):
        raise ConfigError("reproduce runs the attacks of the experiment's grid; choose them with "
                          "grid.attacks=[pgd,fgsm] instead of attack=")
    base = validate(compose_raw([o for o in overrides if not _is_attack_override(o)], config_dir))
    models = base.grid.models
    if len(models) < 2:
        raise ConfigError(f"grid.models must name at least two architectures (black-box transfer crafts on one "
                          f"and tests on the others), got {models}")
    cells = []
    for seed in base.seeds or [base.seed]:
        for pooling in base.grid.poolings:
            for attack in base.grid.attacks:
                raw = compose_raw(overrides + [f"attack={attack}", f"pooling={pooling}", f"model={models[0]}",
                                               f"seed={seed}"], config_dir)
                peers = [peer_config(raw, m, config_dir) for m in models[1:]]
                cells.append(Cell(seed, pooling, attack, validate(raw), peers))
    return base, cells


def reproduce(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
              render: bool = True) -> ReproduceReport:
    """Run every cell of the experiment, then render tables and figures from the records."""
    wall = time.perf_counter()
    base, cells = plan(overrides, config_dir)
    paths = resolve_paths(base, root)
    paths.check_writable()
    report = ReproduceReport(results=paths.results, cells=len(cells), seeds=base.seeds or [base.seed])
    bar = tqdm(cells, desc="experiment", unit="cell", disable=not base.progress, dynamic_ncols=True)
    say = bar.write if base.progress else log
    for cell in bar:
        started = time.perf_counter()
        bar.set_postfix_str(f"seed {cell.seed}: {cell.attack} / {cell.pooling}")
        records = run_attack(cell.cfg, cell.peers, root, log=say)
        for record in records:
            if record["setting"] == "white-box":  # one per crafted set
                report.crafted_reused += int(record["crafted_reused"])
                report.crafted += int(not record["crafted_reused"])
        report.records += [r["path"] for r in records]
        report.seed_seconds[cell.seed] = report.seed_seconds.get(cell.seed, 0.0) + time.perf_counter() - started
    bar.close()
    if render:
        # One seed: its tables alone; several: every seed the results hold, and the mean ± sd over them.
        only = report.seeds[0] if len(report.seeds) == 1 else None
        report.outputs = render_all(report.results, seed=only, data=base.data.source, train=base.train.name)
        report.outputs.update({f"transfer/{k}": v for k, v in render_transfer(
            report.results, data=base.data.source, log=say).items()})
    report.seconds = time.perf_counter() - wall
    return report


def format_report(report: ReproduceReport) -> str:
    """The closing summary: what was reused, what was computed, where each output is."""
    lines = [f"experiment finished in {report.seconds / 60:.1f} min: {report.cells} cells over seeds "
             f"{report.seeds}, {report.crafted} adversarial sets crafted, {report.crafted_reused} reused from earlier runs",
             *(f"seed {seed}: {seconds / 60:.1f} min" for seed, seconds in sorted(report.seed_seconds.items())),
             f"records: {len(report.records)} under {report.results / 'records'}"]
    lines += [f"{name}: {path}" for name, path in sorted(report.outputs.items())]
    return "\n".join(lines)
