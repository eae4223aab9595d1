"""The attack run: white-box and black-box evaluation of one attack on one pooling variant.

The configured model and its peers (the other models of ``grid.models``), all with the configured
pooling, are trained (or reused); the attack is crafted once on each (stored under
``results/adversarial/``, resumable) and every stored set is evaluated on every model: crafted and
tested on the same network is white-box, crafted on one and tested on another is black-box
(Taghanaki et al. 2018, Tables 1 and 2, for their pair; a source x target transfer matrix for any
set). One summary record per (source, target) lands under ``results/records/attack/``.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from filelock import FileLock

from cxrbench.attacks import AttackSpec, create_attack, get_attack_spec
from cxrbench.config import RunConfig
from cxrbench.data.datasets import SubsetView, stratified_rows
from cxrbench.errors import ConfigError, DataError
from cxrbench.evaluation.adversarial import craft, crafted_by, eval_path, evaluate_on, load_table, summarize
from cxrbench.evaluation.crafted_set import finished_and_whole
from cxrbench.pipeline import (Paths, Variant, clean_predictions, evaluate_clean, prepare_variant, record_base,
                               resolve_paths)
from cxrbench.reporting.manifest import git_state
from cxrbench.reporting.records import write_record
from cxrbench.reporting.schema import AttackRecord
from cxrbench.runtime import Runtime, resolve_runtime, seed_everything


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


def deviations(cfg: RunConfig, spec: AttackSpec, params: dict) -> dict:
    """Parameters set below the paper's value that make a weaker attack, not just a cheaper one.

    Which parameters do is a fact of the attack (its ``weakening`` attribute): fewer rounds of
    local search, fewer pixels of the single-pixel walk, fewer fresh noise draws.
    """
    paper = cfg.attack.paper
    return {name: {"paper": paper.get(name), "used": params.get(name)}
            for name in getattr(spec.builder, "weakening", ()) if params.get(name) != paper.get(name)}


def digest(blob: dict) -> str:
    """A 16-hex-digit SHA-256 of ``blob`` as sorted JSON: the key of a crafted set, a cell or a record file."""
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def attacked_view(variant: Variant, cfg: RunConfig) -> SubsetView:
    """The attacked test images: the whole test split, or a seeded stratified prefix of it.

    Subsets of one seed are nested (the first n of one stratified order), so a cheap attack on
    all images and an expensive one on a few share the expensive one's images.
    """
    profile = cfg.attack.resolved_profile(cfg.train.name)
    return test_subset(variant, cfg.attack.images(cfg.train.name), cfg.seed, setting=f"attack.{profile}.images")


def test_subset(variant: Variant, images: int | None, seed: int, *, setting: str = "images") -> SubsetView:
    """The first ``images`` test images of the seed's stratified order (None: all of them).

    Raises:
        ConfigError: ``images`` exceeds the test split; the record would claim images that never ran.
    """
    test = variant.data.test
    if images is not None and images > len(test):
        raise ConfigError(f"{setting}={images} exceeds the {len(test)} test images of {variant.data.description['source']}; "
                          f"set {setting} to at most {len(test)} (or null: the whole test split)")
    return SubsetView(test, stratified_rows(test.targets, images, seed))


def image_set(view: SubsetView) -> dict:
    """How many images, how many with a finding, and a digest of exactly which ones."""
    return {"n": len(view), "n_positive": int(np.sum(view.targets)),
            "digest": hashlib.sha256("\n".join(view.ids).encode()).hexdigest()[:16]}


def ensure_crafted(cfg: RunConfig, spec: AttackSpec, params: dict, source: Variant, paths: Paths,
                   runtime: Runtime, log=print) -> CraftedSet:
    """Craft the attack on ``source`` unless a finished set with the same key exists."""
    view = attacked_view(source, cfg)
    # Random draws are keyed by image id, so the chunk size is no part of what is crafted.
    key = digest({"source": source.key, "model": source.model.identity.as_dict(), "attack": spec.name,
                   "params": params, "images": image_set(view), "image_size": cfg.train.canonical_size,
                   "seed": cfg.seed})
    directory = paths.results / "adversarial" / f"{source.name}-{spec.name}-{key}"
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / ".lock")):  # concurrent sweep jobs craft each set once
        done = finished_and_whole(directory, log)
        if done:
            table = load_table(directory)
        else:
            attack = create_attack(spec.name, **params)
            log(f"craft: {spec.paper_id} {spec.title} on {source.name} ({len(view)} images): {attack!r}")
            torch.manual_seed(cfg.seed)
            provenance = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seed": cfg.seed,
                          "source_key": source.key, **git_state(paths.root)}
            table = craft(attack, source.model, view, directory, device=runtime.device,
                          chunk_size=cfg.attack.chunk_size, progress=cfg.progress, provenance=provenance)
    return CraftedSet(source, directory, key, table, reused=done)


def run_attack(cfg: RunConfig, peers: list[RunConfig], default_root: Path, log=print) -> list[dict]:
    """Craft ``cfg.attack`` on ``cfg``'s model and on each of ``peers``; evaluate every (source, target) pair.

    Returns the summary records, target by target (``cfg``'s model first), white-box first.
    """
    wall = time.perf_counter()
    spec = get_attack_spec(cfg.attack.name)
    params = attack_parameters(cfg, spec)
    paths = resolve_paths(cfg, default_root)
    paths.check_writable()
    seed_everything(cfg.seed, cfg.deterministic)
    runtime = resolve_runtime(cfg.device)
    configs = [cfg, *peers]
    variants = [prepare_variant(c, paths, runtime, log) for c in configs]
    for c, variant in zip(configs, variants):  # the tables' Clean column
        evaluate_clean(c, variant, paths, runtime, wall=wall, log=log)
    crafted = [ensure_crafted(cfg, spec, params, v, paths, runtime, log) for v in variants]
    weaker = deviations(cfg, spec, params)

    records = []
    for target in variants:
        clean = clean_predictions(target, paths, runtime, cfg.train.eval_batch_size)
        for made in sorted(crafted, key=lambda c: c.source is not target):  # white-box first
            setting = "white-box" if made.source is target else "black-box"
            name = f"{target.name}-{target.key}"
            evaluated = evaluate_on(target.model, made.directory, name, clean, device=runtime.device,
                                    batch_size=cfg.train.eval_batch_size)
            metrics = summarize(made.table, evaluated)
            images = image_set(attacked_view(target, cfg))
            if not metrics["n"] == len(made.table) == images["n"]:  # never a record from a part of the set
                raise DataError(f"{made.directory} yields {metrics['n']} evaluated of {len(made.table)} crafted images "
                                f"for a set of {images['n']}; rerun the attack: it recrafts damaged chunks")
            per_sample = eval_path(made.directory, name).relative_to(paths.results)
            record = AttackRecord(
                **record_base(cfg, target, runtime, metrics, wall=wall, per_sample=per_sample),
                setting=setting, source=made.source.model.identity.model, source_key=made.source.key,
                attack=spec.name, attack_id=spec.paper_id, attack_title=spec.title, family=spec.family,
                profile=cfg.attack.resolved_profile(cfg.train.name), attack_params=params, deviations=weaker,
                comparable_with_paper=not weaker, image_set=images,
                cell_key=digest({"attack": spec.name, "params": params, "images": images}),
                clean_accuracy=metrics["clean_accuracy"], clean_auc=metrics["clean_auc"],
                success_rate=metrics["success_rate"], crafted=str(made.directory.relative_to(paths.results)),
                crafted_reused=made.reused, crafted_by=crafted_by(made.directory),
                crafting_seconds=float(made.table["seconds"].sum()))
            file = f"{setting}-{record.model}-{record.pooling}-{spec.name}-{digest({'c': made.key, 't': target.key})}"
            records.append(write_record(paths.records / "attack" / f"{file}.json", record, paths.root))
    return records


def format_summary(records: list[dict]) -> str:
    """The white-box and black-box rows of the configured model, as printed by ``scripts/run.py``."""
    head = records[0]
    lines = [f"attack {head['attack']} ({head['attack_id']} {head['attack_title']}, {head['profile']} profile) "
             f"on {head['model']}/{head['pooling']}, n={head['images']} test images "
             f"({head['image_set']['n_positive']} with a finding):",
             f"{'setting':<10} {'crafted on':<10} {'accuracy':>8} {'AUC':>6} {'clean acc':>9} {'clean AUC':>9} "
             f"{'success':>8} {'median eps':>10}"]
    for r in records:
        if r["model"] != head["model"]:
            continue
        lines.append(f"{r['setting']:<10} {r['source']:<10} {r['accuracy']:>8.3f} {r['auc']:>6.3f} "
                     f"{r['clean_accuracy']:>9.3f} {r['clean_auc']:>9.3f} {r['success_rate']:>8.3f} "
                     f"{r['metrics']['median_linf']:>10.4f}")
    lines.append("(accuracy and AUC over the attacked test images, clean acc/AUC over the same images unattacked; "
                 "success over those the target classified correctly; median eps: median L-inf size of the "
                 "perturbations that fooled)")
    if head["deviations"]:
        lines.append("not comparable with the paper, a weaker attack: " + ", ".join(
            f"{k} {v['used']} instead of {v['paper']}" for k, v in head["deviations"].items()))
    return "\n".join(lines)
