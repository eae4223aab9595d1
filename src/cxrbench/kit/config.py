"""Config validation: every config group is checked against its schema before any work starts.

Hydra composes the YAML files; :func:`validate` then merges each group into its dataclass schema
(:mod:`cxrbench.settings`, re-exported here; the data group's from its data source), so a misspelt
key, a wrong type or an unknown choice fails with one line that lists what is valid. A protocol's
settings block is typed here and checked by the protocol itself (``Protocol.check``), so a run
checks only the settings it uses.
"""
from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.data import data_source_class, list_data_sources
from cxrbench.errors import ConfigError
from cxrbench.models import POOLING_MODES, check_model_config, list_models
from cxrbench.models.init_weights import weights_problem
from cxrbench.settings import (AttackConfig, GridConfig, ModelConfig, MultiLabelConfig, PathsConfig, PoolingConfig,
                               RobustConfig, RunConfig, StudyConfig, TaskConfig, TrainConfig)
from cxrbench.tasks import get_task, list_tasks
from cxrbench.training.adversarial import METHODS as ADVERSARIES

OPTIMIZERS = ("rmsprop_tf", "adamw", "sgd")
SCHEDULES = ("step", "cosine", "constant")
DEVICES = ("auto", "cpu", "cuda")
ATTACK_PROFILES = ("auto", "paper", "quick")
SEED_RANGE = 2**32  # NumPy and torch accept seeds in [0, 2**32)


def check_seed(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_RANGE:
        raise ConfigError(f"{where} must be an integer in [0, 2**32) (NumPy's and torch's seeds), got {value!r}")


def check_positive(value: Any, where: str, *, optional: bool = True) -> None:
    if (value is not None or not optional) and (isinstance(value, bool) or not isinstance(value, (int, float))
                                                or value <= 0):
        raise ConfigError(f"{where} must be positive, got {value!r}")


def typed(schema: type, node: Any, where: str):
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), node))
    except OmegaConfBaseException as exc:
        key = f"{where}.{exc.full_key}" if getattr(exc, "full_key", None) else where
        reason = str(getattr(exc, "msg", exc)).strip().splitlines()[0]
        if "not in" in reason:
            valid = ", ".join(f.name for f in fields(schema))
            raise ConfigError(f"unknown config key '{key}'; valid keys under '{where}': {valid}") from None
        raise ConfigError(f"invalid value for '{key}': {reason}") from None


def choose(value: str, valid: tuple[str, ...], where: str) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {where} {value!r}; choose one of: {', '.join(valid)}")


def _attack(node: Any) -> Optional[AttackConfig]:
    """The attack group, checked against the registry: name, profile and every parameter."""
    if node is None:
        return None
    if not isinstance(node, dict):
        raise ConfigError(f"attack must be chosen from the attack group (attack=pgd), got {node!r}")
    attack = typed(AttackConfig, node, "attack")
    spec = get_attack_spec(attack.name)
    choose(attack.profile, ATTACK_PROFILES, "attack.profile")
    valid = ["images"] + [p for p in inspect.signature(spec.builder).parameters if p != "self"]
    for profile in ("paper", "quick"):
        unknown = sorted(set(getattr(attack, profile)) - set(valid))
        if unknown:
            raise ConfigError(f"unknown parameter(s) {unknown} in attack.{profile} of {attack.name!r}; "
                              f"valid parameters: {', '.join(valid)}")
    unnamed = sorted(set(attack.quick) - set(attack.paper))
    if unnamed:
        raise ConfigError(f"attack.quick of {attack.name!r} reduces {unnamed}, which attack.paper does not "
                          "set; state the paper value of every parameter the quick profile changes")
    for profile in ("paper", "quick"):
        images = getattr(attack, profile).get("images")
        if images is not None and (not isinstance(images, int) or images < 1):
            raise ConfigError(f"attack.{profile}.images must be a positive number of test images or null "
                              f"(all), got {images!r}")
    return attack


def _grid(node: Any) -> GridConfig:
    """The experiment grid, every name checked against its registry."""
    grid = typed(GridConfig, node, "grid")
    for name in grid.attacks:
        get_attack_spec(name)
    for name in grid.models:
        choose(name, tuple(list_models()), "model in grid.models")
    if len(set(grid.models)) != len(grid.models):
        raise ConfigError(f"grid.models names a model twice ({grid.models}); list each once")
    for mode in grid.poolings:
        choose(mode, tuple(POOLING_MODES), "pooling in grid.poolings")
    if not grid.attacks:
        grid.attacks = list_attacks(paper_only=True)
    return grid


