"""Config validation: every config group is checked against its schema before any work starts.

Hydra composes the YAML files; :func:`validate` then merges each group into its dataclass schema
(:mod:`cxrbench.config_schema`, re-exported here), so a misspelt key, a wrong type or an unknown
choice fails with one line that lists what is valid.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cxrbench.config_schema import (AttackConfig, GridConfig, ModelConfig, MultiLabelConfig,  # noqa: F401
                                    NihDataConfig, PathsConfig, PhantomDataConfig, PoolingConfig, RobustConfig,
                                    RunConfig, StudyConfig, TaskConfig, TrainConfig)
from cxrbench.errors import ConfigError
from cxrbench.training.adversarial import METHODS as ADVERSARIES

DATA_SCHEMAS: dict[str, type] = {"phantom": PhantomDataConfig, "nih": NihDataConfig}
OPTIMIZERS = ("rmsprop_tf", "adamw", "sgd")
SCHEDULES = ("step", "cosine", "constant")
DEVICES = ("auto", "cpu", "cuda")
ATTACK_PROFILES = ("auto", "paper", "quick")
SEED_RANGE = 2**32  # NumPy and torch accept seeds in [0, 2**32)


def _check_seed(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_RANGE:
        raise ConfigError(f"{where} must be an integer in [0, 2**32) (NumPy's and torch's seeds), got {value!r}")


def _check_positive(value: Any, where: str, *, optional: bool = True) -> None:
    if (value is not None or not optional) and (isinstance(value, bool) or not isinstance(value, (int, float))
                                                or value <= 0):
        raise ConfigError(f"{where} must be positive, got {value!r}")


def _typed(schema: type, node: Any, where: str):
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), node))
    except OmegaConfBaseException as exc:
        key = f"{where}.{exc.full_key}" if getattr(exc, "full_key", None) else where
        reason = str(getattr(exc, "msg", exc)).strip().splitlines()[0]
        if "not in" in reason:
            valid = ", ".join(f.name for f in fields(schema))
            raise ConfigError(f"unknown config key '{key}'; valid keys under '{where}': {valid}") from None
        raise ConfigError(f"invalid value for '{key}': {reason}") from None


def _choice(value: str, valid: tuple[str, ...], where: str) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {where} {value!r}; choose one of: {', '.join(valid)}")


def _attack(node: Any) -> Optional[AttackConfig]:
    """The attack group, checked against the registry: name, profile and every parameter."""
    if node is None:
        return None
    if not isinstance(node, dict):
        raise ConfigError(f"attack must be chosen from the attack group (attack=pgd), got {node!r}")
    import inspect

    from cxrbench.attacks import get_attack_spec

    attack = _typed(AttackConfig, node, "attack")
    spec = get_attack_spec(attack.name)
    _choice(attack.profile, ATTACK_PROFILES, "attack.profile")
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
    from cxrbench.attacks import get_attack_spec, list_attacks
    from cxrbench.models import POOLING_MODES, list_models

    grid = _typed(GridConfig, node, "grid")
    for name in grid.attacks:
        get_attack_spec(name)
    for name in grid.models:
        _choice(name, tuple(list_models()), "model in grid.models")
    if len(set(grid.models)) != len(grid.models):
        raise ConfigError(f"grid.models names a model twice ({grid.models}); list each once")
    for mode in grid.poolings:
        _choice(mode, tuple(POOLING_MODES), "pooling in grid.poolings")
    if not grid.attacks:
        grid.attacks = list_attacks(paper_only=True)
    return grid


def _robust(node: Any) -> RobustConfig:
    """The robust table's settings: attacks that run at a fixed ε, positive budgets."""
    from cxrbench.attacks import get_attack_spec
    from cxrbench.models import list_models

    robust = _typed(RobustConfig, node, "robust")
    for name in robust.attacks:
        if not hasattr(get_attack_spec(name).builder, "run_fixed"):
            raise ConfigError(f"robust.attacks: {name!r} has no fixed-ε run; use L∞ iterative attacks (pgd, bim, apgd)")
    if not robust.epsilons or any(not isinstance(e, (int, float)) or e <= 0 for e in robust.epsilons):
        raise ConfigError(f"robust.epsilons must be positive radii in units of 1/255, got {robust.epsilons!r}")
    _check_positive(robust.iterations, "robust.iterations", optional=False)
    _check_positive(robust.images, "robust.images")
    for recipe, models in robust.variants.items():
        for name in models:
            _choice(name, tuple(list_models()), f"model in robust.variants.{recipe}")
    return robust


