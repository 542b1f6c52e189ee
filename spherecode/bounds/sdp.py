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

Weak duality turns any :math:`a_k \ge 0` (k = 1..L), :math:`F_k \succeq 0` (k = 0..D) and
:math:`B \succeq 0` (2 x 2) into the bound

.. math::
    N \le \underbrace{1 + \sum_k a_k + B_{11} + \sum_k \langle F_k, S_k(1,1,1)\rangle}_{\text{objective}}
        + M_1 (N - 1) + M_2 (N-1)(N-2),

    M_1 = \max_{u \in [-1,s]} \Big(1 + \sum_k a_k P_k(u) + 2B_{12} + B_{22}
          + 3\sum_k \langle F_k, S_k(u,u,1)\rangle\Big)^+, \qquad
    M_2 = \max_{\Delta_s} \Big(B_{22} + \sum_k \langle F_k, S_k(u,v,t)\rangle\Big)^+ .

The linear part has degree L = max(2D, the spherical LP's default degree) (:func:`linear_degree`): the
LP's constraint holds for every k, and with F = 0, B = 0 the LP's polynomial is feasible, so the SDP is
never weaker than the LP. The SDP (:func:`sdp_bound`) minimises the objective with both maxima
constrained to 0 on samples of [-1, s] and :math:`\Delta_s`, solved by Clarabel (called directly), in
cutting-plane rounds run as an active-set method: each round drops the triple sample points whose
constraint is slack by a wide margin (dual ~0) and adds the worst points and the local maxima of the
violation on a fine check sample, and the maxima polished from them, until what the check would
charge is negligible. The solution is then **checked**, not trusted: :math:`a_k` are clipped to
:math:`\ge 0`, each :math:`F_k` and B are replaced by :math:`W W^T` from their eigenvectors with
negative eigenvalues dropped (positive semidefinite by construction), the objective is recomputed,
:math:`M_1` is found from the critical points of the degree-max(L, 2D) polynomial (Chebyshev interpolation,
as for the LP bound) and :math:`M_2` by a dense sample of :math:`\Delta_s` polished by local
maximisation from its largest local maxima; a rounding slack is added to both. The bound is the smaller root :math:`N_1` of the
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
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SpherecodeError, check_int
from .levenshtein import _check_cosine, gegenbauer_all
from .spherical_lp import illinois_root

#: The default degree D by dimension (the matrices F_k have size D - k + 1): the smallest that proves the
#: kissing numbers' bounds below 13, 25 and 46 in d = 3, 4, 5 (12.585 at D = 6, 24.554 and 45.944 at D = 7);
#: DEFAULT_DEGREE elsewhere.
DEFAULT_DEGREES = {3: 6, 4: 7, 5: 7}
DEFAULT_DEGREE = 6
#: Largest degree accepted (the program grows as D^3).
MAX_DEGREE = 20
#: Sample of [-1, s] for the pair constraint, and of Delta_s: (u, v) grid size and angle grid size.
PAIR_POINTS = 120
TRIPLE_GRID = (14, 8)
#: The finer sample that finds violated points (cutting planes) and the maximum M_2 of the check.
CHECK_GRID = (64, 48)
#: Cutting-plane rounds at most.
CUTTING_ROUNDS = 20
#: The rounds stop once the sampled violations would add at most STOP_TOL times the SDP's value to the
#: bound when charged (M_1 (N-1) + M_2 (N-1)(N-2) at N = the SDP's value).
STOP_TOL = 1e-4
#: The active set: after each round a triple sample point is dropped when its constraint is below
#: -DROP_SLACK times the largest |value| over the sample and its dual below DROP_DUAL times the largest dual.
DROP_SLACK = 1e-2
DROP_DUAL = 1e-6
#: The sampled constraints are imposed with this margin (<= -MARGIN), so that the polynomials stay <= 0
#: between the sample points too: a round is added only when the finer sample finds a point above 0.
MARGIN = 1e-6
#: Each round adds the CUT_POINTS worst points of the check sample, its PEAK_POINTS worst local maxima (a point
#: at least its NEIGHBOURS nearest others) and the maxima polished from the POLISH_STARTS worst local maxima.
CUT_POINTS = 60
PEAK_POINTS = 60
POLISH_STARTS = 8
NEIGHBOURS = 12
#: Once the sample shows no violation worth a round, the polished violated maxima are added with their
#: neighbours at this distance along each axis.
STENCIL = 2e-3
#: The check polishes the CHECK_STARTS largest local maxima of the triple constraint on the check sample.
CHECK_STARTS = 24
#: Clarabel's stopping tolerances (its defaults, 1e-8, it cannot reach from degree 8 on): the solution is
#: checked afterwards, so the solver's accuracy affects how tight the bound is, never whether it holds.
SOLVER_TOLERANCES = {"tol_gap_abs": 1e-6, "tol_gap_rel": 1e-6, "tol_feas": 1e-7, "max_iter": 300}
#: A search's solve stops once a round's checked bound is below (1 - EARLY_MARGIN) N (see :func:`_solve`).
EARLY_MARGIN = 2e-3
#: The s-search steps over at most this many consecutive failed checks while bracketing.
MAX_SKIPS = 2
#: Relative rounding slack added to the certified maxima (|T_i|, |Q_k| <= 1 on the domains).
SLACK = 1e-11
_DEBUG = int(__import__("os").environ.get("SDP_DEBUG", "0"))


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


@lru_cache(maxsize=8)
def _check_sample(s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The check sample of Delta_s (:data:`CHECK_GRID`) and, for each point, its NEIGHBOURS nearest others."""
    from scipy.spatial import cKDTree

    u, v, t = triple_sample(s, CHECK_GRID)
    pts = np.stack([u, v, t], axis=1)
    _, idx = cKDTree(pts).query(pts, k=NEIGHBOURS + 1)
    return u, v, t, idx[:, 1:]


def _local_maxima(values: np.ndarray, neighbours: np.ndarray, positive: bool = False) -> np.ndarray:
    """Indices of the sample points whose value is at least their neighbours' (above 0 when ``positive``),
    the largest value first."""
    top = values >= values[neighbours].max(axis=1)
    if positive:
        top &= values > 0.0
    idx = np.flatnonzero(top)
    return idx[np.argsort(values[idx])[::-1]]


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


def _stencil(points: np.ndarray, s: float, h: float = STENCIL) -> np.ndarray:
    """The points (rows u, v, t) and their neighbours at distance h along each axis that lie in Delta_s:
    a cut at a peak alone lets the polynomial rise beside it."""
    steps = np.concatenate([np.zeros((1, 3)), h * np.eye(3), -h * np.eye(3)])
    out = (points[:, None, :] + steps[None]).reshape(-1, 3)
    u, v, t = out.T
    inside = (out.min(axis=1) >= -1.0) & (out.max(axis=1) <= s) & (1 + 2 * u * v * t - u * u - v * v - t * t >= 0.0)
    return out[inside]


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


def linear_degree(dim: int, s: float, degree: int) -> int:
    """The degree L of the linear part :math:`\\sum_{k \\le L} a_k P_k`: the larger of 2D and the spherical LP's
    default degree at (d, s), so that the SDP is never weaker than that LP bound (its a_k are feasible here,
    with F = 0 and B = 0)."""
    from .spherical_lp import default_degree

    return max(2 * degree, default_degree(dim, s))


def default_degree(dim: int) -> int:
    """The SDP's default degree in dimension d (:data:`DEFAULT_DEGREES`, else :data:`DEFAULT_DEGREE`)."""
    return DEFAULT_DEGREES.get(dim, DEFAULT_DEGREE)


def _check_degree(degree: int | None, dim: int) -> int:
    return default_degree(dim) if degree is None else check_int("degree", degree, minimum=1, maximum=MAX_DEGREE)


def _failed(dim: int, s: float, degree: int, status: str, reason: str, sdp_value: float | None = None) -> SDPBoundResult:
    return SDPBoundResult(dim, s, degree, None, sdp_value, None, None, None, status, reason)


@lru_cache(maxsize=512)
def sdp_bound(dim: int, s: float, degree: int | None = None) -> SDPBoundResult:
    r"""The checked three-point SDP bound on the size of a code in :math:`S^{d-1}` with max cosine s.

    Args:
        dim: dimension d >= 3.
        s: the maximal cosine, in [-1, 1).
        degree: D, the largest k of the matrices :math:`F_k` (default :func:`default_degree`); the
            linear part uses :math:`P_1..P_L`, L = :func:`linear_degree` (at least the LP's default degree).

    Returns an :class:`SDPBoundResult`; its ``value`` is ``None`` (with the ``reason``) when the solver
    does not report an optimal solution or the check does not support a bound.

    Examples:
        >>> r = sdp_bound(3, 0.5, 4)     # degree 4: 13.148, just below the LP's 13.158; degree 6 gives 12.585
        >>> r.status, 12 <= r.value < 13.16  # the kissing number of R^3 is 12
        ('optimal', True)
    """
    dim = check_int("dim", dim, minimum=3)
    s = _check_cosine(s)
    degree = _check_degree(degree, dim)
    return _solve(dim, s, degree)[0]


def _svec_index(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clarabel's order of a symmetric m x m matrix's upper triangle (column by column) and the scale
    (1 on the diagonal, sqrt 2 off it) that makes the svec inner product the matrices' trace inner product."""
    cols, rows = np.triu_indices(m)[::-1]  # (row i <= col j), ordered column by column
    order = np.lexsort((rows, cols))
    rows, cols = rows[order], cols[order]
    return rows, cols, np.where(rows == cols, 1.0, math.sqrt(2.0))


def _svec(mats: np.ndarray) -> np.ndarray:
    """Rows of coefficients c with c . svec(X) = <M, X>, one per matrix M of ``mats`` (shape (P, m, m))."""
    rows, cols, scale = _svec_index(mats.shape[-1])
    return mats[:, rows, cols] * scale


def _unsvec(z: np.ndarray, m: int) -> np.ndarray:
    rows, cols, scale = _svec_index(m)
    out = np.zeros((m, m))
    out[rows, cols] = z / scale
    out[cols, rows] = z / scale
    return out


class _Program:
    """The sampled dual SDP in Clarabel's form: minimise c.x + 1 subject to A x + s = b, s in the cones,
    x = (a_1..a_L, svec B, svec F_0, ..., svec F_D)."""

    def __init__(self, dim: int, degree: int, lp_degree: int) -> None:
        self.dim, self.degree, self.lp_degree = dim, degree, lp_degree
        self.sizes = [degree - k + 1 for k in range(degree + 1)]
        self.widths = [m * (m + 1) // 2 for m in self.sizes]
        self.b_at = lp_degree  # svec B = (B11, sqrt2 B12, B22)
        self.f_at = np.cumsum([lp_degree + 3] + self.widths)[:-1]
        self.n = lp_degree + 3 + sum(self.widths)
        at_one = [m[0] for m in three_point_matrices(degree, dim, 1.0, 1.0, 1.0)]
        self.c = np.zeros(self.n)
        self.c[:lp_degree] = 1.0
        self.c[self.b_at] = 1.0
        for k, mat in enumerate(at_one):
            self.c[self.f_at[k]:self.f_at[k] + self.widths[k]] = _svec(mat[None])[0]

    def _f_rows(self, mats: list[np.ndarray], factor: float = 1.0) -> np.ndarray:
        out = np.zeros((len(mats[0]), self.n))
        for k, mat in enumerate(mats):
            out[:, self.f_at[k]:self.f_at[k] + self.widths[k]] = factor * _svec(mat)
        return out

    def pair_rows(self, u: np.ndarray) -> np.ndarray:
        """Rows r with r . x + 1 = the pair constraint at u."""
        out = self._f_rows(three_point_matrices(self.degree, self.dim, u, u, np.ones_like(u)), 3.0)
        out[:, :self.lp_degree] = gegenbauer_all(self.lp_degree, self.dim, u)[1:].T
        out[:, self.b_at + 1] = math.sqrt(2.0)
        out[:, self.b_at + 2] = 1.0
        return out

    def triple_rows(self, u: np.ndarray, v: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Rows r with r . x = the triple constraint at (u, v, t)."""
        out = self._f_rows(three_point_matrices(self.degree, self.dim, u, v, t))
        out[:, self.b_at + 2] = 1.0
        return out

    def solve(self, pair: np.ndarray, triple: np.ndarray, margin: float):
        """Solve with the pair rows <= -1 - margin and the triple rows <= -margin; returns
        (status, value, x, triple duals)."""
        import clarabel
        from scipy import sparse

        n, lp = self.n, self.lp_degree
        blocks = [pair, triple, -np.eye(n)[:lp]]
        rhs = [np.full(len(pair), -1.0 - margin), np.full(len(triple), -margin), np.zeros(lp)]
        cones = [clarabel.NonnegativeConeT(len(pair) + len(triple) + lp)]
        for at, m, w in [(self.b_at, 2, 3)] + list(zip(self.f_at, self.sizes, self.widths)):
            sel = np.zeros((w, n))
            sel[np.arange(w), at + np.arange(w)] = -1.0
            blocks.append(sel)
            rhs.append(np.zeros(w))
            cones.append(clarabel.NonnegativeConeT(1) if m == 1 else clarabel.PSDTriangleConeT(m))
        A = sparse.csc_matrix(np.concatenate(blocks))
        settings = clarabel.DefaultSettings()
        settings.verbose = bool(_DEBUG > 1)
        for key, val in SOLVER_TOLERANCES.items():
            setattr(settings, key, val)
        solver = clarabel.DefaultSolver(sparse.csc_matrix((n, n)), self.c, A, np.concatenate(rhs), cones, settings)
        sol = solver.solve()
        status = {clarabel.SolverStatus.Solved: "optimal",
                  clarabel.SolverStatus.AlmostSolved: "optimal_inaccurate"}.get(sol.status, str(sol.status))
        x = np.asarray(sol.x)
        z = np.asarray(sol.z)[len(pair):len(pair) + len(triple)]
        return status, 1.0 + float(self.c @ x), x, z

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        a = x[:self.lp_degree].copy()
        B = _unsvec(x[self.b_at:self.b_at + 3], 2)
        F = [_unsvec(x[at:at + w], m) for at, m, w in zip(self.f_at, self.sizes, self.widths)]
        return a, B, F


def _solve(dim: int, s: float, degree: int, cuts: np.ndarray | None = None,
           target: float | None = None) -> tuple[SDPBoundResult, np.ndarray]:
    """Solve by cutting planes from the base sample plus ``cuts`` (rows u, v, t in Delta_s, e.g. the cuts of a
    nearby s); return the checked result and the triple sample points in use at the end (the active set).

    With ``target`` (a search asking "is the bound below N?"), stop as soon as the answer is known: when the
    sampled SDP's optimum reaches it (the optimum only grows with more cuts and the checked bound is at
    least the full program's optimum, so no bound below the target can come out: the result has ``value``
    None and that ``sdp_value``), or when a round's solution, checked, already gives a bound below
    ``(1 - EARLY_MARGIN) target`` (a valid bound, though not the converged one)."""
    lp_degree = linear_degree(dim, s, degree)
    program = _Program(dim, degree, lp_degree)
    pu = _pair_grid(s, PAIR_POINTS)  # the pair constraint's sample of [-1, s]
    tu, tv, tt = triple_sample(s, TRIPLE_GRID)
    if cuts is not None and len(cuts):
        tu, tv, tt = _add_points((tu, tv, tt), cuts[np.max(cuts, axis=1) <= s])
    cu, cv, ct, neighbours = _check_sample(s)
    status, sdp_value = "not solved", None
    optimal: tuple | None = None
    pair_rows = program.pair_rows(pu)
    triple_rows = program.triple_rows(tu, tv, tt)
    for _ in range(CUTTING_ROUNDS):
        status, sdp_value, x, duals = program.solve(pair_rows, triple_rows, MARGIN)
        if _DEBUG:
            print(f"  round: {len(pair_rows)} pair, {len(triple_rows)} triple rows -> {status} {sdp_value}", file=sys.stderr)
        if status not in ("optimal", "optimal_inaccurate"):  # an inaccurate round still gives cutting planes
            return (_failed(dim, s, degree, status, f"the SDP solver reported {status!r}, not 'optimal'", None),
                    np.stack([tu, tv, tt], axis=1))
        a, B, F = program.unpack(x)
        if status == "optimal":  # the solution that will be checked: the last one the solver calls optimal
            optimal = (a, B, F, sdp_value)
        if target is not None and sdp_value >= target:
            break
        factors = [_psd_factor(f) for f in F]
        b22 = float(B[1, 1])
        viol = _triple_value(factors, b22, dim, cu, cv, ct)
        fc = [w @ w.T for w in factors]
        ac = np.clip(a, 0, None)
        pair_peaks = _pair_peaks(ac, B, fc, dim, s)
        m1 = max(0.0, float(_pair_value(ac, B, fc, dim, pair_peaks).max())) if len(pair_peaks) else 0.0
        n_est = max(sdp_value, 2.0)

        def charge(m2: float, m1: float = m1, n_est: float = n_est) -> float:  # what the check would add
            return m1 * (n_est - 1) + max(m2, 0.0) * (n_est - 1) * (n_est - 2)

        def triple(*p: np.ndarray, factors: list[np.ndarray] = factors, b22: float = b22) -> np.ndarray:
            return _triple_value(factors, b22, dim, *p)

        def at(idx: np.ndarray) -> np.ndarray:
            return np.stack([cu[idx], cv[idx], ct[idx]], axis=1)

        peaks = np.empty((0, 3))
        if (target is not None and status == "optimal"
                and sdp_value + charge(float(viol.max())) < (1.0 - EARLY_MARGIN) * target):
            early = _certify(dim, s, degree, a, B, F, sdp_value, "optimal", (cu, cv, ct), neighbours)
            if early.value is not None and early.value < target:  # proven below the target: enough for a search
                return early, np.stack([tu, tv, tt], axis=1)
        if charge(float(viol.max())) <= STOP_TOL * n_est:  # the sample says done: polish as the check will
            polished, found = _polish_triple(triple, s, at(_local_maxima(viol, neighbours)[:CHECK_STARTS]))
            if charge(polished) <= STOP_TOL * n_est:
                break
            peaks = _stencil(found[triple(*found.T) > 0.0], s) if len(found) else peaks
        # the active set: keep the rows that bind (or nearly), drop those slack by a wide margin
        values = triple_rows @ x
        scale = max(float(np.abs(values).max()), 1e-300)
        keep = (values >= -DROP_SLACK * scale) | (duals > DROP_DUAL * max(float(duals.max()), 1e-300))
        tu, tv, tt, triple_rows = tu[keep], tv[keep], tt[keep], triple_rows[keep]
        if len(pair_peaks):
            pu_new = pair_peaks[~np.isin(pair_peaks, pu)]
            pu = np.concatenate([pu, pu_new])
            pair_rows = np.concatenate([pair_rows, program.pair_rows(pu_new)])
        bad = np.flatnonzero(viol > 0.0)
        if len(bad):
            worst = bad[np.argsort(viol[bad])[-CUT_POINTS:]]
            tops = _local_maxima(viol, neighbours, positive=True)[:PEAK_POINTS]  # one per peak, the worst first
            if not len(peaks):
                _, peaks = _polish_triple(triple, s, at(tops[:POLISH_STARTS]))
            peaks = np.concatenate([peaks, at(np.union1d(worst, tops))])
        if not len(peaks):
            continue
        new = peaks
        before = len(tu)
        tu, tv, tt = _add_points((tu, tv, tt), new)
        triple_rows = np.concatenate([triple_rows, program.triple_rows(tu[before:], tv[before:], tt[before:])])
    used = np.stack([tu, tv, tt], axis=1)
    if optimal is None:  # only a solution the solver calls optimal is checked and reported
        return _failed(dim, s, degree, status, f"the SDP solver reported {status!r}, not 'optimal'", sdp_value), used
    if target is not None and optimal[3] >= target:
        return (_failed(dim, s, degree, "optimal", f"the sampled SDP's optimum {optimal[3]:.4f} is already >= {target}",
                        optimal[3]), used)
    return _certify(dim, s, degree, *optimal, "optimal", (cu, cv, ct), neighbours), used


def _certify(dim: int, s: float, degree: int, a: np.ndarray, B: np.ndarray, F: list[np.ndarray],
             sdp_value: float, status: str, sample: tuple[np.ndarray, np.ndarray, np.ndarray],
             neighbours: np.ndarray) -> SDPBoundResult:
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

    m1 = max(_max_on_interval(lambda u: _pair_value(a, B, Fc, dim, u), max(len(a), 2 * degree), -1.0, s) + slack, 0.0)

    def triple(u: np.ndarray, v: np.ndarray, t: np.ndarray) -> np.ndarray:
        return _triple_value(factors, float(B[1, 1]), dim, u, v, t)

    values = triple(*sample)
    top = _local_maxima(values, neighbours)[:CHECK_STARTS]
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


def sdp_lower_bound(n: int, dim: int, degree: int | None = None, tol: float = 1e-4,
                    start: float | None = None, progress: bool = False) -> tuple[float | None, str | None]:
    r"""The largest s (to ``tol``) at which the checked SDP bound is below N: every N-point code in
    :math:`\mathbb{R}^d` has :math:`s_{\max} >` the returned value. Returns ``(value, None)``, or
    ``(None, reason)`` where the SDP proves nothing at the starting point.

    The search starts at ``start`` (default: the spherical LP bound on :math:`s_{\max}`, which the SDP
    can only improve on), brackets the crossing by doubling steps and closes the bracket by the
    Illinois method on :math:`\log(\text{bound}/N)`, bisecting where it stalls. Only points where the
    checked bound is below N are returned; a solve that fails its check proves nothing, so the
    bracketing steps over up to :data:`MAX_SKIPS` of them (a bound proven at a larger s holds for
    every smaller s), and inside the bracket it counts as "not below N". Each solve stops as soon as it
    answers "below N?" (see :func:`_solve`'s ``target``), so the values it interpolates on are approximate
    away from the crossing. ``progress`` prints one line per solve (with its CPU seconds) on stderr.

    Examples:
        Half a minute of CPU, so not run as a test; 13 points in R^3 cannot all be 60 degrees apart:

        >>> value, _ = sdp_lower_bound(13, 3)  # doctest: +SKIP
        >>> value > 0.5  # doctest: +SKIP
        True
    """
    n = check_int("n", n, minimum=2)
    dim = check_int("dim", dim, minimum=3)
    degree = _check_degree(degree, dim)
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
        clock = time.process_time()
        result, used = _solve(dim, s, degree, cuts, target=n)  # the cuts found so far start the next solve
        clock = time.process_time() - clock
        cuts = used if len(used) else cuts  # ``used`` holds the cuts passed in that still apply, plus the new ones
        first.append(result)
        if progress:
            shown = "n/a" if result.value is None else f"{result.value:.4f}"
            print(f"spherical SDP (d = {dim}, degree {degree}): solve {len(first)} at s = {s:.6f}: bound {shown}"
                  f" ({'below' if result.value is not None and result.value < n else 'not below'} N = {n};"
                  f" {clock:.1f} CPU s)",
                  file=sys.stderr, flush=True)
        if result.value is None:  # failed: "not below N", with the SDP's optimum as the estimate when it has one
            return math.inf if result.sdp_value is None or result.sdp_value < n else math.log(result.sdp_value / n)
        return math.log(result.value) - math.log(n)

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
