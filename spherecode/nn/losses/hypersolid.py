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
>>> round(float(loss.terms["repulsion"]), 6)
0.875
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...errors import SpherecodeError
from .base import EmbeddingLoss, check_block_size


def _diagonal_mask(rows: int, cols: int, start: int, device: torch.device) -> torch.Tensor:
    """Boolean (rows, cols) mask of the entries (a, start + a): a row's own column."""
    r = torch.arange(max(0, min(rows, cols - start)), device=device)  # the rows whose own column exists
    mask = torch.zeros(rows, cols, dtype=torch.bool, device=device)
    mask[r, start + r] = True
    return mask


def _zero_own_(s: torch.Tensor, start: int) -> torch.Tensor:
    """In place: set the entries (a, start + a) of a block to 0 (no (rows, cols) mask allocated)."""
    r = torch.arange(max(0, min(s.shape[0], s.shape[1] - start)), device=s.device)  # no boolean mask: no sync
    s[r, start + r] = 0.0
    return s


def repulsion_dense(rows: torch.Tensor, cols: torch.Tensor, offset: int, alpha: float) -> torch.Tensor:
    r"""Sum over ordered pairs of :math:`\operatorname{ReLU}(\langle u_a,u_b\rangle-\alpha)/(1-\alpha)`, dense.

    ``rows`` (m, D) are this rank's unit vectors, ``cols`` (M, D) all of them; row ``a`` is column
    ``offset + a`` (its own entry is set to 0).
    """
    s = rows @ cols.T
    s = s.masked_fill(_diagonal_mask(rows.shape[0], cols.shape[0], offset, rows.device), 0.0)
    return F.relu(s - alpha).sum() / (1.0 - alpha)


