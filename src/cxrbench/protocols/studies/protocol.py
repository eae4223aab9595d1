"""The ``studies`` protocol behind :class:`cxrbench.protocols.base.Protocol` (``protocol: studies``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.planning import (attacked_images, crafting_work, fixed_budget_work, recorded, records_folder,
                                   trainings, variant_of)
from cxrbench.protocols.studies.cells import minimal_config
from cxrbench.settings import epsilon_label

from cxrbench.kit.variants import describe_variant
from cxrbench.protocols.base import Log, Plan, Protocol, RenderRequest
from cxrbench.protocols.studies.check import check_study
from cxrbench.protocols.studies.run import format_report, plan, run_study
from cxrbench.protocols.studies.tables import list_studies, render_study


class StudiesProtocol(Protocol):
    name = "studies"
    title = "the studies (Kovalev & Voynov 2019): success against eps, steps, confidence, training-set size, resolution"
    settings = "study"
    runner = staticmethod(run_study)
    reporter = staticmethod(format_report)

    def check(self, run) -> None:
        check_study(run.study)

    def plan(self, overrides: list[str], config_dir: Path, root: Optional[Path] = None) -> Plan:
        base, variants = plan(overrides, config_dir)
        study = base.study
        out = Plan(self.name, base, [f"{study.name}: {describe_variant(c)}: "
                                     f"{len(study.radii())} fixed eps x {study.iterations} steps, "
                                     f"{len(study.minimal)} minimal-eps searches" for c in variants])
        if root is not None:
            paths = resolve_paths(base, root)
            out.work = trainings(variants, paths)
            for c in variants:
                folder = records_folder(c, paths, "study", study.name)
                out.work.append(fixed_budget_work(
                    c, f"{variant_of(c)} seed {c.seed}: {study.attack} at {len(study.radii())} eps x at most "
                       f"{study.iterations} steps on {study.images or 'all'} images", runs=len(study.radii()),
                    images=len(attacked_images(c, paths, study.images)[0]), gradients=study.iterations,
                    exists=recorded(folder, [f"{study.attack}-{epsilon_label(e).replace('/', 'of')}"
                                             for e in study.radii()])))
                out.work += [crafting_work(m, [m], paths, f"{study.name} seed {c.seed}")
                             for m in (minimal_config(c, name, config_dir) for name in study.minimal)]
        return out

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        if not request.tables:
            return {}
        written = {}
        for study in list_studies():
            written.update({f"{study}/{k}": v for k, v in render_study(study, results, data=request.data,
                                                                        log=log).items()})
        return written
