"""The multi-label protocol end to end (``experiment=multilabel_quick``; Ghamizi et al. 2022, section 5).

Per (seed, pooling): every model of ``multilabel.models`` is trained or reused with
``task=multilabel`` and evaluated clean (thresholds from the validation split); then each is the
source of untargeted PGD away from ``multilabel.reference`` at every ε (every step budget of the grid
read off one run), whose
adversarials at the ``transfer`` budget are also tested on every other model, and of
risk-targeted PGD with each risk loss. Tables and figures are rendered from the records alone.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from cxrbench.errors import ConfigError
from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.multilabel_clean import evaluate_clean_multilabel
from cxrbench.kit.pipeline import prepare_variant, resolve_paths
from cxrbench.kit.variants import plan_variants
from cxrbench.protocols.multilabel.cells import Model, prepare_model, run_unit
from cxrbench.protocols.multilabel.check import check_multilabel
from cxrbench.protocols.multilabel.tables import render_multilabel
from cxrbench.runtime import resolve_runtime, seed_everything


def plan(overrides: list[str], config_dir: Path) -> tuple[RunConfig, list[RunConfig]]:
    """Compose and validate every model's config before any work starts."""
    base = validate(compose_raw(overrides, config_dir))
    check_multilabel(base.multilabel)
    if base.task.name != "multilabel":
        raise ConfigError("the multi-label protocol measures multi-label models; add task=multilabel "
                          "(or use experiment=multilabel_quick)")
    return base, plan_variants(base, overrides, config_dir, {base.train.name: base.multilabel.models})


def attack_models(base: RunConfig, models: list[Model], paths, runtime, log) -> tuple[list[dict], int]:
    """Every attack unit of one group of models; the records and how many runs were computed."""
    ml, records, computed = base.multilabel, [], 0
    transfer = (ml.transfer["epsilon"], int(ml.transfer["steps"]))
    units = []
    for source in models:
        for eps in ml.epsilons:
            budgets = {k: [source] for k in ml.steps}
            if eps == transfer[0]:  # white-box first, then every other model
                budgets[transfer[1]] = [source] + [m for m in models if m is not source]
            units.append((source, "untargeted", ml.loss, eps, budgets))
        for loss in ml.risk_losses:
            units.append((source, "risk", loss, ml.risk["epsilon"], {int(ml.risk["steps"]): [source]}))
    for source, evaluation, loss, eps, budgets in units:
        done, ran = run_unit(paths, runtime, source, models, evaluation=evaluation, loss=loss, epsilon=eps / 255,
                             budgets=budgets, rel_stepsize=ml.rel_stepsize, reference=ml.reference, k=ml.k,
                             log=log)
        records += done
        computed += ran
    return records, computed


def run_multilabel(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
                   render: bool = True) -> dict:
    """Train or reuse every model, attack, render; a summary of what ran."""
    wall = time.perf_counter()
    base, cfgs = plan(overrides, config_dir)
    paths = resolve_paths(base, root)
    paths.check_writable()
    runtime = resolve_runtime(base.device)
    groups: dict[tuple, list[RunConfig]] = {}
    for cfg in cfgs:
        groups.setdefault((cfg.seed, cfg.pooling.mode), []).append(cfg)
    records, units = [], 0
    for (seed, pooling), group in groups.items():
        models = []
        for cfg in group:
            seed_everything(cfg.seed, cfg.deterministic)
            variant = prepare_variant(cfg, paths, runtime, log)
            evaluate_clean_multilabel(cfg, variant, paths, runtime, wall=wall, log=log)
            models.append(prepare_model(cfg, variant, paths, runtime, base.multilabel.images))
        done, ran = attack_models(base, models, paths, runtime, log)
        records += done
        units += ran
    outputs = {}
    if render:
        outputs = render_multilabel(paths.results, data=base.data.source, log=log)
    return {"records": records, "runs": units, "outputs": outputs, "seconds": time.perf_counter() - wall}


def format_report(report: dict) -> str:
    """The closing summary of the multi-label protocol."""
    reused = sum(bool(r.get("reused")) for r in report["records"])
    lines = [f"multi-label protocol finished in {report['seconds'] / 60:.1f} min: {report['runs']} PGD runs, "
             f"{len(report['records'])} cells ({reused} read back from earlier runs)"]
    return "\n".join(lines + [f"{name}: {path}" for name, path in sorted(report["outputs"].items())])
