"""Structured-config schemas: one dataclass per config group, the whole run in :class:`RunConfig`.

Every schema is registered with Hydra's ConfigStore (:mod:`cxrbench.kit.config_store`), and each YAML
option extends its group's schema through its defaults list, so Hydra types every node while it
composes and an option states only what differs from the defaults here. A group's identity field
(``name``, ``mode``) has no default: each option names itself, and the default option is chosen by
``configs/config.yaml``'s defaults list alone. The data group's schema belongs to its data source
(:mod:`cxrbench.data`); :mod:`cxrbench.kit.config` checks what the types cannot.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from omegaconf import MISSING


def epsilon_label(value: float) -> str:
    """ε in the units papers use: ``2/255`` or ``0.25/255`` when it is a round multiple of 1/255, else the decimal."""
    scaled = round(value * 255, 3)
    if abs(scaled - value * 255) < 1e-6:
        return f"{scaled:g}/255"
    return f"{value:.4g}"


def step_label(fraction: float) -> str:
    """A step given as a fraction of ε, as tables write it: ``ε/8`` for 1/8, else ``0.3ε``."""
    inverse = 1 / fraction
    if abs(inverse - round(inverse)) < 1e-6:
        return f"ε/{round(inverse)}"
    return f"{fraction:.4g}ε"


@dataclass
class AdversaryConfig:
    """How training batches are perturbed.

    Attributes:
        method: ``none`` (standard training) or ``pgd`` (Madry et al.'s PGD adversarial training).
        epsilon: L∞ radius in [0, 1] pixel units (2/255 = 0.00784).
        steps: PGD steps per training batch.
        step_size: step in pixel units; None: 2.5·ε/steps (Madry et al.'s rule of thumb).
        random_start: start from a uniform point of the ε-ball (Madry et al.).
    """

    method: str = "none"
    epsilon: float = 2 / 255
    steps: int = 3
    step_size: Optional[float] = None   # None: 2.5 * epsilon / steps
    random_start: bool = True

    @property
    def alpha(self) -> float:
        return self.step_size if self.step_size is not None else 2.5 * self.epsilon / self.steps

    def regime(self) -> str:
        """The training regime as it appears in records and row labels: ``standard`` or ``pgd-at``."""
        return "standard" if self.method == "none" else f"{self.method}-at"

    def describe(self) -> str:
        """Human-readable, e.g. ``PGD-AT ε=2/255, 3 steps``."""
        if self.method == "none":
            return "standard"
        return (f"{self.method.upper()}-AT ε={epsilon_label(self.epsilon)}, {self.steps} steps of "
                f"{epsilon_label(self.alpha)}")


@dataclass
class ModelConfig:
    """One backbone (``configs/model/``): its registry name, native input size and batch size are its own."""

    name: str = MISSING
    channels: int = 1                  # 1: grayscale stem; 3: replicate the gray channel into an RGB stem
    input_size: int = MISSING          # native size, used by train=paper
    batch_size: int = MISSING          # its batch under train=paper (Taghanaki et al. 2018)
    checkpoint: Optional[str] = None   # evaluate this cxrbench checkpoint instead of training
    weights: Optional[str] = None      # initialise from this local weights file (never downloaded), then train
    # model=external (docs/external-models.md): a model you bring, evaluated as given, never trained
    path: Optional[str] = None         # its file: TorchScript or a state dict
    format: Optional[str] = None       # torchscript | state_dict (module: handed to cxrbench.app.api)
    arch: Optional[str] = None         # a state dict's architecture: a timm name or xrv.densenet121
    normalise: Optional[str] = None    # what it expects of [0, 1] pixels: imagenet | xrv | none
    output: Optional[str] = None       # two_logits | one_logit | label_logits | label_probs
    labels: Optional[List[str]] = None   # per-label outputs: one name per output, in order


@dataclass
class PoolingConfig:
    mode: str = MISSING                # max (as published) | avg (every internal max pool -> average pool)


@dataclass
class TrainConfig:
    """A training recipe (``configs/train/``). Its fields and values key the checkpoints (``asdict``)."""

    name: str = MISSING
    optimizer: str = "adamw"           # adamw | sgd | rmsprop_tf
    lr: float = 1e-3
    momentum: float = 0.9              # also TF-slim's RMSProp momentum for these networks (train=paper)
    weight_decay: float = 1e-4
    rmsprop_alpha: float = 0.9         # RMSProp decay (train=paper)
    rmsprop_eps: float = 1.0           # RMSProp epsilon (train=paper)
    schedule: str = "cosine"           # cosine | step | constant
    warmup_steps: int = 0
    decay_epochs: float = 4.0          # schedule=step: decay_rate every decay_epochs
    decay_rate: float = 0.94
    epochs: Optional[int] = None       # exactly one of epochs and max_steps
    max_steps: Optional[int] = None
    eval_every: Optional[int] = None   # validation every N steps; None: every epoch
    batch_size: int = 16
    eval_batch_size: int = 64
    input_size: int = 80               # IRv2 needs >= 75 px; both architectures share it so adversarials transfer as-is
    image_size: Optional[int] = None   # the experiment's image space; None: input_size (see canonical_size)
    grad_clip: Optional[float] = None
    label_smoothing: float = 0.0
    bn_recalibration_batches: int = 0  # precise BN: re-estimate BatchNorm on N training batches before each validation
    train_size: Optional[int] = None   # train on the first N of a seeded stratified order (nested subsets)
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

    name: str = MISSING
    profile: str = "auto"          # auto: ``quick`` under train=quick, ``paper`` otherwise
    paper: Dict[str, Any] = field(default_factory=dict)
    quick: Dict[str, Any] = field(default_factory=dict)
    chunk_size: int = 25           # images per stored chunk: the unit an interrupted run resumes from

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
    """The experiment grid that the paper protocol (``experiment=quick``) walks: attacks × poolings, each crafted on every model.

    ``models`` is the set of the black-box transfer: every (source, target) pair is evaluated.
    Tables 1-2 show the paper's pair (IRv2, NASNet-L); the transfer matrices show the whole set.
    """

    attacks: List[str] = field(default_factory=list)   # empty: the paper's ten attacks
    models: List[str] = field(default_factory=lambda: ["irv2", "nasnet"])
    poolings: List[str] = field(default_factory=lambda: ["max", "avg"])


@dataclass
class RobustConfig:
    """The robust-accuracy table (``experiment=robust_quick``): fixed-budget L∞ attacks over an ε ladder.

    ``variants`` maps a training recipe (a ``configs/train`` option) to the models trained with
    it; each is taken with every pooling of ``grid.poolings``.
    """

    epsilons: List[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 2.0, 4.0, 8.0])  # in units of 1/255
    attacks: List[str] = field(default_factory=lambda: ["pgd", "apgd"])   # G2 PGD and APGD-CE, same ε and budget
    iterations: int = 100           # the step budget of every run (APGD-CE's standard 100)
    images: Optional[int] = 20      # test images (a seeded stratified prefix; null: all)
    variants: Dict[str, List[str]] = field(default_factory=lambda: {"quick": ["irv2", "nasnet"],
                                                                   "adversarial": ["irv2"]})


@dataclass
class StudyConfig:
    """One study of what makes an attack succeed (``experiment=study_<name>``; Kovalev & Voynov 2019).

    The variants (training recipe -> models, × ``grid.poolings``, × every ``values`` of the
    training option ``axis``) are trained or reused, then each is attacked on the same seeded
    stratified test images: by ``attack`` at every fixed ε for ``iterations`` steps (one run per ε,
    every smaller step budget read off its trajectory), and by each attack of ``minimal`` with its
    minimal-ε search. ``name`` chooses the tables that are rendered from the records.
    """

    name: str = MISSING             # budget | confidence | train_size | resolution
    variants: Dict[str, List[str]] = field(default_factory=lambda: {"quick": ["irv2"]})
    axis: Optional[str] = None      # a train option varied per variant: train_size or input_size
    values: List[int] = field(default_factory=list)
    # The fixed-ε attack: an iterative L∞ one that records its trajectory (G2's run at one ε stops at the
    # first adversarial iterate, no random start).
    attack: str = "pgd"
    # The fixed-ε step as a fraction of ε, replacing the attack's own (G2: ε/30, which needs 30 steps
    # to reach the ball's edge). Budget-independent, so every budget is still a prefix of one run.
    rel_stepsize: float = 0.125
    epsilons: List[float] = field(default_factory=list)        # radii in units of 1/255
    epsilons_unit: List[float] = field(default_factory=list)   # radii in [0, 1] pixel units (Kovalev's grid)
    iterations: int = 50            # steps of every fixed-ε run; every smaller budget is read off its trajectory
    report_iterations: List[int] = field(default_factory=lambda: [20])   # budgets the ε tables show
    images: Optional[int] = 50      # test images (a seeded stratified prefix; null: all)
    minimal: List[str] = field(default_factory=list)            # attacks whose minimal-ε search runs too
    bins: int = 10                  # confidence bins over [0.5, 1] (study=confidence)

    def radii(self) -> list[float]:
        """Every fixed ε in [0, 1] pixel units, ascending, without repeats."""
        return sorted({round(e / 255, 12) for e in self.epsilons} | {round(e, 12) for e in self.epsilons_unit})


@dataclass
class PathsConfig:
    root: Optional[str] = None      # None: the repository holding scripts/
    cache_dir: str = "data/cache"
    results_dir: str = "results"


@dataclass
class MultiLabelConfig:
    """What the multi-label protocol (``experiment=multilabel_quick``) measures on multi-label models (Ghamizi et al. 2022, section 5).

    Every model of ``models`` (× ``grid.poolings``) is trained or reused with ``task=multilabel`` and
    attacked on the same ``images`` test images by untargeted PGD (``loss`` ascended away from
    ``reference``: ``truth``, the ground-truth findings as in Ghamizi et al.'s code, or
    ``prediction``, the clean thresholded output) at every ε of ``epsilons`` for every budget of
    ``steps`` (one run per ε; their grid is {1, 5, 10, 25, 50}); ``k`` is the k the ``topk`` loss
    aims at; the adversarials of the ``transfer`` budget are also tested on every other model
    (their Table 2); risk-targeted PGD runs with each loss of ``risk_losses`` at the ``risk``
    budget (their Table 5).
    """

    models: List[str] = field(default_factory=lambda: ["irv2", "nasnet", "xrv_densenet121"])
    epsilons: List[float] = field(default_factory=lambda: [0.5, 1.0, 2.0, 4.0, 8.0])   # in units of 1/255
    steps: List[int] = field(default_factory=lambda: [1, 5, 10, 25, 50])
    loss: str = "bce"                # the untargeted loss: bce | mse | ordinal | topk
    reference: str = "truth"         # what the untargeted attack moves away from: truth | prediction
    k: int = 3                       # the k of the topk loss (the k-robust accuracy it attacks)
    rel_stepsize: float = 0.25       # the PGD step as a fraction of ε (fixed, so budgets share one run)
    transfer: Dict[str, float] = field(default_factory=lambda: {"epsilon": 1.0, "steps": 25})  # their Table 2
    risk: Dict[str, float] = field(default_factory=lambda: {"epsilon": 1.0, "steps": 25})   # towards C(top clean label)
    risk_losses: List[str] = field(default_factory=lambda: ["mse", "bce", "ordinal"])
    images: Optional[int] = 32       # test images (a seeded stratified prefix; null: all)


@dataclass
class CrossDataConfig:
    """The cross-dataset protocol (``experiment=crossdata_quick``; Ghamizi et al. 2022, Table 3; docs/crossdata.md).

    ``datasets``: a registered dataset's name -> the data overrides that load it; every model is trained
    on each of ``train_on`` and attacked white-box on ``images`` test images of each of ``test_on`` (None: all).
    """

    datasets: Dict[str, List[str]] = field(default_factory=dict)   # nih: [data=nih, data.root=/data/nih]
    train_on: Optional[List[str]] = None
    test_on: Optional[List[str]] = None
    models: List[str] = field(default_factory=lambda: ["xrv_densenet121"])   # their DenseNet-121s
    epsilon: float = 1.0             # in units of 1/255; with steps, their section 5.1 budget
    steps: int = 25
    loss: str = "bce"                # untargeted, ascended away from the ground-truth findings
    rel_stepsize: float = 0.25       # the PGD step as a fraction of ε
    images: Optional[int] = 32       # attacked test images per test dataset (seeded stratified; null: all)


@dataclass
class TaskConfig:
    """What the network predicts (``configs/task/``): ``binary`` (finding vs "No Finding", the
    paper's task) or ``multilabel`` (the 14 ChestX-ray14 findings, Ghamizi et al. 2022)."""

    name: str = MISSING
    # The phantom's label sets the task needs (data.label_sets): phantom, one to three of its six findings.
    phantom_label_sets: str = "phantom"


@dataclass
class RunConfig:
    """The whole run: the root schema ``configs/config.yaml`` extends.

    A protocol's settings block (``robust``, ``multilabel``, ``study``, ``crossdata``) is a config group of its own,
    selected by the experiments that run the protocol and None otherwise, so a run carries and checks
    only the settings it uses. Every dataclass-typed field is registered as a group schema
    (:mod:`cxrbench.kit.config_store`): a new protocol's settings are its schema and one Optional field here.
    """

    data: Any                           # typed by the data source's schema (configs/data/<source>.yaml)
    model: ModelConfig
    pooling: PoolingConfig
    train: TrainConfig
    paths: PathsConfig = field(default_factory=PathsConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    robust: Optional[RobustConfig] = None            # robust=default (experiment=robust_quick)
    study: Optional[StudyConfig] = None              # study=<name> (experiment=study_<name>)
    task: TaskConfig = MISSING                       # chosen in the defaults list (task=binary)
    multilabel: Optional[MultiLabelConfig] = None    # multilabel=default (experiment=multilabel_*)
    crossdata: Optional[CrossDataConfig] = None      # crossdata=default (experiment=crossdata_quick)
    attack: Optional[AttackConfig] = None            # attack=<name>: craft, then white-box and black-box evaluation
    seed: int = 0
    seeds: Optional[List[int]] = None   # seeds=[0,1,2]: a protocol's experiment once per seed (None: [seed])
    protocol: Optional[str] = None      # set by an experiment: a registered protocol (cxrbench protocols); None: one run
    plan_only: bool = False             # list what the run would train, craft and measure, then stop
    throughput: Optional[str] = None    # a plan's rate file (images/s per network); None: results/throughput.json
    device: str = "auto"                # auto | cpu | cuda (auto: CUDA with AMP and channels_last when present)
    progress: bool = True
    deterministic: bool = True