def _unit_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit rows and the norms (as ``F.normalize`` with eps 1e-12)."""
    n = x.norm(dim=-1).clamp_min(1e-12)
    return x / n[:, None], n


def _unit_backward_(grad_u: torch.Tensor, u: torch.Tensor, n: torch.Tensor, radial: torch.Tensor | None) -> torch.Tensor:
    r"""In place: turn :math:`\partial L/\partial u` into :math:`\partial L/\partial x` for :math:`u = x/\|x\|`,
    plus ``radial[a] * u_a`` (the gradient of a function of :math:`\|x_a\|`). Overwrites ``u``.

    :math:`\partial L/\partial x = (g - u\langle u,g\rangle)/\|x\| + c\,u`.
    """
    dot = torch.bmm(u.unsqueeze(1), grad_u.unsqueeze(2)).reshape(-1)
    coef = -dot / n if radial is None else radial - dot / n
    grad_u.div_(n[:, None])
    return grad_u.add_(u.mul_(coef[:, None]))


class _BlockHypersolid(torch.autograd.Function):
    """The whole Hypersolid loss from raw embeddings, repulsion in row blocks, closed-form backward.

    Only the raw inputs and the active pairs (those past the cutoff, while their indices take no
    more bytes than the embeddings) are saved; backward recomputes the unit vectors, scatters the
    kept pairs and recomputes the remaining blocks, so memory is O(M D + block M), never O(M^2). Returns the terms
    ``[align, repulsion, norm, mean_norm]``.

    Keeping pairs needs their count on the host, so it is done on the CPU only (where reading a
    count costs nothing); on an accelerator every block is recomputed in backward and no step
    waits for the device.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, cols_raw: torch.Tensor | None, offset: int, alpha: float,  # type: ignore[override]
                norm_weight: float, block: int) -> torch.Tensor:
        b, v, d = z.shape
        rows_raw = z.reshape(b * v, d)
        u, n = _unit_rows(rows_raw)
        target, _ = _unit_rows(z.amax(dim=1))                               # (B, D), constant
        align = (1.0 - torch.bmm(u.view(b, v, d), target.unsqueeze(2))).mean()
        if cols_raw is None:
            uc, nc = u, n
        else:
            uc, nc = _unit_rows(cols_raw)
        total = u.new_zeros(())
        buf = u.new_empty(min(block, u.shape[0]), uc.shape[0])              # reused by every block
        # Past the cutoff the ReLU is exactly 0, so a block's gradient is sparse: keep the active
        # pairs (a, b) while their indices fit in the budget (as many bytes as the embeddings),
        # and mark the other blocks for recomputation in backward.
        budget = u.numel() * u.element_size() // 16 if u.device.type == "cpu" else 0
        pairs, recompute = [], []
        for i0 in range(0, u.shape[0], block):
            s = torch.mm(u[i0:i0 + block], uc.T, out=buf[: min(block, u.shape[0] - i0)])
            _zero_own_(s, offset + i0).sub_(alpha)
            if ctx.needs_input_grad[0] or ctx.needs_input_grad[1]:
                count = int((s > 0).sum()) if budget > 0 else budget + 1   # count first: no big index tensor
                if count <= budget:
                    nz = (s > 0).nonzero()
                    budget -= count
                    nz[:, 0] += i0
                    pairs.append(nz)
                else:
                    recompute.append(i0)
            total += F.relu_(s).sum()
        del buf
        ctx.pairs = torch.cat(pairs) if pairs else torch.empty(0, 2, dtype=torch.long, device=u.device)
        ctx.recompute = recompute
        m_rows, m_cols = u.shape[0], uc.shape[0]
        repulsion = total / (1.0 - alpha) / (m_rows * m_cols)
        mean_norm = nc.mean()
        norm = norm_weight * (mean_norm - 1.0) ** 2
        ctx.save_for_backward(z, target, *(() if cols_raw is None else (cols_raw,)))
        ctx.offset, ctx.alpha, ctx.norm_weight, ctx.block = offset, alpha, norm_weight, block
        ctx.mean_norm = mean_norm.detach()
        return torch.stack([align, repulsion, norm, mean_norm])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        z, target, *rest = ctx.saved_tensors
        b, v, d = z.shape
        u, n = _unit_rows(z.reshape(b * v, d))
        own_cols = not rest
        uc, nc = (u, n) if own_cols else _unit_rows(rest[0])
        m_rows, m_cols = u.shape[0], uc.shape[0]
        g_align, g_rep, g_norm, g_mean = grad.unbind()
        # align: d/du_a of mean(1 - <u_a, t_i>) is -t_i / m
        grad_rows = target.repeat_interleave(v, dim=0).mul_(-g_align / m_rows)
        grad_cols = grad_rows if own_cols else torch.zeros_like(uc)
        scale = g_rep / (1.0 - ctx.alpha) / (m_rows * m_cols)
        # blocks whose active pairs were kept: scatter-add, a chunk of pairs at a time
        a, c = ctx.pairs.unbind(1)
        step = max(ctx.block, 1024)
        for j in range(0, a.shape[0], step):
            aj, cj = a[j:j + step], c[j:j + step]
            grad_rows.index_add_(0, aj, uc[cj] * scale)
            grad_cols.index_add_(0, cj, u[aj] * scale)
        # the other blocks: recompute the similarities
        rows_per_block = min(ctx.block, m_rows)
        buf = u.new_empty(rows_per_block, m_cols) if ctx.recompute else None
        active = torch.empty(rows_per_block, m_cols, dtype=torch.bool, device=u.device) if ctx.recompute else None
        for i0 in ctx.recompute:
            r = u[i0:i0 + ctx.block]
            k = r.shape[0]
            s = _zero_own_(torch.mm(r, uc.T, out=buf[:k]), ctx.offset + i0)
            # d ReLU(s - alpha)/ds = 1[s - alpha > 0], exactly as autograd's ReLU backward
            torch.gt(s.sub_(ctx.alpha), 0, out=active[:k])
            g = s.copy_(active[:k]).mul_(scale)
            grad_rows[i0:i0 + k].addmm_(g, uc)
            grad_cols.addmm_(g.T, r)
        del buf, active
        # norm term and mean_norm depend on the column norms: d mean/d||x_a|| = 1/M
        radial = (g_norm * 2.0 * ctx.norm_weight * (ctx.mean_norm - 1.0) + g_mean) / m_cols
        radial_cols = radial.expand_as(nc)
        if own_cols:
            return _unit_backward_(grad_rows, u, n, radial_cols).view(b, v, d), None, None, None, None, None
        grad_z = _unit_backward_(grad_rows, u, n, None).view(b, v, d)
        return grad_z, _unit_backward_(grad_cols, uc, nc, radial_cols), None, None, None, None


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
        if self.block_size is not None:
            flat = z.reshape(b * v, d)
            cols, offset = self.gather(flat)                                # (flat, 0) unless gathering
            terms = _BlockHypersolid.apply(z, None if cols is flat else cols, offset, self.alpha,
                                           self.norm_weight, self.block_size)
            align, repulsion, norm, mean_norm = terms.unbind()
            return align + repulsion + norm, {"align": align, "repulsion": repulsion, "norm": norm, "mean_norm": mean_norm}
        u = F.normalize(z, dim=-1)
        target = F.normalize(z.detach().amax(dim=1), dim=-1)             # (B, D), stop-gradient
        align = (1.0 - (u * target[:, None, :]).sum(-1)).mean()
        rows = u.reshape(b * v, d)
        cols, offset = self.gather(rows)
        repulsion = repulsion_dense(rows, cols, offset, self.alpha) / (rows.shape[0] * cols.shape[0])  # / m M
        norms, _ = self.gather(z.norm(dim=-1).reshape(-1))
        mean_norm = norms.mean()
        norm = self.norm_weight * (mean_norm - 1.0) ** 2
        loss = align + repulsion + norm
        return loss, {"align": align, "repulsion": repulsion, "norm": norm, "mean_norm": mean_norm}
