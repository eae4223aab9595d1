"""The one way in: a Hydra job that runs one clean or attack run, or a whole protocol's experiment.

``python scripts/run.py attack=pgd model=nasnet pooling=avg`` is one run (train or reuse the model
and its black-box partners, craft, evaluate white-box and black-box); ``python scripts/run.py
experiment=<name>`` runs the protocol the experiment names (its ``protocol`` key) with the same
overrides, so every protocol gets Hydra's multirun and launchers. ``plan_only=true`` lists what a
run would train, craft and measure, then stops (it does not yet say what the store already holds).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from cxrbench.errors import CxrBenchError
from cxrbench.kit.clean_run import run_clean
from cxrbench.kit.config import RunConfig, peer_config, validate
from cxrbench.protocols import Plan, get_protocol
from cxrbench.protocols.paper.attack import format_summary, run_attack


def job_overrides() -> list[str]:
    """The overrides of the running Hydra job (a multirun job's own values, not the sweep's)."""
    return list(HydraConfig.get().overrides.task)


def single_plan(run: RunConfig) -> Plan:
    """What ``scripts/run.py`` without an experiment does: one model (and its partners under an attack)."""
    models = [run.model.name] + ([m for m in run.grid.models if m != run.model.name] if run.attack else [])
    items = [f"train or reuse {m}/{run.pooling.mode} ({run.train.name} recipe, seed {run.seed}), clean test pass"
             for m in models]
    if run.attack is not None:
        items += [f"craft {run.attack.name} on {m}, evaluate on {', '.join(models)}" for m in models]
    return Plan("run", run, items)


def format_plan(plan: Plan) -> str:
    """The plan as printed: a heading and one line per item."""
    return "\n".join([f"plan ({plan.protocol}): {len(plan.items)} items", *(f"  {item}" for item in plan.items)])


def execute(cfg: DictConfig, root: Path, config_dir: Path, overrides: list[str], *,
            log: Callable[[str], None] = print) -> tuple[str, list[dict]]:
    """Run (or plan) the job ``cfg`` composed from ``overrides``: the summary to print ("" for none) and its records.

    The one code path of ``scripts/run.py`` and :func:`cxrbench.app.api.benchmark`.
    """
    run = validate(cfg)
    if run.protocol:
        protocol = get_protocol(run.protocol)  # its plan checks its settings, before any work
        if run.plan_only:
            return format_plan(protocol.plan(overrides, config_dir)), []
        report = protocol.run(overrides, config_dir, root, log=log)
        return protocol.summary(report), _records_of(report)
    if run.plan_only:
        return format_plan(single_plan(run)), []
    if run.attack is None:
        return "", [run_clean(run, root, log=log)]  # it prints the record's path
    # The black-box partners: the other models of the grid (by default the paper's pair).
    peers = [peer_config(cfg, m, config_dir) for m in run.grid.models if m != run.model.name]
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
