"""The ``multilabel`` protocol behind :class:`cxrbench.protocols.base.Protocol` (``protocol: multilabel``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.planning import attacked_images, fixed_budget_work, trainings, variant_of

from cxrbench.kit.variants import describe_variant
from cxrbench.protocols.base import Log, Plan, Protocol, RenderRequest
from cxrbench.protocols.multilabel.check import check_multilabel
from cxrbench.protocols.multilabel.run import format_report, plan, run_multilabel
from cxrbench.protocols.multilabel.tables import render_multilabel


class MultiLabelProtocol(Protocol):
    name = "multilabel"
    title = "the multi-label protocol (Ghamizi et al. 2022): k-robust accuracy, eps x steps grids, transfer, risk-targeted PGD"
    settings = "multilabel"
    runner = staticmethod(run_multilabel)
    reporter = staticmethod(format_report)

    def check(self, run) -> None:
        check_multilabel(run.multilabel)

    def plan(self, overrides: list[str], config_dir: Path, root: Optional[Path] = None) -> Plan:
        base, variants = plan(overrides, config_dir)
        ml = base.multilabel
        out = Plan(self.name, base, [f"{describe_variant(c)}: untargeted PGD at "
                                     f"{len(ml.epsilons)} eps x {max(ml.steps)} steps, {len(ml.risk_losses)} risk "
                                     f"losses, on {ml.images or 'all'} images" for c in variants])
        if root is not None:
            paths = resolve_paths(base, root)
            # One run per ε gives every step budget; the cells' keys are not looked up (None: not checked).
            out.work = trainings(variants, paths) + [fixed_budget_work(
                c, f"{variant_of(c)} seed {c.seed}: PGD at {len(ml.epsilons)} eps x {max(ml.steps)} steps and "
                   f"{len(ml.risk_losses)} risk losses x {int(ml.risk['steps'])} steps on {ml.images or 'all'} images",
                runs=1, images=len(attacked_images(c, paths, ml.images)[0]),
                gradients=len(ml.epsilons) * max(ml.steps) + len(ml.risk_losses) * int(ml.risk["steps"]))
                for c in variants]
        return out

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        if not request.tables:
            return {}
        return render_multilabel(results, data=request.data, log=log)
