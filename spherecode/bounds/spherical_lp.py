r"""The Delsarte-Goethals-Seidel / Kabatiansky-Levenshtein linear-programming bound for spherical codes.

Let :math:`P_k` be the normalised Gegenbauer polynomials of dimension d (:math:`P_k(1) = 1`; see
:func:`spherecode.bounds.levenshtein.gegenbauer`). If

.. math:: f(t) = 1 + \sum_{k=1}^{D} f_k P_k(t), \qquad f_k \ge 0, \qquad f(t) \le 0 \text{ on } [-1, s],

then every code in :math:`S^{d-1}` with maximal cosine s has at most :math:`f(1) = 1 + \sum_k f_k`
points (Delsarte, Goethals & Seidel 1977). :func:`spherical_lp_bound` minimises f(1) over
polynomials of degree at most D by a linear program with the constraint imposed on a grid of
[-1, s] (HiGHS; a few cutting-plane rounds add the points where f still exceeds 0), and then
*verifies* the result: it computes :math:`M = \max_{[-1,s]} f` from the critical points of f
(:func:`certified_max`) and, when M > 0, replaces f by :math:`f - M`, which is feasible, giving the
bound :math:`(f(1) - M)/(1 - M)`. The returned value is a valid upper bound up to floating-point
rounding in evaluating f (covered by a relative slack of 1e-12), slightly above the exact LP optimum.

:func:`spherical_lp_lower_bound` turns it around: by bisection, the largest s at which the bound is
still below N, which every N-point code's :math:`s_{\max}` exceeds. It is at least as strong as
Levenshtein's bound when D is at least the degree of Levenshtein's polynomial (the default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SpherecodeError, check_int
from .levenshtein import _check_cosine, gegenbauer_all, levenshtein_lower_bound, levenshtein_piece

#: Grid points for the discretised constraint (Chebyshev-clustered towards both ends).
GRID_POINTS = 300
#: The fine grid of [-1, s] on which each round looks for violated local maxima.
FINE_POINTS = 16_000
#: A violation max f > VIOLATION_TOL (f_0 = 1) on the fine grid triggers another cutting-plane round.
VIOLATION_TOL = 1e-9
#: Rounds of adding the polynomial's violating local maxima to the grid before certifying.
CUTTING_ROUNDS = 6


@dataclass(frozen=True)
class SphericalLPResult:
    r"""A certified LP bound: no code in :math:`S^{d-1}` with max cosine s has more than ``value`` points.

    Attributes:
        value: the certified bound :math:`(f(1) - M^+)/(1 - M^+)`.
        lp_value: the discretised LP's optimum f(1) (slightly below the exact LP optimum).
        coefficients: :math:`f_0, \dots, f_D` of the certified polynomial (:math:`f_0 = 1 - M^+`).
        excess: :math:`M^+`, the certified upper bound on :math:`\max_{[-1,s]}` of the LP's polynomial.
    """

    dim: int
    s: float
    degree: int
    value: float
    lp_value: float
    coefficients: tuple[float, ...]
    excess: float


def _grid(s: float, points: int) -> np.ndarray:
    u = np.cos(np.linspace(np.pi, 0.0, points))  # Chebyshev points of [-1, 1]
    return np.unique(np.concatenate([-1.0 + (u + 1.0) * (s + 1.0) / 2.0, np.linspace(-1.0, s, points // 2)]))


def _candidates(c: np.ndarray, dim: int, lo: float, hi: float) -> np.ndarray:
    """Where :math:`f = \\sum_k c_k P_k` can peak on [lo, hi]: the ends, a 4097-point grid and the real zeros of
    f' (f interpolated exactly in the Chebyshev basis, degree D at D + 1 nodes; colleague-matrix eigenvalues)."""
    degree = len(c) - 1
    candidates = [np.array([lo, hi]), np.linspace(lo, hi, 4097)]
    if degree >= 2:
        nodes = np.cos(np.pi * (np.arange(degree + 1) + 0.5) / (degree + 1))
        cheb = np.polynomial.Chebyshev(np.polynomial.chebyshev.chebfit(nodes, c @ gegenbauer_all(degree, dim, nodes), degree))
        roots = cheb.deriv().roots()
        candidates.append(roots.real[(np.abs(roots.imag) < 1e-7) & (roots.real >= lo) & (roots.real <= hi)])
    return np.concatenate(candidates)


