"""The clean baseline end to end (``experiment=baseline_quick``): every model of the grid, trained or reused, tested clean.

The cells are seed × pooling × model of ``grid.models`` under the chosen recipe, each composed and
validated before the first one trains (:func:`cxrbench.kit.variants.plan_variants`). A cell is the
run kit's clean run (:func:`cxrbench.kit.clean_run.run_clean`): its checkpoint is reused when the
store holds it, and it writes the same ``clean`` record a plain ``scripts/run.py`` does. The table
comes from the records alone (:mod:`cxrbench.protocols.baseline.table`).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cxrbench.errors import ConfigError
from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.clean_run import run_clean
from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.variants import plan_variants
from cxrbench.protocols.baseline.table import render_baseline


def plan_baseline(overrides: list[str], config_dir: Path) -> tuple[RunConfig, list[RunConfig]]:
    """The validated base config and every cell's config; nothing is trained and no data is read.

    Raises:
        ConfigError: a task other than binary (its clean records are of another kind), or an invalid cell.
    """
    base = validate(compose_raw(overrides, config_dir))
    if base.task.name != "binary":
        raise ConfigError(f"the clean baseline tabulates the binary task's clean records, not task={base.task.name}; "
                          "drop the task override (multi-label models: experiment=multilabel_quick)")
    return base, plan_variants(base, overrides, config_dir, {base.train.name: list(base.grid.models)},
                               name="grid.models")


def run_baseline(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
                 render: bool = True) -> dict:
    """Train or reuse and test every cell, render the table; the records and what was trained."""
    wall = time.perf_counter()
    base, cells = plan_baseline(overrides, config_dir)
    records = [run_clean(cfg, root, log=log) for cfg in cells]
    outputs = render_baseline(resolve_paths(base, root).results, log=log) if render else {}
    return {"records": records, "trained": sum(not r["training"].get("reused", True) for r in records),
            "outputs": outputs, "seconds": time.perf_counter() - wall}


def format_report(report: dict) -> str:
    """The closing summary of the clean baseline."""
    lines = [f"clean baseline finished in {report['seconds'] / 60:.1f} min: {len(report['records'])} models tested, "
             f"{report['trained']} trained"]
    return "\n".join(lines + [f"{name}: {path}" for name, path in sorted(report["outputs"].items())])
