r"""LARS (You, Gitman & Ginsburg 2017): SGD with momentum and a per-layer trust ratio, for large batches.

For a weight tensor :math:`w` with gradient :math:`g`, weight decay :math:`\beta` and trust
coefficient :math:`\eta`,

.. math::
    \lambda = \eta\,\frac{\|w\|}{\|g\| + \beta\|w\| + \epsilon},\qquad
    u \leftarrow \mu u + \lambda\,(g + \beta w),\qquad w \leftarrow w - \gamma\,u,

with :math:`\lambda = 1` when :math:`\|w\| = 0` or :math:`\|g\| = 0` (the form of the paper and of
the SimCLR/BYOL code). Biases and normalisation parameters (tensors with one dimension) get neither
the trust ratio nor weight decay (``exclude_1d``), as in those recipes. The trust ratio stays on
the device (no host synchronisation per step).

Examples
--------
>>> import torch
>>> w = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))          # ||w|| = 5
>>> opt = LARS([w], lr=1.0, momentum=0.0, weight_decay=0.0, trust_coefficient=0.1)
>>> w.grad = torch.tensor([[0.0, 10.0]])                        # ||g|| = 10: ratio 0.1 * 5 / 10
>>> opt.step()
>>> w.data.tolist()
[[3.0, 3.5]]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..errors import SpherecodeError


class LARS(torch.optim.Optimizer):
    """LARS over SGD with momentum (see the module docstring); ``lr`` is the global learning rate."""

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust_coefficient: float = 0.001, nesterov: bool = False, eps: float = 1e-8,
                 exclude_1d: bool = True) -> None:
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay),
                            ("trust_coefficient", trust_coefficient), ("eps", eps)):
            if not float(value) >= 0:
                raise SpherecodeError(f"Argument '{name}' of LARS must be >= 0, not {value!r}.")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, trust_coefficient=trust_coefficient,
                        nesterov=nesterov, eps=eps, exclude_1d=exclude_1d)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            wd, mu, eta, eps = group["weight_decay"], group["momentum"], group["trust_coefficient"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if not (group["exclude_1d"] and p.ndim <= 1):
                    w_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(g)
                    ratio = eta * w_norm / (g_norm + wd * w_norm + eps)
                    ratio = torch.where((w_norm > 0) & (g_norm > 0), ratio, torch.ones_like(ratio))
                    g = g.add(p, alpha=wd).mul_(ratio)
                if mu:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.clone()
                    else:
                        buf.mul_(mu).add_(g)
                    g = g.add(buf, alpha=mu) if group["nesterov"] else buf
                p.add_(g, alpha=-group["lr"])
        return loss


__all__ = ["LARS"]