def _multilabel(node: Any) -> MultiLabelConfig:
    """The multi-label protocol: known models and losses, positive radii and budgets, both fixed budgets on the grid."""
    from cxrbench.attacks.multilabel import LOSSES, REFERENCES, UNTARGETED_ONLY
    from cxrbench.models import list_models

    ml = _typed(MultiLabelConfig, node or {}, "multilabel")
    for name in ml.models:
        _choice(name, tuple(list_models()), "model in multilabel.models")
    _choice(ml.loss, tuple(LOSSES), "multilabel loss")
    for loss in ml.risk_losses:  # the risk attack descends towards its target: an ascent-only loss cannot
        _choice(loss, tuple(name for name in LOSSES if name not in UNTARGETED_ONLY), "multilabel risk loss")
    _choice(ml.reference, REFERENCES, "multilabel.reference")
    if not isinstance(ml.k, int) or isinstance(ml.k, bool) or ml.k < 1:
        raise ConfigError(f"multilabel.k must be a positive integer, got {ml.k!r}")
    if any(not isinstance(e, (int, float)) or not 0 < e <= 255 for e in ml.epsilons):
        raise ConfigError(f"multilabel.epsilons must be radii in (0, 255] (units of 1/255), got {ml.epsilons}")
    if any(not isinstance(k, int) or k < 1 for k in ml.steps):
        raise ConfigError(f"multilabel.steps must be positive step budgets, got {ml.steps}")
    for name in ("transfer", "risk"):
        budget = getattr(ml, name)
        if set(budget) != {"epsilon", "steps"}:
            raise ConfigError(f"multilabel.{name} must give epsilon and steps, got {dict(budget)}")
    if (ml.transfer["epsilon"] not in ml.epsilons) or (ml.transfer["steps"] not in ml.steps):
        raise ConfigError(f"multilabel.transfer {dict(ml.transfer)} must be a cell of the grid (epsilons "
                          f"{ml.epsilons} x steps {ml.steps}): its adversarials are the grid's")
    if not 0 < ml.rel_stepsize <= 1:
        raise ConfigError(f"multilabel.rel_stepsize must lie in (0, 1], got {ml.rel_stepsize}")
    _check_positive(ml.images, "multilabel.images")
    return ml


def _study(node: Any) -> StudyConfig:
    """A study's settings: a known study, a trajectory-recording attack, budgets within the run's steps."""
    from cxrbench.attacks import get_attack_spec
    from cxrbench.models import list_models
    from cxrbench.reporting.studies import list_studies

    study = _typed(StudyConfig, node or {}, "study")
    _choice(study.name, tuple(list_studies()), "study.name")
    if not getattr(get_attack_spec(study.attack).builder, "trajectory", False):
        raise ConfigError(f"study.attack: {study.attack!r} records no per-step trajectory; use pgd or bim")
    if not 0 < study.rel_stepsize <= 1:
        raise ConfigError(f"study.rel_stepsize must lie in (0, 1] (a fraction of ε), got {study.rel_stepsize}")
    for name in study.minimal:
        get_attack_spec(name)  # an unknown name fails here, with the registry's list
    for key in ("epsilons", "epsilons_unit"):
        if any(not isinstance(e, (int, float)) or e <= 0 for e in getattr(study, key)):
            raise ConfigError(f"study.{key} must be positive radii, got {getattr(study, key)!r}")
    if any(e > 1 for e in study.radii()):
        raise ConfigError(f"study radii must lie in (0, 1] pixel units, got {study.radii()}; "
                          "study.epsilons is in units of 1/255, study.epsilons_unit in [0, 1]")
    for key in ("iterations", "bins"):
        _check_positive(getattr(study, key), f"study.{key}", optional=False)
    _check_positive(study.images, "study.images")
    bad = [k for k in study.report_iterations if not isinstance(k, int) or not 1 <= k <= study.iterations]
    if bad:
        raise ConfigError(f"study.report_iterations {bad} lie outside 1..study.iterations ({study.iterations})")
    train_fields = {f.name for f in fields(TrainConfig)}
    if study.axis is not None:
        _choice(study.axis, tuple(sorted(train_fields)), "study.axis (a train option)")
        if not study.values:
            raise ConfigError(f"study.axis={study.axis} needs study.values, e.g. study.values=[750,1500,3000]")
        for value in study.values:
            _check_positive(value, f"study.values ({study.axis})", optional=False)
    for recipe, models in study.variants.items():
        for name in models:
            _choice(name, tuple(list_models()), f"model in study.variants.{recipe}")
    return study


