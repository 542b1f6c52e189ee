r"""Levenshtein's bound (1979) for spherical codes.

Let :math:`A(n, s)` be the largest number of points on :math:`S^{n-1}` whose pairwise cosines are
all at most s. With :math:`P_i = P_i^{(a,a)}`, :math:`a = (n-3)/2`, the Jacobi (Gegenbauer)
polynomials normalised by :math:`P_i(1) = 1`, and :math:`t_k^{1,1}`, :math:`t_k^{1,0}` the largest
zeros of :math:`P_k^{(a+1,a+1)}` and :math:`P_k^{(a+1,a)}` (:math:`t_0^{1,1} = -1`), which interlace
as :math:`t_{k-1}^{1,1} < t_k^{1,0} < t_k^{1,1}`, Levenshtein's bound :math:`A(n, s) \le L(n, s)`
reads (Boyvalenkov, Danev & Bumova 1996, eq. (4))

.. math::
    L_{2k-1}(n, s) = \binom{k+n-3}{k-1}\Big[\frac{2k+n-3}{n-1}
        - \frac{P_{k-1}(s) - P_k(s)}{(1-s)\,P_k(s)}\Big], \qquad s \in [t_{k-1}^{1,1}, t_k^{1,0}],

    L_{2k}(n, s) = \binom{k+n-2}{k}\Big[\frac{2k+n-1}{n-1}
        - \frac{(1+s)\,(P_k(s) - P_{k+1}(s))}{(1-s)\,(P_k(s) + P_{k+1}(s))}\Big], \qquad s \in [t_k^{1,0}, t_k^{1,1}].

So :math:`L_1 = 1 - 1/s` and :math:`L_2 = 2n(1-s)/(1-ns)`. L is continuous and increasing in s,
hence any N points in :math:`\mathbb{R}^n` have :math:`s_{\max} \ge \min\{s : L(n, s) \ge N\}`,
which :func:`levenshtein_lower_bound` finds by root finding on the right piece.
The bound is attained by the tight designs: 240 (E8, s = 1/2), 196560 (Leech, s = 1/2),
120 (600-cell, s = cos 36°), 27 in n = 6 (s = 1/4), 275 in n = 22 (s = 1/6), ...
"""

from __future__ import annotations

from functools import lru_cache
from math import comb

import numpy as np

from ..errors import SpherecodeError, check_int


def gegenbauer(k: int, dim: int, t: np.ndarray | float) -> np.ndarray:
    r"""The normalised Gegenbauer polynomial :math:`P_k(t) = P_k^{(a,a)}(t)/P_k^{(a,a)}(1)`,
    :math:`a = (d-3)/2`, by its three-term recurrence (no overflow for large d or k):

    .. math:: P_0 = 1,\quad P_1 = t,\quad (k + d - 2) P_{k+1} = (2k + d - 2)\, t P_k - k P_{k-1}.

    Examples:
        >>> float(gegenbauer(2, 8, 0.5))   # (8 t^2 - 1)/7
        0.14285714285714285
    """
    return gegenbauer_all(k, dim, t)[k]


def gegenbauer_all(degree: int, dim: int, t: np.ndarray | float) -> np.ndarray:
    """Rows :math:`P_0(t), \\dots, P_{\\text{degree}}(t)` (shape ``(degree + 1,) + t.shape``)."""
    t = np.asarray(t, dtype=np.float64)
    out = np.empty((degree + 1,) + t.shape)
    out[0] = 1.0
    if degree >= 1:
        out[1] = t
    for k in range(1, degree):
        out[k + 1] = ((2 * k + dim - 2) * t * out[k] - k * out[k - 1]) / (k + dim - 2)
    return out


@lru_cache(maxsize=4096)
def _largest_zero(k: int, alpha: float, beta: float) -> float:
    r"""Largest zero of the Jacobi polynomial :math:`P_k^{(\alpha,\beta)}`: the largest eigenvalue of its
    symmetric tridiagonal Jacobi matrix (Golub & Welsch 1969), numpy only (keeps scipy off the import path)."""
    if k == 0:
        return -1.0
    j = np.arange(k, dtype=float)
    ab = alpha + beta
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (beta**2 - alpha**2) / ((2 * j + ab) * (2 * j + ab + 2))
    diag[0] = (beta - alpha) / (ab + 2)
    i = np.arange(1, k, dtype=float)
    off = np.sqrt(4 * i * (i + alpha) * (i + beta) * (i + ab) / ((2 * i + ab) ** 2 * (2 * i + ab + 1) * (2 * i + ab - 1)))
    matrix = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    return float(np.linalg.eigvalsh(matrix)[-1])


