"""What a model you bring says, turned into what a task needs: logits in the task's order.

The binary task needs two logits ``[no finding, finding]``; the multi-label task one logit per
label of the data, in the data's order. An external model declares its output kind:

- ``two_logits``: already ``[no finding, finding]``, used as is.
- ``one_logit``: the finding logit ``z``; the task gets ``[0, z]``, whose softmax is ``sigmoid(z)``,
  so decisions and P(finding) are those of the one-logit model.
- ``label_logits`` / ``label_probs``: one output per named label. Probabilities become logits by
  ``log(p / (1 - p))`` with ``p`` clamped to ``[1e-6, 1 - 1e-6]`` (beyond that the gradient the
  attacks follow is zero). The multi-label task takes the columns of its labels; the binary task's
  finding logit is the largest logit over the model's labels that are findings of the data, so the
  model says "finding" exactly when it gives any of them a probability above one half.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cxrbench.errors import ConfigError

OUTPUTS = ("two_logits", "one_logit", "label_logits", "label_probs")
PER_LABEL = ("label_logits", "label_probs")

#: Per-channel mean and std of ``[0, 1]`` pixels each declared normalisation applies.
NORMALISATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    # torchxrayvision's convention: [0, 1] -> [-1024, 1024], i.e. (x - 0.5) * 2048
    "xrv": ((0.5, 0.5, 0.5), (1 / 2048,) * 3),
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}

#: Probabilities are clamped to ``[EPS, 1 - EPS]`` before they become logits (|logit| <= 13.8).
EPS = 1e-6


@dataclass(frozen=True)
class LabelMap:
    """How the model's named outputs meet the task's labels.

    Attributes:
        columns: the model's output column of each task label it has, in the task's order.
        mapped: the task labels found among the model's.
        missing: the task labels the model does not predict (stated, never guessed).
        ignored: the model's labels the task does not use.
    """

    columns: tuple[int, ...]
    mapped: tuple[str, ...]
    missing: tuple[str, ...]
    ignored: tuple[str, ...]


def map_labels(model_labels: list[str], task_labels: tuple[str, ...]) -> LabelMap:
    """Match task labels to model outputs by name (an empty name marks an output the model does not train)."""
    index = {name: i for i, name in enumerate(model_labels) if name}
    found = [name for name in task_labels if name in index]
    return LabelMap(columns=tuple(index[name] for name in found), mapped=tuple(found),
                    missing=tuple(name for name in task_labels if name not in index),
                    ignored=tuple(name for name in model_labels if name and name not in task_labels))


def output_count(output: str, labels: list[str] | None) -> int:
    """How many outputs a model of this declared kind gives."""
    return {"two_logits": 2, "one_logit": 1}.get(output, len(labels or []))


class OutputHead(nn.Module):
    """Wrap a network so its outputs are the task's logits (see the module docstring for the rules).

    Args:
        net: the external network (TorchScript or eager), already in eval mode.
        output: its declared output kind (one of :data:`OUTPUTS`).
        task: ``binary`` or ``multilabel``.
        columns: for per-label outputs, the columns of the task's labels (see :class:`LabelMap`).
    """

    def __init__(self, net: nn.Module, output: str, task: str, columns: tuple[int, ...] = ()):
        super().__init__()
        if output not in OUTPUTS:
            raise ConfigError(f"unknown model.output {output!r}; choose one of: {', '.join(OUTPUTS)}")
        self.net = net
        self.register_buffer("columns", torch.tensor(columns, dtype=torch.long), persistent=False)
        self._to_logits = torch.logit if output == "label_probs" else None
        # The rule is picked once here: binary tasks need [no finding, finding], multi-label the columns.
        if output == "two_logits":
            self._shape = _as_is
        elif output == "one_logit":
            self._shape = _finding_logit_pair
        elif task == "binary":
            self._shape = self._any_finding
        else:
            self._shape = self._task_columns

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self._to_logits is not None:
            out = self._to_logits(out, eps=EPS)
        return self._shape(out)

    def _any_finding(self, logits: torch.Tensor) -> torch.Tensor:
        return _finding_logit_pair(logits.index_select(1, self.columns).amax(1))

    def _task_columns(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.index_select(1, self.columns)


def _as_is(logits: torch.Tensor) -> torch.Tensor:
    return logits


def _finding_logit_pair(z: torch.Tensor) -> torch.Tensor:
    """``[0, z]`` per row: softmax gives P(finding) = sigmoid(z), and argmax is ``z > 0``."""
    z = z.reshape(len(z))
    return torch.stack([torch.zeros_like(z), z], 1)
