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

Every function answers in milliseconds at any size. Lengths up to :data:`EXACT_MAX_LENGTH` use
exact integers; longer ones use logarithms of binomials (:func:`log2_hamming_ball_volume`, by
``lgamma``) and treat a Varshamov condition that holds within :data:`LOG_MARGIN` of equality as
failed, so the distance returned is never larger than the exact one: the guarantee stays valid.
Exact counts with more than :data:`EXACT_MAX_LENGTH` bits are refused with a message (use the
logarithm).
"""

from __future__ import annotations

from math import lgamma, log, log1p

import numpy as np

from ..errors import SpherecodeError, check_int
from .rankin import rankin_simplex

#: Lengths up to this are computed with exact integers (milliseconds); longer ones with logarithms.
EXACT_MAX_LENGTH = 4096
#: Beyond EXACT_MAX_LENGTH, a condition within this many bits of equality counts as failed (conservative).
LOG_MARGIN = 1e-6
#: :func:`log2_hamming_ball_volume` sums at most this many terms, then bounds the rest (a geometric series).
MAX_TERMS = 16384
#: Longest length the logarithmic computation accepts (float64 holds every integer up to it).
MAX_LOG_LENGTH = 2**53
#: :func:`gv_best_upper_bound` tries every length when d <= EXACT_MAX_LENGTH, else the last this many.
LENGTH_WINDOW = 32


def hamming_ball_volume(n: int, r: int) -> int:
    r"""The number of binary words within Hamming distance r of a word: :math:`\sum_{i \le r}\binom{n}{i}`.

    Exact, for :math:`n \le` :data:`EXACT_MAX_LENGTH` (the count has up to n bits); for longer words
    use :func:`log2_hamming_ball_volume`.

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
    if n > EXACT_MAX_LENGTH:
        raise SpherecodeError(f"Argument 'n' = {n} is above {EXACT_MAX_LENGTH}: the exact count has up to {n} bits; "
                              "use log2_hamming_ball_volume(n, r).")
    total, binom = 1, 1
    for i in range(1, r + 1):
        binom = binom * (n - i + 1) // i
        total += binom
    return total


def _log_binom(n: int, i: int) -> float:
    """The natural logarithm of :math:`\binom{n}{i}` by ``lgamma``."""
    return lgamma(n + 1) - lgamma(i + 1) - lgamma(n - i + 1)


def log2_hamming_ball_volume(n: int, r: int) -> float:
    r""":math:`\log_2 \sum_{i \le r}\binom{n}{i}` in milliseconds for any n (relative error about 1e-15,
    absolute about :math:`10^{-16}\, n \log n` bits).

    The largest term :math:`\binom{n}{r}` comes from ``lgamma``; the others follow by the ratios
    :math:`\binom{n}{i-1}/\binom{n}{i} = i/(n-i+1)`, summed (vectorised) until they no longer count;
    after :data:`MAX_TERMS` terms (only for lengths far beyond :math:`10^6`) the rest is bounded by a
    geometric series, so the value can only be overstated (the Varshamov condition stays conservative).
    For :math:`r > n/2` the complement :math:`2^n - V(n, n-r-1)` is used. Lengths up to
    :data:`MAX_LOG_LENGTH` (integers exact in float64).

    Examples:
        >>> round(2 ** log2_hamming_ball_volume(23, 3))
        2048
        >>> round(log2_hamming_ball_volume(10**6, 10**5), 3)   # a million-bit count, in milliseconds
        468986.209
    """
    n = check_int("n", n, minimum=0, maximum=MAX_LOG_LENGTH)
    r = check_int("r", r, minimum=0)
    if r >= n:
        return float(n)
    if 2 * r > n:
        rest = log2_hamming_ball_volume(n, n - r - 1)  # n - r - 1 < n / 2: rest < n
        return n + log1p(-(2.0 ** (rest - n))) / log(2)
    acc, carry, hi = 1.0, 0.0, r  # acc = sum of C(n, i) / C(n, r) over the i seen so far
    while hi > 0:
        if r - hi >= MAX_TERMS:  # the rest: at most a geometric series of the current ratio (ratios shrink)
            q = hi / (n - hi + 1)
            acc += float(np.exp(carry)) * q / (1.0 - q)
            break
        i = np.arange(hi, max(hi - 4096, 0), -1, dtype=np.float64)  # i = hi, hi - 1, ...: term C(n, i - 1)
        logs = carry + np.cumsum(np.log(i / (n - i + 1)))
        terms = np.exp(logs)
        acc += float(terms.sum())
        carry, hi = float(logs[-1]), hi - len(i)
        if terms[-1] < 1e-18 * acc:
            break
    return (_log_binom(n, r) + log(acc)) / log(2)


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
    r"""Whether :math:`\sum_{i=0}^{d-2}\binom{n-1}{i} < 2^{n-k}`, so that an :math:`[n, k, \ge d]` code exists.

    Exact for :math:`n \le` :data:`EXACT_MAX_LENGTH`; above, by logarithms, true only when it holds by
    more than :data:`LOG_MARGIN` bits (never true when false).
    """
    if d <= 1:
        return True
    if n <= EXACT_MAX_LENGTH:
        return hamming_ball_volume(n - 1, d - 2) < 2 ** (n - k) if n > 1 else 1 < 2 ** (n - k)
    return log2_hamming_ball_volume(n - 1, d - 2) < n - k - LOG_MARGIN


