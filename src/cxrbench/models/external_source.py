"""Where an external model's network comes from: a TorchScript file, a state dict and an architecture, or a module.

Architectures of a state dict are built without weights (``timm.create_model(pretrained=False)``,
torchxrayvision's ``DenseNet(weights=None)``), so nothing is downloaded, then the state dict is
loaded strictly. torchxrayvision's operating-point calibration (``op_threshs``, which maps each
label's probability so that its operating point lands on 0.5 and makes the output a probability)
is switched off: the buffer is dropped from the state dict and stays None, so the network returns
its raw classifier logits; the thresholds found are reported, never applied.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from pathlib import Path

import timm
import torch
import torchxrayvision as xrv
from torch import nn

from cxrbench.errors import CheckpointError

#: Name prefixes that training wrappers add in front of the network's own parameter names.
_PREFIXES = ("module.",)

#: Modules handed to the Python API in this process, by the digest of their state dict.
_PROVIDED: dict[str, nn.Module] = {}


def _xrv_densenet(n_out: int, channels: int) -> nn.Module:
    return xrv.models.DenseNet(weights=None, num_classes=n_out, in_channels=channels)


#: Architectures of other libraries than timm, by the name ``model.arch`` gives them.
ARCHS: dict[str, Callable[[int, int], nn.Module]] = {"xrv.densenet121": _xrv_densenet}
#: Their own output names (torchxrayvision's 18 pathologies), used when ``model.labels`` is not given.
ARCH_LABELS: dict[str, tuple[str, ...]] = {"xrv.densenet121": tuple(xrv.models.DenseNet.targets)}
#: What they return as cxrbench builds them: torchxrayvision's raw classifier logits (calibration and sigmoid off).
ARCH_OUTPUT: dict[str, str] = {"xrv.densenet121": "label_logits"}


def known_arch(arch: str) -> bool:
    """Whether ``arch`` names an architecture cxrbench can build (one of :data:`ARCHS` or a timm model)."""
    return arch in ARCHS or timm.is_model(arch)


def module_digest(module: nn.Module) -> str:
    """SHA-256 of a module's class name and state dict (names, dtypes, shapes and bytes, in name order)."""
    h = hashlib.sha256(type(module).__qualname__.encode())
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def provide(module: nn.Module) -> str:
    """Make ``module`` loadable as ``model.format=module model.path=<digest>`` in this process; the digest."""
    digest = module_digest(module)
    _PROVIDED[digest] = module
    return digest


def withdraw(digest: str) -> None:
    """Forget a module :func:`provide` registered."""
    _PROVIDED.pop(digest, None)


def is_provided(digest: str) -> bool:
    return digest in _PROVIDED


def provided(digest: str) -> nn.Module:
    return _PROVIDED[digest]


def read_torchscript(path: Path) -> nn.Module:
    """The TorchScript module saved at ``path`` (loaded on the CPU)."""
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError or ValueError for files that are not TorchScript
        raise CheckpointError(f"cannot read model.path {path} as TorchScript ({type(exc).__name__}); if it is a "
                              "state dict, set model.format=state_dict and model.arch") from None


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors of a state dict file (``{"model": ...}`` / ``{"state_dict": ...}`` unwrapped) and notes.

    Notes hold ``op_threshs``: the calibration thresholds the file carried (switched off), or None.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files and pickled modules
        raise CheckpointError(
            f"cannot read model.path {path} as a state dict ({type(exc).__name__}): a corrupt file, TorchScript "
            "(set model.format=torchscript) or a whole pickled model (save its .state_dict() once)") from None
    for wrapper in ("model", "state_dict"):
        if isinstance(payload, dict) and isinstance(payload.get(wrapper), dict):
            payload = payload[wrapper]
    if not isinstance(payload, dict) or not payload or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise CheckpointError(f"model.path {path} holds no state dict (a mapping of names to tensors)")
    state = {}
    for name, tensor in payload.items():
        for prefix in _PREFIXES:
            name = name.removeprefix(prefix)
        state[name] = tensor
    threshs = state.pop("op_threshs", None)
    return state, {"op_threshs": None if threshs is None else {
        "switched_off": True, "values": [None if math.isnan(v) else v for v in threshs.tolist()]}}


def build_arch(arch: str, state: dict[str, torch.Tensor], *, n_out: int, channels: int, path: Path) -> nn.Module:
    """``arch`` built without weights for ``n_out`` outputs and ``channels`` input channels, ``state`` loaded strictly.

    Raises:
        CheckpointError: the state dict is not this architecture's (missing, unexpected or misshapen tensors).
    """
    build = ARCHS.get(arch) or (lambda n, c: timm.create_model(arch, pretrained=False, num_classes=n, in_chans=c))
    net = build(n_out, channels)
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshapen = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or misshapen:
        detail = "; ".join(f"{what} {len(names)} (e.g. {', '.join(names[:3])})" for what, names in
                           (("missing", missing), ("unexpected", unexpected), ("of another shape", misshapen)) if names)
        raise CheckpointError(f"model.path {path} is not a state dict of {arch} with {n_out} outputs and {channels} "
                              f"input channel(s): tensors {detail}; check model.arch, model.output/labels and "
                              "model.channels")
    net.load_state_dict(state)
    return net
