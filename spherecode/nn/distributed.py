r"""All-gather that keeps the gradient path, for losses whose pairs span every rank's batch.

With data parallelism each rank holds a slice :math:`z_r` of the global batch
:math:`Z = (z_1, \dots, z_W)`. A contrastive or packing loss needs all of :math:`Z`. Each rank
computes its share :math:`L_r` of the loss (its own anchor rows against every column) normalised so
that :math:`\sum_r L_r = W \cdot L(Z)`. The gather's backward must then **sum** the gradients that
every rank's loss sends to :math:`Z` and hand back this rank's slice:

.. math::
    \frac{\partial}{\partial z_r} \sum_{r'} L_{r'} = W \frac{\partial L}{\partial z_r},

and DDP's gradient averaging (division by :math:`W`) leaves exactly :math:`\partial L/\partial\theta`,
the single-process gradient on the full batch. A gather without a gradient path (``torch.no_grad``
around ``all_gather``, as in CLAMP's public code) drops the other ranks' contributions and is off by
a factor ``1/W`` on the cross terms.

Outside ``torch.distributed`` (or with one process) every function here is a no-op.

Examples
--------
>>> import torch
>>> x = torch.ones(3, 2)
>>> full, offset = gather_rows(x)
>>> full is x, offset
(True, 0)
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True inside an initialised process group with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


class _GatherWithGrad(torch.autograd.Function):
    """Concatenate every rank's rows; backward sums the gradient over ranks and slices."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:  # type: ignore[override]
        me = dist.get_rank()
        longest = max(sizes)
        if x.shape[0] == longest:
            padded = x
        else:
            padded = x.new_zeros((longest, *x.shape[1:]))
            padded[: x.shape[0]] = x
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
        ctx.sizes = sizes
        ctx.start = sum(sizes[:me])
        return torch.cat([p[:n] for p, n in zip(parts, sizes)], dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        n = ctx.sizes[dist.get_rank()]
        return grad[ctx.start: ctx.start + n], None


def gather_rows(x: torch.Tensor, equal_sizes: bool = False) -> tuple[torch.Tensor, int]:
    r"""All-gather ``x`` along dim 0 across ranks, keeping the gradient; return it and this rank's offset.

    Ranks may hold different numbers of rows (a short last batch); the other dimensions must agree.
    Exchanging the row counts makes the host wait for the device; with ``equal_sizes=True`` (the
    caller knows every rank holds ``x.shape[0]`` rows, as with ``drop_last`` batches) the counts are
    not exchanged and nothing waits. The backward all-reduces (sums) the incoming gradient and
    returns this rank's rows, so :math:`\sum_r L_r` is differentiated correctly (see the module
    docstring). A no-op that returns ``(x, 0)`` when not distributed.
    """
    if not is_distributed():
        return x, 0
    if equal_sizes:
        sizes = [x.shape[0]] * dist.get_world_size()
        return _GatherWithGrad.apply(x, sizes), x.shape[0] * dist.get_rank()
    n = torch.tensor([x.shape[0]], device=x.device, dtype=torch.long)
    counts = [torch.zeros_like(n) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, n)
    sizes = [int(c.item()) for c in counts]
    full = _GatherWithGrad.apply(x, sizes)
    return full, sum(sizes[: dist.get_rank()])


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """:func:`gather_rows` without the offset."""
    return gather_rows(x)[0]