def certified_max(coefficients: np.ndarray, dim: int, lo: float, hi: float) -> float:
    r"""The maximum of :math:`f = \sum_k c_k P_k` on [lo, hi], plus a rounding slack.

    f is interpolated exactly (degree D at D + 1 Chebyshev nodes) in the Chebyshev basis; the real
    zeros of f' in [lo, hi] (eigenvalues of the colleague matrix), the two ends and a 4097-point grid
    are the candidates, each evaluated by the Gegenbauer recurrence. The slack
    :math:`10^{-12} \sum_k |c_k|` covers rounding (:math:`|P_k| \le 1`).
    """
    c = np.asarray(coefficients, dtype=np.float64)
    norm = float(np.abs(c).sum())
    return float((c @ gegenbauer_all(len(c) - 1, dim, _candidates(c, dim, lo, hi))).max()) + 1e-12 * max(norm, 1.0)


def default_degree(dim: int, s: float) -> int:
    """Levenshtein's degree at (d, s) plus 6, capped to [6, 40]: never weaker than Levenshtein's bound."""
    piece = levenshtein_piece(dim, s)
    return 40 if piece is None else int(min(max(piece + 6, 6), 40))


@lru_cache(maxsize=1024)
def spherical_lp_bound(dim: int, s: float, degree: int | None = None, grid_points: int | None = None) -> SphericalLPResult:
    r"""The certified Delsarte-Goethals-Seidel bound on the size of a code in :math:`S^{d-1}` with max cosine s.

    Args:
        dim: dimension d >= 2.
        s: the maximal cosine, in [-1, 1).
        degree: the polynomial degree D (default :func:`default_degree`).
        grid_points: size of the discretisation of [-1, s].

    Examples:
        >>> round(spherical_lp_bound(8, 0.5, 6).value, 3)
        240.0
    """
    dim = check_int("dim", dim, minimum=2)
    s = _check_cosine(s)
    degree = default_degree(dim, s) if degree is None else check_int("degree", degree, minimum=1, maximum=200)
    grid_points = check_int("grid_points", GRID_POINTS if grid_points is None else grid_points, minimum=10)
    from scipy.optimize import linprog  # imported here: keeps `spherecode bounds` and `analyze` fast to start
    t = _grid(s, grid_points)
    fine = np.linspace(-1.0, s, FINE_POINTS)
    for _ in range(CUTTING_ROUNDS):
        p = gegenbauer_all(degree, dim, t)[1:]  # (degree, grid)
        # minimise sum_k f_k  s.t.  sum_k f_k P_k(t) <= -1 on the grid, f_k >= 0
        res = linprog(np.ones(degree), A_ub=p.T, b_ub=-np.ones(len(t)), bounds=(0, None), method="highs",
                      options={"presolve": False})  # presolve finds nothing to remove here: 25 % of the time
        if res.status == 2:  # infeasible: no polynomial of this degree works, the bound is +inf
            return SphericalLPResult(dim, s, degree, float("inf"), float("inf"), (), float("inf"))
        if res.status != 0:  # pragma: no cover
            raise RuntimeError(f"spherical LP failed at d={dim}, s={s}, degree={degree}: {res.message}")
        f = np.concatenate([[1.0], np.clip(res.x, 0.0, None)])
        # cutting planes: add the local maxima of f where it exceeds 0 (on the fine grid, and the critical
        # points the certificate will look at) and solve again
        v = f @ gegenbauer_all(degree, dim, fine)
        peak = np.flatnonzero((v > VIOLATION_TOL) & (v >= np.roll(v, 1)) & (v >= np.roll(v, -1)))
        crit = _candidates(f, dim, -1.0, s)
        crit = crit[f @ gegenbauer_all(degree, dim, crit) > VIOLATION_TOL]
        if len(peak) == 0 and len(crit) == 0:
            break
        t = np.union1d(t, np.concatenate([crit, fine[peak], fine[np.clip(peak - 1, 0, None)],
                                          fine[np.clip(peak + 1, None, len(fine) - 1)]]))
    lp_value = float(f.sum())
    excess = certified_max(f, dim, -1.0, s)
    if excess <= 0:
        return SphericalLPResult(dim, s, degree, lp_value, lp_value, tuple(f), excess)
    if excess >= 1:  # the discretisation missed badly; refine the grid
        if grid_points >= 100_000:  # pragma: no cover
            raise RuntimeError(f"spherical LP could not be certified at d={dim}, s={s}, degree={degree}")
        return spherical_lp_bound(dim, s, degree, grid_points * 4)
    f0 = f.copy()
    f0[0] -= excess
    value = (lp_value - excess) / (1.0 - excess)
    return SphericalLPResult(dim, s, degree, value, lp_value, tuple(f0 / f0[0]), excess)


