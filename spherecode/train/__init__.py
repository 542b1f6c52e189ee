"""Training: configs, the task-agnostic loop, checkpoints, evaluation."""
