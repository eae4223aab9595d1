"""Config validation: what the schemas' types cannot say, checked before any work starts.

Hydra composes ``configs/`` against the schemas registered by :mod:`cxrbench.kit.config_store`
(:mod:`cxrbench.settings`, re-exported here; the data group's from its data source), so every node
arrives typed and a misspelt key, a wrong type or an unknown option has already failed while composing
(:mod:`cxrbench.kit.compose` makes that one line). :func:`validate` converts the composed config to
:class:`RunConfig` and checks the rest: registry names, ranges, options that exclude each other, and
keys that ``+key=value`` appended past the schemas. A protocol's settings block is present only when its
experiment selects it and is checked by the protocol itself (``Protocol.check``).
"""
from __future__ import annotations

import copy
import inspect
from dataclasses import asdict, fields, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cxrbench.attacks import get_attack_spec, list_attacks
from cxrbench.data import data_source_class, list_data_sources
from cxrbench.errors import ConfigError
from cxrbench.kit.config_store import register_schemas
from cxrbench.models import POOLING_MODES, check_model_config, list_models
from cxrbench.models.init_weights import weights_problem
from cxrbench.settings import (AttackConfig, GridConfig, ModelConfig, MultiLabelConfig, PathsConfig, PoolingConfig,
                               RobustConfig, RunConfig, StudyConfig, TaskConfig, TrainConfig)
from cxrbench.tasks import get_task, list_tasks
from cxrbench.training.adversarial import METHODS as ADVERSARIES

__all__ = ["AttackConfig", "GridConfig", "ModelConfig", "MultiLabelConfig", "PathsConfig", "PoolingConfig",
           "RobustConfig", "RunConfig", "StudyConfig", "TaskConfig", "TrainConfig", "check_positive", "check_seed",
           "choose", "peer_config", "required_settings", "typed", "validate"]

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
    """``node`` (a dict or config) merged into ``schema``; an unknown key or a wrong type is one line.

    Only what Hydra did not compose against a schema needs it: a data option without its source's
    schema in its defaults list, or a config built without Hydra.
    """
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), node))
    except OmegaConfBaseException as exc:
        key = f"{where}.{exc.full_key}" if getattr(exc, "full_key", None) and where else exc.full_key or where
        reason = str(getattr(exc, "msg", exc)).strip().splitlines()[0]
        if "not in" in reason:
            valid = ", ".join(f.name for f in fields(schema))
            raise ConfigError(f"unknown config key '{key}'; valid keys under '{where}': {valid}") from None
        raise ConfigError(f"invalid value for '{key}': {reason}") from None


def choose(value: str, valid: tuple[str, ...], where: str) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {where} {value!r}; choose one of: {', '.join(valid)}")


def required_settings(settings: Any, choice: str, experiment: str) -> Any:
    """A protocol's settings block, or one line naming what selects it when the run has none.

    Args:
        settings: the block (None where the run leaves its group null).
        choice: the group option that selects it, e.g. ``robust=default``.
        experiment: an experiment whose defaults list selects it, e.g. ``robust_quick``.
    """
    if settings is None:
        group = choice.split("=", 1)[0]
        raise ConfigError(f"this protocol reads the {group} settings, which this run does not select ({group} is "
                          f"null): experiment={experiment} selects them, as does {choice} on the command line")
    return settings


def _unknown_keys(node: DictConfig, where: str = "") -> None:
    """Refuse keys no schema has: ``+key=value`` appends past a schema, and converting would drop them."""
    schema = OmegaConf.get_type(node)
    if is_dataclass(schema):
        valid = sorted(f.name for f in fields(schema))
        unknown = sorted(set(map(str, node.keys())) - set(valid))
        if unknown and not where:
            raise ConfigError(f"unknown top-level config keys {unknown}; valid keys: {', '.join(valid)}")
        if unknown:
            raise ConfigError(f"unknown config key '{where}.{unknown[0]}'; valid keys under '{where}': "
                              f"{', '.join(valid)}")
    for key in node:
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            _unknown_keys(child, f"{where}.{key}" if where else str(key))


def _typed_run(cfg: DictConfig) -> RunConfig:
    """The composed config as :class:`RunConfig`; the data block typed by its source's schema."""
    node = cfg if OmegaConf.get_type(cfg) is RunConfig else None
    try:
        if node is None:  # not composed against the root schema (a config built by hand): type it here
            node = OmegaConf.merge(OmegaConf.structured(RunConfig), {k: v for k, v in cfg.items() if k != "hydra"})
        _unknown_keys(node)
        run = OmegaConf.to_object(node)
    except OmegaConfBaseException as exc:
        reason = str(getattr(exc, "msg", exc)).strip().splitlines()[0]
        where = f"'{exc.full_key}'" if getattr(exc, "full_key", None) else "the config"
        raise ConfigError(f"invalid value for {where}: {reason}") from None
    data = run.data if isinstance(run.data, dict) else asdict(run.data) if is_dataclass(run.data) else {}
    choose(data.get("source"), tuple(list_data_sources()), "data source")
    schema = data_source_class(data["source"]).schema
    if not isinstance(run.data, schema):  # a data option that does not extend its source's schema
        run.data = typed(schema, data, "data")
    return run


def _attack(attack: AttackConfig | None) -> AttackConfig | None:
    """The attack group, checked against the registry: name, profile and every parameter."""
    if attack is None:
        return None
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


def _grid(grid: GridConfig) -> GridConfig:
    """The experiment grid, every name checked against its registry."""
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
    """Convert the composed config (typed by its schemas) and check what the types cannot; the typed run."""
    run = _typed_run(cfg)
    _attack(run.attack)
    _grid(run.grid)
    choose(run.model.name, tuple(list_models()), "model")
    if run.model.checkpoint and run.model.weights:
        raise ConfigError("model.checkpoint (evaluate these trained weights) and model.weights (initialise, then "
                          "train) exclude each other; drop one")
    if run.model.weights:  # a missing or wrong file fails here, before the data cache is built
        problem = weights_problem(run.model.weights)
        if problem:
            raise ConfigError(problem)
    choose(run.pooling.mode, POOLING_MODES, "pooling")
    data_source_class(run.data.source).check_config(run.data)
    _task(run)
    check_model_config(run.model, pooling=run.pooling.mode, task=run.task.name,
                       labels=tuple(data_source_class(run.data.source).label_names(run.data)))
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
        if not run.seeds or len(set(run.seeds)) != len(run.seeds):
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


@cache
def _model_option(model: str, config_dir: str) -> DictConfig:
    """``configs/model/<model>.yaml`` composed alone (typed by the model schema through its defaults list)."""
    register_schemas()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=config_dir):
            return compose(config_name=None, overrides=[f"+model={model}"]).model
    finally:
        GlobalHydra.instance().clear()


def peer_config(cfg: DictConfig, model: str, config_dir: Any) -> RunConfig:
    """The same run with another architecture: the black-box partner of ``cfg``.

    The model group is swapped for ``configs/model/<model>.yaml`` (keeping the channel handling)
    before interpolations resolve, so ``train=paper`` picks up the peer's own input and batch size.
    """
    if not (Path(config_dir) / "model" / f"{model}.yaml").exists():
        raise ConfigError(f"unknown model {model!r}; choose one of: {', '.join(list_models())}")
    peer = copy.deepcopy(cfg)
    OmegaConf.set_readonly(peer, False)
    channels = peer.model.channels
    peer.model = copy.deepcopy(_model_option(model, str(Path(config_dir).resolve())))
    peer.model.channels = channels
    return validate(peer)
