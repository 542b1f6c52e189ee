"""Self-supervised losses against slow, obvious reference loops; block == dense; shape errors."""

from __future__ import annotations

import math

import pytest
import torch

from spherecode.errors import SpherecodeError
from spherecode.nn.losses import SSL_LOSSES, ClampLoss, HydesLoss, HypersolidLoss
from spherecode.nn.losses.hydes import lse_off_diagonal_blocks, lse_off_diagonal_dense
from spherecode.nn.losses.hypersolid import repulsion_dense


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm()


def hypersolid_reference(z: torch.Tensor, alpha: float, lam: float) -> torch.Tensor:
    """Loops over images, views and ordered pairs, straight from docs/background.md, section 5."""
    b, v, d = z.shape
    m = b * v
    flat = [z[i, j] for i in range(b) for j in range(v)]
    rep = z.new_zeros(())
    for a in range(m):
        for c in range(m):
            if a != c:
                cos = torch.dot(_unit(flat[a]), _unit(flat[c]))
                rep = rep + torch.clamp(cos - alpha, min=0) / (1 - alpha)
    rep = rep / m**2
    align = z.new_zeros(())
    for i in range(b):
        target = _unit(torch.stack([z[i, j] for j in range(v)]).max(dim=0).values).detach()
        for j in range(v):
            align = align + 1 - torch.dot(_unit(z[i, j]), target)
    align = align / m
    mean_norm = sum(f.norm() for f in flat) / m
    return align + rep + lam * (mean_norm - 1) ** 2


def hydes_reference(z: torch.Tensor, kappa: float, alpha: float, beta: float) -> torch.Tensor:
    b, v, d = z.shape
    u = [(i, _unit(z[i, j])) for i in range(b) for j in range(v)]
    m = len(u)
    hg = z.new_zeros(())
    hl = z.new_zeros(())
    for a, (ia, ua) in enumerate(u):
        others = [torch.exp(kappa * torch.dot(ua, ub)) for c, (_, ub) in enumerate(u) if c != a]
        pos = [torch.exp(kappa * torch.dot(ua, ub)) for c, (ib, ub) in enumerate(u) if c != a and ib == ia]
        hg = hg - torch.log(sum(others) / len(others))
        hl = hl - torch.log(sum(pos) / len(pos))
    return -(alpha * hg / m - beta * hl / m)


def clamp_reference(z: torch.Tensor, rs: float, p: float) -> torch.Tensor:
    b, v, d = z.shape
    mean = sum(z[i, j] for i in range(b) for j in range(v)) / (b * v)
    x = [[_unit(z[i, j] - mean) for j in range(v)] for i in range(b)]
    c = [sum(x[i]) / v for i in range(b)]
    r = [rs * torch.sqrt(sum(((x[i][j] - c[i]) ** 2).sum() for j in range(v)) / (v - 1) / min(d, v)) for i in range(b)]
    e = z.new_zeros(())
    for i in range(b):
        for j in range(b):
            if i == j:
                continue
            dist = (c[i] - c[j]).norm()
            s = torch.clamp(r[i] + r[j], max=1.5)
            if 1e-3 < dist < s:
                e = e + 0.5 * (1 - dist / s) ** p
    return torch.log(e + 1e-6)


def _z(b: int, v: int, d: int, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(b, v, d, generator=g, dtype=torch.float64)).requires_grad_(True)


