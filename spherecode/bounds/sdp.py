r"""The three-point semidefinite programming bound for spherical codes (Bachoc & Vallentin 2008).

Let C be a code in :math:`S^{d-1}` with N points and all inner products of distinct points in
[-1, s]. Its *pair distribution* :math:`x(u) = |\{(c, c') : c \ne c', c \cdot c' = u\}|/N` and
*triple distribution* :math:`y(u, v, t)` (ordered triples of distinct points with inner products
:math:`(c\cdot c', c\cdot c'', c'\cdot c'') = (u, v, t)`, divided by N) are non-negative with
:math:`\sum x = N - 1` and :math:`\sum y = (N-1)(N-2)`; y lives on

.. math:: \Delta_s = \{(u, v, t) \in [-1, s]^3 : 1 + 2uvt - u^2 - v^2 - t^2 \ge 0\}

(the Gram matrix of three unit vectors is positive semidefinite). With :math:`P_k` the normalised
Gegenbauer polynomials of dimension d (:func:`spherecode.bounds.levenshtein.gegenbauer`) and
:math:`Q_k` those of dimension d - 1, made homogeneous,

.. math::
    Y_k(u, v, t)_{ij} = T_i(u)\, T_j(v)\, \big((1-u^2)(1-v^2)\big)^{k/2}\,
        Q_k\Big(\frac{t - uv}{\sqrt{(1-u^2)(1-v^2)}}\Big), \qquad 0 \le i, j \le D - k,

    S_k(u, v, t) = \tfrac16 \textstyle\sum_{\sigma} Y_k(\sigma(u, v, t))

(:math:`\sigma` over the permutations of the three arguments; :math:`T_i` the Chebyshev
polynomials, a well-conditioned basis of the polynomials of degree :math:`\le D - k`: Bachoc and
Vallentin use monomials, any basis gives the same bound). Every code satisfies (Bachoc & Vallentin,
"New upper bounds for kissing numbers from semidefinite programming", J. AMS 21 (2008), Thm 3.2)

.. math::
    1 + \sum_u x(u) P_k(u) \ge 0, \qquad
    S_k(1,1,1) + 3 \sum_u x(u) S_k(u,u,1) + \sum y(u,v,t) S_k(u,v,t) \succeq 0, \qquad
    \begin{pmatrix} 1 & \sum x \\ \sum x & \sum x + \sum y \end{pmatrix} \succeq 0 .

Weak duality turns any :math:`a_k \ge 0` (k = 1..2D), :math:`F_k \succeq 0` (k = 0..D) and
:math:`B \succeq 0` (2 x 2) into the bound

.. math::
    N \le \underbrace{1 + \sum_k a_k + B_{11} + \sum_k \langle F_k, S_k(1,1,1)\rangle}_{\text{objective}}
        + M_1 (N - 1) + M_2 (N-1)(N-2),

    M_1 = \max_{u \in [-1,s]} \Big(1 + \sum_k a_k P_k(u) + 2B_{12} + B_{22}
          + 3\sum_k \langle F_k, S_k(u,u,1)\rangle\Big)^+, \qquad
    M_2 = \max_{\Delta_s} \Big(B_{22} + \sum_k \langle F_k, S_k(u,v,t)\rangle\Big)^+ .

The SDP (:func:`sdp_bound`) minimises the objective with both maxima constrained to 0 on samples of
[-1, s] and :math:`\Delta_s` (cutting planes add the worst points of finer samples), solved by
cvxpy with Clarabel. The solution is then **checked**, not trusted: :math:`a_k` are clipped to
:math:`\ge 0`, each :math:`F_k` and B are replaced by :math:`W W^T` from their eigenvectors with
negative eigenvalues dropped (positive semidefinite by construction), the objective is recomputed,
:math:`M_1` is found from the critical points of the degree-2D polynomial (Chebyshev interpolation,
as for the LP bound) and :math:`M_2` by a dense sample of :math:`\Delta_s` polished by local
maximisation; a rounding slack is added to both. The bound is the smaller root :math:`N_1` of the
quadratic above; it holds whenever the larger root exceeds :math:`\lfloor N_1 \rfloor + 1` (a code
with more points contains one with :math:`\lfloor N_1\rfloor + 1`). :math:`M_1` is certified like
the LP bound's maximum; :math:`M_2` relies on the sample (a narrow positive peak between sample
points would be missed): see docs/bounds.md for what is rigorous.

:func:`sdp_lower_bound` turns the bound into a lower bound on the optimal :math:`s_{\max}` of N
points by a root search on s, as :func:`spherecode.bounds.spherical_lp.spherical_lp_lower_bound`.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SpherecodeError, check_int
from .levenshtein import _check_cosine, gegenbauer_all
from .spherical_lp import illinois_root

#: The default degree D (the matrices F_k have size D - k + 1): 2-15 CPU seconds per solve for d <= 8.
DEFAULT_DEGREE = 6
#: Largest degree accepted (the program grows as D^3).
MAX_DEGREE = 20
#: Sample of [-1, s] for the pair constraint, and of Delta_s: (u, v) grid size and angle grid size.
PAIR_POINTS = 120
TRIPLE_GRID = (14, 8)
#: The finer sample that finds violated points (cutting planes) and the maximum M_2 of the check.
CHECK_GRID = (64, 48)
#: Cutting-plane rounds at most.
CUTTING_ROUNDS = 12
#: The rounds stop once no sampled violation exceeds STOP_TOL times the SDP's value (what is left is
#: charged into the bound).
STOP_TOL = 1e-6
#: The sampled constraints are imposed with this margin (<= -MARGIN), so that the polynomials stay <= 0
#: between the sample points too: a round is added only when the finer sample finds a point above 0.
MARGIN = 1e-6
#: Each round adds the CUT_POINTS worst sample points and the local maxima polished from the POLISH_STARTS worst.
CUT_POINTS = 150
POLISH_STARTS = 8
#: Clarabel's stopping tolerances (its defaults, 1e-8, it cannot reach from degree 8 on): the solution is
#: checked afterwards, so the solver's accuracy affects how tight the bound is, never whether it holds.
SOLVER_TOLERANCES = {"tol_gap_abs": 1e-6, "tol_gap_rel": 1e-6, "tol_feas": 1e-7, "max_iter": 300}
#: The s-search steps over at most this many consecutive failed checks while bracketing.
MAX_SKIPS = 2
#: Relative rounding slack added to the certified maxima (|T_i|, |Q_k| <= 1 on the domains).
SLACK = 1e-11


@dataclass(frozen=True)
class SDPBoundResult:
    r"""A checked three-point bound: no code in :math:`S^{d-1}` with max cosine s has more than ``value`` points.

    Attributes:
        value: the checked bound :math:`N_1` (``None`` when the check failed: see ``reason``).
        sdp_value: the solver's optimum of the sampled SDP (not itself a bound).
        objective: the objective recomputed from the clipped certificate.
        pair_excess, triple_excess: :math:`M_1`, :math:`M_2` (with slack) charged into ``value``.
        status: the solver status (``optimal`` or the reason it failed).
        reason: why ``value`` is ``None``, else ``None``.
    """

    dim: int
    s: float
    degree: int
    value: float | None
    sdp_value: float | None
    objective: float | None
    pair_excess: float | None
    triple_excess: float | None
    status: str
    reason: str | None = None


def _chebyshev(degree: int, x: np.ndarray) -> np.ndarray:
    """Rows :math:`T_0(x), \\dots, T_{\\text{degree}}(x)`."""
    out = np.empty((degree + 1,) + x.shape)
    out[0] = 1.0
    if degree >= 1:
        out[1] = x
    for i in range(1, degree):
        out[i + 1] = 2.0 * x * out[i] - out[i - 1]
    return out


def _homogeneous_gegenbauer(degree: int, dim: int, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    r"""Rows :math:`R^{k/2} Q_k(w/\sqrt R)`, :math:`w = c - ab`, :math:`R = (1-a^2)(1-b^2)`, k = 0..degree,
    for the Gegenbauer polynomials :math:`Q_k` of dimension d - 1, by the homogenised recurrence
    :math:`(k+m-2) H_{k+1} = (2k+m-2)\, w H_k - k R H_{k-1}` (m = d - 1): a polynomial, no square root."""
    m = dim - 1
    w, r = c - a * b, (1.0 - a * a) * (1.0 - b * b)
    out = np.empty((degree + 1,) + w.shape)
    out[0] = 1.0
    if degree >= 1:
        out[1] = w
    for k in range(1, degree):
        out[k + 1] = ((2 * k + m - 2) * w * out[k] - k * r * out[k - 1]) / (k + m - 2)
    return out


_PAIRINGS = ((0, 1, 2), (0, 2, 1), (1, 2, 0))  # which two arguments index the matrix, which is "t"


def three_point_matrices(degree: int, dim: int, u: np.ndarray | float, v: np.ndarray | float,
                         t: np.ndarray | float) -> list[np.ndarray]:
    r"""The symmetrised matrices :math:`S_k(u, v, t)`, k = 0..degree, each of shape ``(P, D-k+1, D-k+1)``.

    :math:`S_k = \frac13 \sum_{(a,b,c)} \operatorname{sym}\big(T(a) T(b)^T\big)\, R^{k/2} Q_k(\cdot)` over
    the three choices of the pair (a, b) among (u, v, t): the six permutations of the definition,
    since :math:`Y_k(b, a, c) = Y_k(a, b, c)^T`.

    Examples:
        >>> s = three_point_matrices(2, 3, 1.0, 1.0, 1.0)   # S_k(1,1,1) = 0 for k >= 1
        >>> float(s[0][0, 0, 0]), float(abs(s[1]).max()), float(abs(s[2]).max())
        (1.0, 0.0, 0.0)
    """
    args = [np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (u, v, t)]
    args = np.broadcast_arrays(*args)
    cheb = [_chebyshev(degree, x) for x in args]
    out = [np.zeros((args[0].size, degree - k + 1, degree - k + 1)) for k in range(degree + 1)]
    for i, j, l in _PAIRINGS:
        h = _homogeneous_gegenbauer(degree, dim, args[i], args[j], args[l])
        outer = np.einsum("ip,jp->pij", cheb[i], cheb[j])
        outer = 0.5 * (outer + outer.transpose(0, 2, 1))
        for k in range(degree + 1):
            m = degree - k + 1
            out[k] += outer[:, :m, :m] * h[k][:, None, None] / 3.0
    return out


def _triple_value(factors: list[np.ndarray], b22: float, dim: int, u: np.ndarray, v: np.ndarray,
                  t: np.ndarray) -> np.ndarray:
    r""":math:`B_{22} + \sum_k \langle F_k, S_k(u,v,t)\rangle` with :math:`F_k = W_k W_k^T`, without the matrices:
    :math:`\langle W W^T, \operatorname{sym}(T(a)T(b)^T)\rangle = (W^T T(a)) \cdot (W^T T(b))`."""
    degree = len(factors) - 1
    args = (u, v, t)
    cheb = [_chebyshev(degree, x) for x in args]
    total = np.full(u.shape, b22, dtype=np.float64)
    for i, j, l in _PAIRINGS:
        h = _homogeneous_gegenbauer(degree, dim, args[i], args[j], args[l])
        for k, w in enumerate(factors):
            if w.shape[1] == 0:
                continue
            m = degree - k + 1
            left, right = w.T @ cheb[i][:m], w.T @ cheb[j][:m]  # (rank, P)
            total += h[k] * np.sum(left * right, axis=0) / 3.0
    return total


def _pair_grid(s: float, points: int) -> np.ndarray:
    x = np.cos(np.linspace(np.pi, 0.0, points))
    return np.unique(np.concatenate([-1.0 + (x + 1.0) * (s + 1.0) / 2.0, np.linspace(-1.0, s, points // 2)]))


def triple_sample(s: float, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Points of :math:`\Delta_s`, each sorted :math:`u \le v \le t` (the constraints are symmetric):
    u, v on a Chebyshev-clustered grid of [-1, s] (ends included),
    :math:`t = uv + \sqrt{(1-u^2)(1-v^2)}\cos\varphi` for :math:`\varphi` on a grid of :math:`[0, \pi]`
    (its ends are the boundary det = 0), kept where :math:`t \le s`."""
    n_uv, n_phi = grid
    x = np.cos(np.linspace(np.pi, 0.0, n_uv))
    g = -1.0 + (x + 1.0) * (s + 1.0) / 2.0
    g[-1] = s
    iu, iv = np.triu_indices(n_uv)
    u, v = g[iu], g[iv]
    phi = np.linspace(0.0, np.pi, n_phi)
    r = np.sqrt(np.clip((1 - u * u) * (1 - v * v), 0.0, None))
    t = (u * v)[:, None] + r[:, None] * np.cos(phi)[None, :]
    u, v = np.broadcast_to(u[:, None], t.shape).ravel(), np.broadcast_to(v[:, None], t.shape).ravel()
    t = np.clip(t.ravel(), -1.0, 1.0)
    keep = t <= s
    pts = np.unique(np.round(np.sort(np.stack([u[keep], v[keep], t[keep]], axis=1), axis=1), 12), axis=0)
    return pts[:, 0], pts[:, 1], pts[:, 2]


