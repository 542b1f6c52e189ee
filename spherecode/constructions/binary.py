r"""Binary codes mapped to the sphere: the gamma map, encoding, distances, codeword selection.

The map

.. math::
    \gamma : \{0, 1\}^n \to S^{n-1}, \qquad \gamma(b) = \frac{2 (b - \tfrac12)}{\sqrt n}

sends every bit to :math:`\pm 1/\sqrt n`, so :math:`\|\gamma(b)\| = 1` and

.. math::
    \langle \gamma(a), \gamma(b) \rangle = 1 - \frac{2\, d_H(a, b)}{n}.

A binary code of length n with N codewords and minimum distance :math:`d_{\min}` is therefore a
codebook in :math:`\mathbb{R}^n` with :math:`s_{\max} = 1 - 2 d_{\min} / n` (docs/background.md, section 2.4).

Messages are numbered little-endian: message index :math:`i` has bits
:math:`u_j = \lfloor i / 2^j \rfloor \bmod 2` and codeword :math:`u G` over GF(2), so the first
:math:`2^t` messages are exactly the subcode spanned by the first t rows of G.

Which N codewords to take (measured in ``experiments/bench_binary_codes.py``): the smallest
code of a nested family with :math:`2^k \ge N` has the largest distance, and inside a linear code
of dimension k any :math:`N > 2^{k-1}` codewords contain a pair at the code's minimum distance
(the words pair up as :math:`\{x, x + c\}` for a minimum-weight c), so nothing better exists
inside that code. :func:`select_codewords` takes the first N messages (``"prefix"``) or,
with ``"greedy"``, tries to beat that distance by a greedy (lexicode) pick from a larger pool.
"""

from __future__ import annotations

import numpy as np

from ..separation import BLOCK_ROWS, min_hamming_distance

#: Word sets with N * N * n above this use the blocked float64 scan for their minimum distance.
DIRECT_LIMIT = 1 << 20
#: Linear codes with more than 2**MAX_ENUMERATE_K codewords are not enumerated for their distance.
MAX_ENUMERATE_K = 16
#: Codewords encoded per block when enumerating a whole code.
ENCODE_BLOCK = 1 << 14

SELECTIONS = ("prefix", "greedy")


def gamma(words: np.ndarray) -> np.ndarray:
    r"""Map 0/1 words (rows) to unit vectors: :math:`\gamma(b) = 2(b - 1/2)/\sqrt n`.

    Examples:
        >>> v = gamma(np.array([[0, 0, 1, 1], [0, 1, 0, 1]]))
        >>> v
        array([[-0.5, -0.5,  0.5,  0.5],
               [-0.5,  0.5, -0.5,  0.5]])
        >>> float(v[0] @ v[1])  # 1 - 2 * d_H / n = 1 - 2 * 2 / 4
        0.0
    """
    words = np.asarray(words)
    if words.ndim != 2 or words.shape[1] < 1:
        raise ValueError(f"words must be a (N, n) 0/1 matrix, got shape {words.shape}")
    return (2.0 * words.astype(np.float64) - 1.0) / np.sqrt(words.shape[1])


def message_bits(indices: np.ndarray, k: int) -> np.ndarray:
    r"""The k message bits of each index, little-endian: :math:`u_j = \lfloor i/2^j \rfloor \bmod 2`.

    Examples:
        >>> message_bits(np.arange(4), 3)
        array([[0, 0, 0],
               [1, 0, 0],
               [0, 1, 0],
               [1, 1, 0]], dtype=uint8)
    """
    indices = np.asarray(indices, dtype=np.int64)
    if k > 62:
        # indices are int64: bits past 62 are zero for every index we can hold
        low = message_bits(indices, 62)
        return np.hstack([low, np.zeros((len(indices), k - 62), dtype=np.uint8)])
    return ((indices[:, None] >> np.arange(k, dtype=np.int64)) & 1).astype(np.uint8)


def encode(generator: np.ndarray, messages: np.ndarray) -> np.ndarray:
    r"""Codewords :math:`u G` over GF(2) for message rows u (0/1), as a uint8 matrix.

    Exact in float64 (row sums stay below :math:`2^{53}`), using BLAS.

    Examples:
        >>> G = np.array([[1, 1, 0], [0, 1, 1]])
        >>> encode(G, np.array([[1, 1], [0, 1]]))
        array([[1, 0, 1],
               [0, 1, 1]], dtype=uint8)
    """
    g = np.asarray(generator, dtype=np.float64)
    u = np.asarray(messages, dtype=np.float64)
    return np.remainder(u @ g, 2.0).astype(np.uint8)


