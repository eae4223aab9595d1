"""Accuracy under fixed-budget L∞ attacks over an ε ladder: the robust table's measurements.

``scripts/run.py experiment=robust_quick`` walks ``robust.variants`` (training recipe -> models, × ``grid.poolings``):
each variant is trained or reused like any other (an adversarially trained one under
``train=adversarial``), evaluated clean, then attacked by every attack of ``robust.attacks`` at
every ε of ``robust.epsilons`` with the same step budget (``robust.iterations``) on the same
test images (a seeded stratified prefix, so standard and adversarially trained twins see the
same images).

The ladder is walked upwards and an image broken at a smaller ε is not attacked again: the
adversarial found there lies inside every larger ε-ball, so it is a valid adversarial at the
larger ε too, and an accuracy-under-attack figure never rises with ε. This reuse is exact for
the quantity reported (is there a known adversarial within ε?), which is why a cell's key
includes the ladder below it. Each (variant, attack, ε) is one record, written when its run
finishes, so an interrupted walk resumes at the first missing cell.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import foolbox as fb
import numpy as np
import pandas as pd
import torch

from cxrbench.attacks import get_attack_spec, image_key
from cxrbench.evaluation.metrics import binary_metrics, predicted
from cxrbench.evaluation.predict import probabilities
from cxrbench.io import atomic_write, read_table
from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.crafting import fixed_budget_attack
from cxrbench.kit.pipeline import Paths, clean_predictions, evaluate_clean, prepare_variant, record_base
from cxrbench.kit.subsets import digest, image_set, test_subset
from cxrbench.kit.variants import measure_variants, plan_variants, tally
from cxrbench.protocols.robust.check import check_robust
from cxrbench.protocols.robust.table import render_robust
from cxrbench.records.schema import RobustRecord
from cxrbench.records.schema_added import worst_case_base
from cxrbench.records.store import finished_record, write_record
from cxrbench.runtime import Runtime
from cxrbench.training.adversarial import epsilon_label


def plan(overrides: list[str], config_dir: Path) -> tuple[RunConfig, list[RunConfig]]:
    """Compose and validate every variant's config (per seed) before any work starts."""
    base = validate(compose_raw(overrides, config_dir))
    check_robust(base.robust)
    return base, plan_variants(base, overrides, config_dir, base.robust.variants, name="robust.variants")


@dataclass
class _Ladder:
    """The walk's state for one (variant, attack): which images are broken, their worst-case P(finding)."""

    labels: np.ndarray
    clean_prob: np.ndarray
    adv_prob: np.ndarray = field(init=False)
    broken: np.ndarray = field(init=False)
    broken_at: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.adv_prob = self.clean_prob.copy()
        self.broken = predicted(self.clean_prob) != self.labels   # misclassified clean: nothing to attack
        self.broken_at = np.full(len(self.labels), np.nan)

    def restore(self, table: pd.DataFrame) -> None:
        """Take the state a finished cell left (its per-image table), to walk on from there.

        Copies: the walk writes into its state, and columns read back from Parquet are read-only.
        """
        self.adv_prob = table["adv_prob"].to_numpy(np.float64, copy=True)
        self.broken = table["broken"].to_numpy(bool, copy=True)
        self.broken_at = table["broken_at"].to_numpy(float, copy=True)


