"""Crafted sets: an attack run once on a source model, stored on disk, shared by every protocol.

The paper protocol evaluates a crafted set on every model; the studies read the minimal-ε
searches from the same sets, so ``scripts/run.py attack=<a>`` and a study never craft one twice.
:func:`fixed_budget_attack` builds the fixed-ε runs of the robust table and the studies.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from filelock import FileLock

from cxrbench.attacks import AttackSpec, create_attack, get_attack_spec
from cxrbench.data.datasets import SubsetView
from cxrbench.evaluation.adversarial import craft, load_table
from cxrbench.evaluation.crafted_set import finished_and_whole
from cxrbench.kit.compose import compose_raw
from cxrbench.kit.config import RunConfig, validate
from cxrbench.kit.pipeline import Paths, Variant
from cxrbench.kit.subsets import digest, image_set, test_subset
from cxrbench.models.factory import ModelIdentity
from cxrbench.records.manifest import git_state
from cxrbench.runtime import Runtime


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


def attacked_view(variant: Variant, cfg: RunConfig) -> SubsetView:
    """The attacked test images: the whole test split, or a seeded stratified prefix of it.

    Subsets of one seed are nested (the first n of one stratified order), so a cheap attack on
    all images and an expensive one on a few share the expensive one's images.
    """
    profile = cfg.attack.resolved_profile(cfg.train.name)
    return test_subset(variant, cfg.attack.images(cfg.train.name), cfg.seed, setting=f"attack.{profile}.images")


def crafted_key(cfg: RunConfig, attack: str, params: dict, source_key: str, identity: ModelIdentity,
                images: dict) -> str:
    """What names a crafted set: the source's weights and identity, the attack and its parameters, the images."""
    # Random draws are keyed by image id, so the chunk size is no part of what is crafted.
    return digest({"source": source_key, "model": identity.as_dict(), "attack": attack, "params": params,
                   "images": images, "image_size": cfg.train.canonical_size, "seed": cfg.seed})


def crafted_dir(paths: Paths, source_name: str, attack: str, key: str) -> Path:
    """The folder of a crafted set (finished once it holds its manifest)."""
    return paths.results / "adversarial" / f"{source_name}-{attack}-{key}"


def ensure_crafted(cfg: RunConfig, spec: AttackSpec, params: dict, source: Variant, paths: Paths,
                   runtime: Runtime, log=print) -> CraftedSet:
    """Craft the attack on ``source`` unless a finished set with the same key exists."""
    view = attacked_view(source, cfg)
    key = crafted_key(cfg, spec.name, params, source.key, source.model.identity, image_set(view))
    directory = crafted_dir(paths, source.name, spec.name, key)
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


def fixed_budget_attack(name: str, iterations: int, seed: int, config_dir: Path):
    """Attack ``name`` with its paper parameters, ``iterations`` steps per run, ``seed``; and those params."""
    spec = get_attack_spec(name)
    attack_cfg = validate(compose_raw([f"attack={name}"], config_dir)).attack
    search = getattr(spec.builder, "search_params", ())
    params = {k: v for k, v in attack_cfg.paper.items() if k != "images" and k not in search}
    params[spec.builder.budget_param] = iterations
    params["seed"] = seed
    return create_attack(name, **params), params
