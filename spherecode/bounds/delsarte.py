r"""Delsarte's linear-programming bound (1973) on :math:`A(n, d)`, the largest binary code of length n
and minimum distance d.

With the Krawtchouk polynomials :math:`K_k(i) = \sum_j (-1)^j \binom{i}{j}\binom{n-i}{k-j}` and the
distance distribution :math:`A_i` of a code (:math:`A_0 = 1`),

.. math::
    A(n, d) \le \max \Big\{ \sum_{i=0}^{n} A_i \;:\; A_0 = 1,\; A_i \ge 0,\; A_i = 0 \;(1 \le i < d),\;
        \sum_{i=0}^{n} A_i K_k(i) \ge 0 \;(k = 1, \dots, n) \Big\}.

For even d the optional ``even=True`` also sets :math:`A_i = 0` for odd i, which is valid because
:math:`A(n, d) = A(n - 1, d - 1)` is attained by an even-weight code (puncture and extend by parity).

The program is solved exactly in rational arithmetic (:mod:`spherecode.bounds.rational_simplex`):
floating-point solvers are off by orders of magnitude already at n = 63. The returned value comes
with its exact dual certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import comb, floor

from ..errors import SpherecodeError
from .gilbert_varshamov import check_length_distance
from .rational_simplex import maximize

#: The exact rational LP costs about 0.4 s at n = 32, 10 s at n = 63 and grows fast: longer lengths
#: are refused with a message rather than left running.
MAX_LENGTH = 64


def krawtchouk(n: int, k: int, i: int) -> int:
    r"""The Krawtchouk polynomial :math:`K_k(i) = \sum_j (-1)^j \binom{i}{j}\binom{n-i}{k-j}` (exact).

    Examples:
        >>> [krawtchouk(3, 1, i) for i in range(4)]
        [3, 1, -1, -3]
    """
    return sum((-1) ** j * comb(i, j) * comb(n - i, k - j) for j in range(k + 1))


@lru_cache(maxsize=64)
def krawtchouk_matrix(n: int) -> tuple[tuple[int, ...], ...]:
    """``K[k][i]`` for 0 <= k, i <= n, by the exact recurrence
    :math:`(k+1) K_{k+1}(i) = (n - 2i) K_k(i) - (n - k + 1) K_{k-1}(i)`."""
    rows = [[1] * (n + 1), [n - 2 * i for i in range(n + 1)]]
    for k in range(1, n):
        rows.append([((n - 2 * i) * rows[k][i] - (n - k + 1) * rows[k - 1][i]) // (k + 1) for i in range(n + 1)])
    return tuple(tuple(r) for r in rows[: n + 1])


@dataclass(frozen=True)
class DelsarteResult:
    """The exact LP optimum and its certificate.

    Attributes:
        value: the LP optimum :math:`1 + \\sum_{i \\ge d} A_i` (an exact rational).
        bound: :math:`\\lfloor \\text{value} \\rfloor`, an upper bound on A(n, d).
        distribution: the optimal :math:`A_i` (index i = 0..n).
        dual: the dual vector :math:`y_1..y_n`: :math:`f(x) = 1 + \\sum_k y_k K_k(x)` has
            :math:`f(i) \\le 0` for :math:`i \\ge d` and :math:`f(0) = ` value, which proves the bound.
    """

    n: int
    d: int
    even: bool
    value: Fraction
    bound: int
    distribution: tuple[Fraction, ...]
    dual: tuple[Fraction, ...]


@lru_cache(maxsize=256)
def delsarte_lp(n: int, d: int, even: bool = False) -> DelsarteResult:
    r"""Solve Delsarte's LP for (n, d) exactly.

    Examples:
        >>> delsarte_lp(7, 3).value
        Fraction(16, 1)
        >>> delsarte_lp(23, 7).bound, delsarte_lp(24, 8).bound
        (4096, 4096)
    """
    n, d = check_length_distance(n, d)
    if n > MAX_LENGTH:
        raise SpherecodeError(f"Argument 'n' = {n}: Delsarte's exact LP is computed for lengths up to {MAX_LENGTH} "
                              "(its cost grows steeply: 10 s at n = 63).")
    k_mat = krawtchouk_matrix(n)
    support = [i for i in range(d, n + 1) if not (even and i % 2)]
    # sum_i A_i K_k(i) >= -K_k(0)  <=>  sum_i (-K_k(i)) A_i <= C(n, k), for k = 1..n.
    a = [[-k_mat[k][i] for i in support] for k in range(1, n + 1)]
    b = [comb(n, k) for k in range(1, n + 1)]
    res = maximize([1] * len(support), a, b)
    value = 1 + res.value
    dist = [Fraction(0)] * (n + 1)
    dist[0] = Fraction(1)
    for i, v in zip(support, res.x):
        dist[i] = v
    return DelsarteResult(n=n, d=d, even=even, value=value, bound=floor(value),
                          distribution=tuple(dist), dual=res.y)


def delsarte_bound(n: int, d: int, even: bool | None = None) -> int:
    r"""Delsarte's upper bound on A(n, d) (an integer). ``even`` defaults to True for even d.

    >>> delsarte_bound(24, 8)
    4096
    """
    n, d = check_length_distance(n, d)
    return delsarte_lp(n, d, bool(d % 2 == 0) if even is None else even).bound


def verify_certificate(result: DelsarteResult) -> bool:
    r"""Re-check the dual certificate from scratch: :math:`y \ge 0` and
    :math:`f(i) = 1 + \sum_k y_k K_k(i) \le 0` at every allowed distance :math:`i \ge d`, with
    :math:`f(0) =` ``value``. Then every code has :math:`|C| \le f(0)`."""
    n, d = result.n, result.d
    k_mat = krawtchouk_matrix(n)
    y = result.dual
    if any(v < 0 for v in y):
        return False

    def f(i: int) -> Fraction:
        return 1 + sum(y[k - 1] * k_mat[k][i] for k in range(1, n + 1))

    allowed = [i for i in range(d, n + 1) if not (result.even and i % 2)]
    return all(f(i) <= 0 for i in allowed) and f(0) == result.value


def binary_distance_limit(n: int, n_words: int) -> int | None:
    r"""The largest distance D with Delsarte's bound :math:`A(n, D) \ge N`: no binary code of length n
    with N words has minimum distance above D, so no binary construction (BCH, Reed-Muller, ...)
    reaches :math:`s_{\max} < 1 - 2D/n` through :math:`\gamma`. ``None`` when :math:`N > 2^n`.

    Uses the plain LP (``even=False``), which is monotone in D; bisection over D.

    Examples:
        >>> binary_distance_limit(24, 4096), binary_distance_limit(23, 4097)
        (8, 6)
    """
    from ..errors import check_int

    n = check_int("n", n, minimum=1)
    n_words = check_int("N", n_words, minimum=2)
    if n_words > 2**n:
        return None
    lo, hi = 1, n  # A_LP(n, 1) = 2^n >= N
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if delsarte_lp(n, mid, False).bound >= n_words:
            lo = mid
        else:
            hi = mid - 1
    return lo
