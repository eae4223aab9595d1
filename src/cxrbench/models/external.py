"""A model you bring (``model=external``): a TorchScript file or a state dict, evaluated as given, never trained.

The file is read once per run; the classifier every protocol sees is the project's usual
:class:`~cxrbench.models.factory.CXRClassifier` around it: grayscale ``[0, 1]`` pixels of the
experiment's image space, resized to the declared ``model.input_size``, repeated to
``model.channels``, normalised as declared (``imagenet``, torchxrayvision's ``xrv`` [-1024, 1024],
or ``none`` for a model that normalises itself), then the network, then its outputs turned into
the task's logits (:mod:`cxrbench.models.external_head`). Its key in records starts with the
SHA-256 of the file (for a module handed to :mod:`cxrbench.app.api`, of its state dict's bytes);
``training.external`` states the full digest and how the outputs met the task's labels.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cxrbench.errors import CheckpointError
from cxrbench.io import file_sha256
from cxrbench.models.external_check import check_external
from cxrbench.models.external_head import (
    NORMALISATIONS,
    PER_LABEL,
    OutputHead,
    map_labels,
    output_count,
)
from cxrbench.models.external_source import (
    ARCH_LABELS,
    build_arch,
    provided,
    read_state_dict,
    read_torchscript,
)
from cxrbench.models.factory import CXRClassifier, ModelIdentity
from cxrbench.models.registry import ModelSpec, register_model

NAME = "external"


@dataclass
class LoadedModel:
    """An external model ready for evaluation: the classifier, its key in records and what was read."""

    model: CXRClassifier
    key: str
    description: dict


def _network(cfg: Any, n_out: int) -> tuple[nn.Module, str, dict]:
    """The network, the digest that identifies it and notes on what was read."""
    if cfg.format == "module":  # a copy: evaluation switches it to eval mode and off its parameters' gradients
        return copy.deepcopy(provided(cfg.path)), cfg.path, {}
    path = Path(cfg.path).expanduser()
    sha = file_sha256(path)
    if cfg.format == "torchscript":
        return read_torchscript(path), sha, {"file": str(path)}
    state, notes = read_state_dict(path)
    return build_arch(cfg.arch, state, n_out=n_out, channels=cfg.channels, path=path), sha, {"file": str(path), **notes}


def _check_outputs(head: OutputHead, cfg: Any, n_out: int, where: str) -> None:
    """One forward pass at the declared input: the output count must be what ``model.output`` declares."""
    probe = torch.zeros(1, cfg.channels, cfg.input_size, cfg.input_size)
    with torch.no_grad():
        out = head.net(probe)
    got = out.shape[1] if out.dim() == 2 else (1 if out.numel() == 1 else tuple(out.shape))
    if got != n_out:
        raise CheckpointError(f"{where} gives {got} output(s) per image at {cfg.input_size}px, but model.output="
                              f"{cfg.output}{f' with {n_out} labels' if cfg.labels or n_out > 2 else ''} declares "
                              f"{n_out}; fix model.output or model.labels")


def load_external(cfg: Any, *, task: str, labels: tuple[str, ...], num_classes: int) -> LoadedModel:
    """Read the external model ``cfg`` (a checked ModelConfig) for ``task`` over the data's ``labels``.

    Raises:
        CheckpointError: the file cannot be read in its declared format, a state dict does not match
            the named architecture, or the network's output count is not the declared one.
    """
    per_label = cfg.output in PER_LABEL
    # Per-label outputs without model.labels: the architecture's own names (the config check allows no others).
    model_labels = (list(cfg.labels) if cfg.labels is not None else list(ARCH_LABELS[cfg.arch])) if per_label else None
    n_out = output_count(cfg.output, model_labels)
    net, sha, notes = _network(cfg, n_out)
    net.eval()
    for parameter in net.parameters():  # never trained: attacks need gradients of the input only
        parameter.requires_grad_(False)
    mapping = map_labels(model_labels, labels) if per_label else None
    head = OutputHead(net, cfg.output, task, mapping.columns if mapping else ())
    where = f"model.path {cfg.path}" if cfg.format != "module" else "the module handed to benchmark()"
    _check_outputs(head, cfg, n_out, where)
    mean, std = NORMALISATIONS[cfg.normalise]
    arch = cfg.arch or ("torchscript" if cfg.format == "torchscript" else "module")
    identity = ModelIdentity(model=NAME, timm_name=arch, pooling="max", input_size=cfg.input_size,
                             channels=cfg.channels, num_classes=num_classes)
    reading = {k: getattr(cfg, k) for k in ("format", "arch", "input_size", "channels", "normalise", "output")}
    reading["labels"] = model_labels
    reading_digest = hashlib.sha256(json.dumps(reading, sort_keys=True).encode()).hexdigest()
    description = {"sha256": sha, **reading, **notes}
    if mapping is not None:
        description.update(mapped_labels=list(mapping.mapped), missing_labels=list(mapping.missing),
                           ignored_outputs=list(mapping.ignored),
                           finding_rule="max over mapped labels" if task == "binary" else "the mapped columns")
    return LoadedModel(CXRClassifier(head, identity, mean, std), f"ext-{sha[:16]}-{reading_digest[:6]}", description)


register_model(ModelSpec(
    name=NAME,
    timm_name="external",
    paper_id="EXT",
    native_size=224,
    min_size=1,
    builder=None,
    in_paper=False,
    loader=load_external,
    check=check_external,
))
