"""The one way in: a Hydra job that runs one clean or attack run, or a whole protocol's experiment.

``python scripts/run.py attack=pgd model=nasnet pooling=avg`` is one run (train or reuse the model
and its black-box partners, craft, evaluate white-box and black-box); ``python scripts/run.py
experiment=<name>`` runs the protocol the experiment names (its ``protocol`` key) with the same
overrides, so every protocol gets Hydra's multirun and launchers. ``plan_only=true`` lists what a
run would train, craft and measure, then stops: its trainings and attack runs, which of them the
store already holds, and their cost at measured or stated rates (:mod:`cxrbench.kit.throughput`).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from cxrbench.errors import CxrBenchError
from cxrbench.kit.clean_run import run_clean
from cxrbench.kit.config import RunConfig, peer_config, validate
from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.planning import crafting_work, trainings
from cxrbench.kit.throughput import Throughput, load_throughput, price
from cxrbench.protocols import Plan, get_protocol
from cxrbench.protocols.paper.attack import format_summary, run_attack


def job_overrides() -> list[str]:
    """The overrides of the running Hydra job (a multirun job's own values, not the sweep's)."""
    return list(HydraConfig.get().overrides.task)


def single_plan(run: RunConfig, peers: list[RunConfig] = (), root: Optional[Path] = None) -> Plan:
    """What ``scripts/run.py`` without an experiment does: one model (and its partners under an attack)."""
    models = [run, *peers] if run.attack else [run]
    names = [m.model.name for m in models]
    items = [f"train or reuse {m}/{run.pooling.mode} ({run.train.name} recipe, seed {run.seed}), clean test pass"
             for m in names]
    if run.attack is not None:
        items += [f"craft {run.attack.name} on {m}, evaluate on {', '.join(names)}" for m in names]
    plan = Plan("run", run, items)
    if root is not None:
        paths = resolve_paths(run, root)
        plan.work = trainings(models, paths) + ([crafting_work(m, models, paths, f"seed {m.seed}") for m in models]
                                                if run.attack else [])
    return plan


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def rates_for(run: RunConfig, root: Path) -> Optional[Throughput]:
    """The plan's rates: ``throughput=<file>``, else the store's ``throughput.json`` when it exists."""
    paths = resolve_paths(run, root)
    if run.throughput:
        given = Path(run.throughput).expanduser()
        return load_throughput(given if given.is_absolute() else paths.root / given)
    default = paths.results / "throughput.json"
    return load_throughput(default) if default.is_file() else None


def format_plan(plan: Plan, rates: Optional[Throughput] = None) -> str:
    """The plan as printed: its cells, then what they need, whether the store holds it, and what it costs."""
    lines = [f"plan ({plan.protocol}): {len(plan.items)} items", *(f"  {item}" for item in plan.items)]
    if not plan.work:
        return "\n".join(lines)
    where = f"rates {rates.kind} on {rates.device} ({rates.source})" if rates else \
        "no rates: python benchmarks/throughput.py measures this machine, throughput=<file> states a target's"
    lines.append(f"needs ({where}):")
    total, unpriced, scaled, todo = 0.0, [], set(), {}
    for work in plan.work:
        seconds, bases = price(work.loads, rates) if work.priced else (None, set())
        scaled |= bases
        cost = "" if work.exists else f"  ~{_duration(seconds)}" if seconds is not None else "  cost ?"
        lines.append(f"  {work.kind:<6} [{'held' if work.exists else 'to do'}] {work.label}{cost}"
                     + (f"  ({work.basis})" if work.basis and not work.exists else ""))
        if not work.exists:
            todo[work.kind] = todo.get(work.kind, 0) + 1
            if seconds is None:
                unpriced.append(work.kind)
            else:
                total += seconds
    held = sum(1 for w in plan.work if w.exists)
    summary = ", ".join(f"{n} {kind}" for kind, n in todo.items()) or "nothing"
    lines.append(f"to do: {summary} ({held} of {len(plan.work)} held in the store)"
                 + (f"; about {_duration(total)} on {rates.device}" if rates and todo else ""))
    if unpriced:
        lines.append(f"  not priced: {len(unpriced)} items ({', '.join(sorted(set(unpriced)))}) without a rate "
                     "or a measured per-image cost")
    lines += [f"  {note}" for note in sorted(scaled)]
    return "\n".join(lines)


def execute(cfg: DictConfig, root: Path, config_dir: Path, overrides: list[str], *,
            log: Callable[[str], None] = print) -> tuple[str, list[dict]]:
    """Run (or plan) the job ``cfg`` composed from ``overrides``: the summary to print ("" for none) and its records.

    The one code path of ``scripts/run.py`` and :func:`cxrbench.app.api.benchmark`.
    """
    run = validate(cfg)
    if run.protocol:
        protocol = get_protocol(run.protocol)  # its plan checks its settings, before any work
        if run.plan_only:
            return format_plan(protocol.plan(overrides, config_dir, root), rates_for(run, root)), []
        report = protocol.run(overrides, config_dir, root, log=log)
        return protocol.summary(report), _records_of(report)
    # The black-box partners: the other models of the grid (by default the paper's pair).
    peers = [peer_config(cfg, m, config_dir) for m in run.grid.models if m != run.model.name] if run.attack else []
    if run.plan_only:
        return format_plan(single_plan(run, peers, root), rates_for(run, root)), []
    if run.attack is None:
        return "", [run_clean(run, root, log=log)]  # it prints the record's path
    records = run_attack(run, peers, root, log=log)
    return f"{format_summary(records)}\nrecords: {Path(records[0]['path']).parent}", records


def _records_of(report: Any) -> list[dict]:
    """A protocol report's records: the paper protocol lists their files, the others hold them."""
    if isinstance(report, dict):
        return list(report["records"])
    return [json.loads(Path(path).read_text()) for path in report.records]


def run_job(cfg: DictConfig, root: Path, config_dir: Path, overrides: list[str]) -> str:
    """Run (or plan) the job ``cfg`` composed from ``overrides``; the summary to print ("" for none)."""
    return execute(cfg, root, config_dir, overrides)[0]


def hydra_job(cfg: DictConfig, root: Path, config_dir: Path) -> None:
    """The body of a Hydra job: run it and print its summary; bad input is one ``error:`` line and exit 2."""
    try:
        summary = run_job(cfg, root, config_dir, job_overrides())
    except CxrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if summary:
        print(summary)
