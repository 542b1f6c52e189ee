r"""``bch``: binary BCH codes (through galois) mapped to the sphere by gamma.

A narrow-sense primitive binary BCH code of length :math:`n = 2^m - 1` and designed distance
:math:`\delta` has the zeros :math:`\alpha^i` for every i in the cyclotomic cosets of
:math:`1, \dots, \delta - 1` (mod n); its dimension is :math:`k = n - |Z|` and its minimum distance
is at least :math:`\delta` (the BCH bound). The codes are nested: a larger :math:`\delta` gives a
subcode. Every such code holds the all-ones word; its even-weight subcode (add the zero
:math:`\alpha^0`) has dimension :math:`k - 1` and distance at least :math:`\delta + 1`. The extended
code of length :math:`2^m` appends an overall parity bit, which makes every weight even.

For N codewords in dimension d (= the code length) the construction takes, from the BCH codes
and their even-weight subcodes of that length, the one with :math:`2^k \ge N` and the largest
true minimum distance (ties go to a code without the all-ones word, which has no antipodal
pairs), then N of its codewords (see :func:`.binary.select_codewords`). Then
:math:`s_{\max} = 1 - 2 d_{\min}/n`. Example: N = 100, n = 255 gives the even-weight subcode
[255, 8, 128] of BCH [255, 9, 127], which meets the Plotkin bound: :math:`s_{\max} = -1/255`.

Valid lengths are :math:`2^m - 1` and :math:`2^m` for ``M_MIN <= m <= M_MAX``; others raise an
error naming the nearest valid lengths. galois takes seconds to build a code with a large
designed distance, so generator matrices are cached in memory and on disk (:mod:`.code_cache`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..bounds.rankin import rankin_attained
from ..errors import SpherecodeError
from .base import Construction, Param
from .binary import SELECTIONS, all_ones_last, contains_all_ones, gamma, linear_code_distance, select_codewords
from .code_cache import cached_generator
from .code_cache import forget as forget_cached

M_MIN, M_MAX = 3, 12
#: Every valid BCH length: 2^m - 1 (primitive) and 2^m (extended).
VALID_LENGTHS: tuple[int, ...] = tuple(n for m in range(M_MIN, M_MAX + 1) for n in (2**m - 1, 2**m))


@dataclass(frozen=True)
class BinaryCode:
    """A binary linear code: its generator matrix and parameters [n, k, d].

    Attributes:
        name: how it was made, e.g. ``"BCH(255, delta=127) even-weight subcode"``.
        generator: uint8 (k, n) generator matrix over GF(2).
        d: the true minimum distance when the code was small enough to enumerate, else None.
        d_bound: a proven lower bound on the minimum distance (the BCH bound).
    """

    name: str
    generator: np.ndarray
    d: int | None
    d_bound: int

    @property
    def n(self) -> int:
        return int(self.generator.shape[1])

    @property
    def k(self) -> int:
        return int(self.generator.shape[0])

    @property
    def distance(self) -> int:
        """The true distance if known, else the lower bound."""
        return self.d if self.d is not None else self.d_bound


def cyclotomic_coset(i: int, n: int) -> frozenset[int]:
    r"""The 2-cyclotomic coset :math:`\{i, 2i, 4i, \dots\} \bmod n`.

    Examples:
        >>> sorted(cyclotomic_coset(3, 15))
        [3, 6, 9, 12]
    """
    coset, j = set(), i % n
    while j not in coset:
        coset.add(j)
        j = (2 * j) % n
    return frozenset(coset)


@functools.lru_cache(maxsize=None)
def bch_family(n: int) -> tuple[tuple[int, int], ...]:
    r"""All distinct narrow-sense primitive binary BCH codes of length :math:`n = 2^m - 1`.

    Returns ``(delta, k)`` pairs, from the Hamming code (:math:`\delta = 3`) to the repetition
    code (:math:`\delta = n, k = 1`), where :math:`\delta` is the Bose distance (the largest
    designed distance giving that code) and :math:`k = n - |Z|`.

    Examples:
        >>> bch_family(15)
        ((3, 11), (5, 7), (7, 5), (15, 1))
    """
    zeros: set[int] = set()
    out: list[tuple[int, int]] = []
    run = 0  # the zeros hold 1..run; never shrinks
    for i in range(1, n):
        zeros |= cyclotomic_coset(i, n)
        while run + 1 < n and run + 1 in zeros:
            run += 1
        delta = run + 1
        if i + 1 == delta and delta >= 3:  # i is the end of the run: one distinct code
            out.append((delta, n - len(zeros)))
    return tuple(out)


def check_length(dim: int) -> str | None:
    """None if ``dim`` is a BCH length, else the reason naming the nearest valid lengths."""
    if dim in VALID_LENGTHS:
        return None
    below = [n for n in VALID_LENGTHS if n < dim]
    above = [n for n in VALID_LENGTHS if n > dim]
    near = [str(x) for x in (below[-1:] + above[:1])]
    return (f"d = {dim} is not a BCH length 2^m - 1 or 2^m ({M_MIN} <= m <= {M_MAX}); "
            f"nearest valid lengths: {' and '.join(near)}")


def max_dimension(dim: int) -> int:
    """The largest dimension k of a BCH code of length ``dim`` (the (extended) Hamming code)."""
    return max(k for _, k in bch_family(dim if dim % 2 else dim - 1))


def _check(n: int, dim: int) -> str | None:
    reason = check_length(dim)
    if reason is None and n > 2 ** max_dimension(dim):
        k = max_dimension(dim)
        reason = (f"N = {n} is more than the 2^{k} = {2**k} codewords of the largest BCH code "
                  f"of length {dim}; use a longer length or another method")
    return reason


def bch_generator(n: int, delta: int) -> np.ndarray:
    r"""Generator matrix (uint8, k x n) of the narrow-sense primitive BCH code with Bose distance ``delta``.

    Built by ``galois.BCH(n, d=delta)`` and cached (memory and disk).
    """
    expected_k = dict(bch_family(n)).get(delta)
    if expected_k is None:
        raise ValueError(f"no BCH code of length {n} has Bose distance {delta}")

    def build() -> np.ndarray:
        import galois  # slow import (numba): only when a code is built

        return np.asarray(galois.BCH(n, d=delta).G, dtype=np.uint8)

    return cached_generator(f"bch-n{n}-d{delta}", build, shape=(expected_k, n),
                            check=lambda g: _bose_check(g, delta))


def _bose_check(generator: np.ndarray, delta: int) -> str | None:
    """None when the code's minimum distance is at least the Bose distance ``delta`` (checked when the
    code is small enough to enumerate); else the reason. Guards the code cache against a wrong matrix."""
    d = linear_code_distance(generator)
    return None if d is None or d >= delta else f"minimum distance {d} is below the Bose distance {delta}"


def even_weight_subcode(generator: np.ndarray) -> np.ndarray:
    """Generator of the even-weight subcode: odd rows are added to the first odd row, which is dropped.

    Examples:
        >>> even_weight_subcode(np.array([[1, 1, 1], [1, 0, 0], [0, 1, 1]]))
        array([[0, 1, 1],
               [0, 1, 1]], dtype=uint8)
    """
    g = np.asarray(generator, dtype=np.uint8)
    odd = np.flatnonzero(g.sum(axis=1) % 2)
    if len(odd) == 0:
        return g.copy()
    first = odd[0]
    out = g.copy()
    out[odd[1:]] ^= g[first]
    return np.delete(out, first, axis=0)


def extend(generator: np.ndarray) -> np.ndarray:
    """Append the overall parity bit to every row (length n -> n + 1)."""
    g = np.asarray(generator, dtype=np.uint8)
    return np.hstack([g, (g.sum(axis=1) % 2).astype(np.uint8)[:, None]])


def bch_code(n_words: int, length: int) -> BinaryCode:
    """The best code for ``n_words`` codewords at ``length`` among the BCH codes and their even-weight subcodes.

    Candidates: the smallest BCH code with :math:`2^k \\ge N` and the even-weight subcode of the
    smallest BCH code with :math:`2^{k-1} \\ge N` (the others are supercodes of these, with no
    larger distance). The one with the larger true distance wins; on a tie the code without the
    all-ones word (no antipodal pairs).
    """
    reason = _check(n_words, length)
    if reason is not None:
        raise SpherecodeError(f"Method 'bch' cannot make N={n_words} in d={length}: {reason}.")
    prim = length if length % 2 else length - 1
    extended = length % 2 == 0
    family = sorted(bch_family(prim), key=lambda t: t[1])  # by dimension
    candidates: list[BinaryCode] = []
    full = next((dk for dk in family if 2 ** dk[1] >= n_words), None)
    sub = next((dk for dk in family if 2 ** (dk[1] - 1) >= n_words), None)
    for choice, even in ((full, False), (sub, True)):
        if choice is None:  # only the largest code holds N words: no even-weight candidate
            continue
        delta = choice[0]
        g = bch_generator(prim, delta)
        name = f"BCH({prim}, delta={delta})"
        bound = delta
        if even:
            g, name = even_weight_subcode(g), name + " even-weight subcode"
            bound = delta + delta % 2  # the smallest even weight >= delta
        if extended:
            g, name = extend(g), "extended " + name
            bound += bound % 2
        candidates.append(BinaryCode(name, all_ones_last(g), linear_code_distance(g), bound))
    return max(candidates, key=lambda c: (c.distance, not contains_all_ones(c.generator), -c.k))


def next_larger_code(code: BinaryCode) -> np.ndarray | None:
    """Generator of the next larger BCH code of the same length (the pool for greedy selection)."""
    prim = code.n if code.n % 2 else code.n - 1
    larger = [dk for dk in sorted(bch_family(prim), key=lambda t: t[1]) if dk[1] > code.k]
    if not larger:
        return None
    g = bch_generator(prim, larger[0][0])
    return extend(g) if code.n % 2 == 0 else g


def bch_words(n_words: int, length: int, selection: str = "prefix") -> tuple[np.ndarray, dict[str, object]]:
    """N codewords of the chosen BCH code and the provenance to record."""
    code = bch_code(n_words, length)
    pool = next_larger_code(code) if selection == "greedy" else None
    words, info = select_codewords(code.generator, n_words, selection=selection, pool_generator=pool)
    if int(info["d_min"]) < code.d_bound:  # the BCH bound is a theorem: a wrong generator matrix was read
        for delta, _ in bch_family(code.n if code.n % 2 else code.n - 1):
            forget_cached(f"bch-n{code.n if code.n % 2 else code.n - 1}-d{delta}")
        raise SpherecodeError(f"Method 'bch': the codewords of {code.name} have minimum distance {info['d_min']}, below "
                              f"the BCH bound {code.d_bound}; the code cache held a wrong matrix and was cleared, run again.")
    return words, {"code": code.name, "code_n": code.n, "code_k": code.k, "code_d": code.distance,
                   "code_d_exact": code.d is not None, **info}


def _build(n: int, dim: int, *, seed: int, progress: bool, selection: str) -> tuple[np.ndarray, dict[str, object]]:
    words, info = bch_words(n, dim, selection)
    return gamma(words), info


def _optimal(n: int, dim: int) -> bool:
    """Provably optimal cases: N = 2 (antipodal), the simplex code at N = n + 1 (n = 2^m - 1),
    and the first-order Reed-Muller code (extended BCH) for n + 2 <= N <= 2n (n = 2^m)."""
    if _check(n, dim) is not None:
        return False
    if n == 2:
        return True
    return rankin_attained(n, dim) and (n == dim + 1 if dim % 2 else n >= dim + 2)


CONSTRUCTION = Construction(
    name="bch",
    build=_build,
    summary="binary BCH code (or its even-weight subcode) through gamma: s_max = 1 - 2 d_min / d",
    requires=f"d = 2^m - 1 or 2^m ({M_MIN} <= m <= {M_MAX}); N <= 2^k of the Hamming code",
    params=(Param("selection", str, "prefix", choices=SELECTIONS,
                  help="which codewords: the first N, or greedy farthest from those chosen"),),
    check=_check,
    optimal=_optimal,
    deterministic=True,
)
