"""What every protocol builds on: paths, a variant (data and a trained or reused model), its clean
pass over the test split, the binary clean record, and the fields every record of a target shares.

:func:`cxrbench.kit.clean_run.run_clean` is the clean run of ``scripts/run.py``; tests call these
directly on a composed, shrunken config.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import pandas as pd

from cxrbench.data import create_data_source
from cxrbench.data.build import build_data
from cxrbench.data.datasets import DataBundle, SubsetView, stratified_rows
from cxrbench.errors import ConfigError
from cxrbench.evaluation.metrics import binary_metrics, predicted
from cxrbench.evaluation.predict import predict_proba
from cxrbench.io import atomic_write, check_writable, file_sha256, read_table
from cxrbench.kit.config import RunConfig, TrainConfig
from cxrbench.models import create_model, get_model_spec
from cxrbench.models.factory import CXRClassifier
from cxrbench.models.init_weights import initialise_from
from cxrbench.records.schema import CleanRecord
from cxrbench.records.store import write_record
from cxrbench.runtime import Runtime
from cxrbench.tasks import get_task
from cxrbench.training.checkpoint import check_identity, load_weights, read_checkpoint
from cxrbench.training.store import ensure_trained


@dataclass(frozen=True)
class Paths:
    root: Path
    cache: Path
    results: Path

    @property
    def checkpoints(self) -> Path:
        return self.results / "checkpoints"

    @property
    def records(self) -> Path:
        return self.results / "records"

    @property
    def splits(self) -> Path:
        return self.results / "splits"

    def check_writable(self) -> None:
        """Fail before any work when the results or cache folder cannot be created and written."""
        check_writable(self.results, "paths.results_dir")
        check_writable(self.cache, "paths.cache_dir")


def resolve_paths(cfg: RunConfig, default_root: Path) -> Paths:
    """Relative paths in the config are relative to the project root."""
    root = Path(cfg.paths.root).expanduser() if cfg.paths.root else Path(default_root)

    def under_root(p: str) -> Path:
        p = Path(p).expanduser()
        return p if p.is_absolute() else root / p

    return Paths(root=root, cache=under_root(cfg.paths.cache_dir), results=under_root(cfg.paths.results_dir))


#: The splits the evaluation of an untrained variant reads, per task: the binary task's the test split; the
#: multi-label task's thresholds come from the validation split and its frequency prior from the training labels.
EVALUATION_SUBSETS = {"binary": ("test",), "multilabel": ("train", "val", "test")}


@dataclass
class Variant:
    """A model variant ready for evaluation: trained (or reused) weights and its data."""

    model: CXRClassifier
    data: DataBundle
    key: str              # what the weights were determined by (checkpoint key or file digest)
    split_digest: str
    training: dict
    regime: str = "standard"   # how it was trained (train.adversary.regime())

    @property
    def name(self) -> str:
        return variant_name(self.model.identity.model, self.model.identity.pooling, self.regime)


def variant_name(model: str, pooling: str, regime: str = "standard") -> str:
    """How folders and records name a trained model: ``irv2-max``, ``irv2-max-pgd-at``."""
    return f"{model}-{pooling}" if regime == "standard" else f"{model}-{pooling}-{regime}"


def prepare_variant(cfg: RunConfig, paths: Paths, runtime: Runtime, log=print) -> Variant:
    """Build the configured model and train it, or reuse its cached or given checkpoint."""
    source = create_data_source(cfg.data, paths.root)
    if hasattr(source, "check_root"):
        source.check_root()  # fail on a missing data root before any work
    task = get_task(cfg.task.name)
    spec = get_model_spec(cfg.model.name)
    if spec.loader is not None:
        return _loaded_variant(cfg, spec.loader, source, task, paths, runtime, log)
    model = create_model(cfg.model.name, cfg.pooling.mode, input_size=cfg.train.input_size,
                         channels=cfg.model.channels, num_classes=task.num_classes)
    given = Path(cfg.model.checkpoint).expanduser() if cfg.model.checkpoint else None
    regime = cfg.train.adversary.regime()  # a given checkpoint: what the user says it was trained as
    if given is not None:
        check_identity(read_checkpoint(given), model.identity, given)  # refuse a foreign one up front

    subsets = ("test",) if given is not None else ("train", "val", "test")
    data = build_data(source, cfg.train.canonical_size, paths.cache, progress=cfg.progress, subsets=subsets)
    split_digest = data.split.write(paths.splits / f"{data.split.name}-{data.split.seed}.csv")
    log(f"data: {data.description['source']} split={data.split.name} sizes={data.split.sizes()} "
        f"digest={split_digest[:12]}")

    if given is not None:
        load_weights(model, given)
        return Variant(runtime.prepare(model), data, f"ckpt-{file_sha256(given)[:16]}", split_digest,
                       {"checkpoint": str(given), "reused": True}, regime)
    train, data = training_subset(cfg.train, data, cfg.seed)
    init = initialise_from(model, cfg.model.weights) if cfg.model.weights else None
    if init:
        log(f"model: initialised {init['loaded']} tensors from {init['file']} ({len(init['fresh'])} left fresh)")
    trained = ensure_trained(model, data, train, paths.checkpoints, runtime, seed=cfg.seed, progress=cfg.progress,
                             init=init["digest"] if init else None, task=task)
    training = {"checkpoint": str(trained.directory / "best.pt"), "reused": trained.reused,
                **({"initial_weights": {k: init[k] for k in ("file", "digest", "loaded")}} if init else {}),
                **{k: trained.summary[k] for k in ("best_step", "best_val_auc", "steps", "train_seconds")},
                # Older done.json files predate the choice: they were all selected by clean validation AUC.
                "selected_by": trained.summary.get("selected_by", "val_auc")}
    ident = trained.model.identity
    log(f"model: {'reused' if trained.reused else 'trained'} {ident.model}/{ident.pooling} ({train.adversary.describe()}"
        f"{f', {len(data.train)} training images' if train.train_size else ''}) at "
        f"{ident.input_size}px (best val AUC {training['best_val_auc']:.3f} at step {training['best_step']}, "
        f"{training['train_seconds']:.0f} s of training) -> {trained.directory}")
    return Variant(trained.model, data, trained.key, split_digest, training, regime)


def _loaded_variant(cfg: RunConfig, loader, source, task, paths: Paths, runtime: Runtime, log) -> Variant:
    """A model the user brings (``model=external``): read from its file, never trained."""
    loaded = loader(cfg.model, task=task.name, labels=tuple(type(source).label_names(cfg.data)),
                    num_classes=task.num_classes)
    data = build_data(source, cfg.train.canonical_size, paths.cache, progress=cfg.progress,
                      subsets=EVALUATION_SUBSETS[task.name])
    split_digest = data.split.write(paths.splits / f"{data.split.name}-{data.split.seed}.csv")
    ext = loaded.description
    missing = f", missing labels: {', '.join(ext['missing_labels'])}" if ext.get("missing_labels") else ""
    log(f"model: external {ext['format']} {ext.get('file', '(module)')} sha256 {ext['sha256'][:16]}, not trained "
        f"({ext['output']}, normalise {ext['normalise']}, {ext['input_size']}px{missing})")
    return Variant(runtime.prepare(loaded.model), data, loaded.key, split_digest,
                   {"external": ext, "reused": True}, cfg.train.adversary.regime())


def training_subset(train: TrainConfig, data: DataBundle, seed: int) -> tuple[TrainConfig, DataBundle]:
    """The recipe and data to train on: the first ``train.train_size`` images of a seeded stratified order.

    One order per seed, so the subsets of one seed are nested (each contains the smaller ones) and
    keep the split's prevalence. A size equal to the whole split is the whole split (and keeps its
    checkpoint key); a larger one is refused.
    """
    size, available = train.train_size, len(data.train)
    if size is None or size == available:
        return replace(train, train_size=None), data
    if size > available:
        raise ConfigError(f"train.train_size={size} exceeds the training split ({available} images); "
                          f"choose at most {available}")
    rows = stratified_rows(data.train.targets, size, seed)
    return train, replace(data, train=SubsetView(data.train, rows))


def split_summary(variant: Variant) -> dict:
    split = variant.data.split
    return {"name": split.name, "digest": variant.split_digest, "sizes": split.sizes()}


def clean_predictions_path(variant: Variant) -> Path:
    """Where ``variant``'s clean per-sample predictions live, relative to the results directory."""
    return Path("predictions") / "clean" / f"{variant.name}-{variant.key}.parquet"


