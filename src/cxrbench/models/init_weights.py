"""Initialise a backbone from a local weights file the user already has (never downloaded).

A file of another library (torchxrayvision's DenseNet weights, a timm state dict) or a cxrbench
checkpoint: every tensor whose name and shape match the built backbone is copied in; the rest
(typically the classification head, whose size is the task's) keeps its fresh initialisation and
is learnt by the training recipe. What was taken is reported and its digest keys the checkpoint.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from cxrbench.errors import CheckpointError
from cxrbench.models.factory import CXRClassifier

#: Name prefixes that wrappers add in front of the backbone's own parameter names.
_PREFIXES = ("module.", "backbone.", "model.")

_CONVERT = ("python -c \"import torch; torch.save(torch.load('IN', weights_only=False).state_dict(), 'OUT')\" "
            "(only for a file you trust: unpickling runs code)")


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for pickled modules and corrupt files
        raise CheckpointError(
            f"cannot read model.weights {path} as a state dict ({type(exc).__name__}); a whole pickled model "
            f"(torchxrayvision's downloaded .pt files are) must be saved as its state dict once: {_CONVERT}") from None
    if isinstance(payload, dict) and isinstance(payload.get("model"), dict):
        payload = payload["model"]  # a cxrbench checkpoint, or a training script's {"model": state_dict}
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise CheckpointError(f"model.weights {path} holds no state dict (a mapping of names to tensors)")
    state = {}
    for name, tensor in payload.items():
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
        state[name] = tensor
    return state


def initialise_from(model: CXRClassifier, path: str | Path) -> dict:
    """Copy the matching tensors of the weights file ``path`` into ``model.backbone``.

    Returns:
        ``file``, its ``digest`` (16 hex digits of SHA-256), how many tensors were ``loaded`` and the
        names of those left ``fresh``.

    Raises:
        CheckpointError: the file is missing or unreadable, or fewer than half of the backbone's
            tensors match it (weights of another architecture).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"model.weights {path} does not exist; give the path of a local weights file "
                              "or drop model.weights to train from scratch")
    state = _state_dict(path)
    own = model.backbone.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(matched) < len(own) / 2:
        raise CheckpointError(f"model.weights {path} matches {len(matched)} of the {len(own)} tensors of "
                              f"{model.identity.model}: weights of another architecture? give this model's weights")
    model.backbone.load_state_dict(matched, strict=False)
    return {"file": str(path), "digest": hashlib.sha256(path.read_bytes()).hexdigest()[:16],
            "loaded": len(matched), "fresh": sorted(set(own) - set(matched))}
