"""The ``model=external`` config, checked before any data is built: one error line per problem."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cxrbench.errors import ConfigError
from cxrbench.models.external_head import NORMALISATIONS, OUTPUTS, PER_LABEL, map_labels
from cxrbench.models.external_source import ARCH_LABELS, ARCH_OUTPUT, is_provided, known_arch

FORMATS = ("torchscript", "state_dict", "module")


def _choose(value: Any, valid: tuple[str, ...], key: str, why: str = "") -> None:
    if value not in valid:
        got = "is not set" if value is None else f"is {value!r}"
        raise ConfigError(f"model.{key} {got}{why}; choose one of: {', '.join(valid)}")


def _check_source(model: Any) -> None:
    """The file (or handed module) exists and its format and architecture are stated consistently."""
    if not model.path:
        raise ConfigError("model=external needs model.path, the TorchScript or state dict file to evaluate (as a "
                          "black-box partner in grid.models it is read from configs/model/external.yaml, so put "
                          "external first in grid.models and give model.path on the command line)")
    _choose(model.format, FORMATS, "format")
    if model.format == "module":
        if not is_provided(model.path):
            raise ConfigError("model.format=module names a module handed to cxrbench.app.api.benchmark in this "
                              "process; from the command line give a file (model.format=torchscript|state_dict)")
    else:
        path = Path(model.path).expanduser()
        if not path.is_file():
            where = "" if path.is_absolute() else f" (relative to the current folder {Path.cwd()})"
            raise ConfigError(f"model.path {path} is not a file{where}; give the model file to evaluate")
    if model.format == "state_dict":
        if not model.arch:
            raise ConfigError("model.format=state_dict needs model.arch, the architecture to load it into: a timm "
                              f"model name or one of: {', '.join(ARCH_LABELS)}")
        if not known_arch(model.arch):
            raise ConfigError(f"model.arch {model.arch!r} is neither a timm model nor one of: {', '.join(ARCH_LABELS)}")
    elif model.arch:
        raise ConfigError(f"model.arch names the architecture of a state dict; model.format={model.format} carries "
                          "its own: drop model.arch")


def _check_outputs(model: Any, task: str, labels: tuple[str, ...]) -> None:
    """The declared outputs can give the task what it needs; missing labels are an error for the multi-label task."""
    _choose(model.output, OUTPUTS, "output")
    fixed = ARCH_OUTPUT.get(model.arch or "")
    if fixed and model.output != fixed:
        raise ConfigError(f"model.arch={model.arch} is built with its calibration (op_threshs) and sigmoid switched "
                          f"off, so it returns {fixed}: set model.output={fixed}")
    if model.output not in PER_LABEL:
        if model.labels is not None:
            raise ConfigError(f"model.labels names per-label outputs, but model.output={model.output}; drop "
                              "model.labels or declare label_logits or label_probs")
        if task != "binary":
            raise ConfigError(f"task={task} needs one output per label; model.output={model.output} gives a "
                              "finding vs no-finding decision only: declare label_logits or label_probs and "
                              "model.labels")
        return
    names = list(model.labels) if model.labels is not None else list(ARCH_LABELS.get(model.arch or "", ()))
    if not names:
        raise ConfigError(f"model.output={model.output} needs model.labels, one name per output in order (the "
                          f"data's are: {', '.join(labels)})")
    if len({n for n in names if n}) != len([n for n in names if n]):
        raise ConfigError(f"model.labels names a label twice: {names}")
    mapping = map_labels(names, labels)
    if task != "binary" and mapping.missing:
        raise ConfigError(f"task={task} needs all {len(labels)} labels of the data; the model does not predict "
                          f"{', '.join(mapping.missing)} (cxrbench does not guess them; check model.labels)")
    if not mapping.mapped:
        raise ConfigError(f"none of model.labels ({', '.join(n for n in names if n)}) is a finding of the data "
                          f"({', '.join(labels)}), so the model has no finding output to decide with")


def check_external(model: Any, *, pooling: str, task: str, labels: tuple[str, ...]) -> None:
    """Check a ``model=external`` config (a ModelConfig) for ``task`` over the data's ``labels``.

    Raises:
        ConfigError: the first problem found, with what to do about it.
    """
    if model.checkpoint or model.weights:
        raise ConfigError("model=external is evaluated as given: model.checkpoint and model.weights belong to the "
                          "families cxrbench trains; drop them")
    if pooling != "max":
        raise ConfigError(f"model=external is evaluated as given (recorded as pooling=max, the network as "
                          f"published); pooling={pooling} would swap its internal pools: use pooling=max "
                          "(grid.poolings=[max] in a protocol)")
    _check_source(model)
    _choose(model.normalise, tuple(NORMALISATIONS), "normalise",
            " (what the model expects of [0, 1] pixels; none: it normalises itself)")
    if model.channels not in (1, 3):
        raise ConfigError(f"model.channels must be 1 or 3, got {model.channels!r}")
    if isinstance(model.input_size, bool) or not isinstance(model.input_size, int) or model.input_size < 1:
        raise ConfigError(f"model.input_size must be the model's input size in pixels, got {model.input_size!r}")
    _check_outputs(model, task, labels)