def clean_predictions(variant: Variant, paths: Paths, runtime: Runtime, batch_size: int) -> pd.DataFrame:
    """The target's clean pass over the test split: ``image_id``, ``label``, ``prob``, ``pred``.

    The key fixes the weights, the test split and the image space, so every attack cell reads
    the predictions the first run made; it is the one clean prediction every table uses.
    """
    stored = paths.results / clean_predictions_path(variant)
    if stored.exists():
        return read_table(stored, "clean predictions", "delete it: the next run recomputes it")
    test = variant.data.test
    probs = predict_proba(variant.model, test, runtime, batch_size)
    table = pd.DataFrame({"image_id": list(test.ids), "label": test.targets.astype(int), "prob": probs,
                          "pred": predicted(probs)})
    atomic_write(stored, lambda tmp: table.to_parquet(tmp, index=False))
    return table


def record_base(cfg: RunConfig, variant: Variant, runtime: Runtime, metrics: dict, *, wall: float,
                per_sample: Path) -> dict:
    """The fields every record of ``variant`` (the target) shares."""
    ident = variant.model.identity
    return dict(seed=cfg.seed, config=plain_config(cfg), data=variant.data.description,
                split=split_summary(variant), image_size=cfg.train.canonical_size, model=ident.model,
                pooling=ident.pooling, model_identity=ident.as_dict(), model_key=variant.key,
                training=variant.training, images=metrics["n"], n_positive=metrics["n_positive"],
                accuracy=metrics["accuracy"], auc=metrics["auc"], metrics=metrics, per_sample=str(per_sample),
                device=str(runtime.device), wall_seconds=time.perf_counter() - wall, regime=variant.regime)


def evaluate_clean(cfg: RunConfig, variant: Variant, paths: Paths, runtime: Runtime, *, wall: float,
                   log=print) -> dict:
    """Clean test accuracy and ROC-AUC of ``variant``: a record plus its per-sample predictions.

    The record lands under ``results/records/clean/``; its ``per_sample`` (relative to the results
    directory) names a Parquet table of image id, label and P(finding) for bootstrap intervals.
    """
    table = clean_predictions(variant, paths, runtime, cfg.train.eval_batch_size)
    metrics = binary_metrics(table["label"].to_numpy(), table["prob"].to_numpy())
    record = CleanRecord(**record_base(cfg, variant, runtime, metrics, wall=wall,
                                       per_sample=clean_predictions_path(variant)))
    document = write_record(paths.records / "clean" / f"{variant.name}-{variant.key}.json", record, paths.root)
    log(f"clean test {variant.name}: accuracy {metrics['accuracy']:.3f}  AUC {metrics['auc']:.3f}  "
        f"(n={metrics['n']}, {metrics['n_positive']} with a finding)")
    return document


def plain_config(cfg: RunConfig) -> dict:
    out = asdict(cfg)
    out["data"] = asdict(cfg.data)
    return out
