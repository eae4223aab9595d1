"""The ``crossdata`` protocol behind :class:`cxrbench.protocols.base.Protocol` (``protocol: crossdata``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.planning import attacked_images, fixed_budget_work, trainings
from cxrbench.protocols.base import Log, Plan, Protocol, RenderRequest
from cxrbench.protocols.crossdata.check import check_crossdata
from cxrbench.protocols.crossdata.plan import plan_crossdata
from cxrbench.protocols.crossdata.run import format_report, run_crossdata
from cxrbench.protocols.crossdata.tables import render_crossdata


class CrossDataProtocol(Protocol):
    name = "crossdata"
    title = ("across datasets (Ghamizi et al. 2022, Table 3): models trained on one dataset, attacked white-box "
             "on the test images of each")
    settings = "crossdata"
    runner = staticmethod(run_crossdata)
    reporter = staticmethod(format_report)

    def check(self, run) -> None:
        check_crossdata(run.crossdata)

    def plan(self, overrides: list[str], config_dir: Path, root: Optional[Path] = None) -> Plan:
        cross = plan_crossdata(overrides, config_dir)
        out = Plan(self.name, cross.base, cross.items())
        if root is not None:
            paths, settings = resolve_paths(cross.base, root), cross.base.crossdata
            # The cells' keys need the trained weights, so whether the store holds them is not looked up.
            out.work = trainings([c for a in cross.train_on for c in cross.variants[a]], paths) + [
                fixed_budget_work(cfg, f"{cfg.model.name} trained on {a}, tested on {b}: PGD {settings.steps} steps "
                                       f"on {settings.images or 'all'} images",
                                  runs=1, images=len(attacked_images(cross.variants[b][i], paths, settings.images)[0]),
                                  gradients=settings.steps)
                for a, b in cross.pairs() for i, cfg in enumerate(cross.variants[a])]
        return out

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        if not request.tables:
            return {}
        return render_crossdata(results, log=log)
