r"""Hypersolid (Rodríguez-Betancourt & Casasola-Murillo, 2026): align the views, repel past a cutoff.

For B images with V views each, raw embeddings :math:`z \in \mathbb{R}^{B\times V\times D}`,
unit vectors :math:`u = z/\|z\|` and :math:`M = BV` rows,

.. math::
    L = L_\text{align} + L_\text{rep} + L_\text{norm},\qquad
    L_\text{rep} = \frac{1}{M^2}\sum_{a\ne b}\frac{\operatorname{ReLU}(\langle u_a,u_b\rangle-\alpha)}{1-\alpha},

    L_\text{align} = \frac{1}{BV}\sum_{i,v}\bigl(1-\langle u_{iv}, t_i\rangle\bigr),\quad
    t_i = \operatorname{sg}\Bigl[\frac{\max_v z_{iv}}{\|\max_v z_{iv}\|}\Bigr]\ \text{(per-dimension max)},

    L_\text{norm} = \lambda\Bigl(\frac{1}{BV}\sum_{i,v}\|z_{iv}\| - 1\Bigr)^2 .

The repulsion counts every ordered pair (positives included) and divides by :math:`M^2` (the
diagonal of the similarity matrix is set to 0, which contributes nothing for :math:`\alpha\ge 0`),
the paper's own normalisation. Because the ReLU is exactly zero below the cutoff, the repulsion can
be computed in row blocks that are recomputed in backward (``block_size``): the same value and
gradient without ever holding the :math:`M\times M` matrix.

Examples
--------
>>> import torch
>>> loss = HypersolidLoss()
>>> collapsed = torch.ones(4, 2, 8)              # every view identical
>>> round(float(loss(collapsed)), 6)             # align 0 + full repulsion (M-1)/M + norm
0.875003
>>> round(loss.terms["repulsion"], 6)
0.875
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...errors import SpherecodeError
from .base import EmbeddingLoss, check_block_size


def _diagonal_mask(rows: int, cols: int, start: int, device: torch.device) -> torch.Tensor:
    """Boolean (rows, cols) mask of the entries (a, start + a): a row's own column."""
    r = torch.arange(rows, device=device)
    mask = torch.zeros(rows, cols, dtype=torch.bool, device=device)
    keep = start + r < cols
    mask[r[keep], start + r[keep]] = True
    return mask


def repulsion_dense(rows: torch.Tensor, cols: torch.Tensor, offset: int, alpha: float) -> torch.Tensor:
    r"""Sum over ordered pairs of :math:`\operatorname{ReLU}(\langle u_a,u_b\rangle-\alpha)/(1-\alpha)`, dense.

    ``rows`` (m, D) are this rank's unit vectors, ``cols`` (M, D) all of them; row ``a`` is column
    ``offset + a`` (its own entry is set to 0).
    """
    s = rows @ cols.T
    s = s.masked_fill(_diagonal_mask(rows.shape[0], cols.shape[0], offset, rows.device), 0.0)
    return F.relu(s - alpha).sum() / (1.0 - alpha)


