"""Initialise a backbone from a local weights file the user already has (never downloaded).

A file of another library (torchxrayvision's DenseNet weights, a timm state dict) or a cxrbench
checkpoint: every tensor whose name and shape match the built backbone is copied in; the rest
(typically the classification head, whose size is the task's) keeps its fresh initialisation and
is learnt by the training recipe. What was taken is reported and its digest keys the checkpoint.
"""
from __future__ import annotations

from pathlib import Path

import torch

from cxrbench.errors import CheckpointError
from cxrbench.io import file_sha256
from cxrbench.models.factory import CXRClassifier

#: Name prefixes that wrappers add in front of the backbone's own parameter names.
_PREFIXES = ("module.", "backbone.", "model.")

_CONVERT = ("python -c \"import torch; torch.save(torch.load('IN', weights_only=False).state_dict(), 'OUT')\" "
            "(only for a file you trust: unpickling runs code)")


_SAFETENSORS = ("python -c \"import torch; from safetensors.torch import load_file; "
                "torch.save(load_file('IN'), 'OUT')\"")
_WHAT_IT_NEEDS = "not a PyTorch weights file (a state dict saved with torch.save)"


def _is_text(head: bytes) -> bool:
    """Whether the first bytes of a file read as text (UTF-8, printable, no NUL)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # a character cut at the end of the sample is not binary
            return False
        text = head[:exc.start].decode("utf-8")
    return "\0" not in text and all(c.isprintable() or c.isspace() for c in text)


def weights_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a weights file, read from its first bytes (None: it may be one).

    Cheap enough for config validation, so a wrong file fails before any data is built, and it
    names what the file is instead of giving the advice meant for a pickled model to a text file.
    """
    path = Path(path).expanduser()
    if not path.exists():
        where = "" if path.is_absolute() else f" (a relative path starts at the current folder {Path.cwd()})"
        return (f"model.weights {path} does not exist{where}; give the path of a local weights file or drop "
                "model.weights to train from scratch")
    if not path.is_file():
        return f"model.weights {path} is a folder, not a weights file; give the file inside it or drop model.weights"
    with open(path, "rb") as f:
        head = f.read(4096)
    size = path.stat().st_size
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch.save: a zip archive, or a legacy pickle
        return None
    if len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < size:
        return (f"model.weights {path} is a safetensors file, which cxrbench reads only as a state dict saved "
                f"with torch.save; convert it once: {_SAFETENSORS}")
    if size == 0:
        kind = "an empty file"
    elif head.startswith(b"\x89HDF"):
        kind = "an HDF5 file (Keras or TensorFlow weights?)"
    elif head.startswith(b"\x93NUMPY"):
        kind = "a NumPy array file"
    elif _is_text(head):
        kind = "a text file"
    else:
        kind = f"a file of unknown format (it starts with bytes {head[:8].hex(' ')})"
    return f"model.weights {path} is {kind}, {_WHAT_IT_NEEDS}; give the weights file or drop model.weights"


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
        CheckpointError: the file is missing, not a torch.save file (what it is instead is named) or
            unreadable, or fewer than half of the backbone's tensors match it (weights of another
            architecture).
    """
    path = Path(path).expanduser()
    problem = weights_problem(path)
    if problem:
        raise CheckpointError(problem)
    state = _state_dict(path)
    own = model.backbone.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if len(matched) < len(own) / 2:
        raise CheckpointError(f"model.weights {path} matches {len(matched)} of the {len(own)} tensors of "
                              f"{model.identity.model}: weights of another architecture? give this model's weights")
    model.backbone.load_state_dict(matched, strict=False)
    return {"file": str(path), "digest": file_sha256(path)[:16],
            "loaded": len(matched), "fresh": sorted(set(own) - set(matched))}