def _add_points(sample: tuple[np.ndarray, np.ndarray, np.ndarray], new: np.ndarray,
                min_distance: float = 1e-4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sample with the new points (rows u, v, t) appended, sorted to u <= v <= t, leaving out any within
    ``min_distance`` of a point already there: repeated constraints make the SDP degenerate."""
    old = np.stack(sample, axis=1)
    new = np.sort(np.asarray(new, dtype=np.float64).reshape(-1, 3), axis=1)
    if len(new):  # drop points near an old one, then near an earlier new one
        near_old = np.array([np.abs(old - p).max(axis=1).min() <= min_distance for p in new])
        new = new[~near_old]
    keep: list[np.ndarray] = []
    for p in new:
        if all(np.abs(q - p).max() > min_distance for q in keep):
            keep.append(p)
    if not keep:
        return sample
    out = np.concatenate([old, np.array(keep)])
    return out[:, 0], out[:, 1], out[:, 2]


def _psd_factor(matrix: np.ndarray) -> np.ndarray:
    """W with W W^T the matrix's projection on the PSD cone (negative eigenvalues dropped)."""
    lam, vec = np.linalg.eigh(0.5 * (matrix + matrix.T))
    keep = lam > 0
    return vec[:, keep] * np.sqrt(lam[keep])


def _max_on_interval(poly: Callable[[np.ndarray], np.ndarray], degree: int, lo: float, hi: float) -> float:
    """Maximum of a polynomial of the given degree on [lo, hi]: exact Chebyshev interpolation, real zeros of
    its derivative, the ends and a grid (as :func:`spherecode.bounds.spherical_lp.certified_max`)."""
    cheb = np.polynomial.Chebyshev.interpolate(poly, max(degree, 1), domain=[lo, hi])
    cand = [np.array([lo, hi]), np.linspace(lo, hi, 4097)]
    if degree >= 2:
        roots = cheb.deriv().roots()
        cand.append(roots.real[(np.abs(roots.imag) < 1e-7) & (roots.real >= lo) & (roots.real <= hi)])
    return float(np.max(poly(np.concatenate(cand))))


def _polish_triple(value: Callable[..., np.ndarray], s: float, starts: np.ndarray) -> tuple[float, np.ndarray]:
    """Local maximisation of the triple constraint from the given points of Delta_s, in the coordinates
    (u, v, phi) that map a box onto Delta_s (t clipped to s; points with no valid t are skipped).
    Returns the largest value found and the local maximisers (rows u, v, t)."""
    from scipy.optimize import minimize

    def point(z: np.ndarray) -> np.ndarray | None:
        u, v, phi = np.clip(z[0], -1, s), np.clip(z[1], -1, s), np.clip(z[2], 0, np.pi)
        r = math.sqrt(max((1 - u * u) * (1 - v * v), 0.0))
        if u * v - r > s:
            return None
        return np.array([u, v, min(max(u * v + r * math.cos(phi), -1.0), s)])

    def neg(z: np.ndarray) -> float:
        p = point(z)
        return 1e9 if p is None else -float(value(p[:1], p[1:2], p[2:])[0])

    best, found = -np.inf, []
    for u, v, t in starts:
        r = math.sqrt(max((1 - u * u) * (1 - v * v), 0.0))
        phi = math.acos(min(max((t - u * v) / r, -1.0), 1.0)) if r > 0 else 0.0
        res = minimize(neg, np.array([u, v, phi]), method="L-BFGS-B",
                       bounds=[(-1, s), (-1, s), (0, np.pi)], options={"maxiter": 80})
        p = point(res.x)
        if p is not None and res.fun < 1e9:
            best = max(best, -float(res.fun))
            found.append(p)
    return best, np.array(found).reshape(-1, 3)


def _pair_value(a: np.ndarray, B: np.ndarray, F: list[np.ndarray], dim: int, u: np.ndarray) -> np.ndarray:
    r""":math:`1 + \sum_k a_k P_k(u) + 2B_{12} + B_{22} + 3\sum_k \langle F_k, S_k(u,u,1)\rangle`."""
    u = np.atleast_1d(np.asarray(u, dtype=np.float64))
    degree = len(F) - 1
    mats = three_point_matrices(degree, dim, u, u, np.ones_like(u))
    lin = a @ gegenbauer_all(len(a), dim, u)[1:]
    return 1.0 + lin + 2 * B[0, 1] + B[1, 1] + 3 * sum(np.einsum("pij,ij->p", mats[k], F[k]) for k in range(degree + 1))


def _pair_peaks(a: np.ndarray, B: np.ndarray, F: list[np.ndarray], dim: int, s: float) -> np.ndarray:
    """The local maxima above 0 of the pair constraint on a fine grid of [-1, s] (its cutting planes)."""
    u = np.linspace(-1.0, s, 4001)
    g = _pair_value(a, B, F, dim, u)
    peak = (g > 0) & (g >= np.roll(g, 1)) & (g >= np.roll(g, -1))
    return u[peak]


def _check_degree(degree: int | None) -> int:
    return DEFAULT_DEGREE if degree is None else check_int("degree", degree, minimum=1, maximum=MAX_DEGREE)


def _failed(dim: int, s: float, degree: int, status: str, reason: str, sdp_value: float | None = None) -> SDPBoundResult:
    return SDPBoundResult(dim, s, degree, None, sdp_value, None, None, None, status, reason)


@lru_cache(maxsize=512)
def sdp_bound(dim: int, s: float, degree: int | None = None) -> SDPBoundResult:
    r"""The checked three-point SDP bound on the size of a code in :math:`S^{d-1}` with max cosine s.

    Args:
        dim: dimension d >= 3.
        s: the maximal cosine, in [-1, 1).
        degree: D, the largest k of the matrices :math:`F_k` (default :data:`DEFAULT_DEGREE`); the
            linear part uses :math:`P_1..P_{2D}`.

    Returns an :class:`SDPBoundResult`; its ``value`` is ``None`` (with the ``reason``) when the solver
    does not report an optimal solution or the check does not support a bound.

    Examples:
        >>> r = sdp_bound(3, 0.5, 4)     # degree 4 is about the LP's 13.2; degree 6 gives 12.59
        >>> r.status, 12 <= r.value < 13.2  # the kissing number of R^3 is 12
        ('optimal', True)
    """
    dim = check_int("dim", dim, minimum=3)
    s = _check_cosine(s)
    degree = _check_degree(degree)
    return _solve(dim, s, degree)[0]


def _solve(dim: int, s: float, degree: int, cuts: np.ndarray | None = None) -> tuple[SDPBoundResult, np.ndarray]:
    """Solve by cutting planes from the base sample plus ``cuts`` (rows u, v, t in Delta_s, e.g. the cuts of a
    nearby s); return the checked result and the cutting points used."""
    import cvxpy as cp  # imported here: keeps `spherecode bounds` and `analyze` fast to start

    lp_degree = 2 * degree
    sizes = [degree - k + 1 for k in range(degree + 1)]
    pu = _pair_grid(s, PAIR_POINTS)  # the pair constraint's sample of [-1, s]
    at_one = [m[0] for m in three_point_matrices(degree, dim, 1.0, 1.0, 1.0)]

    a = cp.Variable(lp_degree, nonneg=True)
    B = cp.Variable((2, 2), PSD=True)
    F = [cp.Variable((m, m), PSD=True) for m in sizes]
    objective = 1 + cp.sum(a) + B[0, 0] + sum(cp.sum(cp.multiply(at_one[k], F[k])) for k in range(degree + 1))

    def triple_expr(mats: list[np.ndarray]):  # rows <F_k, S_k(point)>, one per point
        return sum(mats[k].reshape(len(mats[k]), -1) @ cp.vec(F[k], order="C") for k in range(degree + 1))

    def pair_expr(u: np.ndarray):
        mats = three_point_matrices(degree, dim, u, u, np.ones_like(u))
        return (1 + gegenbauer_all(lp_degree, dim, u)[1:].T @ a + 2 * B[0, 1] + B[1, 1]
                + 3 * sum(mats[k].reshape(len(u), -1) @ cp.vec(F[k], order="C") for k in range(degree + 1)))

    tu, tv, tt = triple_sample(s, TRIPLE_GRID)
    base = len(tu)
    if cuts is not None and len(cuts):
        tu, tv, tt = _add_points((tu, tv, tt), cuts[np.max(cuts, axis=1) <= s])
    cu, cv, ct = triple_sample(s, CHECK_GRID)
    status, sdp_value = "not solved", None
    optimal: tuple | None = None
    for _ in range(CUTTING_ROUNDS):
        mats = three_point_matrices(degree, dim, tu, tv, tt)
        problem = cp.Problem(cp.Minimize(objective), [pair_expr(pu) <= -MARGIN, triple_expr(mats) + B[1, 1] <= -MARGIN])
        try:
            with warnings.catch_warnings():  # an inaccurate solution is handled below, by its status
                warnings.simplefilter("ignore", UserWarning)
                problem.solve(solver=cp.CLARABEL, **SOLVER_TOLERANCES)
        except cp.error.SolverError as exc:  # pragma: no cover - numerical breakdown
            return _failed(dim, s, degree, "solver error", f"the SDP solver failed: {exc}"), np.empty((0, 3))
        status = str(problem.status)
        if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):  # an inaccurate round still gives cutting planes
            return _failed(dim, s, degree, status, f"the SDP solver reported {status!r}, not 'optimal'"), np.empty((0, 3))
        sdp_value = float(problem.value)
        if status == cp.OPTIMAL:  # the solution that will be checked: the last one the solver calls optimal
            optimal = (a.value.copy(), B.value.copy(), [f.value.copy() for f in F], sdp_value)
        factors = [_psd_factor(f.value) for f in F]
        b22 = float(B.value[1, 1])
        viol = _triple_value(factors, b22, dim, cu, cv, ct)
        fc = [w @ w.T for w in factors]
        pair_peaks = _pair_peaks(np.clip(a.value, 0, None), B.value, fc, dim, s)
        stop = STOP_TOL * max(sdp_value, 1.0)
        if viol.max() <= stop and (len(pair_peaks) == 0 or _pair_value(np.clip(a.value, 0, None), B.value, fc, dim, pair_peaks).max() <= stop):
            break
        pu = np.union1d(pu, pair_peaks)
        bad = np.flatnonzero(viol > 0.0)
        if len(bad) == 0:
            continue
        worst = bad[np.argsort(viol[bad])[-CUT_POINTS:]]
        starts = worst[-POLISH_STARTS:]
        _, peaks = _polish_triple(lambda *p: _triple_value(factors, b22, dim, *p), s,
                                  np.stack([cu[starts], cv[starts], ct[starts]], axis=1))
        new = np.concatenate([np.stack([cu[worst], cv[worst], ct[worst]], axis=1), peaks])
        tu, tv, tt = _add_points((tu, tv, tt), new)
    used = np.stack([tu[base:], tv[base:], tt[base:]], axis=1)
    if optimal is None:  # only a solution the solver calls optimal is checked and reported
        return _failed(dim, s, degree, status, f"the SDP solver reported {status!r}, not 'optimal'", sdp_value), used
    return _certify(dim, s, degree, *optimal, cp.OPTIMAL, (cu, cv, ct)), used