class _BlockRepulsion(torch.autograd.Function):
    """:func:`repulsion_dense` in row blocks; backward recomputes each block's similarities."""

    @staticmethod
    def forward(ctx, rows: torch.Tensor, cols: torch.Tensor, offset: int, alpha: float,  # type: ignore[override]
                block: int) -> torch.Tensor:
        total = rows.new_zeros(())
        for i0 in range(0, rows.shape[0], block):
            s = rows[i0:i0 + block] @ cols.T
            s.masked_fill_(_diagonal_mask(s.shape[0], s.shape[1], offset + i0, s.device), 0.0)
            total += F.relu_(s.sub_(alpha)).sum()
            del s
        ctx.save_for_backward(rows, cols)
        ctx.offset, ctx.alpha, ctx.block = offset, alpha, block
        return total / (1.0 - alpha)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        rows, cols = ctx.saved_tensors
        scale = grad / (1.0 - ctx.alpha)
        grad_rows = torch.empty_like(rows) if ctx.needs_input_grad[0] else None
        grad_cols = torch.zeros_like(cols) if ctx.needs_input_grad[1] else None
        for i0 in range(0, rows.shape[0], ctx.block):
            r = rows[i0:i0 + ctx.block]
            s = r @ cols.T
            s.masked_fill_(_diagonal_mask(s.shape[0], s.shape[1], ctx.offset + i0, s.device), 0.0)
            # d ReLU(s - alpha)/ds = 1[s - alpha > 0], exactly as autograd's ReLU backward
            g = (s.sub_(ctx.alpha) > 0).to(rows.dtype).mul_(scale)
            del s
            if grad_rows is not None:
                torch.mm(g, cols, out=grad_rows[i0:i0 + ctx.block])
            if grad_cols is not None:
                grad_cols.addmm_(g.T, r)
        return grad_rows, grad_cols, None, None, None


def repulsion_blocks(rows: torch.Tensor, cols: torch.Tensor, offset: int, alpha: float, block_size: int) -> torch.Tensor:
    """Same value and gradient as :func:`repulsion_dense`, holding one (block_size, M) block at a time."""
    return _BlockRepulsion.apply(rows, cols, offset, alpha, block_size)


class HypersolidLoss(EmbeddingLoss):
    r"""Hypersolid loss :math:`L_\text{align} + L_\text{rep} + L_\text{norm}` (see the module docstring).

    Parameters
    ----------
    alpha:
        Cosine cutoff of the repulsion, :math:`0 \le \alpha < 1` (default 0.9).
    norm_weight:
        :math:`\lambda` of the norm term on the raw embeddings (default 1e-6).
    block_size:
        ``None`` computes the repulsion densely; an int computes it in row blocks of that many rows
        (identical value and gradient, memory O(block_size * B V) instead of O((B V)^2)).
    gather_distributed:
        Gather every rank's embeddings (with gradient) so the repulsion spans the global batch.

    ``terms`` after a call: ``align``, ``repulsion``, ``norm`` (weighted) and ``mean_norm``.
    """

    def __init__(self, alpha: float = 0.9, norm_weight: float = 1e-6, block_size: int | None = None,
                 gather_distributed: bool = False, *, dim: int | None = None) -> None:
        super().__init__(gather_distributed=gather_distributed, dim=dim)
        if not 0.0 <= float(alpha) < 1.0:
            raise SpherecodeError(f"Argument 'alpha' must satisfy 0 <= alpha < 1, not {alpha!r}.")
        if not float(norm_weight) >= 0.0:
            raise SpherecodeError(f"Argument 'norm_weight' must be >= 0, not {norm_weight!r}.")
        self.alpha = float(alpha)
        self.norm_weight = float(norm_weight)
        self.block_size = check_block_size(block_size)

    def compute(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        b, v, d = z.shape
        u = F.normalize(z, dim=-1)
        target = F.normalize(z.detach().amax(dim=1), dim=-1)             # (B, D), stop-gradient
        align = (1.0 - (u * target[:, None, :]).sum(-1)).mean()

        rows = u.reshape(b * v, d)
        cols, offset = self.gather(rows)
        if self.block_size is None:
            rep_sum = repulsion_dense(rows, cols, offset, self.alpha)
        else:
            rep_sum = repulsion_blocks(rows, cols, offset, self.alpha, self.block_size)
        repulsion = rep_sum / (rows.shape[0] * cols.shape[0])             # m M (= M^2 on one rank)

        norms, _ = self.gather(z.norm(dim=-1).reshape(-1))
        mean_norm = norms.mean()
        norm = self.norm_weight * (mean_norm - 1.0) ** 2
        loss = align + repulsion + norm
        return loss, {"align": align, "repulsion": repulsion, "norm": norm, "mean_norm": mean_norm}
