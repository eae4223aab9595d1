"""The task interface and its registry (``task=binary`` | ``task=multilabel``).

A task is chosen once, when the run is built, and fixes the network's outputs (``num_classes``),
the training targets and loss and the validation metrics that pick the best checkpoint; the training
loop and the checkpoint store stay task-agnostic. The clean test evaluation of each task (its record)
is the run kit's (:mod:`cxrbench.kit.clean_run`): a task returns metrics, it never writes records.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
import torch

from cxrbench.errors import ConfigError


class Task(Protocol):
    """What the training loop needs to know of a task."""

    name: str
    num_classes: int

    def batch(self, dataset, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and training targets of ``rows``."""

    def loss_fn(self, train, label_smoothing: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The training loss of (logits, targets), fitted to the training split if it needs to be."""

    def validate(self, model: torch.nn.Module, val, runtime, batch_size: int) -> dict:
        """Validation metrics; ``auc`` (the checkpoint selection score) and ``accuracy`` at least."""


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add a task; names are unique."""
    if task.name in _TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    _TASKS[task.name] = task
    return task


def list_tasks() -> list[str]:
    """Names of the registered tasks, sorted."""
    return sorted(_TASKS)


def get_task(name: str) -> Task:
    """Look up a task; unknown names list the valid ones."""
    try:
        return _TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; choose one of: {', '.join(list_tasks())}") from None
