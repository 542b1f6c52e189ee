r"""Gilbert-Varshamov: binary codes that are guaranteed to exist, and what they give on the sphere.

* Hamming ball volume :math:`V(n, r) = \sum_{i=0}^{r} \binom{n}{i}`.
* Classical Gilbert bound: a binary code of length n and minimum distance :math:`\delta` with at least
  :math:`\lceil 2^n / V(n, \delta - 1) \rceil` words exists.
* Varshamov (linear) bound: a binary linear :math:`[n, k]` code with minimum distance
  :math:`\ge \delta` exists if :math:`\sum_{i=0}^{\delta-2}\binom{n-1}{i} < 2^{n-k}`. With
  :math:`k = \lceil \log_2 N \rceil` the largest such :math:`\delta` is :math:`d_{GV}(n, N)`.
* Through :math:`\gamma(b) = 2(b - \tfrac12)/\sqrt n` a code with minimum distance :math:`\delta` is a
  codebook with :math:`s_{\max} \le 1 - 2\delta/n`, so the optimum of (P) in dimension n obeys
  (Lindström, Thobaben & Skoglund, Theorem 7)

  .. math:: -\frac{1}{N-1} \;\le\; s^*_{\max}(N, n) \;\le\; 1 - \frac{2\, d_{GV}(n, N)}{n}.

All counts are exact Python integers.
"""

from __future__ import annotations

from math import comb

import numpy as np

from ..errors import SpherecodeError, check_int
from .rankin import rankin_simplex


def hamming_ball_volume(n: int, r: int) -> int:
    r"""The number of binary words within Hamming distance r of a word: :math:`\sum_{i \le r}\binom{n}{i}`.

    Examples:
        >>> hamming_ball_volume(7, 1)
        8
        >>> hamming_ball_volume(23, 3) * 2**12 == 2**23   # the Golay code is perfect
        True
    """
    n = check_int("n", n, minimum=1)
    r = check_int("r", r, minimum=0)
    if r > n:
        raise SpherecodeError(f"Argument 'r' must be at most n = {n}, not {r}.")
    return sum(comb(n, i) for i in range(r + 1))


def check_length_distance(n: object, d: object, name: str = "d") -> tuple[int, int]:
    """Validate a binary code length n >= 1 and a minimum distance 1 <= d <= n."""
    n = check_int("n", n, minimum=1)
    d = check_int(name, d, minimum=1)
    if d > n:
        raise SpherecodeError(f"Argument '{name}' (minimum distance) must be at most the length n = {n}, not {d}.")
    return n, d


