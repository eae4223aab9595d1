"""A study end to end: plan its variants, measure every cell (resumable), render its tables and figures.

``scripts/study.py experiment=study_<name>`` is a thin entry point around :func:`run_study`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cxrbench.cli import compose_raw
from cxrbench.config import RunConfig, validate
from cxrbench.pipeline import Paths
from cxrbench.runtime import Runtime
from cxrbench.studies.cells import fixed_cell, minimal_cell, prepare_target
from cxrbench.variants import measure_variants, plan_variants, tally


def run_study(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
              render: bool = True) -> dict:
    """Measure every cell of the configured study, then render its tables from the records."""
    wall = time.perf_counter()
    base = validate(compose_raw(overrides, config_dir))
    study = base.study
    cfgs = plan_variants(base, overrides, config_dir, study.variants, axis=study.axis, values=study.values)

    def measure(cfg: RunConfig, paths: Paths, runtime: Runtime) -> list[dict]:
        target = prepare_target(cfg, paths, runtime, log)
        return ([fixed_cell(target, eps, paths, runtime, config_dir, log=log) for eps in study.radii()]
                + [minimal_cell(target, name, paths, runtime, config_dir, log=log) for name in study.minimal])

    paths, records = measure_variants(base, cfgs, root, measure)
    outputs = {}
    if render:
        from cxrbench.reporting.studies import render_study

        outputs = render_study(study.name, paths.results, data=base.data.source, log=log)
    return {"study": study.name, "records": records, "outputs": outputs, "seconds": time.perf_counter() - wall,
            **tally(records)}


def format_report(report: dict) -> str:
    """The closing summary of ``scripts/study.py``."""
    lines = [f"study {report['study']} finished in {report['seconds'] / 60:.1f} min: {report['computed']} cells "
             f"computed, {report['reused']} reused from earlier runs"]
    return "\n".join(lines + [f"{name}: {path}" for name, path in sorted(report["outputs"].items())])