def _clustered(b: int, v: int, d: int, seed: int = 0, noise: float = 0.3) -> torch.Tensor:
    """Views scattered around one centre per image: many pairs above the cutoffs."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(b, 1, d, generator=g, dtype=torch.float64)
    return (centres + noise * torch.randn(b, v, d, generator=g, dtype=torch.float64)).requires_grad_(True)


def _value_and_grad(fn, z):
    z = z.detach().clone().requires_grad_(True)
    value = fn(z)
    (grad,) = torch.autograd.grad(value, z)
    return value.detach(), grad


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("block", [None, 3])
def test_hypersolid_matches_reference(alpha, block):
    z = _clustered(4, 3, 5, seed=1, noise=0.4)
    lam = 0.3  # large, so the norm term is visible in the comparison
    ours, g_ours = _value_and_grad(HypersolidLoss(alpha=alpha, norm_weight=lam, block_size=block), z)
    ref, g_ref = _value_and_grad(lambda t: hypersolid_reference(t, alpha, lam), z)
    assert torch.allclose(ours, ref, atol=1e-12, rtol=1e-10)
    assert torch.allclose(g_ours, g_ref, atol=1e-12, rtol=1e-10)


def test_hypersolid_collapsed_is_maximal_and_separated_is_zero():
    b, v, d = 5, 2, 16
    loss = HypersolidLoss(alpha=0.9)
    loss(torch.ones(b, v, d, dtype=torch.float64))
    m = b * v
    assert loss.terms["repulsion"] == pytest.approx((m - 1) / m, abs=1e-12)  # every off-diagonal cos = 1
    # random embeddings can never beat the collapsed value
    loss(torch.randn(b, v, d, dtype=torch.float64))
    assert loss.terms["repulsion"] <= (m - 1) / m
    # orthonormal rows: all off-diagonal cosines 0 < alpha, so no repulsion at all
    sep = torch.eye(d, dtype=torch.float64)[: b * v].reshape(b, v, d)
    loss(sep)
    assert loss.terms["repulsion"] == 0.0
    assert loss.terms["mean_norm"] == pytest.approx(1.0)


@pytest.mark.parametrize("kappa,alpha,beta", [(1.0, 1.0, 1.0), (10.0, 1.0, 0.5), (4.0, 0.3, 2.0)])
@pytest.mark.parametrize("block", [None, 4])
def test_hydes_matches_reference(kappa, alpha, beta, block):
    z = _z(3, 3, 4, seed=2)
    ours, g_ours = _value_and_grad(HydesLoss(kappa, alpha=alpha, beta=beta, block_size=block), z)
    ref, g_ref = _value_and_grad(lambda t: hydes_reference(t, kappa, alpha, beta), z)
    assert torch.allclose(ours, ref, atol=1e-12, rtol=1e-10)
    assert torch.allclose(g_ours, g_ref, atol=1e-12, rtol=1e-10)


def test_hydes_mutual_information_is_zero_for_identical_views_of_a_uniform_batch():
    # every view identical, every image identical: H_global = H_local, MI = 0
    loss = HydesLoss(kappa=5.0)
    loss(torch.ones(3, 4, 6, dtype=torch.float64))
    assert loss.terms["mutual_information"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("rs,p", [(8.0, 2.0), (3.0, 2.5)])
def test_clamp_matches_reference(rs, p):
    z = _clustered(6, 4, 3, seed=3, noise=0.5)
    loss = ClampLoss(scale=rs, power=p)
    ours, g_ours = _value_and_grad(loss, z)
    ref, g_ref = _value_and_grad(lambda t: clamp_reference(t, rs, p), z)
    assert loss.terms["overlapping_pairs"] > 0  # the test exercises the pair term
    assert torch.allclose(ours, ref, atol=1e-12, rtol=1e-10)
    assert torch.allclose(g_ours, g_ref, atol=1e-12, rtol=1e-10)


def test_clamp_no_overlap_gives_log_eps():
    # tiny radii (identical views) and distinct centroids: no pair overlaps
    z = torch.eye(4, dtype=torch.float64)[:, None, :].repeat(1, 3, 1)
    loss = ClampLoss()
    assert float(loss(z)) == pytest.approx(math.log(1e-6))
    assert loss.terms["overlapping_pairs"] == 0


@pytest.mark.parametrize("first,count", [(0, 9), (3, 4)])
@pytest.mark.parametrize("block", [1, 7, 64])
def test_block_terms_equal_dense_float64_with_gathered_columns(first, count, block):
    """The path a rank takes under gathering: local rows, all columns, an offset."""
    from spherecode.nn.losses.hypersolid import _BlockHypersolid

    v, d, alpha, lam = 4, 8, 0.5, 0.2
    z_all = _clustered(9, v, d, seed=4, noise=0.3)
    w = torch.randn(4, dtype=torch.float64)  # a non-unit upstream gradient for each term

    def dense(t):
        local = t[first:first + count]
        u = torch.nn.functional.normalize(local, dim=-1)
        target = torch.nn.functional.normalize(local.detach().amax(dim=1), dim=-1)
        align = (1 - (u * target[:, None]).sum(-1)).mean()
        rows, cols = u.reshape(-1, d), torch.nn.functional.normalize(t.reshape(-1, d), dim=-1)
        rep = repulsion_dense(rows, cols, first * v, alpha) / (rows.shape[0] * cols.shape[0])
        mean_norm = t.norm(dim=-1).mean()
        return torch.stack([align, rep, lam * (mean_norm - 1) ** 2, mean_norm])

    def blocks(t):
        return _BlockHypersolid.apply(t[first:first + count], t.reshape(-1, d), first * v, alpha, lam, block)

    vd, gd = _value_and_grad(lambda t: (dense(t) * w).sum(), z_all)
    vb, gb = _value_and_grad(lambda t: (blocks(t) * w).sum(), z_all)
    assert dense(z_all)[1].item() > 0
    assert abs(vd.item() - vb.item()) <= 1e-9
    assert (gd - gb).abs().max().item() <= 1e-9


@pytest.mark.parametrize("offset,rows", [(0, 37), (11, 20)])
@pytest.mark.parametrize("block", [1, 7, 64])
def test_block_lse_equals_dense_float64(offset, rows, block):
    g = torch.Generator().manual_seed(4)
    cols = torch.nn.functional.normalize(torch.randn(37, 8, generator=g, dtype=torch.float64), dim=1)
    cols.requires_grad_(True)
    seeds = torch.randn(37, generator=g, dtype=torch.float64)
    r = cols[offset:offset + rows]
    ld = (lse_off_diagonal_dense(r, cols, offset, 7.0) * seeds[:rows]).sum()
    lb = (lse_off_diagonal_blocks(r, cols, offset, 7.0, block) * seeds[:rows]).sum()
    assert abs(ld.item() - lb.item()) <= 1e-9
    gd = torch.autograd.grad(ld, cols)[0]
    gb = torch.autograd.grad(lb, cols)[0]
    assert (gd - gb).abs().max().item() <= 1e-9


@pytest.mark.parametrize("make", [lambda b: HypersolidLoss(block_size=b), lambda b: HydesLoss(8.0, block_size=b)])
def test_losses_block_equals_dense_float64(make):
    z = _clustered(16, 4, 12, seed=5, noise=0.2)
    vd, gd = _value_and_grad(make(None), z)
    vb, gb = _value_and_grad(make(5), z)
    assert abs(vd.item() - vb.item()) <= 1e-9
    assert (gd - gb).abs().max().item() <= 1e-9


@pytest.mark.parametrize("name", sorted(SSL_LOSSES))
def test_bad_shapes_raise_clear_errors(name):
    loss = SSL_LOSSES[name](**({"kappa": 1.0} if name == "hydes" else {}), dim=8)
    with pytest.raises(SpherecodeError, match=r"shape \(B, V, D\).*2-D"):
        loss(torch.randn(4, 8))
    with pytest.raises(SpherecodeError, match=r"at least 2 views.*V = 1"):
        loss(torch.randn(4, 1, 8))
    with pytest.raises(SpherecodeError, match=r"D = 5.*dim = 8"):
        loss(torch.randn(4, 2, 5))
    with pytest.raises(SpherecodeError, match="NaN"):
        loss(torch.full((4, 2, 8), float("nan")))
    with pytest.raises(SpherecodeError, match="torch.Tensor"):
        loss([[1.0]])


def test_bad_arguments_raise():
    with pytest.raises(SpherecodeError, match="'alpha'.*0 <= alpha < 1.*1.0"):
        HypersolidLoss(alpha=1.0)
    with pytest.raises(SpherecodeError, match="'block_size'"):
        HypersolidLoss(block_size=0)
    with pytest.raises(SpherecodeError, match="'kappa'"):
        HydesLoss(kappa=0.0)
    with pytest.raises(SpherecodeError, match="'scale'"):
        ClampLoss(scale=-1.0)


@pytest.mark.parametrize("name", sorted(SSL_LOSSES))
def test_float32_losses_are_finite_and_differentiable(name):
    loss = SSL_LOSSES[name](**({"kappa": 10.0} if name == "hydes" else {}))
    z = torch.randn(8, 4, 16, requires_grad=True)
    value = loss(z)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("noise", [0.05, 0.5, 3.0])  # nearly all pairs active (recompute) ... few (kept pairs)
def test_hypersolid_blocks_both_backward_paths(noise):
    from spherecode.nn.losses.hypersolid import _BlockHypersolid

    z = _clustered(12, 4, 6, seed=7, noise=noise)
    dense, block = HypersolidLoss(alpha=0.3, block_size=None), HypersolidLoss(alpha=0.3, block_size=8)
    vd, gd = _value_and_grad(dense, z)
    vb, gb = _value_and_grad(block, z)
    assert abs(vd.item() - vb.item()) <= 1e-9
    assert (gd - gb).abs().max().item() <= 1e-9
    # which path ran: the budget is M D / 2 pairs in float64 = 144 here
    out = _BlockHypersolid.apply(z, None, 0, 0.3, 1e-6, 8)
    kept, redo = out.grad_fn.pairs.shape[0], len(out.grad_fn.recompute)
    assert (redo > 0) if noise == 0.05 else (kept > 0)


@pytest.mark.parametrize("name", sorted(SSL_LOSSES))
def test_terms_stay_detached_tensors_on_the_device(name):
    """No float(...) per step: the logged terms are 0-d tensors, summed on the device by the loop."""
    loss = SSL_LOSSES[name](**({"kappa": 10.0} if name == "hydes" else {}), **({"block_size": 4} if name != "clamp" else {}))
    z = torch.randn(8, 4, 16, requires_grad=True)
    loss(z).backward()
    assert loss.terms and all(isinstance(t, torch.Tensor) and t.dim() == 0 and not t.requires_grad
                              and t.device == z.device for t in loss.terms.values())
