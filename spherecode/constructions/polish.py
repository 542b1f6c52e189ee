r"""A minimax polish: sequential linear programming on the true worst-case cosine, in float64.

The searches (:mod:`.lse`, :mod:`.mettes`) minimise smooth surrogates of

.. math::
    (P)\qquad \min_{\|c_i\| = 1}\; s_{\max}(C) = \max_{i < j} \langle c_i, c_j \rangle ,

so they stop near, not at, a local optimum of (P). The polish solves (P) itself. At the iterate C it
takes the pairs whose cosine is within a band of :math:`s_{\max}` (the only pairs that can become the
worst after a step inside the trust region), and linearises each on the sphere: for tangent moves
:math:`\delta_i \perp c_i`,

.. math::
    \langle c_i + \delta_i, c_j + \delta_j \rangle \approx g_{ij} + \langle P_i c_j, \delta_i\rangle
    + \langle P_j c_i, \delta_j \rangle, \qquad P_i = I - c_i c_i^\top .

Only the components of :math:`\delta_i` in :math:`V_i = \mathrm{span}\{P_i c_j\}` (j over the band
neighbours of i) change any of these to first order, so :math:`\delta_i = Q_i y_i` with
:math:`Q_i` an orthonormal basis of :math:`V_i`: a few variables per point instead of d. The linear
program (HiGHS, :func:`scipy.optimize.linprog`)

.. math::
    \min_{t,\,y}\; t \quad \text{s.t.}\quad g_{ij} + \langle Q_i^\top P_i c_j, y_i\rangle
    + \langle Q_j^\top P_j c_i, y_j \rangle \le t, \qquad \|y_i\|_\infty \le \rho / \sqrt{\dim V_i}

predicts a decrease :math:`s_{\max} - t`; the step :math:`c_i \leftarrow (c_i + Q_i y_i)/\|\cdot\|` is
taken only if the *true* :math:`s_{\max}` (every pair) decreases, and the trust radius
:math:`\rho` grows or shrinks with the ratio of actual to predicted decrease. The result is never
worse than the input. It stops when the predicted decrease is below ``tol`` (no first-order descent:
a local optimum of (P)), when :math:`\rho` falls below ``min_radius``, or when its budget is spent:
``max_iter`` programs or ``max_rows`` constraint rows (pairs) summed over them. Both are counts, so the
result is the same on any machine; HiGHS is called without a time limit and is deterministic for a
given program (``highs-ds`` and ``highs-ipm`` run serially, with no randomised choices across runs).
Only an explicit ``time_limit`` makes the result depend on the machine's speed. Convergence is fast where the worst pairs pin the configuration down (the Tammes
optima, the polytopes: a few dozen programs) and slow, linear, where they do not (the octahedron
from a random start creeps to s_max = 0 at about 1e-9 after 500 programs).

**Certificate.** At a local optimum of (P) there are multipliers :math:`\lambda_{ij} \ge 0`,
:math:`\sum \lambda_{ij} = 1`, on the active pairs (cosine within ``active_tol`` of
:math:`s_{\max}`) with :math:`\sum_j \lambda_{ij} P_i c_j = 0` for every i (KKT for the minimax on the
product of spheres). :func:`certificate` finds the multipliers that minimise the L1 norm of that
stationarity residual (a small LP) and reports the largest per-point Euclidean residual,
:func:`kkt_residual`, which anyone can recompute from the pairs and multipliers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SpherecodeError, check_int
from ..separation import max_cosine, normalize_rows
from .base import progress_bar

#: Pairs kept in one linear program at most (the band narrows, and the trust region with it, above this).
MAX_PAIRS = 1500
#: Linear programs with more rows than this are solved by interior point (dual simplex below):
#: measured at N = 1000, d = 128 with 3000 pairs, 4.2 s against more than 30 s.
IPM_ROWS = 500
#: Band neighbours kept per row of the pair scan.
ROW_NEIGHBOURS = 64
#: Rows of the Gram matrix per block in the pair scan.
BLOCK = 1024


@dataclass(frozen=True)
class Certificate:
    """What the polish did and why it stopped, with the KKT certificate of the final codebook.

    Attributes:
        s_max_before, s_max: the worst-case cosine of the input and of the result (never larger).
        iterations: linear programs solved; ``accepted``: steps taken.
        stopped: ``"converged"`` (predicted decrease below ``tol``), ``"radius"`` (trust region
            below ``min_radius``), ``"iterations"`` (``max_iter`` or ``max_rows`` spent), ``"time"`` (only
            with an explicit ``time_limit``) or ``"too large"`` (more worst pairs tied than one program holds).
        pairs: (P, 2) active pairs (cosine within ``active_tol`` of s_max), i < j.
        multipliers: (P,) non-negative weights summing to 1 (empty when ``stopped`` is ``"too large"``).
        residual: :func:`kkt_residual` of the pairs and multipliers (0 at a KKT point; inf when not computed).
        predicted: the last predicted decrease of s_max.
        seconds: wall time (not recorded by :meth:`summary`: a codebook's metadata is the same on any machine).
        rows: constraint rows (pairs) summed over the programs solved.
    """

    s_max_before: float
    s_max: float
    iterations: int
    accepted: int
    stopped: str
    pairs: np.ndarray
    multipliers: np.ndarray
    residual: float
    predicted: float
    seconds: float
    rows: int = 0

    def summary(self) -> dict[str, Any]:
        """The numbers to record in a codebook's parameters (JSON-serialisable; None for non-finite)."""
        def finite(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return {"s_max_before": self.s_max_before, "s_max": self.s_max, "iterations": self.iterations,
                "accepted": self.accepted, "stopped": self.stopped, "active_pairs": int(len(self.pairs)),
                "kkt_residual": finite(self.residual), "predicted": finite(self.predicted),
                "rows": self.rows}


def pairs_above(x: np.ndarray, threshold: float, per_row: int = ROW_NEIGHBOURS,
                limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs i < j with cosine >= ``threshold`` as ``(i, j, cosine)``, scanning the Gram matrix in row blocks.

    Each row keeps at most ``per_row`` of its largest cosines; if more than ``limit`` pairs remain, the
    ``limit`` largest are kept.
    """
    n = len(x)
    keep_i, keep_j, keep_g = [], [], []
    k = min(per_row, n - 1)
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        g = x[start:stop] @ x.T
        g[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        if k < n - 1:
            idx = np.argpartition(-g, k - 1, axis=1)[:, :k]
        else:
            idx = np.broadcast_to(np.arange(n), (stop - start, n))
        vals = np.take_along_axis(g, idx, axis=1)
        rows = np.broadcast_to(np.arange(start, stop)[:, None], idx.shape)
        mask = vals >= threshold
        keep_i.append(rows[mask])
        keep_j.append(idx[mask])
        keep_g.append(vals[mask])
    i, j, gv = np.concatenate(keep_i), np.concatenate(keep_j), np.concatenate(keep_g)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key, first = np.unique(lo.astype(np.int64) * n + hi, return_index=True)  # each pair once
    i, j, gv = lo[first], hi[first], gv[first]
    if limit is not None and len(gv) > limit:
        top = np.argpartition(-gv, limit - 1)[:limit]
        i, j, gv = i[top], j[top], gv[top]
    return i, j, gv


def _bases(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[dict[int, np.ndarray], dict[int, int]]:
    """For each point in the pairs, an orthonormal basis (k x d rows) of span{P_i c_j} and its offset in y."""
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(i.tolist(), j.tolist()):
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    bases, offsets, total = {}, {}, 0
    for p, nbrs in neighbours.items():
        c = x[p]
        w = x[nbrs] - np.outer(x[nbrs] @ c, c)  # tangent projections P_p c_j
        _, sv, vt = np.linalg.svd(w, full_matrices=False)
        keep = sv > 1e-10 * max(sv[0], 1e-300)
        if not keep.any():
            continue
        bases[p] = vt[keep]
        offsets[p] = total
        total += int(keep.sum())
    return bases, offsets


def _lp_step(x: np.ndarray, i: np.ndarray, j: np.ndarray, g: np.ndarray, radius: float,
             seconds: float | None = None) -> tuple[np.ndarray, float] | None:
    """Solve the trust-region LP; return the displacement (N x d, tangent) and the LP value t, or None."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    bases, offsets = _bases(x, i, j)
    nvar = sum(b.shape[0] for b in bases.values())
    if nvar == 0:
        return None
    rows, cols, vals = [], [], []
    for r, (a, b) in enumerate(zip(i.tolist(), j.tolist())):
        for p, q in ((a, b), (b, a)):
            if p in bases:
                coeff = bases[p] @ x[q]  # Q_p^T P_p c_q = Q_p^T c_q (the rows of Q_p are tangent)
                k = len(coeff)
                rows.extend([r] * k)
                cols.extend(range(offsets[p], offsets[p] + k))
                vals.extend(coeff.tolist())
    m = len(g)
    rows.extend(range(m))
    cols.extend([nvar] * m)
    vals.extend([-1.0] * m)
    a_ub = coo_matrix((vals, (rows, cols)), shape=(m, nvar + 1)).tocsr()
    bounds = np.empty((nvar + 1, 2))
    for p, b in bases.items():
        box = radius / math.sqrt(b.shape[0])
        bounds[offsets[p]:offsets[p] + b.shape[0]] = (-box, box)
    bounds[nvar] = (-2.0, 2.0)
    cost = np.zeros(nvar + 1)
    cost[nvar] = 1.0
    options = {} if seconds is None else {"time_limit": max(seconds, 0.1)}
    # dual simplex (exact vertices) for small programs; interior point for large, degenerate ones
    method = "highs-ds" if m <= IPM_ROWS else "highs-ipm"
    res = linprog(cost, A_ub=a_ub, b_ub=-g, bounds=bounds, method=method, options=options)
    if res.status != 0 or res.x is None:
        return None
    y = res.x
    step = np.zeros_like(x)
    for p, b in bases.items():
        step[p] = y[offsets[p]:offsets[p] + b.shape[0]] @ b
    return step, float(res.x[nvar])


def polish(vectors: Any, *, max_iter: int = 500, max_rows: int | None = None, time_limit: float | None = None,
           tol: float = 1e-14, radius: float = 0.05, min_radius: float = 1e-13, active_tol: float = 1e-9,
           max_pairs: int = MAX_PAIRS, progress: bool = False) -> tuple[np.ndarray, Certificate]:
    r"""Refine a codebook towards a local optimum of (P) by trust-region sequential linear programming.

    Args:
        vectors: (N, d) array of non-zero rows (normalised here, in float64).
        max_iter: linear programs at most.
        max_rows: constraint rows (pairs) summed over the programs at most (None: no limit); the program
            that crosses it is the last.
        time_limit: seconds at most (None: no limit, the default: the result is then the same on any machine).
        tol: stop when the predicted decrease of s_max is below this.
        radius: initial trust radius (Euclidean, per point).
        min_radius: stop when the trust radius falls below this.
        active_tol: pairs within this of s_max are *active* in the certificate.
        max_pairs: pairs per linear program at most.
        progress: show a progress bar over the programs (on a terminal).

    Returns:
        ``(vectors, certificate)``: the polished (N, d) float64 unit rows, with s_max never above the
        input's, and the :class:`Certificate`.

    Examples:
        >>> from spherecode.constructions.library import icosahedron
        >>> shaken = icosahedron() + 0.01 * np.random.default_rng(0).standard_normal((12, 3))
        >>> v, cert = polish(shaken)  # back to the icosahedron: s_max = 1/sqrt(5)
        >>> round(cert.s_max ** -2, 9), bool(cert.residual < 1e-9)
        (5.0, True)
    """
    clock = time.perf_counter()
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2 or not np.all(np.isfinite(x)) or not np.all(x.any(axis=1)):
        raise SpherecodeError("Argument 'vectors' must be an (N, d) array of finite, non-zero rows with N >= 2.")
    max_iter = check_int("max_iter", max_iter, minimum=0)
    max_rows = None if max_rows is None else check_int("max_rows", max_rows, minimum=0)
    x = normalize_rows(x)
    s = before = max_cosine(x)
    iterations = accepted = rows = 0
    predicted = math.inf
    stopped = "iterations"
    rho = float(radius)
    bar = progress_bar(progress, max_iter, f"polish N={len(x)} d={x.shape[1]}", "LP")
    while iterations < max_iter and (max_rows is None or rows < max_rows):
        if time_limit is not None and time.perf_counter() - clock > time_limit:
            stopped = "time"
            break
        if rho < min_radius:
            stopped = "radius"
            break
        band = 4.5 * rho + 2 * rho * rho + 1e-12
        i, j, g = pairs_above(x, s - band, limit=max_pairs)
        if len(g) == max_pairs and float(g.min()) >= s - 1e-12:  # more tied worst pairs than one LP holds
            stopped = "too large"
            break
        left = None if time_limit is None else time_limit - (time.perf_counter() - clock)
        out = _lp_step(x, i, j, g, rho, left)
        iterations += 1
        rows += len(g)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(s_max=f"{s:.6f}")
        if out is None:
            stopped = "time" if left is not None and time.perf_counter() - clock > time_limit else "converged"
            break
        step, t = out
        predicted = s - t
        if predicted <= tol:
            stopped = "converged"
            break
        trial = normalize_rows(x + step)
        s_new = max_cosine(trial)
        ratio = (s - s_new) / predicted
        if s_new < s:
            x, s = trial, s_new
            accepted += 1
            rho = rho * 2.0 if ratio > 0.75 else rho / 2.0 if ratio < 0.25 else rho
            rho = min(rho, 1.0)
        else:
            rho /= 4.0
    if bar is not None:
        bar.close()
    if stopped == "too large":  # the active set does not fit one program: no certificate
        i, j, _ = pairs_above(x, s - active_tol, limit=max_pairs)
        pairs, lam, residual = np.stack([i, j], axis=1), np.zeros(0), math.inf
    else:
        pairs, lam, residual = certificate(x, active_tol=active_tol, max_pairs=max_pairs)
    cert = Certificate(s_max_before=before, s_max=s, iterations=iterations, accepted=accepted, stopped=stopped,
                       pairs=pairs, multipliers=lam, residual=residual,
                       predicted=float(predicted) if math.isfinite(predicted) else float("nan"),
                       seconds=time.perf_counter() - clock, rows=rows)
    return x, cert


def kkt_residual(vectors: np.ndarray, pairs: np.ndarray, multipliers: np.ndarray) -> float:
    r""":math:`\max_i \| \sum_j \lambda_{ij} P_i c_j \|_2` over the points of the pairs (0 at a KKT point of (P)),
    for multipliers normalised to sum 1."""
    x = np.asarray(vectors, dtype=np.float64)
    lam = np.asarray(multipliers, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0 or lam.sum() <= 0:
        return math.inf
    lam = lam / lam.sum()
    force = np.zeros_like(x)
    np.add.at(force, pairs[:, 0], lam[:, None] * x[pairs[:, 1]])
    np.add.at(force, pairs[:, 1], lam[:, None] * x[pairs[:, 0]])
    force -= (force * x).sum(axis=1, keepdims=True) * x  # tangent part at each point
    return float(np.linalg.norm(force, axis=1).max())


def certificate(vectors: np.ndarray, active_tol: float = 1e-9, max_pairs: int = MAX_PAIRS
                ) -> tuple[np.ndarray, np.ndarray, float]:
    r"""The active pairs, KKT multipliers and residual of a codebook.

    The multipliers minimise :math:`\sum_i \|\sum_j \lambda_{ij} Q_i^\top c_j\|_1` over the simplex
    (an LP; :math:`Q_i` spans the tangent directions that move the active pairs at i).
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, eye, hstack, vstack

    x = normalize_rows(np.asarray(vectors, dtype=np.float64))
    s = max_cosine(x)
    i, j, _ = pairs_above(x, s - active_tol, limit=max_pairs)
    pairs = np.stack([i, j], axis=1)
    m = len(i)
    bases, offsets = _bases(x, i, j)
    nrow = sum(b.shape[0] for b in bases.values())
    if m == 0:
        return pairs, np.zeros(0), math.inf
    if nrow == 0:  # every active pair is antipodal: no tangent direction moves it
        return pairs, np.full(m, 1.0 / m), kkt_residual(x, pairs, np.full(m, 1.0 / m))
    rows, cols, vals = [], [], []
    for r, (a, b) in enumerate(zip(i.tolist(), j.tolist())):
        for p, q in ((a, b), (b, a)):
            if p in bases:
                coeff = bases[p] @ x[q]
                rows.extend(range(offsets[p], offsets[p] + len(coeff)))
                cols.extend([r] * len(coeff))
                vals.extend(coeff.tolist())
    a = coo_matrix((vals, (rows, cols)), shape=(nrow, m)).tocsr()
    ident = eye(nrow, format="csr")
    # variables (lambda, u): -u <= A lambda <= u, sum lambda = 1; minimise sum u
    a_ub = vstack([hstack([a, -ident]), hstack([-a, -ident])]).tocsr()
    a_eq = np.concatenate([np.ones(m), np.zeros(nrow)])[None, :]
    cost = np.concatenate([np.zeros(m), np.ones(nrow)])
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(2 * nrow), A_eq=a_eq, b_eq=[1.0],
                  bounds=[(0, None)] * (m + nrow), method="highs-ds" if m <= IPM_ROWS else "highs-ipm")
    lam = np.clip(res.x[:m], 0.0, None) if res.status == 0 else np.full(m, 1.0 / m)
    return pairs, lam / lam.sum(), kkt_residual(x, pairs, lam)