def spherical_lp_lower_bound(n: int, dim: int, degree: int | None = None, tol: float = 1e-6) -> float | None:
    r"""The largest s (to ``tol``) at which the certified LP bound is below N: every N-point code in
    :math:`\mathbb{R}^d` has :math:`s_{\max} >` the returned value. ``None`` (not available) where
    Levenshtein's bound, its starting point, is not (N astronomically large for d).

    The search starts at Levenshtein's bound, which it can only improve on, brackets the crossing by
    doubling steps and closes the bracket by the Illinois method on :math:`\log(\text{bound}/N)`
    (bisection whenever one end stalls). Only points where the bound is certified below N are returned.

    Examples:
        >>> round(spherical_lp_lower_bound(240, 8, tol=1e-7), 5)
        0.5
    """
    n = check_int("n", n, minimum=2)
    dim = check_int("dim", dim, minimum=2)
    tol = float(tol)
    if not 0 < tol < 1:
        raise SpherecodeError(f"Argument 'tol' must lie in (0, 1), not {tol}.")
    lo = levenshtein_lower_bound(n, dim)
    if lo is None:  # Levenshtein's bound needs a degree above its cap: N is far too large for d
        return None
    if lo <= -1.0:
        return -1.0

    def gap(s: float) -> float:  # < 0: the bound proves fewer than N points fit at cosine s
        value = spherical_lp_bound(dim, s, degree).value
        return np.log(value) - np.log(n) if np.isfinite(value) else np.inf

    g_lo = gap(lo)
    if g_lo >= 0:
        # the LP cannot beat Levenshtein here (or the degree is too small): keep Levenshtein's valid value
        return lo
    step = max(tol, 1e-3)
    hi = min(lo + step, 1.0 - 1e-12)
    g_hi = gap(hi)
    while g_hi < 0:
        lo, g_lo, step = hi, g_hi, 2 * step
        hi = min(lo + step, 1.0 - 1e-12)
        g_hi = gap(hi)
    return illinois_root(gap, lo, g_lo, hi, g_hi, tol)


def illinois_root(gap: Callable[[float], float], lo: float, g_lo: float, hi: float, g_hi: float, tol: float) -> float:
    """The last ``s`` with ``gap(s) < 0`` in a bracket ``gap(lo) < 0 <= gap(hi)``, to within ``tol``.

    Illinois (modified regula falsi; Dowell & Jarratt, BIT 1971): keeps the bracket and converges
    superlinearly on a smooth gap such as log(bound) - log(N); ``gap(hi)`` may be infinite (then it
    bisects), and two steps in a row on one side force a bisection. Used by the LP and SDP searches.
    """
    side = 0
    while hi - lo > tol:
        mid = hi - g_hi * (hi - lo) / (g_hi - g_lo) if math.isfinite(g_hi) else 0.5 * (lo + hi)
        mid = min(max(mid, lo + 0.1 * tol), hi - 0.1 * tol)  # stay strictly inside
        if abs(side) >= 2:  # stalled on one side: bisect once
            mid, side = 0.5 * (lo + hi), 0
        g_mid = gap(mid)
        if g_mid < 0:
            lo, g_lo = mid, g_mid
            g_hi = g_hi / 2 if side < 0 else g_hi
            side = side - 1 if side <= 0 else -1
        else:
            hi, g_hi = mid, g_mid
            g_lo = g_lo / 2 if side > 0 else g_lo
            side = side + 1 if side >= 0 else 1
    return lo
