"""Training: typed configs (TOML), tasks, the task-agnostic loop (DDP, AMP), checkpoints, evaluation.

The names below are loaded lazily: ``spherecode.train.config`` (used to build the command line) does
not import torch, so ``spherecode bounds`` and the codebook commands start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainConfig": "config", "from_dict": "config", "load_toml": "config", "override": "config",
    "EvalReport": "evaluate", "evaluate_checkpoint": "evaluate", "evaluate_model": "evaluate", "load_trained": "evaluate",
    "Trainer": "loop", "fit": "loop", "Run": "checkpoint", "load_run": "checkpoint",
    "TASKS": "registry", "EvalContext": "task", "StepOutput": "task", "SupervisedTask": "task", "Task": "task",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
