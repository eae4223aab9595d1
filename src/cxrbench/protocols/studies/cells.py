"""A study's cells on one variant: fixed-ε runs with their trajectories, stored minimal-ε searches.

Every cell is one record plus one per-image table, at paths this module alone defines::

    records/study/<study>/<variant>-<key>/<attack>-<ε or "minimal">-<cell key>.json
    predictions/study/<study>/<variant>-<key>/<attack>-<ε or "minimal">-<cell key>.parquet

A cell whose record and table exist is read back, not recomputed, so an interrupted study
resumes at its first missing cell.

*Fixed* cells run the study's attack once per ε for ``study.iterations`` steps of
``study.rel_stepsize``·ε (ε/8 by default, so ε is reachable after 8 steps; the attack's own G2 step
ε/30 needed 30, beyond Kovalev & Voynov's 20). The step is a fraction of ε, not of the budget, and
a sample stops at its first adversarial iterate, so a run of k steps fools exactly the samples
whose first fooling step is ≤ k (:data:`SUCCESS_RULE`): the table's ``first_hit`` gives every
budget 1…``iterations`` from the one run, and no budget is crafted twice. *Minimal* cells run an
attack's own minimal-perturbation search through the attack pipeline (its crafted set, shared
with ``scripts/run.py``), whose per-image perturbation sizes give success against any ε.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import foolbox as fb
import numpy as np
import pandas as pd
import torch

from cxrbench.attacks import create_attack, get_attack_spec, image_key
from cxrbench.data.datasets import SubsetView
from cxrbench.errors import ConfigError
from cxrbench.evaluation.metrics import binary_metrics, predicted
from cxrbench.evaluation.predict import probabilities
from cxrbench.io import atomic_write
from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.crafting import attack_parameters, ensure_crafted, fixed_budget_attack
from cxrbench.kit.pipeline import Paths, Variant, clean_predictions, prepare_variant, record_base
from cxrbench.kit.subsets import digest, image_set, test_subset
from cxrbench.records.schema import StudyRecord
from cxrbench.records.schema_added import worst_case_base
from cxrbench.records.store import finished_record, write_record
from cxrbench.runtime import Runtime
from cxrbench.training.adversarial import epsilon_label, step_label

#: How a fixed cell counts success at budget k (stored in its record, spelt out in its tables): an
#: image is fooled at k steps when some iterate x_j, j ≤ k, is misclassified (the run stops there).
SUCCESS_RULE = "first-hit"


@dataclass
class Target:
    """One trained variant of a study and the test images every one of its cells attacks."""

    cfg: RunConfig
    variant: Variant
    view: SubsetView
    labels: np.ndarray
    clean_prob: np.ndarray
    test: dict           # clean metrics over the whole test split
    wall: float

    @property
    def correct(self) -> np.ndarray:
        return predicted(self.clean_prob) == self.labels


def prepare_target(cfg: RunConfig, paths: Paths, runtime: Runtime, log: Callable[[str], None] = print) -> Target:
    """Train or reuse the variant, evaluate it clean, and fix the study's images on it."""
    wall = time.perf_counter()
    variant = prepare_variant(cfg, paths, runtime, log)
    # No clean record: Tables 1-2 key clean records by (model, pooling, regime), and a study's
    # variants at other sizes or on subsets would claim the standard variant's cell.
    clean = clean_predictions(variant, paths, runtime, cfg.train.eval_batch_size).set_index("image_id")
    test = binary_metrics(clean["label"].to_numpy(), clean["prob"].to_numpy())
    log(f"clean test {variant.name}: accuracy {test['accuracy']:.3f}  AUC {test['auc']:.3f}  (n={test['n']})")
    view = test_subset(variant, cfg.study.images, cfg.seed, setting="study.images")
    return Target(cfg, variant, view, clean.loc[view.ids, "label"].to_numpy(int),
                  clean.loc[view.ids, "prob"].to_numpy(np.float64), test, wall)


