"""The ``robust`` protocol behind :class:`cxrbench.protocols.base.Protocol` (``protocol: robust``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.planning import attacked_images, fixed_budget_work, recorded, records_folder, trainings, variant_of
from cxrbench.settings import epsilon_label

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

    def plan(self, overrides: list[str], config_dir: Path, root: Optional[Path] = None) -> Plan:
        base, variants = plan(overrides, config_dir)
        robust = base.robust
        out = Plan(self.name, base, [f"{describe_variant(c)}: "
                                     f"{len(robust.attacks)} attacks x {len(robust.epsilons)} eps x "
                                     f"{robust.iterations} steps on {robust.images or 'all'} images" for c in variants])
        if root is not None:
            paths = resolve_paths(base, root)
            out.work = trainings(variants, paths) + [
                fixed_budget_work(c, f"{variant_of(c)} seed {c.seed}: {name} at {len(robust.epsilons)} eps x at most "
                                     f"{robust.iterations} steps on {robust.images or 'all'} images",
                                  runs=len(robust.epsilons), images=len(attacked_images(c, paths, robust.images)[0]),
                                  gradients=robust.iterations,
                                  exists=recorded(records_folder(c, paths, "robust"),
                                                  [f"{name}-{epsilon_label(e / 255).replace('/', 'of')}"
                                                   for e in robust.epsilons]))
                for c in variants for name in robust.attacks]
        return out

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        if not request.tables:
            return {}
        return render_robust(results, data=request.data, resamples=request.resamples, log=log)
