"""A study end to end: plan its variants, measure every cell (resumable), render its tables and figures.

``scripts/run.py experiment=study_<name>`` runs :func:`run_study` through the studies protocol.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.pipeline import Paths
from cxrbench.kit.variants import measure_variants, plan_variants, tally
from cxrbench.protocols.studies.cells import fixed_cell, minimal_cell, prepare_target
from cxrbench.protocols.studies.check import check_study
from cxrbench.protocols.studies.tables import render_study
from cxrbench.runtime import Runtime


def plan(overrides: list[str], config_dir: Path) -> tuple[RunConfig, list[RunConfig]]:
    """Compose and validate the study's settings and every variant's config before any work starts."""
    base = validate(compose_raw(overrides, config_dir))
    check_study(base.study)
    study = base.study
    return base, plan_variants(base, overrides, config_dir, study.variants, name="study.variants", axis=study.axis, values=study.values)


def run_study(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
              render: bool = True) -> dict:
    """Measure every cell of the configured study, then render its tables from the records."""
    wall = time.perf_counter()
    base, cfgs = plan(overrides, config_dir)
    study = base.study

    def measure(cfg: RunConfig, paths: Paths, runtime: Runtime) -> list[dict]:
        target = prepare_target(cfg, paths, runtime, log)
        return ([fixed_cell(target, eps, paths, runtime, config_dir, log=log) for eps in study.radii()]
                + [minimal_cell(target, name, paths, runtime, config_dir, log=log) for name in study.minimal])

    paths, records = measure_variants(base, cfgs, root, measure)
    outputs = {}
    if render:
        outputs = render_study(study.name, paths.results, data=base.data.source, log=log)
    return {"study": study.name, "records": records, "outputs": outputs, "seconds": time.perf_counter() - wall,
            **tally(records)}


def format_report(report: dict) -> str:
    """The closing summary of a study."""
    lines = [f"study {report['study']} finished in {report['seconds'] / 60:.1f} min: {report['computed']} cells "
             f"computed, {report['reused']} reused from earlier runs"]
    return "\n".join(lines + [f"{name}: {path}" for name, path in sorted(report["outputs"].items())])
