"""What an experiment needs before it runs: its trainings and attack runs, which the store holds, their cost.

Each protocol's plan lists :class:`Work` items. A training is looked up by the same checkpoint key
the run would train under (data, split, model, recipe, seed, task); a crafted set by the key
:func:`cxrbench.kit.crafting.crafted_key` gives it. Neither needs an image: the key is computed from
the data source's metadata and split alone. The cost of an item is a list of :class:`Load` (image
passes through one network), priced by :mod:`cxrbench.kit.throughput`.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from cxrbench.attacks import create_attack, get_attack_spec
from cxrbench.data import create_data_source
from cxrbench.data.datasets import stratified_rows
from cxrbench.evaluation.adversarial import load_table
from cxrbench.evaluation.crafted_set import MANIFEST, read_manifest
from cxrbench.io import file_sha256
from cxrbench.kit.config import RunConfig
from cxrbench.kit.crafting import attack_parameters, crafted_dir, crafted_key
from cxrbench.kit.pipeline import Paths, variant_name
from cxrbench.kit.subsets import image_set_of
from cxrbench.kit.throughput import network_name
from cxrbench.models import get_model_spec
from cxrbench.models.factory import ModelIdentity, model_identity
from cxrbench.tasks import get_task
from cxrbench.training.store import checkpoint_dir, checkpoint_key


@dataclass(frozen=True)
class Load:
    """Image passes through one network (``model@size``): forward-and-backward, and forward only."""

    network: str
    backward: float = 0.0
    forward: float = 0.0


@dataclass
class Work:
    """One item of a plan.

    Attributes:
        kind: ``train``, ``craft`` (an attack run stored as a crafted set) or ``attack`` (a protocol's
            own attack runs on one model).
        label: the line a plan prints.
        exists: whether the store already holds it (None: the plan cannot tell).
        loads: its image passes.
        basis: where per-image counts come from when they are not fixed by the settings.
    """

    kind: str
    label: str
    exists: bool | None
    loads: tuple[Load, ...] = ()
    basis: str = ""
    priced: bool = True   # False: part of its cost is unknown, so no total is claimed for it


@dataclass(frozen=True)
class DataFacts:
    """What a plan needs of a data source: its description, split digest, sizes and test targets."""

    description: dict
    split_digest: str
    sizes: dict
    test_ids: tuple[str, ...]
    test_targets: tuple[int, ...]


_FACTS: dict[tuple[str, str], DataFacts] = {}


def data_facts(cfg: RunConfig, paths: Paths) -> DataFacts:
    """The split and metadata of ``cfg``'s data, read once per data config and root; no image is opened."""
    key = (json.dumps(asdict(cfg.data), sort_keys=True, default=str), str(paths.root))
    if key not in _FACTS:
        source = create_data_source(cfg.data, paths.root)
        split, table = source.split(), source.table()
        test = list(split.test)
        _FACTS[key] = DataFacts(source.description(), split.digest(), split.sizes(), tuple(test),
                                tuple(int(t) for t in table.loc[test, "target"]))
    return _FACTS[key]


def identity_of(cfg: RunConfig) -> ModelIdentity:
    """The identity of the network ``cfg`` trains (as :func:`cxrbench.models.create_model` would give it)."""
    return model_identity(cfg.model.name, cfg.pooling.mode, input_size=cfg.train.input_size,
                          channels=cfg.model.channels, num_classes=get_task(cfg.task.name).num_classes)


def network_of(cfg: RunConfig) -> str:
    return network_name(cfg.model.name, cfg.train.input_size)


def training_key(cfg: RunConfig, paths: Paths) -> tuple[str | None, Path | None]:
    """The key ``cfg``'s weights are stored under and their checkpoint folder (None: given weights, never trained).

    A model of a loaded family (``model=external``) is keyed by its file as the loader reads it: the
    plan does not load it, so its key is None and what was crafted on it is not looked up.
    """
    if get_model_spec(cfg.model.name).loader is not None:
        return None, None
    if cfg.model.checkpoint:
        return f"ckpt-{file_sha256(Path(cfg.model.checkpoint).expanduser())[:16]}", None
    facts = data_facts(cfg, paths)
    train = cfg.train
    if train.train_size is None or train.train_size == facts.sizes["train"]:
        train = replace(train, train_size=None)  # as kit.pipeline.training_subset keys the whole split
    init = file_sha256(Path(cfg.model.weights).expanduser())[:16] if cfg.model.weights else None
    ident = identity_of(cfg)
    key = checkpoint_key(facts.description, facts.split_digest, ident, train, cfg.seed, init, cfg.task.name)
    return key, checkpoint_dir(paths.checkpoints, ident, key)


