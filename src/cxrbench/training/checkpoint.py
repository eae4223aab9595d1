"""Checkpoints that know which model variant they belong to."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cxrbench.errors import CheckpointError
from cxrbench.io import atomic_write
from cxrbench.models.factory import CXRClassifier, ModelIdentity


def save_checkpoint(path: Path, model: CXRClassifier, **extra: Any) -> Path:
    """Write weights, the model identity and ``extra`` (plain data and tensors) atomically."""
    payload = {"identity": model.identity.as_dict(), "model": model.state_dict(), **extra}

    def write(tmp: Path) -> None:
        try:
            torch.save(payload, tmp)
        except RuntimeError as exc:  # torch reports a failed write (full disk, quota) as RuntimeError
            raise OSError(f"torch.save failed: {str(exc).strip().splitlines()[0]}") from exc

    return atomic_write(Path(path), write)


def read_checkpoint(path: Path) -> dict:
    """Load a checkpoint safely (``weights_only=True``); unreadable files get one clear error."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; check model.checkpoint or drop it to train")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise CheckpointError(f"cannot read checkpoint {path} ({type(exc).__name__}); "
                              "it is corrupt or not a cxrbench checkpoint: delete it to retrain") from None
    if not isinstance(payload, dict) or "identity" not in payload or "model" not in payload:
        raise CheckpointError(f"{path} is not a cxrbench checkpoint (no model identity); "
                              "delete it or pass one written by scripts/run.py")
    return payload


def _describe(identity: dict) -> str:
    return f"{identity.get('model')}/{identity.get('pooling')} pooling at {identity.get('input_size')}px " \
           f"with {identity.get('channels')} channel(s)"


def check_identity(payload: dict, expected: ModelIdentity, path: Path) -> None:
    """Refuse a checkpoint of another architecture, pooling, size or head."""
    found = payload["identity"]
    if found != expected.as_dict():
        raise CheckpointError(f"checkpoint {path} holds {_describe(found)}, but this run builds "
                              f"{_describe(expected.as_dict())}; pass the matching model=/pooling=/"
                              "train.input_size or another checkpoint")


def load_weights(model: CXRClassifier, path: Path) -> dict:
    """Load ``path`` into ``model`` after checking it is the same variant; returns the payload."""
    payload = read_checkpoint(path)
    check_identity(payload, model.identity, path)
    model.load_state_dict(payload["model"])
    return payload
