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

Cost: the piece is found by doubling and bisecting over k (the bound at the breakpoints grows
with k), each breakpoint one extreme eigenvalue of a k x k tridiagonal matrix, and the root by
vectorised multisection: milliseconds up to degree :data:`MAX_DEGREE`. A bound that would need a
larger degree (N astronomically large for d, e.g. N > 10^6 in d = 3) is reported as not available
(``None``) instead of running for hours.
"""

from __future__ import annotations

from functools import lru_cache
from math import comb, inf

import numpy as np

from ..errors import SpherecodeError, check_int

#: Largest k in :math:`L_{2k}`: beyond it the bound is "not available" (None).
MAX_DEGREE = 1024
#: Up to this size numpy's dense eigvalsh is quickest; above, scipy's tridiagonal solver (O(k)).
DENSE_ZERO_MAX = 64


def gegenbauer(k: int, dim: int, t: np.ndarray | float) -> np.ndarray:
    r"""The normalised Gegenbauer polynomial :math:`P_k(t) = P_k^{(a,a)}(t)/P_k^{(a,a)}(1)`,
    :math:`a = (d-3)/2`, by its three-term recurrence (no overflow for large d or k):

    .. math:: P_0 = 1,\quad P_1 = t,\quad (k + d - 2) P_{k+1} = (2k + d - 2)\, t P_k - k P_{k-1}.

    Examples:
        >>> float(gegenbauer(2, 8, 0.5))   # (8 t^2 - 1)/7
        0.14285714285714285
    """
    from ..errors import SpherecodeError, check_int

    k = check_int("k", k, minimum=0)
    dim = check_int("dim", dim, minimum=2)
    values = np.asarray(t)
    if values.dtype.kind not in "iuf" or not np.all(np.isfinite(values)):
        raise SpherecodeError(f"Argument 't' must hold finite real numbers, not {t!r}.")
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
    if k <= DENSE_ZERO_MAX:
        matrix = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
        return float(np.linalg.eigvalsh(matrix)[-1])
    from scipy.linalg import eigvalsh_tridiagonal  # only for large degrees: keeps scipy off the common path

    return float(eigvalsh_tridiagonal(diag, off, select="i", select_range=(k - 1, k - 1))[0])


def _bracketed_root(f, lo: float, hi: float) -> float:
    """The smallest s in [lo, hi] with f(s) >= 0 for f increasing (f(lo) < 0 <= f(hi)), to full precision,
    by multisection: f is evaluated at 63 points at once (vectorised), ~9 rounds."""
    while True:
        xs = np.linspace(lo, hi, 65)[1:-1]
        xs = xs[(xs > lo) & (xs < hi)]
        if len(xs) == 0:
            return hi
        above = np.flatnonzero(np.asarray(f(xs)) >= 0)
        i = int(above[0]) if len(above) else len(xs)
        lo, hi = (lo if i == 0 else float(xs[i - 1])), (hi if i == len(xs) else float(xs[i]))


def t11(k: int, dim: int) -> float:
    r""":math:`t_k^{1,1}`: the largest zero of :math:`P_k^{(a+1,a+1)}` (:math:`t_0^{1,1} = -1`)."""
    a = (dim - 3) / 2
    return _largest_zero(k, a + 1, a + 1)


def t10(k: int, dim: int) -> float:
    r""":math:`t_k^{1,0}`: the largest zero of :math:`P_k^{(a+1,a)}`."""
    a = (dim - 3) / 2
    return _largest_zero(k, a + 1, a)


def _comb_float(n: int, k: int) -> float:
    """:math:`\binom{n}{k}` as a float (exact when it fits, ``inf`` beyond the float range)."""
    try:
        return float(comb(n, k))
    except OverflowError:
        return inf


def _l_odd(k: int, dim: int, s: float) -> float:
    p = gegenbauer_all(k, dim, s)
    with np.errstate(over="ignore", invalid="ignore"):
        return _comb_float(k + dim - 3, k - 1) * ((2 * k + dim - 3) / (dim - 1) - (p[k - 1] - p[k]) / ((1 - s) * p[k]))


def _l_even(k: int, dim: int, s: float) -> float:
    p = gegenbauer_all(k + 1, dim, s)
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = (1 + s) * (p[k] - p[k + 1]) / ((1 - s) * (p[k] + p[k + 1]))
        return _comb_float(k + dim - 2, k) * ((2 * k + dim - 1) / (dim - 1) - ratio)


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


def _first_k(dim: int, reached) -> int | None:
    """The smallest k in [1, MAX_DEGREE] with ``reached(k)`` (monotone in k), by doubling then bisection;
    None when even MAX_DEGREE does not reach."""
    hi = 1
    while not reached(hi):
        if hi >= MAX_DEGREE:
            return None
        hi = min(2 * hi, MAX_DEGREE)
    lo = hi // 2  # reached(lo) is false (or lo = 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if reached(mid):
            hi = mid
        else:
            lo = mid
    return hi


def levenshtein_piece(dim: int, s: float) -> int | None:
    r"""The index m of the piece :math:`L_m` that applies at cosine s in dimension d
    (None when :math:`m > 2\,` :data:`MAX_DEGREE`: s too close to 1)."""
    dim, s = _check_dim(dim), _check_cosine(s)
    k = _first_k(dim, lambda k: s <= t11(k, dim))
    if k is None:
        return None
    return 2 * k - 1 if s <= t10(k, dim) else 2 * k


def _piece_value(m: int, dim: int, s: float) -> float:
    k = (m + 1) // 2
    value = _l_odd(k, dim, s) if m % 2 else _l_even(k, dim, s)
    return np.where(np.isnan(value), inf, value) if isinstance(value, np.ndarray) else (inf if value != value else value)


def levenshtein_bound(dim: int, s: float) -> float:
    r"""Levenshtein's upper bound :math:`L(d, s)` on the size of a code in :math:`S^{d-1}` with max cosine s.

    ``inf`` (no bound) when s is so close to 1 that the piece would need a degree above :data:`MAX_DEGREE`.

    Examples:
        >>> round(levenshtein_bound(8, 0.5), 6), round(levenshtein_bound(24, 0.5))
        (240.0, 196560)
        >>> levenshtein_bound(3, 0.0)   # 2n: the octahedron
        6.0
        >>> levenshtein_bound(3, 1 - 1e-12)
        inf
    """
    dim, s = _check_dim(dim), _check_cosine(s)
    if s == -1.0:
        return 2.0
    m = levenshtein_piece(dim, s)
    return inf if m is None else float(_piece_value(m, dim, s))


def levenshtein_lower_bound(n: int, dim: int) -> float | None:
    r"""The lower bound :math:`\min\{s : L(d, s) \ge N\}` on :math:`s_{\max}` of any N points in
    :math:`\mathbb{R}^d`; ``None`` (not available) when it needs a degree above :data:`MAX_DEGREE`.

    Examples:
        >>> round(levenshtein_lower_bound(240, 8), 9)
        0.5
        >>> round(levenshtein_lower_bound(100, 10), 3)
        0.278
        >>> levenshtein_lower_bound(10**12, 3) is None   # would need a polynomial of degree ~10^6
        True
    """
    n = check_int("n", n, minimum=2)
    dim = _check_dim(dim)
    # The bound at the breakpoints -1 = t_0^{11} < t_1^{10} < t_1^{11} < t_2^{10} < ... increases:
    # find the first k whose right end t_k^{11} reaches N, then the piece within [t_{k-1}^{11}, t_k^{11}].
    k = _first_k(dim, lambda k: _piece_value(2 * k, dim, t11(k, dim)) >= n)
    if k is None:
        return None
    lo, mid, hi = t11(k - 1, dim), t10(k, dim), t11(k, dim)
    m, lo, hi = (2 * k - 1, lo, mid) if _piece_value(2 * k - 1, dim, mid) >= n else (2 * k, mid, hi)

    def f(s):
        return _piece_value(m, dim, s) - n

    if f(lo) >= 0:
        return lo
    return _bracketed_root(f, lo, hi)
