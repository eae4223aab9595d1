"""A study end to end: plan its variants, measure every cell (resumable), render its tables and figures.

``scripts/study.py experiment=study_<name>`` is a thin entry point around :func:`run_study`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cxrbench.cli import compose_raw
from cxrbench.config import validate
from cxrbench.pipeline import resolve_paths
from cxrbench.runtime import resolve_runtime, seed_everything
from cxrbench.studies.cells import fixed_cell, minimal_cell, prepare_target
from cxrbench.variants import plan_variants


def run_study(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
              render: bool = True) -> dict:
    """Measure every cell of the configured study, then render its tables from the records."""
    wall = time.perf_counter()
    study = validate(compose_raw(overrides, config_dir)).study
    base, cfgs = plan_variants(overrides, config_dir, study.variants, axis=study.axis, values=study.values)
    paths = resolve_paths(base, root)
    paths.check_writable()
    runtime = resolve_runtime(base.device)
    records = []
    for cfg in cfgs:
        seed_everything(cfg.seed, cfg.deterministic)
        target = prepare_target(cfg, paths, runtime, log)
        records += [fixed_cell(target, eps, paths, runtime, config_dir, log=log) for eps in study.radii()]
        records += [minimal_cell(target, name, paths, runtime, config_dir, log=log) for name in study.minimal]
    outputs = {}
    if render:
        from cxrbench.reporting.studies import render_study

        outputs = render_study(study.name, paths.results, data=base.data.source, log=log)
    return {"study": study.name, "records": records, "outputs": outputs, "seconds": time.perf_counter() - wall,
            "computed": sum(not r["reused"] for r in records), "reused": sum(r["reused"] for r in records)}


def format_report(report: dict) -> str:
    """The closing summary of ``scripts/study.py``."""
    lines = [f"study {report['study']} finished in {report['seconds'] / 60:.1f} min: {report['computed']} cells "
             f"computed, {report['reused']} reused from earlier runs"]
    return "\n".join(lines + [f"{name}: {path}" for name, path in sorted(report["outputs"].items())])
