"""Prediction tasks: what the network outputs, how it learns and how it is validated."""
from cxrbench.tasks import binary, multilabel  # noqa: F401  (register the tasks)
from cxrbench.tasks.base import Task, get_task, list_tasks, register_task

__all__ = ["Task", "get_task", "list_tasks", "register_task"]