def training_work(cfg: RunConfig, paths: Paths, label: str) -> Work:
    """The training of ``cfg`` (or its reuse): held when its checkpoint folder is finished."""
    key, directory = training_key(cfg, paths)
    facts = data_facts(cfg, paths)
    if directory is None:
        return Work("train", f"{label}: given weights {cfg.model.checkpoint or cfg.model.path}, never trained", True)
    t = cfg.train
    n_train = min(t.train_size or facts.sizes["train"], facts.sizes["train"])
    per_epoch = max(1, n_train // t.batch_size)
    steps = t.max_steps if t.max_steps is not None else t.epochs * per_epoch
    evaluations = -(-steps // (t.eval_every or per_epoch))
    adversarial = t.adversary.method != "none"
    # A PGD-AT step adds the adversary's gradients; each validation also attacks the validation split.
    backward = steps * t.batch_size * (1 + (t.adversary.steps if adversarial else 0))
    n_val = facts.sizes["val"]
    # Clean validation, and under PGD-AT the validation split attacked at the training ε as well.
    val_backward, val_forward = (n_val * t.adversary.steps, 2 * n_val) if adversarial else (0, n_val)
    recalibration = evaluations * t.bn_recalibration_batches * t.batch_size
    loads = (Load(network_of(cfg), backward=backward + evaluations * val_backward,
                  forward=evaluations * val_forward + recalibration + facts.sizes["test"]),)
    exists = (directory / "done.json").is_file()
    return Work("train", f"{label}: {steps} steps x {t.batch_size} images at {t.input_size} px, "
                         f"{evaluations} validations -> {directory.name}", exists, loads)


def attacked_images(cfg: RunConfig, paths: Paths, images: int | None) -> tuple[list[str], list[int]]:
    """The ids and targets of the seeded stratified test prefix a cell attacks (as kit.subsets.test_subset)."""
    facts = data_facts(cfg, paths)
    rows = stratified_rows(np.asarray(facts.test_targets), images, cfg.seed)
    return [facts.test_ids[i] for i in rows], [facts.test_targets[i] for i in rows]


def variant_of(cfg: RunConfig) -> str:
    """The folder name of ``cfg``'s trained model (kit.pipeline.Variant.name)."""
    return variant_name(cfg.model.name, cfg.pooling.mode, cfg.train.adversary.regime())


_CRAFTED = re.compile(r"-(?P<attack>[a-z0-9_]+)-[0-9a-f]{16}$")


def measured_calls(paths: Paths, attack: str, description: str) -> tuple[float, float, str] | None:
    """Forwards and gradients per attacked image of ``attack``'s finished crafted sets in the store.

    Sets whose manifest names the same attack object (``description``, its ``repr``) are preferred;
    failing those, the attack's sets at other settings stand in, and the basis says so.

    Returns:
        (queries, gradients, basis) per image, or None when the store holds no finished set of it.
    """
    same, other = [], []
    for manifest in sorted((paths.results / "adversarial").glob(f"*-{attack}-*/{MANIFEST}")):
        match = _CRAFTED.search(manifest.parent.name)
        if not match or match["attack"] != attack:
            continue  # e.g. irv2-max-pgd-at-fgsm-<key> is an fgsm set, not a pgd one
        (same if read_manifest(manifest.parent).get("attack") == description else other).append(manifest.parent)
    chosen, basis = (same, "measured") if same else (other, "measured at other settings")
    if not chosen:
        return None
    table = pd.concat([load_table(d) for d in chosen], ignore_index=True)
    return (float(table["queries"].mean()), float(table["gradients"].mean()),
            f"{basis}: {len(table)} images of {len(chosen)} crafted set(s)")


def crafting_work(cell: RunConfig, targets: list[RunConfig], paths: Paths, label: str) -> Work:
    """Crafting ``cell.attack`` on ``cell``'s model and evaluating the set on every target (itself included)."""
    spec = get_attack_spec(cell.attack.name)
    params = attack_parameters(cell, spec)
    source_key, _ = training_key(cell, paths)
    ids, targets_of = attacked_images(cell, paths, cell.attack.images(cell.train.name))
    key = crafted_key(cell, spec.name, params, source_key, identity_of(cell), image_set_of(ids, targets_of))
    directory = crafted_dir(paths, variant_of(cell), spec.name, key)
    exists = (directory / MANIFEST).is_file() if source_key is not None else None
    calls = measured_calls(paths, spec.name, repr(create_attack(spec.name, **params)))
    n = len(ids)
    evaluations = tuple(Load(network_of(t), forward=n) for t in targets)
    if calls is None:
        loads, basis = evaluations, "per-image cost unknown: no finished set of this attack in the store"
    else:
        queries, gradients, basis = calls
        # A gradient is counted as a query too: it is one forward-and-backward pass, not two passes.
        loads = (Load(network_of(cell), backward=n * gradients, forward=n * max(queries - gradients, 0.0)),
                 *evaluations)
    return Work("craft", f"{label}: {spec.paper_id} {spec.name} on {variant_of(cell)}, {n} images, tested on "
                         f"{len(targets)} models -> {directory.name}",
                exists, loads, basis, priced=calls is not None)


def fixed_budget_work(cfg: RunConfig, label: str, *, runs: int, images: int, gradients: int,
                      exists: bool | None = None) -> Work:
    """``runs`` fixed-budget attack runs on ``cfg``'s model, each ``gradients`` steps on ``images`` images."""
    return Work("attack", label, exists,
                (Load(network_of(cfg), backward=runs * images * gradients, forward=runs * images),))


def trainings(cfgs: list[RunConfig], paths: Paths) -> list[Work]:
    """One training item per distinct trained model among ``cfgs`` (cells sharing a model share its training)."""
    work, seen = [], set()
    for cfg in cfgs:
        key, _ = training_key(cfg, paths)
        if (key or cfg.model.path) not in seen:
            seen.add(key or cfg.model.path)
            work.append(training_work(cfg, paths, f"{variant_of(cfg)} seed {cfg.seed} ({cfg.train.name} recipe)"))
    return work


def records_folder(cfg: RunConfig, paths: Paths, *parts: str) -> Path:
    """``records/<parts...>/<variant>-<training key>``: where a protocol files the cells of one trained model."""
    key, _ = training_key(cfg, paths)
    return paths.records.joinpath(*parts) / f"{variant_of(cfg)}-{key}"


def recorded(folder: Path, stems: list[str]) -> bool:
    """Whether ``folder`` holds a record for every stem (``<attack>-<ε>``; the cell key after it is not checked)."""
    return all(any(folder.glob(f"{stem}-*.json")) for stem in stems)
