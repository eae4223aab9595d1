"""The ``studies`` protocol behind :class:`cxrbench.protocols.base.Protocol` (``protocol: studies``)."""
from __future__ import annotations

from pathlib import Path

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

    def plan(self, overrides: list[str], config_dir: Path) -> Plan:
        base, variants = plan(overrides, config_dir)
        study = base.study
        return Plan(self.name, base, [f"{study.name}: {describe_variant(c)}: "
                                      f"{len(study.radii())} fixed eps x {study.iterations} steps, "
                                      f"{len(study.minimal)} minimal-eps searches" for c in variants])

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        if not request.tables:
            return {}
        written = {}
        for study in list_studies():
            written.update({f"{study}/{k}": v for k, v in render_study(study, results, data=request.data,
                                                                        log=log).items()})
        return written
