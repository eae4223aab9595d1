"""The attack run: white-box and black-box evaluation of one attack on one pooling variant.

Both architectures with the configured pooling are trained (or reused); the attack is crafted
once on each (stored under ``results/adversarial/``, resumable) and every stored set is evaluated
on both: crafted and tested on the same network is white-box, crafted on one and tested on the
other is black-box (Taghanaki et al. 2018, Tables 1 and 2). One summary record per
(setting, target) lands under ``results/records/attack/``.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from filelock import FileLock

from cxrbench.attacks import AttackSpec, create_attack, get_attack_spec
from cxrbench.config import RunConfig
from cxrbench.data.datasets import SubsetView, stratified_rows
from cxrbench.evaluation.adversarial import craft, eval_path, evaluate_on, load_table, summarize
from cxrbench.pipeline import (Paths, Variant, evaluate_clean, plain_config, prepare_variant, resolve_paths,
                               split_summary)
from cxrbench.reporting.records import make_record, write_record
from cxrbench.training.runtime import Runtime, resolve_runtime, seed_everything


@dataclass
class CraftedSet:
    """Adversarials of one (source variant, attack configuration), stored on disk."""

    source: Variant
    directory: Path
    key: str
    table: pd.DataFrame
    reused: bool


def attack_parameters(cfg: RunConfig, spec: AttackSpec) -> dict:
    """The attack's keyword arguments: the active profile, plus the run seed where it takes one."""
    import inspect

    params = cfg.attack.params(cfg.train.name)
    if "seed" in inspect.signature(spec.builder).parameters:
        params.setdefault("seed", cfg.seed)
    return params


def _digest(blob: dict) -> str:
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def attacked_view(variant: Variant, cfg: RunConfig) -> SubsetView:
    """The attacked test images: the whole test split, or the configured stratified subset."""
    test = variant.data.test
    return SubsetView(test, stratified_rows(test.targets, cfg.attack.images(cfg.train.name), cfg.seed))


def ensure_crafted(cfg: RunConfig, spec: AttackSpec, params: dict, source: Variant, paths: Paths,
                   runtime: Runtime, log=print) -> CraftedSet:
    """Craft the attack on ``source`` unless a finished set with the same key exists."""
    key = _digest({"source": source.key, "model": source.model.identity.as_dict(), "attack": spec.name,
                   "params": params, "images": cfg.attack.images(cfg.train.name), "chunk_size": cfg.attack.chunk_size,
                   "seed": cfg.seed})
    directory = paths.results / "adversarial" / f"{source.name}-{spec.name}-{key}"
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / ".lock")):  # concurrent sweep jobs craft each set once
        done = (directory / "done.json").exists()
        if done:
            table = load_table(directory)
        else:
            attack = create_attack(spec.name, **params)
            log(f"craft: {spec.paper_id} {spec.title} on {source.name}: {attack!r}")
            torch.manual_seed(cfg.seed)
            table = craft(attack, source.model, attacked_view(source, cfg), directory, device=runtime.device,
                          chunk_size=cfg.attack.chunk_size, progress=cfg.progress)
    return CraftedSet(source, directory, key, table, reused=done)


def run_attack(cfg: RunConfig, peer: RunConfig, default_root: Path, log=print) -> list[dict]:
    """Craft ``cfg.attack`` on ``cfg``'s model and on its ``peer`` architecture; evaluate all four pairs.

    Returns the summary records, the configured model's white-box and black-box rows first.
    """
    wall = time.perf_counter()
    spec = get_attack_spec(cfg.attack.name)
    params = attack_parameters(cfg, spec)
    paths = resolve_paths(cfg, default_root)
    seed_everything(cfg.seed, cfg.deterministic)
    runtime = resolve_runtime(cfg.device)
    variants = [prepare_variant(c, paths, runtime, log) for c in (cfg, peer)]
    for c, variant in zip((cfg, peer), variants):  # the tables' Clean column
        evaluate_clean(c, variant, paths, runtime, wall=wall, log=log)
    crafted = [ensure_crafted(cfg, spec, params, v, paths, runtime, log) for v in variants]

    records = []
    for target in variants:
        for made in sorted(crafted, key=lambda c: c.source is not target):  # white-box first
            setting = "white-box" if made.source is target else "black-box"
            evaluated = evaluate_on(target.model, attacked_view(target, cfg), made.directory,
                                    f"{target.name}-{target.key}", device=runtime.device,
                                    batch_size=cfg.train.eval_batch_size)
            metrics = summarize(made.table, evaluated)
            ident = target.model.identity
            record = make_record(
                "attack", config=plain_config(cfg), seed=cfg.seed, root=paths.root, metrics=metrics,
                split=split_summary(target), attack=spec.name, attack_id=spec.paper_id, attack_title=spec.title,
                family=spec.family, profile=cfg.attack.resolved_profile(cfg.train.name), attack_params=params,
                model=ident.model, pooling=ident.pooling, source=made.source.model.identity.model,
                setting=setting, accuracy=metrics["accuracy"], auc=metrics["auc"],
                success_rate=metrics["success_rate"], images=len(evaluated),
                crafted=str(made.directory.relative_to(paths.results)),
                per_sample=str(eval_path(made.directory, f"{target.name}-{target.key}").relative_to(paths.results)),
                crafted_reused=made.reused, crafting_seconds=float(made.table["seconds"].sum()),
                target=ident.as_dict(), target_training=target.training, data=target.data.description,
                device=str(runtime.device), wall_seconds=time.perf_counter() - wall)
            name = f"{setting}-{ident.model}-{ident.pooling}-{spec.name}-{_digest({'c': made.key, 't': target.key})}"
            record["path"] = str(write_record(paths.records / "attack" / f"{name}.json", record))
            records.append(record)
    return records


def format_summary(records: list[dict]) -> str:
    """The white-box and black-box rows of the configured model, as printed by ``scripts/run.py``."""
    head = records[0]
    lines = [f"attack {head['attack']} ({head['attack_id']} {head['attack_title']}, {head['profile']} profile) "
             f"on {head['model']}/{head['pooling']}, test images n={head['images']}:",
             f"{'setting':<10} {'crafted on':<10} {'accuracy':>8} {'AUC':>6} {'success':>8} {'median eps':>10}"]
    for r in records:
        if r["model"] != head["model"]:
            continue
        m = r["metrics"]
        lines.append(f"{r['setting']:<10} {r['source']:<10} {r['accuracy']:>8.3f} {r['auc']:>6.3f} "
                     f"{r['success_rate']:>8.3f} {m['median_linf']:>10.4f}")
    lines.append("(accuracy and AUC over all attacked test images; success over those the target classified "
                 "correctly; median eps: median L-inf size of the crafted perturbations that fooled)")
    return "\n".join(lines)