def codewords(generator: np.ndarray, indices: np.ndarray | int) -> np.ndarray:
    """The codewords of the given message indices (or of messages ``0..indices-1`` for an int).

    Examples:
        >>> G = np.array([[1, 1, 1, 1], [0, 1, 0, 1]])
        >>> codewords(G, 4)
        array([[0, 0, 0, 0],
               [1, 1, 1, 1],
               [0, 1, 0, 1],
               [1, 0, 1, 0]], dtype=uint8)
    """
    generator = np.asarray(generator)
    k = generator.shape[0]
    idx = np.arange(indices) if isinstance(indices, (int, np.integer)) else np.asarray(indices)
    if k < 63 and len(idx) and (idx.min() < 0 or idx.max() >= 2**k):
        raise ValueError(f"message indices must lie in [0, 2^{k}), got {idx.min()}..{idx.max()}")
    return encode(generator, message_bits(idx, k))


def minimum_distance(words: np.ndarray) -> int:
    r"""The minimum Hamming distance :math:`\min_{i \ne j} d_H(w_i, w_j)` of a set of 0/1 words.

    Small sets use :func:`spherecode.separation.min_hamming_distance`. Larger ones use the same
    identity, :math:`d_H(a, b) = (n - \langle s_a, s_b \rangle)/2` with signs :math:`s = 1 - 2b`,
    in float64 (exact: the inner products are integers below :math:`2^{53}`, and BLAS is fast)
    over row blocks, so memory stays at ``BLOCK_ROWS x N``.

    Examples:
        >>> minimum_distance(np.array([[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1]]))
        2
    """
    words = np.asarray(words)
    count, n = words.shape
    if count * count * n <= DIRECT_LIMIT:
        return min_hamming_distance(words)
    if count < 2:
        raise ValueError("Need at least 2 words.")
    signs = 1.0 - 2.0 * words.astype(np.float64)
    best = -np.inf
    for start in range(0, count, BLOCK_ROWS):
        inner = signs[start : start + BLOCK_ROWS] @ signs.T
        rows = np.arange(len(inner))
        inner[rows, start + rows] = -np.inf
        best = max(best, float(inner.max()))
    return int(round((n - best) / 2))


def linear_code_distance(generator: np.ndarray, max_k: int = MAX_ENUMERATE_K) -> int | None:
    r"""The minimum distance of the linear code spanned by G: the least nonzero codeword weight.

    Enumerates all :math:`2^k` codewords in blocks; returns None when :math:`k >` ``max_k``
    (too many to enumerate) and 0 if the rows of G are linearly dependent.

    Examples:
        >>> linear_code_distance(np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]))
        3
    """
    generator = np.asarray(generator)
    k = generator.shape[0]
    if k > max_k:
        return None
    best = generator.shape[1]
    for start in range(1, 2**k, ENCODE_BLOCK):
        words = codewords(generator, np.arange(start, min(start + ENCODE_BLOCK, 2**k)))
        best = min(best, int(words.sum(axis=1, dtype=np.int64).min()))
    return best


def contains_all_ones(generator: np.ndarray) -> bool:
    """Whether the all-ones word (the antipode of every codeword) lies in the span of G over GF(2).

    Examples:
        >>> contains_all_ones(np.array([[1, 1, 0, 0], [0, 0, 1, 1]]))
        True
        >>> contains_all_ones(np.array([[1, 1, 0, 0], [0, 1, 1, 0]]))
        False
    """
    g = np.asarray(generator, dtype=np.uint8) & 1
    return rank_gf2(np.vstack([g, np.ones((1, g.shape[1]), dtype=np.uint8)])) == rank_gf2(g)