def run_variant(cfg: RunConfig, paths: Paths, runtime: Runtime, config_dir: Path, *,
                log: Callable[[str], None] = print) -> list[dict]:
    """Every (attack, ε) cell of one variant; finished cells are read back, not redone."""
    wall = time.perf_counter()
    variant = prepare_variant(cfg, paths, runtime, log)
    evaluate_clean(cfg, variant, paths, runtime, wall=wall, log=log)
    clean = clean_predictions(variant, paths, runtime, cfg.train.eval_batch_size).set_index("image_id")
    view = test_subset(variant, cfg.robust.images, cfg.seed, setting="robust.images")
    ids = list(view.ids)
    x, y = view.batch(np.arange(len(view)))
    x, y = x.to(runtime.device), y.to(runtime.device)
    keys = np.array([image_key(i) for i in ids], dtype=np.int64)
    labels, clean_prob = clean.loc[ids, "label"].to_numpy(int), clean.loc[ids, "prob"].to_numpy(np.float64)
    images = image_set(view)
    model = variant.model.eval()
    fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0), device=runtime.device)
    ladder = sorted(e / 255 for e in cfg.robust.epsilons)
    clean_metrics, correct = binary_metrics(labels, clean_prob), predicted(clean_prob) == labels
    records = []
    for name in cfg.robust.attacks:
        attack, params = fixed_budget_attack(name, cfg.robust.iterations, cfg.seed, config_dir)
        state = _Ladder(labels, clean_prob)
        for i, eps in enumerate(ladder):
            cell_key = digest({"attack": name, "params": params, "ladder": ladder[:i + 1], "images": images})
            stem = f"{variant.name}-{variant.key}/{name}-{epsilon_label(eps).replace('/', 'of')}-{cell_key}"
            record_path = paths.records / "robust" / f"{stem}.json"
            per_sample = Path("predictions") / "robust" / f"{stem}.parquet"
            finished = finished_record(record_path, paths.results / per_sample)
            if finished:
                state.restore(read_table(paths.results / per_sample, "robust cell table"))
                records.append(finished)
                continue
            todo = np.flatnonzero(~state.broken)
            tic = time.perf_counter()
            gradients = 0
            if len(todo):
                rows = torch.as_tensor(todo, device=x.device)
                adv, hit = attack.run_fixed(fmodel, x[rows], y[rows], eps, keys=keys[todo])
                gradients = int(attack.stats.gradients.sum())
                hit = hit.cpu().numpy()
                if hit.any():
                    prob = probabilities(model, adv[torch.as_tensor(np.flatnonzero(hit), device=x.device)])
                    really = predicted(prob) != labels[todo[hit]]  # by the project's one decision rule
                    fooled = todo[hit][really]
                    state.adv_prob[fooled] = prob[really]
                    state.broken[fooled] = True
                    state.broken_at[fooled] = eps
            seconds = time.perf_counter() - tic
            table = pd.DataFrame({"image_id": ids, "label": labels, "clean_prob": clean_prob,
                                  "adv_prob": state.adv_prob, "broken": state.broken, "broken_at": state.broken_at})
            atomic_write(paths.results / per_sample, lambda tmp: table.to_parquet(tmp, index=False))
            metrics = binary_metrics(labels, state.adv_prob)
            record = RobustRecord(
                **worst_case_base(record_base(cfg, variant, runtime, metrics, wall=wall, per_sample=per_sample)),
                worst_case_auc=metrics["auc"],
                attack=name, attack_title=get_attack_spec(name).title, attack_params=params, epsilon=eps,
                epsilon_label=epsilon_label(eps), iterations=cfg.robust.iterations, ladder=ladder[:i + 1],
                image_set=images, cell_key=cell_key, clean_accuracy=clean_metrics["accuracy"],
                clean_auc=clean_metrics["auc"],
                success_rate=float((state.broken & correct).sum() / correct.sum()) if correct.any() else float("nan"),
                attacked=int(len(todo)), broken_here=int(np.sum(state.broken_at == eps)), gradients=gradients,
                attack_seconds=seconds)
            records.append({**write_record(record_path, record, paths.root), "reused": False})
            log(f"robust {variant.name} {name} ε={epsilon_label(eps)}: accuracy {metrics['accuracy']:.3f} "
                f"(clean {clean_metrics['accuracy']:.3f}, n={len(ids)}; attacked {len(todo)}, "
                f"{record.broken_here} broken here, {seconds:.0f} s)")
    return records


def run_robust(overrides: list[str], config_dir: Path, root: Path, *, log: Callable[[str], None] = print,
               render: bool = True) -> dict:
    """Measure every variant's cells, then render the robust table from the records."""
    wall = time.perf_counter()
    base, cfgs = plan(overrides, config_dir)
    paths, records = measure_variants(base, cfgs, root, lambda cfg, paths, runtime: run_variant(
        cfg, paths, runtime, config_dir, log=log))
    outputs = {}
    if render:
        outputs = render_robust(paths.results, data=base.data.source, log=log)
    return {"records": records, "outputs": outputs, "seconds": time.perf_counter() - wall, **tally(records)}


def format_report(report: dict) -> str:
    """The closing summary of the robust protocol."""
    lines = [f"robust table finished in {report['seconds'] / 60:.1f} min: {report['computed']} cells computed, "
             f"{report['reused']} reused from earlier runs"]
    return "\n".join(lines + [f"{name}: {path}" for name, path in sorted(report["outputs"].items())])
