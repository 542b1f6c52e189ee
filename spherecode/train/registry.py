r"""The registry of training tasks: name -> :class:`~spherecode.train.task.Task` subclass.

This is the one module that imports every task (the supervised task from
:mod:`spherecode.train.task`, self-supervised pretraining from :mod:`spherecode.train.pretrain`);
the loop and :func:`spherecode.train.checkpoint.load_run` look tasks up here. ``[run] task``
chooses one; each task names its config type, so a checkpoint's stored config is read back with
the right sections.

Examples:
    >>> sorted(TASKS)
    ['pretrain', 'supervised']
    >>> config_type("pretrain").__name__
    'PretrainConfig'
"""

from __future__ import annotations

from typing import Any

from ..errors import SpherecodeError, check_choice
from .pretrain import PretrainTask
from .task import SupervisedTask, Task

TASKS: dict[str, type[Task]] = {"supervised": SupervisedTask, "pretrain": PretrainTask}


def task_class(name: str) -> type[Task]:
    if not isinstance(name, str):
        raise SpherecodeError(f"Argument 'task' must be a task name, not {name!r}.")
    return TASKS[check_choice("task", name, TASKS)]


def config_type(name: str) -> type:
    """The config dataclass of runs of task ``name``."""
    return task_class(name).config_type


def build_task(config: Any, train_set: Any, state: dict[str, Any] | None = None, **kwargs: Any) -> Task:
    """The task ``config.run.task`` for ``train_set`` (``state``: from a checkpoint; ``kwargs``: e.g. a codebook)."""
    cls = task_class(config.run.task)
    if not isinstance(config, cls.config_type):
        raise SpherecodeError(f"Task '{cls.name}' needs a {cls.config_type.__name__}, not a {type(config).__name__}.")
    return cls(config, train_set, state, **kwargs)


__all__ = ["TASKS", "build_task", "config_type", "task_class"]