def _certify(dim: int, s: float, degree: int, a: np.ndarray, B: np.ndarray, F: list[np.ndarray],
             sdp_value: float, status: str, sample: tuple[np.ndarray, np.ndarray, np.ndarray]) -> SDPBoundResult:
    """Check a solution in float64 and return the bound it supports (see the module docstring)."""
    a = np.clip(np.asarray(a, dtype=np.float64), 0.0, None)
    wb = _psd_factor(np.asarray(B, dtype=np.float64))
    B = wb @ wb.T
    factors = [_psd_factor(np.asarray(f, dtype=np.float64)) for f in F]
    Fc = [w @ w.T for w in factors]
    at_one = [m[0] for m in three_point_matrices(degree, dim, 1.0, 1.0, 1.0)]
    objective = 1.0 + a.sum() + B[0, 0] + sum(float(np.sum(at_one[k] * Fc[k])) for k in range(degree + 1))
    size = 1.0 + a.sum() + np.abs(B).sum() + sum(np.abs(f).sum() for f in Fc)
    slack = SLACK * size

    m1 = max(_max_on_interval(lambda u: _pair_value(a, B, Fc, dim, u), 2 * degree, -1.0, s) + slack, 0.0)

    def triple(u: np.ndarray, v: np.ndarray, t: np.ndarray) -> np.ndarray:
        return _triple_value(factors, float(B[1, 1]), dim, u, v, t)

    values = triple(*sample)
    top = np.argsort(values)[-POLISH_STARTS:]
    polished, _ = _polish_triple(triple, s, np.stack([x[top] for x in sample], axis=1))
    m2 = max(float(values.max()), polished) + slack
    m2 = max(m2, 0.0)
    # N <= objective + m1 (N - 1) + m2 (N - 1)(N - 2): the smaller root of m2 N^2 + (m1 - 3 m2 - 1) N + c
    c = objective - m1 + 2 * m2
    if m2 == 0.0:
        if m1 >= 1.0:
            return SDPBoundResult(dim, s, degree, None, sdp_value, objective, m1, m2, status,
                                  "the pair constraint is violated too much for a bound")
        value = c / (1.0 - m1)
    else:
        bq = m1 - 3 * m2 - 1
        disc = bq * bq - 4 * m2 * c
        if disc <= 0:
            return SDPBoundResult(dim, s, degree, None, sdp_value, objective, m1, m2, status,
                                  "the triple constraint is violated too much for a bound")
        root = math.sqrt(disc)  # the smaller root as c / (m2 * larger root): no cancellation for tiny m2
        upper = (-bq + root) / (2 * m2)
        value = 2 * c / (-bq + root)
        if not math.floor(value) + 1 < upper:
            return SDPBoundResult(dim, s, degree, None, sdp_value, objective, m1, m2, status,
                                  "the triple constraint is violated too much for a bound")
    return SDPBoundResult(dim, s, degree, float(value), sdp_value, float(objective), m1, m2, status)


