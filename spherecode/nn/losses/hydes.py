r"""HyDeS (Rodríguez-Betancourt & Casasola-Murillo, arXiv 2604.24498): vMF kernel entropy estimates.

With unit vectors :math:`u_i` (all :math:`M = BV` views), similarities :math:`s_{ij}=\langle u_i,u_j\rangle`
and the von Mises-Fisher kernel :math:`K(u_i,u_j)=C_D(\kappa)e^{\kappa s_{ij}}`,

.. math::
    H_\text{global} = \mathbb{E}_i\Bigl[-\log \tfrac{1}{M-1}\textstyle\sum_{j\ne i} e^{\kappa s_{ij}}\Bigr],\qquad
    H_\text{local} = \mathbb{E}_i\Bigl[-\log \tfrac{1}{V-1}\textstyle\sum_{j\in P(i)} e^{\kappa s_{ij}}\Bigr],

where :math:`P(i)` are the other views of :math:`i`'s image. Both omit :math:`-\log C_D(\kappa)`, a
constant (never form the Bessel function). The loss *minimised* is
:math:`-(\alpha H_\text{global} - \beta H_\text{local})`; :math:`\alpha=\beta=1` is the
mutual-information estimate :math:`H(Z) - H(Z\mid X)`.

The global log-sum-exp is computed in row blocks (``block_size``) by an autograd function that
recomputes each block in backward: the same value and gradient without the :math:`M\times M` matrix.

Examples
--------
>>> import torch
>>> loss = HydesLoss(kappa=10.0)
>>> z = torch.nn.functional.normalize(torch.randn(8, 2, 16, generator=torch.Generator().manual_seed(0)), dim=-1)
>>> value = loss(z)
>>> sorted(loss.terms)
['h_global', 'h_local', 'mutual_information']
>>> abs(float(value) + float(loss.terms["mutual_information"])) < 1e-6
True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...errors import SpherecodeError
from .base import EmbeddingLoss, check_block_size
from .hypersolid import _diagonal_mask


def lse_off_diagonal_dense(rows: torch.Tensor, cols: torch.Tensor, offset: int, kappa: float) -> torch.Tensor:
    r"""Per row :math:`a`: :math:`\log\sum_{b\ne \mathrm{offset}+a} e^{\kappa\langle r_a, c_b\rangle}`, dense."""
    s = kappa * (rows @ cols.T)
    s = s.masked_fill(_diagonal_mask(rows.shape[0], cols.shape[0], offset, rows.device), float("-inf"))
    return torch.logsumexp(s, dim=1)


class _BlockLSE(torch.autograd.Function):
    """:func:`lse_off_diagonal_dense` in row blocks; backward recomputes each block's softmax."""

    @staticmethod
    def forward(ctx, rows: torch.Tensor, cols: torch.Tensor, offset: int, kappa: float,  # type: ignore[override]
                block: int) -> torch.Tensor:
        out = rows.new_empty(rows.shape[0])
        for i0 in range(0, rows.shape[0], block):
            s = (rows[i0:i0 + block] @ cols.T).mul_(kappa)
            s.masked_fill_(_diagonal_mask(s.shape[0], s.shape[1], offset + i0, s.device), float("-inf"))
            out[i0:i0 + block] = torch.logsumexp(s, dim=1)
            del s
        ctx.save_for_backward(rows, cols, out)
        ctx.offset, ctx.kappa, ctx.block = offset, kappa, block
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        rows, cols, lse = ctx.saved_tensors
        grad_rows = torch.empty_like(rows) if ctx.needs_input_grad[0] else None
        grad_cols = torch.zeros_like(cols) if ctx.needs_input_grad[1] else None
        for i0 in range(0, rows.shape[0], ctx.block):
            r = rows[i0:i0 + ctx.block]
            s = (r @ cols.T).mul_(ctx.kappa)
            s.masked_fill_(_diagonal_mask(s.shape[0], s.shape[1], ctx.offset + i0, s.device), float("-inf"))
            # d lse_a / d s_ab = softmax_ab; chain through s = kappa <r_a, c_b>
            g = s.sub_(lse[i0:i0 + ctx.block, None]).exp_().mul_((grad[i0:i0 + ctx.block] * ctx.kappa)[:, None])
            if grad_rows is not None:
                torch.mm(g, cols, out=grad_rows[i0:i0 + ctx.block])
            if grad_cols is not None:
                grad_cols.addmm_(g.T, r)
            del s, g
        return grad_rows, grad_cols, None, None, None


def lse_off_diagonal_blocks(rows: torch.Tensor, cols: torch.Tensor, offset: int, kappa: float, block_size: int) -> torch.Tensor:
    """Same value and gradient as :func:`lse_off_diagonal_dense`, one (block_size, M) block at a time."""
    return _BlockLSE.apply(rows, cols, offset, kappa, block_size)


class HydesLoss(EmbeddingLoss):
    r"""HyDeS loss :math:`-(\alpha H_\text{global} - \beta H_\text{local})` (see the module docstring).

    Parameters
    ----------
    kappa:
        vMF concentration :math:`\kappa > 0` (similarities are multiplied by it).
    alpha, beta:
        Weights of the global and local entropy estimates (1 and 1: mutual information).
    block_size:
        ``None`` for the dense global term; an int for row blocks recomputed in backward.
    gather_distributed:
        Gather every rank's embeddings (with gradient) so the global term spans the global batch.

    ``terms`` after a call: ``h_global``, ``h_local`` and ``mutual_information`` (their difference).
    """

    def __init__(self, kappa: float, alpha: float = 1.0, beta: float = 1.0, block_size: int | None = None,
                 gather_distributed: bool = False, *, dim: int | None = None) -> None:
        super().__init__(gather_distributed=gather_distributed, dim=dim)
        if not (math.isfinite(float(kappa)) and float(kappa) > 0):
            raise SpherecodeError(f"Argument 'kappa' must be a positive number, not {kappa!r}.")
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not math.isfinite(float(value)):
                raise SpherecodeError(f"Argument '{name}' must be a finite number, not {value!r}.")
        self.kappa, self.alpha, self.beta = float(kappa), float(alpha), float(beta)
        self.block_size = check_block_size(block_size)

    def compute(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        b, v, d = z.shape
        u = F.normalize(z, dim=-1)
        rows = u.reshape(b * v, d)
        cols, offset = self.gather(rows)
        if cols.shape[0] < 2:
            raise SpherecodeError(f"HydesLoss needs at least 2 embeddings in the batch; got z of shape {tuple(z.shape)}.")
        if self.block_size is None:
            lse = lse_off_diagonal_dense(rows, cols, offset, self.kappa)
        else:
            lse = lse_off_diagonal_blocks(rows, cols, offset, self.kappa, self.block_size)
        h_global = (math.log(cols.shape[0] - 1) - lse).mean()

        s = self.kappa * torch.einsum("bvd,bwd->bvw", u, u)
        eye = torch.eye(v, dtype=torch.bool, device=z.device)
        local = torch.logsumexp(s.masked_fill(eye, float("-inf")), dim=-1)   # (B, V)
        h_local = (math.log(v - 1) - local).mean()
        mi = h_global - h_local
        loss = -(self.alpha * h_global - self.beta * h_local)
        return loss, {"h_global": h_global, "h_local": h_local, "mutual_information": mi}