def all_ones_last(generator: np.ndarray, max_k: int = 64) -> np.ndarray:
    r"""An equivalent generator whose last row is the all-ones word, when the code holds it.

    A row :math:`g_j` used in the (unique) expansion of :math:`\mathbf 1` is replaced by
    :math:`\mathbf 1` and moved last; the span is unchanged. In message-index order the first
    :math:`2^{k-1}` codewords then hold no complementary (antipodal) pair, and N codewords hold
    exactly :math:`\max(0, N - 2^{k-1})`, the fewest possible (the code splits into
    :math:`2^{k-1}` pairs :math:`\{x, x + \mathbf 1\}`). Codes without :math:`\mathbf 1`, or with
    more than ``max_k`` rows, are returned unchanged.

    Examples:
        >>> all_ones_last(np.array([[1, 1, 0, 0], [0, 0, 1, 1], [0, 1, 1, 0]]))
        array([[0, 0, 1, 1],
               [0, 1, 1, 0],
               [1, 1, 1, 1]], dtype=uint8)
    """
    g = np.asarray(generator, dtype=np.uint8)
    k = g.shape[0]
    if k > max_k or not contains_all_ones(g):
        return g
    ones = np.ones((1, g.shape[1]), dtype=np.uint8)
    for j in range(k):
        rest = np.delete(g, j, axis=0)
        if len(rest) == 0 or not contains_all_ones(rest):
            return np.vstack([rest, ones])
    raise AssertionError("unreachable: the all-ones word lies in the span")  # pragma: no cover


def rank_gf2(matrix: np.ndarray) -> int:
    """The rank of a 0/1 matrix over GF(2) (Gaussian elimination).

    Examples:
        >>> rank_gf2(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]]))
        2
    """
    a = np.array(matrix, dtype=np.uint8) & 1
    rank = 0
    for col in range(a.shape[1]):
        rows = np.nonzero(a[rank:, col])[0]
        if len(rows) == 0:
            continue
        pivot = rank + rows[0]
        a[[rank, pivot]] = a[[pivot, rank]]
        below = np.nonzero(a[:, col])[0]
        below = below[below != rank]
        a[below] ^= a[rank]
        rank += 1
        if rank == a.shape[0]:
            break
    return rank


def greedy_subset(pool: np.ndarray, count: int, distance: int) -> np.ndarray | None:
    r"""Greedily pick ``count`` rows of ``pool`` with pairwise Hamming distance :math:`\ge` ``distance``.

    The lexicode rule: scan the pool in order, keep a word if it is far enough from every word
    kept so far. Returns the kept row indices, or None if fewer than ``count`` are found.

    Examples:
        >>> pool = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]])
        >>> greedy_subset(pool, 2, 3)
        array([0, 3])
        >>> greedy_subset(pool, 3, 3) is None
        True
    """
    packed = np.packbits(np.asarray(pool, dtype=np.uint8), axis=1)
    alive = np.ones(len(packed), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < count:
        candidates = np.flatnonzero(alive)
        if len(candidates) == 0:
            return None
        i = int(candidates[0])
        chosen.append(i)
        dist = np.bitwise_count(packed[candidates] ^ packed[i]).sum(axis=1, dtype=np.int64)
        alive[candidates[dist < distance]] = False
    return np.asarray(chosen)


def select_codewords(
    generator: np.ndarray,
    count: int,
    *,
    selection: str = "prefix",
    pool_generator: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, object]]:
    r"""Choose ``count`` codewords of the code spanned by ``generator`` (needs :math:`2^k \ge` count).

    ``"prefix"`` takes messages ``0 .. count-1`` in message-index order: the subcode spanned by
    the first :math:`\lceil \log_2 N \rceil` rows plus part of the next coset, whose distance is at
    least the code's. ``"greedy"`` then tries to do better: it asks :func:`greedy_subset` for
    ``count`` words of ``pool_generator``'s code (default: this code) at distance
    :math:`\ge d + 1`, and keeps the prefix when that fails.

    Returns:
        (words, info) with the uint8 (count, n) words and ``info["d_min"]``, their exact minimum
        distance, and ``info["selection"]``, what was used.

    Examples:
        >>> G = np.array([[1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1], [0, 1, 1, 0, 0, 1, 1], [1, 0, 1, 0, 1, 0, 1]])
        >>> words, info = select_codewords(G, 5)
        >>> info["d_min"], words.shape
        (3, (5, 7))
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    words = codewords(generator, count)
    d_min = minimum_distance(words)
    info: dict[str, object] = {"selection": "prefix", "d_min": d_min}
    if selection == "greedy":
        pool_g = generator if pool_generator is None else pool_generator
        if pool_g.shape[0] <= MAX_ENUMERATE_K:
            pool = codewords(pool_g, 2 ** pool_g.shape[0])
            picked = greedy_subset(pool, count, d_min + 1)
            if picked is not None:
                words = pool[picked]
                info = {"selection": "greedy", "d_min": minimum_distance(words)}
    return words, info