def sdp_lower_bound(n: int, dim: int, degree: int | None = None, tol: float = 1e-3,
                    start: float | None = None, progress: bool = False) -> tuple[float | None, str | None]:
    r"""The largest s (to ``tol``) at which the checked SDP bound is below N: every N-point code in
    :math:`\mathbb{R}^d` has :math:`s_{\max} >` the returned value. Returns ``(value, None)``, or
    ``(None, reason)`` where the SDP proves nothing at the starting point.

    The search starts at ``start`` (default: the spherical LP bound on :math:`s_{\max}`, which the SDP
    can only improve on), brackets the crossing by doubling steps and closes the bracket by the
    Illinois method on :math:`\log(\text{bound}/N)`, bisecting where it stalls. Only points where the
    checked bound is below N are returned; a solve that fails its check proves nothing, so the
    bracketing steps over up to :data:`MAX_SKIPS` of them (a bound proven at a larger s holds for
    every smaller s), and inside the bracket it counts as "not below N". ``progress`` prints one line per solve on stderr.

    Examples:
        Minutes of CPU, so not run as a test; 13 points in R^3 cannot all be 60 degrees apart:

        >>> value, _ = sdp_lower_bound(13, 3)  # doctest: +SKIP
        >>> value > 0.5  # doctest: +SKIP
        True
    """
    n = check_int("n", n, minimum=2)
    dim = check_int("dim", dim, minimum=3)
    degree = _check_degree(degree)
    tol = float(tol)
    if not 0 < tol < 1:
        raise SpherecodeError(f"Argument 'tol' must lie in (0, 1), not {tol}.")
    if start is None:
        from .spherical_lp import spherical_lp_lower_bound

        start = spherical_lp_lower_bound(n, dim)
        if start is None:
            return None, "the LP bound it starts from is not available"
    lo = float(start)
    if lo <= -1.0 or lo >= 1.0:
        return None, f"nothing to improve at s = {lo}"

    cuts = np.empty((0, 3))
    first: list[SDPBoundResult] = []

    def gap(s: float) -> float:  # < 0: the checked bound proves fewer than N points fit at cosine s
        nonlocal cuts
        result, used = _solve(dim, s, degree, cuts)  # the cuts found so far start the next solve
        cuts = used if len(used) else cuts  # ``used`` holds the cuts passed in that still apply, plus the new ones
        first.append(result)
        if progress:
            shown = "n/a" if result.value is None else f"{result.value:.4f}"
            print(f"spherical SDP (d = {dim}, degree {degree}): solve {len(first)} at s = {s:.6f}: bound {shown}"
                  f" ({'below' if result.value is not None and result.value < n else 'not below'} N = {n})",
                  file=sys.stderr, flush=True)
        return math.inf if result.value is None else math.log(result.value) - math.log(n)

    g_lo = gap(lo)
    if g_lo >= 0:
        value = first[0].value
        reason = first[0].reason or f"degree {degree} gives {value:.4f} >= N = {n} at s = {lo:.6f}"
        return None, reason
    step = max(tol, 1e-3)
    hi = min(lo + step, 1.0 - 1e-12)
    g_hi = gap(hi)
    skipped = 0
    while g_hi < 0 or (math.isinf(g_hi) and skipped < MAX_SKIPS and hi < 1.0 - 1e-12):
        if g_hi < 0:
            lo, g_lo, step, skipped = hi, g_hi, 2 * step, 0
        else:  # a failed check says nothing: try further on (a bound proven at a larger s holds below it)
            skipped += 1
        hi = min(hi + step, 1.0 - 1e-12)
        g_hi = gap(hi)
    return illinois_root(gap, lo, g_lo, hi, g_hi, tol), None
