"""Structured-config schemas: every config group is checked before any work starts.

Hydra composes the YAML files; :func:`validate` then merges each group into its
dataclass schema, so a misspelt key, a wrong type or an unknown choice fails with
one line that lists what is valid.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cxrbench.data.labels import NIH_FINDING_PREVALENCE
from cxrbench.errors import ConfigError
from cxrbench.training.adversarial import METHODS as ADVERSARIES
from cxrbench.training.adversarial import AdversaryConfig


@dataclass
class PhantomDataConfig:
    source: str = "phantom"
    n_train: int = 3000
    n_val: int = 300
    n_test: int = 200
    test_positives: int = 93
    prevalence: float = NIH_FINDING_PREVALENCE
    lesion_contrast: float = 1.5
    noise: float = 0.02
    seed: int = 0


@dataclass
class NihDataConfig:
    source: str = "nih"
    root: Optional[str] = None
    csv: Optional[str] = None
    split: str = "patient"
    seed: int = 0
    test_size: int = 200
    test_positives: int = 93
    val_size: Optional[int] = None
    num_workers: int = 2


@dataclass
class ModelConfig:
    name: str = "nasnet"
    channels: int = 1
    input_size: int = 331
    batch_size: int = 8
    checkpoint: Optional[str] = None


@dataclass
class PoolingConfig:
    mode: str = "max"


@dataclass
class TrainConfig:
    name: str = "quick"
    optimizer: str = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    rmsprop_alpha: float = 0.9
    rmsprop_eps: float = 1.0
    schedule: str = "cosine"
    warmup_steps: int = 0
    decay_epochs: float = 4.0
    decay_rate: float = 0.94
    epochs: Optional[int] = None
    max_steps: Optional[int] = None
    eval_every: Optional[int] = None
    batch_size: int = 16
    eval_batch_size: int = 64
    input_size: int = 80
    image_size: Optional[int] = None   # the experiment's image space; None: input_size (see canonical_size)
    grad_clip: Optional[float] = None
    label_smoothing: float = 0.0
    bn_recalibration_batches: int = 0
    adversary: AdversaryConfig = field(default_factory=AdversaryConfig)   # train=adversarial: PGD-AT

    @property
    def canonical_size(self) -> int:
        """The one size at which images are cached, attacked, stored and evaluated for every model.

        Each model resizes to its own ``input_size`` inside its wrapper (differentiably), so a
        clean image reaches a target as the same tensor whether it comes from the clean pass or
        from a crafted set, and a transferred adversarial is never resampled in between.
        """
        return self.image_size or self.input_size


@dataclass
class AttackConfig:
    """One attack of the registry with its two parameter profiles.

    ``paper`` holds the Foolbox 1.x parameters the paper ran with, plus ``images`` (how many test
    images to attack; null: all). ``quick`` names each CPU-feasible reduction of them (a subset of
    ``paper``'s keys). ``profile: auto`` picks ``paper`` under ``train=paper``, ``quick`` otherwise.
    """

    name: str = "pgd"
    profile: str = "auto"
    paper: Dict[str, Any] = field(default_factory=dict)
    quick: Dict[str, Any] = field(default_factory=dict)
    chunk_size: int = 25           # images per stored chunk: the unit of resumption

    def resolved_profile(self, train_name: str) -> str:
        if self.profile != "auto":
            return self.profile
        return "paper" if train_name == "paper" else "quick"

    def settings(self, train_name: str) -> dict[str, Any]:
        """Everything the active profile sets, ``images`` included."""
        out = dict(self.paper)
        if self.resolved_profile(train_name) == "quick":
            out.update(self.quick)
        return out

    def params(self, train_name: str) -> dict[str, Any]:
        """The attack's keyword arguments under the active profile."""
        return {k: v for k, v in self.settings(train_name).items() if k != "images"}

    def images(self, train_name: str) -> Optional[int]:
        """How many test images to attack (a seeded, stratified subset); None: all of them."""
        return self.settings(train_name).get("images")


@dataclass
class GridConfig:
    """The experiment grid that ``scripts/reproduce.py`` walks (attacks × poolings, both models)."""

    attacks: List[str] = field(default_factory=list)   # empty: the paper's ten attacks
    models: List[str] = field(default_factory=lambda: ["irv2", "nasnet"])
    poolings: List[str] = field(default_factory=lambda: ["max", "avg"])


@dataclass
class RobustConfig:
    """The robust-accuracy table (``scripts/robust.py``): fixed-budget L∞ attacks over an ε ladder.

    ``variants`` maps a training recipe (a ``configs/train`` option) to the models trained with
    it; each is taken with every pooling of ``grid.poolings``.
    """

    epsilons: List[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 2.0, 4.0, 8.0])  # in units of 1/255
    attacks: List[str] = field(default_factory=lambda: ["pgd", "apgd"])
    iterations: int = 100           # the step budget of every run (APGD-CE's standard 100)
    images: Optional[int] = 20      # test images (a seeded stratified prefix; null: all)
    variants: Dict[str, List[str]] = field(default_factory=lambda: {"quick": ["irv2", "nasnet"],
                                                                   "adversarial": ["irv2"]})


@dataclass
class PathsConfig:
    root: Optional[str] = None
    cache_dir: str = "data/cache"
    results_dir: str = "results"


@dataclass
class RunConfig:
    data: Any
    model: ModelConfig
    pooling: PoolingConfig
    train: TrainConfig
    paths: PathsConfig = field(default_factory=PathsConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    robust: RobustConfig = field(default_factory=RobustConfig)
    attack: Optional[AttackConfig] = None
    seed: int = 0
    seeds: Optional[List[int]] = None   # scripts/reproduce.py: run the experiment once per seed (None: [seed])
    device: str = "auto"
    progress: bool = True
    deterministic: bool = True


DATA_SCHEMAS: dict[str, type] = {"phantom": PhantomDataConfig, "nih": NihDataConfig}
OPTIMIZERS = ("rmsprop_tf", "adamw", "sgd")
SCHEDULES = ("step", "cosine", "constant")
DEVICES = ("auto", "cpu", "cuda")
ATTACK_PROFILES = ("auto", "paper", "quick")
#: NumPy and torch accept seeds in [0, 2**32).
SEED_RANGE = 2**32


def _check_seed(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_RANGE:
        raise ConfigError(f"{where} must be an integer in [0, 2**32) (the seed range of NumPy and torch), "
                          f"got {value!r}")


def _check_positive(value: Any, where: str, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
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
        attack=_attack(raw.get("attack")), seed=raw.get("seed", 0), seeds=raw.get("seeds"),
        device=raw.get("device", "auto"),
        progress=raw.get("progress", True), deterministic=raw.get("deterministic", True),
    )
    _choice(run.model.name, tuple(list_models()), "model")
    _choice(run.pooling.mode, POOLING_MODES, "pooling")
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
                "lr"):
        _check_positive(getattr(run.train, key), f"train.{key}",
                        optional=key in ("max_steps", "epochs", "eval_every", "image_size"))
    if source == "nih" and not run.data.root:
        raise ConfigError("data=nih needs data.root=/path/to/ChestX-ray14 (the folder with images_*/ "
                          "or images/ and Data_Entry_2017.csv)")
    return run


def peer_config(cfg: DictConfig, model: str, config_dir: Any) -> RunConfig:
    """The same run with another architecture: the black-box partner of ``cfg``.

    The model group is swapped for ``configs/model/<model>.yaml`` (keeping the channel
    handling) before interpolations resolve, so ``train=paper`` picks up the peer's own
    input size and batch size.
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
