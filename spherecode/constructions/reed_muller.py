r"""``rm``: Reed-Muller codes RM(r, m) mapped to the sphere by gamma.

RM(r, m) is spanned by the evaluations of the monomials :math:`\prod_{i \in S} x_i`,
:math:`|S| \le r`, at the :math:`2^m` points of :math:`\{0, 1\}^m`:

.. math::
    n = 2^m, \qquad k = \sum_{i=0}^{r} \binom{m}{i}, \qquad d = 2^{m - r}.

The rows of G are ordered by degree, then lexicographically (row 0 is the constant 1, then
:math:`x_1, \dots, x_m`, then :math:`x_1 x_2, \dots`); point p is :math:`x_i = \lfloor p / 2^{i-1}
\rfloor \bmod 2`. The construction picks the smallest r with :math:`2^k \ge N` (the largest
distance) unless r is given, and takes messages :math:`0, \dots, N - 1` in index order.

Caveat (docs/background.md, section 2.4), kept on purpose: the message bit of row 0 is the lowest bit of the
index, so codewords 2j and 2j + 1 differ by the all-ones word and their prototypes are
antipodal, :math:`\langle c_{2j}, c_{2j+1} \rangle = -1`. For RM(1, m) the image is the
cross-polytope (every pair orthogonal or antipodal). Labels that arrive in a meaningful order
(CIFAR-100 is alphabetical) then put neighbouring classes on opposite prototypes; relabelling
(docs/relabelling.md) is the fix, not a reordering here.
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np

from ..bounds.rankin import rankin_attained
from ..errors import SpherecodeError, check_int
from .base import Construction, Param
from .binary import gamma, select_codewords

M_MAX = 16
#: Every valid RM length 2^m, 1 <= m <= M_MAX.
VALID_LENGTHS: tuple[int, ...] = tuple(2**m for m in range(1, M_MAX + 1))


def rm_dimension(r: int, m: int) -> int:
    r"""The dimension :math:`k = \sum_{i \le r} \binom{m}{i}` of RM(r, m).

    Examples:
        >>> rm_dimension(1, 5), rm_dimension(2, 5)
        (6, 16)
    """
    return sum(comb(m, i) for i in range(r + 1))


def rm_generator(r: int, m: int) -> np.ndarray:
    r"""The (k, 2^m) uint8 generator matrix of RM(r, m): monomials of degree <= r evaluated on {0,1}^m.

    Examples:
        >>> rm_generator(1, 2)
        array([[1, 1, 1, 1],
               [0, 1, 0, 1],
               [0, 0, 1, 1]], dtype=uint8)
    """
    if not 0 <= r <= m:
        raise ValueError(f"need 0 <= r <= m, got r={r}, m={m}")
    points = (np.arange(2**m)[None, :] >> np.arange(m)[:, None]) & 1  # (m, 2^m): x_i at point p
    rows = [np.ones(2**m, dtype=np.uint8)]
    for degree in range(1, r + 1):
        for subset in itertools.combinations(range(m), degree):
            rows.append(np.prod(points[list(subset)], axis=0).astype(np.uint8))
    return np.vstack(rows)


def _log2_length(dim: int) -> int | None:
    return dim.bit_length() - 1 if dim >= 2 and dim & (dim - 1) == 0 and dim <= 2**M_MAX else None


def check_length(dim: int) -> str | None:
    """None if ``dim`` is an RM length 2^m, else the reason naming the nearest valid lengths."""
    if _log2_length(dim) is not None:
        return None
    below = [n for n in VALID_LENGTHS if n < dim]
    above = [n for n in VALID_LENGTHS if n > dim]
    near = [str(x) for x in (below[-1:] + above[:1])]
    return (f"d = {dim} is not a Reed-Muller length 2^m (1 <= m <= {M_MAX}); "
            f"nearest valid lengths: {' and '.join(near)}")


def _check(n: int, dim: int) -> str | None:
    reason = check_length(dim)
    if reason is None and dim < 63 and n > 2**dim:
        reason = f"N = {n} is more than the 2^{dim} words of length {dim}"
    return reason


def choose_order(n_words: int, m: int) -> int:
    """The smallest r with 2^k(r, m) >= N: the largest distance 2^(m-r) that holds N codewords."""
    for r in range(m + 1):
        if rm_dimension(r, m) >= 63 or 2 ** rm_dimension(r, m) >= n_words:
            return r
    raise SpherecodeError(f"N = {n_words} is more than the 2^{2**m} words of length {2**m}.")


def _build(n: int, dim: int, *, seed: int, progress: bool, r: int | None) -> tuple[np.ndarray, dict[str, object]]:
    m = _log2_length(dim)
    assert m is not None  # checked by Construction.check
    if r is None:
        r = choose_order(n, m)
    else:
        r = check_int("r", r, minimum=0, maximum=m)
        k = rm_dimension(r, m)
        if k < 63 and 2**k < n:
            raise SpherecodeError(
                f"Argument 'r' = {r} is too small: RM({r}, {m}) has 2^{k} = {2**k} < N = {n} codewords; "
                f"use r >= {choose_order(n, m)} (or leave r out)."
            )
    g = rm_generator(r, m)
    words, info = select_codewords(g, n)
    return gamma(words), {"r": r, "m": m, "code": f"RM({r}, {m})", "code_n": dim,
                          "code_k": int(g.shape[0]), "code_d": 2 ** (m - r), **info}


def _optimal(n: int, dim: int) -> bool:
    """N = 2 (antipodal pair), or RM(1, m) with d + 2 <= N <= 2d: s_max = 0, Rankin's orthoplex bound."""
    return _check(n, dim) is None and (n == 2 or (n >= dim + 2 and rankin_attained(n, dim)))


CONSTRUCTION = Construction(
    name="rm",
    build=_build,
    summary="Reed-Muller RM(r, m) through gamma, d = 2^m, r smallest with 2^k >= N: s_max = 1 - 2^(1-r)",
    requires=f"d = 2^m (1 <= m <= {M_MAX}); N <= 2^d",
    params=(Param("r", int, None, low=0, help="the order r of RM(r, m) (default: the smallest with 2^k >= N)"),),
    check=_check,
    optimal=_optimal,
    deterministic=True,
)
