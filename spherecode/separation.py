r"""Separation measures on a set of vectors: pure numpy, numbers in, numbers out.

For a codebook :math:`C = (c_1, \dots, c_N)` of unit vectors the worst-case cosine is
:math:`s_{\max} = \max_{i \ne j} \langle c_i, c_j \rangle`, the minimum angle is
:math:`\arccos s_{\max}`, and Mettes et al.'s objective is the mean row maximum
:math:`\frac1N \sum_i \max_{j \ne i} \langle c_i, c_j \rangle`.

Large codebooks are processed in row blocks so that memory stays at ``block x N``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Rows per block when scanning the Gram matrix (block x N floats at a time).
BLOCK_ROWS = 2048


#: Rows whose norm is within this of 1 are not re-normalised (a few units of rounding).
UNIT_EXACT = 8 * np.finfo(np.float64).eps


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return ``vectors`` (float64) with every row scaled to unit Euclidean norm.

    Rows already unit to rounding are kept bit for bit: dividing again is not idempotent, and
    copies of a codebook (relabelled, saved and loaded, used as a start) must keep exactly the same
    vectors and separation.

    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, -2.0]])).tolist()
    [[0.6, 0.8], [0.0, -1.0]]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("Cannot normalise a zero row.")
    return np.where(np.abs(norms - 1.0) > UNIT_EXACT, vectors / norms, vectors)


def gram(vectors: np.ndarray) -> np.ndarray:
    r"""The Gram matrix :math:`G = C C^\top` (N x N)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors @ vectors.T


def _offdiag_blocks(vectors: np.ndarray, block: int = BLOCK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, G[start:stop])`` with the diagonal entries set to -inf."""
    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(vectors)
    for start in range(0, n, block):
        stop = min(start + block, n)
        g = vectors[start:stop] @ vectors.T
        g[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        yield start, g


def row_max_cosines(vectors: np.ndarray) -> np.ndarray:
    r"""For each row i, :math:`\max_{j \ne i} \langle c_i, c_j \rangle` (length N)."""
    n = len(vectors)
    if n < 2:
        raise ValueError("Separation needs at least 2 vectors.")
    out = np.empty(n)
    for start, g in _offdiag_blocks(vectors):
        out[start : start + len(g)] = g.max(axis=1)
    return out


def max_cosine(vectors: np.ndarray) -> float:
    r"""The worst-case cosine :math:`s_{\max} = \max_{i \ne j} \langle c_i, c_j \rangle`.

    >>> max_cosine(np.eye(3))
    0.0
    """
    return float(row_max_cosines(vectors).max())


def mean_max_cosine(vectors: np.ndarray) -> float:
    r"""Mettes et al.'s objective :math:`\frac1N \sum_i \max_{j \ne i} \langle c_i, c_j \rangle`."""
    return float(row_max_cosines(vectors).mean())


def cosine_to_degrees(cosine: float) -> float:
    """The angle in degrees whose cosine is ``cosine`` (clipped to [-1, 1])."""
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def min_angle_deg(vectors: np.ndarray) -> float:
    r"""The minimum pairwise angle :math:`\arccos s_{\max}` in degrees."""
    return cosine_to_degrees(max_cosine(vectors))


def antipodal_pairs(vectors: np.ndarray, tol: float = 1e-9) -> int:
    r"""Number of unordered pairs with :math:`\langle c_i, c_j \rangle \le -1 + tol`."""
    count = 0
    for _, g in _offdiag_blocks(vectors):
        count += int(np.count_nonzero((g <= -1.0 + tol) & np.isfinite(g)))  # diagonal is -inf
    return count // 2


def pairwise_cosines(vectors: np.ndarray) -> np.ndarray:
    """The N(N-1)/2 cosines of distinct pairs (upper triangle of the Gram matrix)."""
    g = gram(vectors)
    i, j = np.triu_indices(len(g), k=1)
    return g[i, j]


def min_hamming_distance(words: np.ndarray) -> int:
    """The minimum Hamming distance between distinct rows of a 0/1 matrix."""
    words = np.asarray(words, dtype=np.int64)
    if len(words) < 2:
        raise ValueError("Need at least 2 words.")
    signs = 1 - 2 * words  # 0 -> +1, 1 -> -1: agreements minus disagreements
    n = words.shape[1]
    inner = signs @ signs.T
    np.fill_diagonal(inner, -n - 1)
    return int((n - inner.max()) // 2)
