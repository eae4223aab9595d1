"""The cross-dataset protocol end to end (``experiment=crossdata_quick``; Ghamizi et al. 2022, Table 3).

Every config is composed and validated first (:mod:`cxrbench.protocols.crossdata.plan`). Then, per
dataset of ``train_on`` and per model of it: the model is trained or reused with ``task=multilabel``
on that dataset, and for each dataset of ``test_on`` its test images (at the model's size) are
evaluated clean and under white-box untargeted PGD, one record per cell
(:mod:`cxrbench.protocols.crossdata.cells`; finished cells are read back). The table is rendered
from the records alone (:mod:`cxrbench.protocols.crossdata.tables`).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cxrbench.kit.pipeline import resolve_paths
from cxrbench.protocols.crossdata.cells import prepare_test, prepare_trained, run_cell
from cxrbench.protocols.crossdata.plan import plan_crossdata
from cxrbench.protocols.crossdata.tables import render_crossdata
from cxrbench.runtime import resolve_runtime, seed_everything


def _fmt(figures: dict, k: str) -> str:
    return f"{figures[k]:.3f}" if figures.get(k) == figures.get(k) else "n/a"  # NaN: no image with a finding


def run_crossdata(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
                  render: bool = True) -> dict:
    """Train or reuse every model on every training dataset, evaluate every cell, render; what ran."""
    wall = time.perf_counter()
    plan = plan_crossdata(overrides, config_dir)
    settings = plan.base.crossdata
    paths = resolve_paths(plan.base, root)
    paths.check_writable()
    runtime = resolve_runtime(plan.base.device)
    records, computed = [], 0
    for train_on in plan.train_on:
        for index, cfg in enumerate(plan.variants[train_on]):
            seed_everything(cfg.seed, cfg.deterministic)
            trained = prepare_trained(train_on, cfg, paths, runtime, log)
            for test_on in plan.test_on:
                test_cfg = plan.variants[test_on][index]
                test = prepare_test(test_on, test_cfg, trained, paths, settings.images)
                record, ran = run_cell(paths, runtime, trained, test, settings)
                records.append(record)
                computed += ran
                log(f"{trained.variant.name} trained on {train_on}, tested on {test_on} ({record['n_shared']} shared "
                    f"labels, n={record['images']}): 3-robust {_fmt(record['clean']['k_accuracy'], '3')} clean -> "
                    f"{_fmt(record['k_accuracy'], '3')} under PGD{'' if ran else ' (read back)'}")
    outputs = render_crossdata(paths.results, log=log) if render else {}
    return {"records": records, "computed": computed, "outputs": outputs, "seconds": time.perf_counter() - wall}


def format_report(report: dict) -> str:
    """The closing summary of the cross-dataset protocol."""
    cells = len(report["records"])
    lines = [f"cross-dataset protocol finished in {report['seconds'] / 60:.1f} min: {cells} cells, "
             f"{report['computed']} computed, {cells - report['computed']} read back from earlier runs"]
    return "\n".join(lines + [f"{name}: {path}" for name, path in sorted(report["outputs"].items())])