def cell_paths(paths: Paths, study: str, variant: Variant, name: str) -> tuple[Path, Path]:
    """The record file and the per-image table (relative to the results directory) of one cell."""
    stem = f"{study}/{variant.name}-{variant.key}/{name}"
    return paths.records / "study" / f"{stem}.json", Path("predictions") / "study" / f"{stem}.parquet"


def _record(target: Target, runtime: Runtime, labels: np.ndarray, adv_prob: np.ndarray, per_sample: Path,
            **fields) -> StudyRecord:
    cfg, study = target.cfg, target.cfg.study
    clean, worst = binary_metrics(labels, target.clean_prob), binary_metrics(labels, adv_prob)
    return StudyRecord(
        **worst_case_base(record_base(cfg, target.variant, runtime, worst, wall=target.wall, per_sample=per_sample)),
        worst_case_auc=worst["auc"],
        study=study.name, axis=study.axis,
        axis_value=getattr(cfg.train, study.axis) if study.axis else len(target.variant.data.train),
        image_set=image_set(target.view), clean_accuracy=clean["accuracy"], clean_auc=clean["auc"],
        test_accuracy=target.test["accuracy"], test_auc=target.test["auc"],
        train_images=len(target.variant.data.train), **fields)


def study_attack(study, seed: int, config_dir: Path):
    """The study's fixed-ε attack with its step replaced by ``study.rel_stepsize``·ε; and its parameters."""
    _, params = fixed_budget_attack(study.attack, study.iterations, seed, config_dir)
    params["rel_stepsize"] = study.rel_stepsize
    return create_attack(study.attack, **params), params


def fixed_cell(target: Target, epsilon: float, paths: Paths, runtime: Runtime, config_dir: Path, *,
               log: Callable[[str], None] = print) -> dict:
    """One run of the study's attack at ``epsilon`` on the target's correctly classified images."""
    cfg, study = target.cfg, target.cfg.study
    attack, params = study_attack(study, cfg.seed, config_dir)
    if not params.get("return_early", True):
        raise ConfigError(f"study.attack={study.attack} runs with return_early=false: a shorter budget would "
                          "not be a prefix of the run; set return_early: true in configs/attack/")
    images = image_set(target.view)
    # The step and the success rule are in the key: cells of the ε/30 definition are never reused.
    cell_key = digest({"attack": study.attack, "params": params, "epsilon": epsilon, "images": images,
                       "step": study.rel_stepsize, "success_rule": SUCCESS_RULE})
    record_path, per_sample = cell_paths(paths, study.name, target.variant,
                                         f"{study.attack}-{epsilon_label(epsilon).replace('/', 'of')}-{cell_key}")
    reused = finished_record(record_path, paths.results / per_sample)
    if reused:
        return reused
    model = target.variant.model.eval()
    n = len(target.view)
    x, y = target.view.batch(np.arange(n))
    todo = np.flatnonzero(target.correct)   # a misclassified image is no attack's success
    first_hit, adv_prob, linf = np.full(n, -1), target.clean_prob.copy(), np.zeros(n)
    tic, gradients = time.perf_counter(), 0
    if len(todo):
        rows = torch.as_tensor(todo)
        xs, ys = x[rows].to(runtime.device), y[rows].to(runtime.device)
        fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0), device=runtime.device)
        keys = np.array([image_key(target.view.ids[i]) for i in todo], dtype=np.int64)
        adv, _, steps = attack.run_trajectory(fmodel, xs, ys, epsilon, keys=keys)
        gradients = int(attack.stats.gradients.sum())
        first_hit[todo] = steps
        adv_prob[todo] = probabilities(model, adv)
        linf[todo] = (adv - xs).flatten(1).abs().amax(1).cpu().numpy()
    seconds = time.perf_counter() - tic
    table = pd.DataFrame({"image_id": target.view.ids, "label": target.labels, "clean_prob": target.clean_prob,
                          "correct": target.correct, "first_hit": first_hit, "adv_prob": adv_prob, "linf": linf})
    atomic_write(paths.results / per_sample, lambda tmp: table.to_parquet(tmp, index=False))
    correct = target.correct
    success = float(((first_hit >= 1) & correct).sum() / correct.sum()) if correct.any() else float("nan")
    spec = get_attack_spec(study.attack)
    record = _record(target, runtime, target.labels, adv_prob, per_sample, measure="fixed", attack=study.attack,
                     attack_id=spec.paper_id, attack_title=spec.title, attack_params=params, epsilon=epsilon,
                     epsilon_label=epsilon_label(epsilon), iterations=study.iterations, cell_key=cell_key,
                     success_rate=success, gradients=gradients, attack_seconds=seconds,
                     rel_stepsize=study.rel_stepsize, success_rule=SUCCESS_RULE)
    log(f"study {study.name} {target.variant.name} ({record.axis or 'train images'}={record.axis_value}) "
        f"{study.attack} ε={epsilon_label(epsilon)} {study.iterations} steps of {step_label(study.rel_stepsize)}: "
        f"success {success:.3f} "
        f"({int(correct.sum())} attacked, {seconds:.0f} s)")
    return {**write_record(record_path, record, paths.root), "reused": False}