def gilbert_size(n: int, d: int) -> int:
    r"""Gilbert's guarantee :math:`\lceil 2^n / V(n, d-1) \rceil \le A(n, d)`.

    Examples:
        >>> gilbert_size(7, 3)
        5
    """
    n, d = check_length_distance(n, d)
    vol = hamming_ball_volume(n, d - 1)
    return -(-(2**n) // vol)


def code_dimension(n_words: int) -> int:
    r"""The dimension :math:`k = \lceil \log_2 N \rceil` of a linear code with at least N words.

    >>> code_dimension(100), code_dimension(128), code_dimension(129)
    (7, 7, 8)
    """
    n_words = check_int("N", n_words, minimum=2)
    return (n_words - 1).bit_length()


def varshamov_condition(n: int, k: int, d: int) -> bool:
    r"""Whether :math:`\sum_{i=0}^{d-2}\binom{n-1}{i} < 2^{n-k}`, so that an :math:`[n, k, \ge d]` code exists."""
    return sum(comb(n - 1, i) for i in range(d - 1)) < 2 ** (n - k)


def varshamov_distance(n: int, n_words: int) -> int | None:
    r"""The Varshamov distance :math:`d_{GV}(n, N)`: the largest :math:`\delta` with
    :math:`\sum_{i=0}^{\delta-2}\binom{n-1}{i} < 2^{n-k}`, :math:`k = \lceil\log_2 N\rceil`.

    Returns ``None`` when no binary code of length n has N words (k > n). When k = n the whole space
    :math:`\{0,1\}^n` is the code and the distance is 1.

    Examples:
        >>> [varshamov_distance(n, 100) for n in (10, 25, 64)]
        [2, 8, 24]
    """
    n = check_int("n", n, minimum=1)
    k = code_dimension(n_words)
    if k > n:
        return None
    delta = 1  # the empty sum is 0 < 2^{n-k}: distance 1 always holds
    budget = 2 ** (n - k)
    total = 0
    while delta < n:
        total += comb(n - 1, delta - 1)  # the sum now runs to (delta + 1) - 2
        if total >= budget:
            break
        delta += 1
    return delta


def gv_upper_bound(n_words: int, dim: int) -> float | None:
    r"""The upper bound :math:`1 - 2\, d_{GV}(d, N)/d` on the optimal :math:`s_{\max}` of N points in
    :math:`\mathbb{R}^d`, or ``None`` when :math:`N > 2^d`.

    Examples:
        >>> [round(gv_upper_bound(100, d), 4) for d in (10, 25, 64)]
        [0.6, 0.36, 0.25]
    """
    n_words = check_int("n", n_words, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    delta = varshamov_distance(dim, n_words)
    return None if delta is None else 1.0 - 2.0 * delta / dim


def gv_interval(n_words: int, dim: int) -> tuple[float, float | None]:
    r"""Theorem 7's two-sided interval :math:`(-1/(N-1),\; 1 - 2 d_{GV}/d)` for the optimum of (P).

    >>> gv_interval(100, 64)
    (-0.010101010101010102, 0.25)
    """
    return rankin_simplex(n_words), gv_upper_bound(n_words, dim)


def varshamov_parity_check(n: int, k: int, d: int) -> np.ndarray:
    r"""Varshamov's greedy construction: an :math:`(n-k) \times n` parity-check matrix over GF(2) any
    :math:`d - 1` columns of which are independent, so its null space is an :math:`[n, k, \ge d]` code.

    Column j is any nonzero vector that is not a sum of at most :math:`d-2` earlier columns; the
    Varshamov condition guarantees that one is left (the proof of the bound, run as an algorithm).
    Exponential in n - k: meant for small codes and tests.

    Raises:
        SpherecodeError: if the Varshamov condition fails for (n, k, d) or n - k > 20.
    """
    n, d = check_length_distance(n, d)
    k = check_int("k", k, minimum=1, maximum=n)
    r = n - k
    if not varshamov_condition(n, k, d):
        raise SpherecodeError(f"Varshamov's condition fails for n={n}, k={k}, d={d}; choose a smaller 'd'.")
    if r > 20:
        raise SpherecodeError(f"Argument 'k' leaves n - k = {r} check bits; the greedy construction supports at most 20.")
    if r == 0:  # the whole space: no checks
        return np.zeros((0, n), dtype=np.uint8)
    columns: list[int] = []
    # span[v] = the fewest earlier columns summing to v (0 for v = 0); covered = reachable with <= d - 2.
    reach = {0: 0}
    for _ in range(n):
        candidate = next((v for v in range(1, 2**r) if v not in reach or reach[v] > d - 2), None)
        if candidate is None:  # pragma: no cover - excluded by the Varshamov condition
            raise RuntimeError("Varshamov construction ran out of columns")
        columns.append(candidate)
        new = {}
        for v, w in reach.items():
            if w < d - 2:
                u = v ^ candidate
                if reach.get(u, d) > w + 1 and new.get(u, d) > w + 1:
                    new[u] = w + 1
        for u, w in new.items():
            if reach.get(u, d) > w:
                reach[u] = w
    h = np.array([[(c >> bit) & 1 for c in columns] for bit in range(r)], dtype=np.uint8)
    return h


def _varshamov_distance_fast(n: int, k: int) -> int:
    """d_GV for a length n and dimension k <= n, with binomials updated incrementally."""
    budget = 2 ** (n - k)
    delta, total, binom = 1, 0, 1  # binom = C(n - 1, delta - 1)
    while delta < n:
        total += binom
        if total >= budget:
            break
        binom = binom * (n - delta) // delta
        delta += 1
    return delta


def gv_best_upper_bound(n_words: int, dim: int) -> tuple[float, int] | None:
    r"""The best Gilbert-Varshamov guarantee in dimension d using any length :math:`n \le d`
    (a codebook in :math:`\mathbb{R}^n` embeds in :math:`\mathbb{R}^d` by zero padding):
    :math:`\min_{k \le n \le d} 1 - 2\, d_{GV}(n, N)/n`, with the length that attains it.

    Examples:
        >>> gv_best_upper_bound(100, 15)   # length 14 beats length 15
        (0.4285714285714286, 14)
    """
    n_words = check_int("n", n_words, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    k = code_dimension(n_words)
    if k > dim:
        return None
    return min(((1.0 - 2.0 * _varshamov_distance_fast(n, k) / n, n) for n in range(k, dim + 1)), key=lambda t: (t[0], t[1]))
