r"""Learning-rate schedules, stepped once per optimiser step.

With :math:`W` warm-up steps, :math:`T` total steps and peak rate :math:`\eta`:

.. math::
    \eta_t = \eta \, \frac{t + 1}{W} \quad (t < W), \qquad
    \eta_t = \eta_{\min} + (\eta - \eta_{\min}) \, \tfrac12 \Big(1 + \cos \pi \frac{t - W}{T - W}\Big) \quad (t \ge W)

for ``cosine``; ``step`` multiplies by :math:`\gamma` at each milestone epoch; ``constant`` keeps
:math:`\eta` after warm-up.

Examples:
    >>> s = Schedule(lr=1.0, total_steps=10, warmup_steps=2, kind="cosine")
    >>> [round(s.lr_at(t), 4) for t in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import check_choice

KINDS = ("cosine", "step", "constant")


class Schedule:
    """Sets ``lr`` in every parameter group of ``optimizer`` (when given) on each :meth:`step`."""

    def __init__(self, lr: float, total_steps: int, warmup_steps: int = 0, kind: str = "cosine", min_lr: float = 0.0,
                 milestones: list[int] | None = None, gamma: float = 0.1, steps_per_epoch: int = 1,
                 optimizer: torch.optim.Optimizer | None = None) -> None:
        check_choice("schedule", kind, KINDS)
        self.lr, self.total, self.warmup, self.kind, self.min_lr = lr, max(1, total_steps), warmup_steps, kind, min_lr
        self.milestones, self.gamma, self.steps_per_epoch = sorted(milestones or []), gamma, max(1, steps_per_epoch)
        self.optimizer = optimizer
        self.t = 0
        self._apply()

    def lr_at(self, t: int) -> float:
        if t < self.warmup:
            return self.lr * (t + 1) / self.warmup
        if self.kind == "cosine":
            progress = min(1.0, (t - self.warmup) / max(1, self.total - self.warmup))
            return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if self.kind == "step":
            epoch = t // self.steps_per_epoch
            return self.lr * self.gamma ** sum(epoch >= m for m in self.milestones)
        return self.lr

    @property
    def current(self) -> float:
        return self.lr_at(self.t)

    def _apply(self) -> None:
        if self.optimizer is not None:
            for g in self.optimizer.param_groups:
                g["lr"] = self.current * g.get("lr_scale", 1.0)

    def step(self) -> None:
        self.t += 1
        self._apply()

    def state_dict(self) -> dict[str, Any]:
        return {"t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.t = int(state["t"])
        self._apply()
