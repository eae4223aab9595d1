"""The robust table: accuracy under fixed-budget L-inf attacks (G2 PGD, APGD-CE) over an eps ladder (``protocol: robust``), behind the protocol interface."""
from __future__ import annotations

from pathlib import Path

from cxrbench.protocols.base import Log, Plan, Protocol, RenderRequest
from cxrbench.protocols.robust.check import check_robust
from cxrbench.protocols.robust.run import format_report, plan, run_robust
from cxrbench.protocols.robust.table import render_robust


class RobustProtocol(Protocol):
    name = "robust"
    title = "the robust table: accuracy under fixed-budget L-inf attacks (G2 PGD, APGD-CE) over an eps ladder"
    settings = 'robust'

    def check(self, run) -> None:
        check_robust(run.robust)

    def plan(self, overrides: list[str], config_dir: Path) -> Plan:
        base, variants = plan(overrides, config_dir)
        robust = base.robust
        return Plan(self.name, base, [f"{c.train.name} {c.model.name}/{c.pooling.mode} seed {c.seed}: "
                                      f"{len(robust.attacks)} attacks x {len(robust.epsilons)} eps x "
                                      f"{robust.iterations} steps on {robust.images or 'all'} images" for c in variants])

    def run(self, overrides: list[str], config_dir: Path, root: Path, *, log: Log = print):
        return run_robust(overrides, config_dir, root, log=log)

    def summary(self, report) -> str:
        return format_report(report)

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        if not request.tables:
            return {}
        return render_robust(results, data=request.data, resamples=request.resamples, log=log)
