"""Trained checkpoints cached by what determines them, reused across runs and sweep jobs."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

from cxrbench.data.datasets import DataBundle
from cxrbench.errors import TrainingError
from cxrbench.io import atomic_write_json, read_json
from cxrbench.models.factory import CXRClassifier, ModelIdentity
from cxrbench.runtime import Runtime
from cxrbench.settings import TrainConfig
from cxrbench.tasks import Task, get_task
from cxrbench.training.adversarial import AT_PROTOCOL
from cxrbench.training.checkpoint import load_weights
from cxrbench.training.loop import fit

# Settings that change how fast, not what, a model learns are left out of the key.
_TRAIN_KEYS_IGNORED = ("eval_batch_size",)


def checkpoint_key(data_description: dict, split_digest: str, identity: ModelIdentity, train: TrainConfig,
                   seed: int, init: str | None = None, task: str = "binary") -> str:
    """Hash of (data, split, model variant, training recipe, seed; the initial weights' digest and the task if set)."""
    recipe = {k: v for k, v in asdict(train).items() if k not in _TRAIN_KEYS_IGNORED}
    if train.canonical_size == identity.input_size:
        # The images reach the network exactly as before the image space existed: keys, and the
        # checkpoints trained under them, stay valid.
        recipe.pop("image_size")
    if train.train_size is None:
        recipe.pop("train_size")  # the whole training split: keys from before nested subsets stay valid
    if train.adversary.method == "none":
        recipe.pop("adversary")  # standard training: keys from before adversarial training stay valid
    else:
        # The protocol (BatchNorm statistics, checkpoint selection) changes what an AT checkpoint is:
        # one trained under an older protocol must not be reused for this one.
        recipe["adversary"] = {**recipe["adversary"], "protocol": AT_PROTOCOL}
    blob = {"data": data_description, "split": split_digest, "model": identity.as_dict(),
            "train": recipe, "seed": seed}
    if init is not None:  # from scratch: keys from before initial weights existed stay valid
        blob["init"] = init
    if task != "binary":  # the binary task: keys from before tasks existed stay valid
        blob["task"] = task
    blob = json.dumps(blob, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def checkpoint_dir(checkpoint_root: Path, identity: ModelIdentity, key: str) -> Path:
    """Where the checkpoint of ``identity`` under ``key`` lives; it is finished once it holds ``done.json``."""
    return Path(checkpoint_root) / f"{identity.model}-{identity.pooling}-{identity.input_size}px-{key}"


@dataclass
class TrainedModel:
    model: CXRClassifier
    directory: Path
    reused: bool
    summary: dict
    key: str  # the checkpoint key (:func:`checkpoint_key`) the weights are stored under


def ensure_trained(model: CXRClassifier, data: DataBundle, train: TrainConfig, checkpoint_root: Path,
                   runtime: Runtime, *, seed: int, progress: bool = True, init: str | None = None,
                   task: Task | None = None) -> TrainedModel:
    """Return ``model`` loaded with its best checkpoint, training it first if no finished one exists.

    A finished run leaves ``done.json``; an unfinished one leaves ``last.pt`` and is
    resumed. A file lock keeps two jobs from training the same variant at once. ``init`` is the
    digest of the weights ``model`` was initialised from (None: from scratch).
    """
    ident = model.identity
    task = task or get_task("binary")
    key = checkpoint_key(data.description, data.split.digest(), ident, train, seed, init, task.name)
    directory = checkpoint_dir(checkpoint_root, ident, key)
    directory.mkdir(parents=True, exist_ok=True)
    done = directory / "done.json"
    with FileLock(str(directory / ".lock")):
        reused = done.exists()
        if not reused:
            atomic_write_json(directory / "config.json", {
                "data": data.description, "split_digest": data.split.digest(), "model": ident.as_dict(),
                "train": asdict(train), "seed": seed})
            result = fit(model, data, train, directory, runtime, seed=seed, progress=progress, task=task)
            if result.best_step < 0 or not (directory / "best.pt").is_file():
                # Never mark a training done that left no weights: every rerun would then fail to load.
                raise TrainingError(f"training {directory.name} ran {result.steps} steps without a validation "
                                    f"checkpoint (best.pt); set train.max_steps or train.epochs so that at "
                                    "least one validation runs")
            atomic_write_json(done, {"best_step": result.best_step, "best_val_auc": result.best_val_auc,
                                     "selected_by": result.selected_by, "steps": result.steps,
                                     "train_seconds": result.seconds, "history": result.history,
                                     "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
            # The resume point holds optimiser state (three times the weights); once done, it is dead weight.
            (directory / "last.pt").unlink(missing_ok=True)
        load_weights(model, directory / "best.pt")
    summary = read_json(done, "checkpoint summary", f"delete {directory} to retrain the model")
    return TrainedModel(model=runtime.prepare(model), directory=directory, reused=reused, summary=summary, key=key)