def validate(cfg: DictConfig) -> RunConfig:
    """Check the composed config against the schemas and return it typed."""
    raw = OmegaConf.to_container(cfg, resolve=True)
    raw.pop("hydra", None)
    data = raw.get("data") or {}
    source = data.get("source")
    choose(source, tuple(list_data_sources()), "data source")
    data_source = data_source_class(source)
    top = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ConfigError(f"unknown top-level config keys {unknown}; valid keys: {', '.join(sorted(top))}")
    run = RunConfig(
        data=typed(data_source.schema, data, "data"),
        model=typed(ModelConfig, raw.get("model", {}), "model"),
        pooling=typed(PoolingConfig, raw.get("pooling", {}), "pooling"),
        train=typed(TrainConfig, raw.get("train", {}), "train"),
        paths=typed(PathsConfig, raw.get("paths", {}), "paths"),
        grid=_grid(raw.get("grid", {})), robust=typed(RobustConfig, raw.get("robust") or {}, "robust"),
        study=typed(StudyConfig, raw.get("study") or {}, "study"), task=typed(TaskConfig, raw.get("task", {}), "task"),
        multilabel=typed(MultiLabelConfig, raw.get("multilabel") or {}, "multilabel"),
        attack=_attack(raw.get("attack")), seed=raw.get("seed", 0), seeds=raw.get("seeds"),
        device=raw.get("device", "auto"),
        progress=raw.get("progress", True), deterministic=raw.get("deterministic", True),
        protocol=raw.get("protocol"), plan_only=raw.get("plan_only", False),
    )
    if run.protocol is not None and not isinstance(run.protocol, str):
        raise ConfigError(f"protocol must be a protocol's name (set by an experiment), got {run.protocol!r}")
    if not isinstance(run.plan_only, bool):
        raise ConfigError(f"plan_only must be true or false, got {run.plan_only!r}")
    choose(run.model.name, tuple(list_models()), "model")
    if run.model.checkpoint and run.model.weights:
        raise ConfigError("model.checkpoint (evaluate these trained weights) and model.weights (initialise, then "
                          "train) exclude each other; drop one")
    if run.model.weights:  # a missing or wrong file fails here, before the data cache is built
        problem = weights_problem(run.model.weights)
        if problem:
            raise ConfigError(problem)
    choose(run.pooling.mode, POOLING_MODES, "pooling")
    data_source.check_config(run.data)
    _task(run)
    check_model_config(run.model, pooling=run.pooling.mode, task=run.task.name,
                       labels=tuple(data_source.label_names(run.data)))
    choose(run.train.optimizer, OPTIMIZERS, "train.optimizer")
    choose(run.train.schedule, SCHEDULES, "train.schedule")
    choose(run.device, DEVICES, "device")
    choose(run.train.adversary.method, ADVERSARIES, "train.adversary.method")
    check_positive(run.train.adversary.epsilon, "train.adversary.epsilon", optional=False)
    check_positive(run.train.adversary.steps, "train.adversary.steps", optional=False)
    check_positive(run.train.adversary.step_size, "train.adversary.step_size")
    if (run.train.epochs is None) == (run.train.max_steps is None):
        raise ConfigError("set exactly one of train.epochs and train.max_steps")
    check_seed(run.seed, "seed")
    if run.seeds is not None:
        if not isinstance(run.seeds, list) or not run.seeds or len(set(map(str, run.seeds))) != len(run.seeds):
            raise ConfigError(f"seeds must be a non-empty list of distinct seeds, e.g. seeds=[0,1,2]; got {run.seeds!r}")
        for i, value in enumerate(run.seeds):
            check_seed(value, f"seeds[{i}]")
    check_seed(run.data.seed, "data.seed")
    for key in ("max_steps", "epochs", "eval_every", "batch_size", "eval_batch_size", "input_size", "image_size",
                "lr", "train_size"):
        check_positive(getattr(run.train, key), f"train.{key}",
                        optional=key in ("max_steps", "epochs", "eval_every", "image_size", "train_size"))
    return run


def _task(run: RunConfig) -> None:
    """The task exists and what it is combined with supports it."""
    choose(run.task.name, tuple(list_tasks()), "task")
    if run.task.name == "binary":
        return
    labels = data_source_class(run.data.source).label_names(run.data)
    if len(labels) != get_task(run.task.name).num_classes:
        hint = " (data.label_sets=nih draws all 14)" if hasattr(run.data, "label_sets") else ""
        raise ConfigError(f"task={run.task.name} predicts {get_task(run.task.name).num_classes} labels, data="
                          f"{run.data.source} gives {len(labels)} ({', '.join(labels)}){hint}")
    if run.train.adversary.method != "none":
        raise ConfigError(f"adversarial training is implemented for the binary task only; drop train=adversarial "
                          f"or use task=binary (got task={run.task.name})")
    if run.attack is not None:
        raise ConfigError(f"attack= runs the binary attack grid; for task={run.task.name} use "
                          "experiment=multilabel_quick (PGD epsilon x steps grids, transfer, risk-targeted attacks)")


def peer_config(cfg: DictConfig, model: str, config_dir: Any) -> RunConfig:
    """The same run with another architecture: the black-box partner of ``cfg``.

    The model group is swapped for ``configs/model/<model>.yaml`` (keeping the channel handling)
    before interpolations resolve, so ``train=paper`` picks up the peer's own input and batch size.
    """
    node = OmegaConf.to_container(cfg, resolve=False)
    node.pop("hydra", None)
    path = Path(config_dir) / "model" / f"{model}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown model {model!r}; choose one of: {', '.join(list_models())}")
    peer = OmegaConf.to_container(OmegaConf.load(path))
    peer["channels"] = node["model"].get("channels", peer.get("channels"))
    node["model"] = peer
    return validate(OmegaConf.create(node))
