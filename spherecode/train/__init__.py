"""Training: typed configs (TOML), tasks, the task-agnostic loop (DDP, AMP), checkpoints, evaluation.

Importing this package imports torch; the codebook and bounds commands never do.
"""

from .config import TrainConfig, from_dict, load_toml, override
from .evaluate import EvalReport, evaluate_checkpoint, evaluate_model, load_trained
from .loop import Trainer, fit
from .task import TASKS, StepOutput, SupervisedTask, Task

__all__ = ["TASKS", "EvalReport", "StepOutput", "SupervisedTask", "Task", "TrainConfig", "Trainer", "evaluate_checkpoint",
           "evaluate_model", "fit", "from_dict", "load_toml", "load_trained", "override"]
