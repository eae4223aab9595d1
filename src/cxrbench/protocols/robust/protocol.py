"""The ``robust`` protocol behind :class:`cxrbench.protocols.base.Protocol` (``protocol: robust``)."""
from __future__ import annotations

from pathlib import Path

from cxrbench.kit.variants import describe_variant
from cxrbench.protocols.base import Log, Plan, Protocol, RenderRequest
from cxrbench.protocols.robust.check import check_robust
from cxrbench.protocols.robust.run import format_report, plan, run_robust
from cxrbench.protocols.robust.table import render_robust


class RobustProtocol(Protocol):
    name = "robust"
    title = "the robust table: accuracy under fixed-budget L-inf attacks (G2 PGD, APGD-CE) over an eps ladder"
    settings = "robust"
    runner = staticmethod(run_robust)
    reporter = staticmethod(format_report)

    def check(self, run) -> None:
        check_robust(run.robust)

    def plan(self, overrides: list[str], config_dir: Path) -> Plan:
        base, variants = plan(overrides, config_dir)
        robust = base.robust
        return Plan(self.name, base, [f"{describe_variant(c)}: "
                                      f"{len(robust.attacks)} attacks x {len(robust.epsilons)} eps x "
                                      f"{robust.iterations} steps on {robust.images or 'all'} images" for c in variants])

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        if not request.tables:
            return {}
        return render_robust(results, data=request.data, resamples=request.resamples, log=log)