def varshamov_distance(n: int, n_words: int) -> int | None:
    r"""The Varshamov distance :math:`d_{GV}(n, N)`: the largest :math:`\delta` with
    :math:`\sum_{i=0}^{\delta-2}\binom{n-1}{i} < 2^{n-k}`, :math:`k = \lceil\log_2 N\rceil`.

    Returns ``None`` when no binary code of length n has N words (k > n). When k = n the whole space
    :math:`\{0,1\}^n` is the code and the distance is 1. Exact up to length :data:`EXACT_MAX_LENGTH`;
    above it, a bisection over :math:`\delta` on :func:`log2_hamming_ball_volume` (conservative at ties).

    Examples:
        >>> [varshamov_distance(n, 100) for n in (10, 25, 64)]
        [2, 8, 24]
        >>> varshamov_distance(10**6, 10**12)
        496525
    """
    n = check_int("n", n, minimum=1)
    k = code_dimension(n_words)
    if k > n:
        return None
    return _exact_distance(n, k) if n <= EXACT_MAX_LENGTH else _log_distance(n, k)


def _exact_distance(n: int, k: int) -> int:
    """d_GV for a length n and dimension k <= n, with binomials updated incrementally (exact)."""
    budget = 2 ** (n - k)
    delta, total, binom = 1, 0, 1  # binom = C(n - 1, delta - 1)
    while delta < n:
        total += binom
        if total >= budget:
            break
        binom = binom * (n - delta) // delta
        delta += 1
    return delta


def _log_distance(n: int, k: int) -> int:
    """d_GV by bisection: the condition is monotone in delta (a longer sum is larger)."""
    if k == 1:  # sum_{i <= n-2} C(n-1, i) = 2^{n-1} - 1 < 2^{n-1}: every delta <= n holds (no logarithm needed)
        return n
    # k >= 2: a sum reaching past the middle, delta - 2 >= (n-1)/2, is at least 2^{n-2} >= 2^{n-k}: it fails
    lo, hi = 1, min(n, (n + 2) // 2)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if log2_hamming_ball_volume(n - 1, mid - 2) < n - k - LOG_MARGIN:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _exact_distances(dim: int, k: int) -> list[int]:
    r""":math:`d_{GV}(L)` for every length :math:`L = k, \dots, d` (exact) in one walk.

    With :math:`j = d_{GV}(L) - 2`, keeps :math:`S = \sum_{i \le j}\binom{L-1}{i}` and
    :math:`C = \binom{L-1}{j}`; one step in L uses :math:`\sum_{i\le j}\binom{L}{i} = 2S - C` and
    :math:`\binom{L}{j} = C\,L/(L-j)`. The distance never decreases with L (the sum at most doubles
    while the budget :math:`2^{L-k}` doubles), so the walk costs O(d) integer steps.
    """
    length, j, total, binom = k, -1, 0, 0
    out: list[int] = []
    while True:
        budget = 1 << (length - k)
        while j + 1 <= length - 2:
            nxt = 1 if j < 0 else binom * (length - 1 - j) // (j + 1)  # C(L - 1, j + 1)
            if total + nxt >= budget:
                break
            j, binom, total = j + 1, nxt, total + nxt
        out.append(j + 2)
        if length == dim:
            return out
        total = 2 * total - binom
        binom = binom * length // (length - j) if j >= 0 else 0
        length += 1


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


def gv_best_upper_bound(n_words: int, dim: int) -> tuple[float, int] | None:
    r"""The best Gilbert-Varshamov guarantee in dimension d using a length :math:`n \le d`
    (a codebook in :math:`\mathbb{R}^n` embeds in :math:`\mathbb{R}^d` by zero padding):
    :math:`\min_{n} 1 - 2\, d_{GV}(n, N)/n`, with the length that attains it.

    Every length :math:`k \le n \le d` is tried when :math:`d \le` :data:`EXACT_MAX_LENGTH` (one exact
    walk, :func:`_exact_distances`); above, the last :data:`LENGTH_WINDOW` lengths (a shorter length
    can gain only :math:`O(1/d)` there). Either way the value is a valid guarantee.

    Examples:
        >>> gv_best_upper_bound(100, 15)   # length 14 beats length 15
        (0.4285714285714286, 14)
    """
    n_words = check_int("n", n_words, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    k = code_dimension(n_words)
    if k > dim:
        return None
    if dim <= EXACT_MAX_LENGTH:
        pairs = zip(range(k, dim + 1), _exact_distances(dim, k))
    else:
        pairs = ((n, _log_distance(n, k)) for n in range(max(k, dim - LENGTH_WINDOW + 1), dim + 1))
    return min(((1.0 - 2.0 * delta / n, n) for n, delta in pairs), key=lambda t: (t[0], t[1]))