def minimal_config(cfg: RunConfig, name: str, config_dir: Path) -> RunConfig:
    """``cfg`` with attack ``name`` (its own parameters) on the study's images: the crafted set a minimal cell reads."""
    attack_cfg = validate(compose_raw([f"attack={name}"], config_dir)).attack
    images = cfg.study.images
    attack_cfg = replace(attack_cfg, paper={**attack_cfg.paper, "images": images},
                         quick={**attack_cfg.quick, "images": images})
    return replace(cfg, attack=attack_cfg)


def minimal_cell(target: Target, name: str, paths: Paths, runtime: Runtime, config_dir: Path, *,
                 log: Callable[[str], None] = print) -> dict:
    """The attack's minimal-ε search on the study's images (the attack pipeline's crafted set)."""
    cfg, study = target.cfg, target.cfg.study
    run_cfg = minimal_config(cfg, name, config_dir)
    spec = get_attack_spec(name)
    params = attack_parameters(run_cfg, spec)
    made = ensure_crafted(run_cfg, spec, params, target.variant, paths, runtime, log)
    record_path, per_sample = cell_paths(paths, study.name, target.variant, f"{name}-minimal-{made.key}")
    reused = finished_record(record_path, paths.results / per_sample)
    if reused:
        return reused
    crafted = made.table.set_index("image_id").loc[target.view.ids]
    table = pd.DataFrame({"image_id": target.view.ids, "label": target.labels, "clean_prob": target.clean_prob,
                          "correct": crafted["attacked"].to_numpy(bool), "success": crafted["success"].to_numpy(bool),
                          "found": crafted["found"].to_numpy(float), "adv_prob": crafted["adv_prob"].to_numpy(float),
                          **{m: crafted[m].to_numpy(float) for m in ("linf", "l2", "l0", "mse")}})
    atomic_write(paths.results / per_sample, lambda tmp: table.to_parquet(tmp, index=False))
    correct = table["correct"].to_numpy()
    success = float(table["success"][correct].mean()) if correct.any() else float("nan")
    record = _record(target, runtime, target.labels, table["adv_prob"].to_numpy(), per_sample, measure="minimal",
                     attack=name, attack_id=spec.paper_id, attack_title=spec.title, attack_params=params,
                     iterations=int(params.get(getattr(spec.builder, "budget_param", ""), 0) or 0),
                     cell_key=made.key, success_rate=success, gradients=int(crafted["gradients"].sum()),
                     attack_seconds=float(crafted["seconds"].sum()),
                     crafted=str(made.directory.relative_to(paths.results)))
    log(f"study {study.name} {target.variant.name} ({record.axis or 'train images'}={record.axis_value}) "
        f"{spec.paper_id} minimal-ε search: success {success:.3f} ({'reused' if made.reused else 'crafted'})")
    return {**write_record(record_path, record, paths.root), "reused": False}