def _bracketed_root(f, lo: float, hi: float) -> float:
    """A root of the increasing function f on [lo, hi] (f(lo) < 0 <= f(hi)) by bisection to full precision."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    return hi


def t11(k: int, dim: int) -> float:
    r""":math:`t_k^{1,1}`: the largest zero of :math:`P_k^{(a+1,a+1)}` (:math:`t_0^{1,1} = -1`)."""
    a = (dim - 3) / 2
    return _largest_zero(k, a + 1, a + 1)


def t10(k: int, dim: int) -> float:
    r""":math:`t_k^{1,0}`: the largest zero of :math:`P_k^{(a+1,a)}`."""
    a = (dim - 3) / 2
    return _largest_zero(k, a + 1, a)


def _l_odd(k: int, dim: int, s: float) -> float:
    p = gegenbauer_all(k, dim, s)
    return comb(k + dim - 3, k - 1) * ((2 * k + dim - 3) / (dim - 1) - (p[k - 1] - p[k]) / ((1 - s) * p[k]))


def _l_even(k: int, dim: int, s: float) -> float:
    p = gegenbauer_all(k + 1, dim, s)
    ratio = (1 + s) * (p[k] - p[k + 1]) / ((1 - s) * (p[k] + p[k + 1]))
    return comb(k + dim - 2, k) * ((2 * k + dim - 1) / (dim - 1) - ratio)


def _check_dim(dim: object) -> int:
    dim = check_int("dim", dim, minimum=2)
    return dim


def _check_cosine(s: object) -> float:
    try:
        s = float(s)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SpherecodeError(f"Argument 's' must be a number in [-1, 1), not {s!r}.") from None
    if not -1.0 <= s < 1.0:
        raise SpherecodeError(f"Argument 's' (a cosine) must lie in [-1, 1), not {s}.")
    return s


def levenshtein_piece(dim: int, s: float) -> int:
    """The index m of the piece :math:`L_m` that applies at cosine s in dimension d."""
    dim, s = _check_dim(dim), _check_cosine(s)
    k = 1
    while True:
        if s <= t10(k, dim):
            return 2 * k - 1
        if s <= t11(k, dim):
            return 2 * k
        k += 1


def _piece_value(m: int, dim: int, s: float) -> float:
    k = (m + 1) // 2
    return _l_odd(k, dim, s) if m % 2 else _l_even(k, dim, s)


def levenshtein_bound(dim: int, s: float) -> float:
    r"""Levenshtein's upper bound :math:`L(d, s)` on the size of a code in :math:`S^{d-1}` with max cosine s.

    Examples:
        >>> round(levenshtein_bound(8, 0.5), 6), round(levenshtein_bound(24, 0.5))
        (240.0, 196560)
        >>> levenshtein_bound(3, 0.0)   # 2n: the octahedron
        6.0
    """
    dim, s = _check_dim(dim), _check_cosine(s)
    if s == -1.0:
        return 2.0
    return float(_piece_value(levenshtein_piece(dim, s), dim, s))


def levenshtein_lower_bound(n: int, dim: int) -> float:
    r"""The lower bound :math:`\min\{s : L(d, s) \ge N\}` on :math:`s_{\max}` of any N points in
    :math:`\mathbb{R}^d`.

    Examples:
        >>> round(levenshtein_lower_bound(240, 8), 9)
        0.5
        >>> round(levenshtein_lower_bound(100, 10), 3)
        0.278
    """
    n = check_int("n", n, minimum=2)
    dim = _check_dim(dim)
    # Walk the breakpoints -1 = t_0^{11} < t_1^{10} < t_1^{11} < t_2^{10} < ... until L reaches N there.
    lo = -1.0
    k = 1
    while True:
        for m, hi in ((2 * k - 1, t10(k, dim)), (2 * k, t11(k, dim))):
            if _piece_value(m, dim, hi) >= n:
                f = lambda s, m=m: _piece_value(m, dim, s) - n  # noqa: E731
                if f(lo) >= 0:
                    return lo
                return _bracketed_root(f, lo, hi)
            lo = hi
        k += 1
