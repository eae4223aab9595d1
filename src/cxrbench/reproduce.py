"""One experiment end to end: train, attack, tabulate, plot.

``scripts/reproduce.py experiment=quick`` walks the experiment's grid (every attack × pooling,
both architectures) through :func:`cxrbench.attack_pipeline.run_attack`, the code path of
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

from cxrbench.cli import compose_raw
from cxrbench.config import RunConfig, peer_config, validate
from cxrbench.errors import ConfigError
from cxrbench.pipeline import resolve_paths


@dataclass
class Cell:
    """One (pooling, attack) of the grid: both architectures, white-box and black-box."""

    pooling: str
    attack: str
    cfg: RunConfig
    peer: RunConfig


@dataclass
class ReproduceReport:
    """What a reproduce run did and where its outputs are."""

    results: Path = Path("results")
    cells: int = 0
    crafted: int = 0                 # adversarial sets crafted in this run
    crafted_reused: int = 0          # ...and found finished on disk
    records: list[str] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0


def _is_attack_override(line: str) -> bool:
    return line.lstrip("+~").split("=", 1)[0].split(".", 1)[0] == "attack"


def plan(overrides: list[str], config_dir: Path) -> tuple[RunConfig, list[Cell]]:
    """Compose and validate every cell's config before any work starts.

    ``attack.*`` overrides (``attack.quick.images=50``) apply to every attack of the grid.
    """
    if any(line.lstrip("+~").startswith("attack=") for line in overrides):
        raise ConfigError("reproduce runs the attacks of the experiment's grid; choose them with "
                          "grid.attacks=[pgd,fgsm] instead of attack=")
    base = validate(compose_raw([o for o in overrides if not _is_attack_override(o)], config_dir))
    models = base.grid.models
    if len(models) != 2 or models[0] == models[1]:
        raise ConfigError(f"grid.models must name two architectures (black-box transfer crafts on one and "
                          f"tests on the other), got {models}")
    cells = []
    for pooling in base.grid.poolings:
        for attack in base.grid.attacks:
            raw = compose_raw(overrides + [f"attack={attack}", f"pooling={pooling}", f"model={models[0]}"],
                              config_dir)
            cells.append(Cell(pooling, attack, validate(raw), peer_config(raw, models[1], config_dir)))
    return base, cells


def reproduce(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
              render: bool = True) -> ReproduceReport:
    """Run every cell of the experiment, then render tables and figures from the records."""
    from cxrbench.attack_pipeline import run_attack

    wall = time.perf_counter()
    base, cells = plan(overrides, config_dir)
    report = ReproduceReport(results=resolve_paths(base, root).results, cells=len(cells))
    bar = tqdm(cells, desc="experiment", unit="cell", disable=not base.progress, dynamic_ncols=True)
    say = bar.write if base.progress else log
    for cell in bar:
        bar.set_postfix_str(f"{cell.attack} / {cell.pooling}")
        records = run_attack(cell.cfg, cell.peer, root, log=say)
        for record in records:
            if record["setting"] == "white-box":  # one per crafted set
                report.crafted_reused += int(record["crafted_reused"])
                report.crafted += int(not record["crafted_reused"])
        report.records += [r["path"] for r in records]
    bar.close()
    if render:
        from cxrbench.reporting.render import render_all

        report.outputs = render_all(report.results, seed=base.seed, data=base.data.source, train=base.train.name)
    report.seconds = time.perf_counter() - wall
    return report


def format_report(report: ReproduceReport) -> str:
    """The closing summary: what was reused, what was computed, where each output is."""
    lines = [f"experiment finished in {report.seconds / 60:.1f} min: {report.cells} cells, "
             f"{report.crafted} adversarial sets crafted, {report.crafted_reused} reused from earlier runs",
             f"records: {len(report.records)} under {report.results / 'records'}"]
    lines += [f"{name}: {path}" for name, path in sorted(report.outputs.items())]
    return "\n".join(lines)
