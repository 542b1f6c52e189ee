r"""Assignment relabelling: give each class the prototype its embeddings already point to.

After a warm-up, with class-mean embeddings :math:`m_y` (N x d) and codebook rows :math:`c_k`,
solve the linear assignment problem

.. math::
    \pi^\star = \arg\max_{\pi \in S_N} \sum_y \langle m_y, c_{\pi(y)} \rangle

exactly with the Hungarian-type algorithm of :func:`scipy.optimize.linear_sum_assignment`
(:math:`O(N^3)`). Class ``y`` then uses row ``pi[y]``.

Examples:
    >>> c = np.eye(3)
    >>> means = c[[2, 0, 1]] * 5 + 0.1
    >>> assignment_permutation(means, c).tolist()
    [2, 0, 1]
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..codebook import Codebook
from ..errors import SpherecodeError


def _rows(codebook: Codebook | np.ndarray) -> np.ndarray:
    """The codebook's rows (``vectors``, not class order: a permutation indexes these rows)."""
    return codebook.vectors if isinstance(codebook, Codebook) else np.asarray(codebook, dtype=np.float64)


def assignment_permutation(means: np.ndarray, codebook: Codebook | np.ndarray, normalize: bool = False) -> np.ndarray:
    r"""The permutation maximising :math:`\sum_y \langle m_y, c_{\pi(y)} \rangle`.

    Args:
        means: (N, d) class-mean embeddings, row y for class y.
        codebook: a :class:`Codebook` (its ``vectors`` rows) or an (N, d) prototype matrix.
        normalize: scale each mean to unit length first (every class then weighs the same).

    Returns:
        int64 array ``pi`` of length N: class ``y`` uses row ``pi[y]``.
    """
    c = _rows(codebook)
    m = np.asarray(means, dtype=np.float64)
    if m.ndim != 2 or m.shape != c.shape:
        raise SpherecodeError(f"Argument 'means' must be an (N, d) = {c.shape} matrix (one mean per class, "
                              f"the codebook's dimension), not shape {m.shape}.")
    if not np.all(np.isfinite(m)):
        raise SpherecodeError("Argument 'means' contains NaN or infinite entries.")
    if normalize:
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        m = m / np.where(norms == 0, 1.0, norms)
    rows, cols = linear_sum_assignment(m @ c.T, maximize=True)
    perm = np.empty(len(c), dtype=np.int64)
    perm[rows] = cols
    return perm


def assignment_score(means: np.ndarray, codebook: Codebook | np.ndarray, permutation: np.ndarray | None = None) -> float:
    r""":math:`\sum_y \langle m_y, c_{\pi(y)} \rangle` (identity when ``permutation`` is None)."""
    c = _rows(codebook)
    m = np.asarray(means, dtype=np.float64)
    protos = c if permutation is None else c[np.asarray(permutation)]
    return float(np.sum(m * protos))
