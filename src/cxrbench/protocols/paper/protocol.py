"""The ``paper`` protocol behind :class:`cxrbench.protocols.base.Protocol` (``protocol: paper``)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from cxrbench.kit.pipeline import resolve_paths
from cxrbench.kit.planning import crafting_work, trainings

from cxrbench.protocols.base import Log, Plan, Protocol, RenderRequest
from cxrbench.protocols.paper.experiment import format_report, plan, reproduce
from cxrbench.protocols.paper.render import nothing_to_render, render_all, selected_any
from cxrbench.protocols.paper.transfer import render_transfer
from cxrbench.records.selection import select_records


class PaperProtocol(Protocol):
    name = "paper"
    title = "the paper's protocol (Taghanaki et al. 2018): Tables 1-2, transfer matrices, Figures 1-4"
    settings = "grid"
    runner = staticmethod(reproduce)
    reporter = staticmethod(format_report)

    def plan(self, overrides: list[str], config_dir: Path, root: Optional[Path] = None) -> Plan:
        base, cells = plan(overrides, config_dir)
        out = Plan(self.name, base, [f"seed {c.seed} {c.pooling} {c.attack}: crafted on and tested on "
                                     f"{', '.join([c.cfg.model.name, *(p.model.name for p in c.peers)])}"
                                     for c in cells])
        if root is not None:
            paths = resolve_paths(base, root)
            models = [[c.cfg, *c.peers] for c in cells]
            out.work = trainings([m for group in models for m in group], paths) + [
                crafting_work(m, group, paths, f"seed {m.seed}") for group in models for m in group]
        return out

    def render(self, results: Path, request: RenderRequest, *, log: Log = print) -> dict[str, Path]:
        selected = selected_any(select_records(results, seed=request.seed, data=request.data, train=request.train,
                                               log=lambda _: None))
        # --seed and --train select Tables 1-2 and the figures only: with nothing of theirs, nothing is asked for.
        # Without them, a store with none of their records (clean records of other models only, another
        # protocol's) leaves the other protocols to render; the report says so if none has anything.
        if not selected and (request.seed is not None or request.train is not None):
            raise nothing_to_render(results, "clean or attack records",
                                    {"seed": request.seed, "data": request.data, "train": request.train})
        written = render_all(results, seed=request.seed, data=request.data, train=request.train,
                             tables=request.tables, figures=request.figures, resamples=request.resamples,
                             log=log) if selected else {}
        if request.tables:
            written.update({f"transfer/{k}": v for k, v in render_transfer(
                results, data=request.data, resamples=request.resamples, log=log).items()})
        return written