def validate(cfg: DictConfig) -> RunConfig:
    """Check the composed config against the schemas and return it typed."""
    from cxrbench.models import POOLING_MODES, list_models

    raw = OmegaConf.to_container(cfg, resolve=True)
    raw.pop("hydra", None)
    data = raw.get("data") or {}
    source = data.get("source")
    _choice(source, tuple(DATA_SCHEMAS), "data source")
    top = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise ConfigError(f"unknown top-level config keys {unknown}; valid keys: {', '.join(sorted(top))}")
    run = RunConfig(
        data=_typed(DATA_SCHEMAS[source], data, "data"),
        model=_typed(ModelConfig, raw.get("model", {}), "model"),
        pooling=_typed(PoolingConfig, raw.get("pooling", {}), "pooling"),
        train=_typed(TrainConfig, raw.get("train", {}), "train"),
        paths=_typed(PathsConfig, raw.get("paths", {}), "paths"),
        grid=_grid(raw.get("grid", {})), robust=_robust(raw.get("robust", {})),
        study=_study(raw.get("study", {})), task=_typed(TaskConfig, raw.get("task", {}), "task"),
        multilabel=_multilabel(raw.get("multilabel", {})),
        attack=_attack(raw.get("attack")), seed=raw.get("seed", 0), seeds=raw.get("seeds"),
        device=raw.get("device", "auto"),
        progress=raw.get("progress", True), deterministic=raw.get("deterministic", True),
    )
    _choice(run.model.name, tuple(list_models()), "model")
    if run.model.checkpoint and run.model.weights:
        raise ConfigError("model.checkpoint (evaluate these trained weights) and model.weights (initialise, then "
                          "train) exclude each other; drop one")
    if run.model.weights:  # a missing or wrong file fails here, before the data cache is built
        from cxrbench.models.init_weights import weights_problem

        problem = weights_problem(run.model.weights)
        if problem:
            raise ConfigError(problem)
    _choice(run.pooling.mode, POOLING_MODES, "pooling")
    if run.data.source == "phantom":
        from cxrbench.data.phantom import LABEL_SETS

        _choice(run.data.label_sets, LABEL_SETS, "data.label_sets")
    _task(run)
    _choice(run.train.optimizer, OPTIMIZERS, "train.optimizer")
    _choice(run.train.schedule, SCHEDULES, "train.schedule")
    _choice(run.device, DEVICES, "device")
    _choice(run.train.adversary.method, ADVERSARIES, "train.adversary.method")
    _check_positive(run.train.adversary.epsilon, "train.adversary.epsilon", optional=False)
    _check_positive(run.train.adversary.steps, "train.adversary.steps", optional=False)
    _check_positive(run.train.adversary.step_size, "train.adversary.step_size")
    if (run.train.epochs is None) == (run.train.max_steps is None):
        raise ConfigError("set exactly one of train.epochs and train.max_steps")
    _check_seed(run.seed, "seed")
    if run.seeds is not None:
        if not isinstance(run.seeds, list) or not run.seeds or len(set(map(str, run.seeds))) != len(run.seeds):
            raise ConfigError(f"seeds must be a non-empty list of distinct seeds, e.g. seeds=[0,1,2]; got {run.seeds!r}")
        for i, value in enumerate(run.seeds):
            _check_seed(value, f"seeds[{i}]")
    _check_seed(run.data.seed, "data.seed")
    for key in ("max_steps", "epochs", "eval_every", "batch_size", "eval_batch_size", "input_size", "image_size",
                "lr", "train_size"):
        _check_positive(getattr(run.train, key), f"train.{key}",
                        optional=key in ("max_steps", "epochs", "eval_every", "image_size", "train_size"))
    if source == "nih" and not run.data.root:
        raise ConfigError("data=nih needs data.root=/path/to/ChestX-ray14 (the folder with images_*/ "
                          "or images/ and Data_Entry_2017.csv)")
    return run


def _task(run: RunConfig) -> None:
    """The task exists and what it is combined with supports it."""
    from cxrbench.tasks import list_tasks

    _choice(run.task.name, tuple(list_tasks()), "task")
    if run.task.name == "binary":
        return
    if run.data.source == "phantom" and run.data.label_sets != "nih":
        raise ConfigError(f"task={run.task.name} on the phantom needs data.label_sets=nih (the six-finding "
                          f"phantom names 6 of the 14 labels), got {run.data.label_sets!r}")
    if run.train.adversary.method != "none":
        raise ConfigError(f"adversarial training is implemented for the binary task only; drop train=adversarial "
                          f"or use task=binary (got task={run.task.name})")
    if run.attack is not None:
        raise ConfigError(f"attack= runs the binary attack grid; for task={run.task.name} use "
                          "scripts/multilabel.py (PGD epsilon x steps grids, transfer, risk-targeted attacks)")


def peer_config(cfg: DictConfig, model: str, config_dir: Any) -> RunConfig:
    """The same run with another architecture: the black-box partner of ``cfg``.

    The model group is swapped for ``configs/model/<model>.yaml`` (keeping the channel handling)
    before interpolations resolve, so ``train=paper`` picks up the peer's own input and batch size.
    """
    from pathlib import Path

    node = OmegaConf.to_container(cfg, resolve=False)
    node.pop("hydra", None)
    path = Path(config_dir) / "model" / f"{model}.yaml"
    if not path.exists():
        from cxrbench.models import list_models

        raise ConfigError(f"unknown model {model!r}; choose one of: {', '.join(list_models())}")
    peer = OmegaConf.to_container(OmegaConf.load(path))
    peer["channels"] = node["model"].get("channels", peer.get("channels"))
    node["model"] = peer
    return validate(OmegaConf.create(node))
