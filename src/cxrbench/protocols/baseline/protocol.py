"""The ``baseline`` protocol behind :class:`cxrbench.protocols.base.Protocol` (``protocol: baseline``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.planning import trainings
from cxrbench.kit.variants import describe_variant
from cxrbench.protocols.base import Log, Plan, Protocol, RenderRequest
from cxrbench.protocols.baseline.run import format_report, plan_baseline, run_baseline
from cxrbench.protocols.baseline.table import render_baseline


class BaselineProtocol(Protocol):
    name = "baseline"
    title = "clean baseline: test accuracy and ROC-AUC of every model of the grid, with bootstrap intervals"
    settings = "grid"  # grid.models x grid.poolings (x seeds): no settings group of its own
    runner = staticmethod(run_baseline)
    reporter = staticmethod(format_report)

    def plan(self, overrides: list[str], config_dir: Path, root: Optional[Path] = None) -> Plan:
        base, cells = plan_baseline(overrides, config_dir)
        out = Plan(self.name, base, [f"{describe_variant(cfg)}: clean test pass" for cfg in cells])
        if root is not None:
            out.work = trainings(cells, resolve_paths(base, root))
        return out

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        if not request.tables:
            return {}
        return render_baseline(results, data=request.data, resamples=request.resamples, log=log)
