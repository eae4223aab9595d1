"""The task interface and its registry (``task=binary`` | ``task=multilabel``).

A task is chosen once, when the run is built, and fixes the network's outputs (``num_classes``),
the training targets and loss, the validation score that picks the best checkpoint and the clean
test evaluation; the training loop, the checkpoint store and the clean run stay task-agnostic.
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

    def evaluate_clean(self, cfg, variant, paths, runtime, *, wall: float, log: Callable[[str], None]) -> dict:
        """The trained variant's clean test metrics, written as its record; the record."""


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
