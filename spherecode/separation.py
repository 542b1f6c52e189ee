r"""Separation measures on a set of vectors: pure numpy, numbers in, numbers out.

For a codebook :math:`C = (c_1, \dots, c_N)` of unit vectors the worst-case cosine is
:math:`s_{\max} = \max_{i \ne j} \langle c_i, c_j \rangle`, the minimum angle is
:math:`\arccos s_{\max}`, and Mettes et al.'s objective is the mean row maximum
:math:`\frac1N \sum_i \max_{j \ne i} \langle c_i, c_j \rangle`.

Large codebooks are processed in row blocks so that memory stays at ``block x N``; in low dimension
(:data:`KDTREE_MAX_DIM`) a large codebook's nearest neighbours are found with a k-d tree
(``scipy.spatial.cKDTree``) in :math:`O(N \log N)` instead of comparing all pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Rows per block when scanning the Gram matrix (block x N floats at a time).
BLOCK_ROWS = 2048


#: Rows whose norm is within this of 1 are not re-normalised (a few units of rounding).
UNIT_EXACT = 8 * np.finfo(np.float64).eps


#: Codebooks of more rows than this in at most :data:`KDTREE_MAX_DIM` dimensions use a k-d tree.
KDTREE_MIN_ROWS = 4096
#: The k-d tree is only faster than the blocked scan in low dimension.
KDTREE_MAX_DIM = 8
#: Cosines at most -1 + ANTIPODAL_TOL count as antipodal.
ANTIPODAL_TOL = 1e-9


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return ``vectors`` (float64) with every row scaled to unit Euclidean norm.

    Rows already unit to rounding are kept bit for bit: dividing again is not idempotent, and
    copies of a codebook (relabelled, saved and loaded, used as a start) must keep exactly the same
    vectors and separation.

    >>> normalize_rows(np.array([[3.0, 4.0], [0.0, -2.0]])).tolist()
    [[0.6, 0.8], [0.0, -1.0]]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    odd = ~np.isfinite(norms) | (norms < 1e-150)  # the sum of squares overflows or underflows: rescale first
    if np.any(odd):
        big = np.max(np.abs(vectors), axis=1, keepdims=True)
        vectors = np.where(odd & (big > 0), vectors / np.where(big > 0, big, 1.0), vectors)
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


@dataclass(frozen=True)
class PairScan:
    r"""What one pass over all pairs gives: each row's largest cosine to another row
    (:math:`\max_{j \ne i} \langle c_i, c_j \rangle`) and the number of antipodal pairs."""

    row_max: np.ndarray
    antipodal_pairs: int


def scan_pairs(vectors: np.ndarray, *, progress: bool = False, tol: float = ANTIPODAL_TOL) -> PairScan:
    """One pass over all pairs of unit rows (:class:`PairScan`): a k-d tree for many rows in low
    dimension, else blocks of the Gram matrix (a progress bar with ``progress``).

    >>> scan = scan_pairs(np.vstack([np.eye(2), -np.eye(2)]))
    >>> scan.row_max.tolist(), scan.antipodal_pairs
    ([0.0, 0.0, 0.0, 0.0], 2)
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n, dim = vectors.shape
    if n < 2:
        raise ValueError("Separation needs at least 2 vectors.")
    if n > KDTREE_MIN_ROWS and dim <= KDTREE_MAX_DIM:
        return _scan_kdtree(vectors, tol)
    row_max = np.empty(n)
    count = 0
    bar = None
    if progress:
        from .cost import PROGRESS_SECONDS, format_seconds, pair_scan_seconds, progress_bar, stage

        seconds = pair_scan_seconds(n, dim)
        progress = seconds > PROGRESS_SECONDS
        bar = progress_bar(progress, n, "pairs", "row")
        stage(progress, f"comparing all pairs of {n} rows in d = {dim} (about {format_seconds(seconds)})")
    for start, g in _offdiag_blocks(vectors):
        row_max[start : start + len(g)] = g.max(axis=1)
        count += int(np.count_nonzero((g <= -1.0 + tol) & np.isfinite(g)))  # diagonal is -inf
        if bar is not None:
            bar.update(len(g))
    if bar is not None:
        bar.close()
    if progress:
        stage(True, f"compared all pairs of {n} rows: s_max {row_max.max():.6f}")
    return PairScan(row_max=row_max, antipodal_pairs=count // 2)


def scan_seconds(n: int, dim: int) -> float:
    """Estimated seconds of :func:`scan_pairs` on N rows in R^d (k-d tree: about 10 microseconds a row)."""
    from .cost import pair_scan_seconds

    if n > KDTREE_MIN_ROWS and dim <= KDTREE_MAX_DIM:
        return 1e-5 * n
    return pair_scan_seconds(n, dim)


def _scan_kdtree(vectors: np.ndarray, tol: float) -> PairScan:
    """Nearest neighbours by a k-d tree; each row's cosine is then the exact inner product."""
    from scipy.spatial import cKDTree

    n = len(vectors)
    tree = cKDTree(vectors, balanced_tree=False, compact_nodes=False)  # faster to build, as fast to query
    order = tree.indices  # the points leaf by leaf: neighbouring queries walk the same branches (cache friendly)
    _, idx = tree.query(vectors[order], k=2)
    other = np.empty(n, dtype=np.int64)
    other[order] = np.where(idx[:, 0] != order, idx[:, 0], idx[:, 1])  # duplicates: either copy, never itself
    row_max = np.einsum("ij,ij->i", vectors, vectors[other])
    # |u + v|^2 = 2 + 2 <u, v>: an antipodal partner of u lies within sqrt(2 tol) of -u
    radius = float(np.sqrt(2.0 * tol))
    dist, _ = tree.query(-vectors[order], k=1, distance_upper_bound=radius)
    close = order[np.isfinite(dist)]
    if close.size == 0:
        return PairScan(row_max=row_max, antipodal_pairs=0)
    near = tree.query_ball_point(-vectors[close], r=radius, return_length=True)  # every partner, of the few rows that have one
    return PairScan(row_max=row_max, antipodal_pairs=int(np.sum(near)) // 2)


def row_max_cosines(vectors: np.ndarray) -> np.ndarray:
    r"""For each row i, :math:`\max_{j \ne i} \langle c_i, c_j \rangle` (length N)."""
    return scan_pairs(vectors).row_max


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
    if len(vectors) < 2:
        return 0
    return scan_pairs(vectors, tol=tol).antipodal_pairs


def pairwise_cosines(vectors: np.ndarray) -> np.ndarray:
    """The N(N-1)/2 cosines of distinct pairs (upper triangle of the Gram matrix)."""
    g = gram(vectors)
    i, j = np.triu_indices(len(g), k=1)
    return g[i, j]


def pair_cosine_histogram(vectors: np.ndarray, bins: int) -> np.ndarray:
    """Counts of the N(N-1)/2 cosines of distinct pairs in ``bins`` equal bins over [-1, 1], by row
    blocks (memory ``block x N``, never the whole Gram matrix).

    >>> pair_cosine_histogram(np.eye(3), 2).tolist()
    [0, 3]
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(vectors)
    counts = np.zeros(bins, dtype=np.int64)
    for start in range(0, n, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n)
        g = vectors[start:stop] @ vectors[start:].T  # pairs (i, j) with j >= start
        rows = np.arange(start, stop)[:, None]
        upper = rows < np.arange(start, n)[None, :]
        counts += np.histogram(np.clip(g[upper], -1.0, 1.0), bins=bins, range=(-1.0, 1.0))[0]
    return counts


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
