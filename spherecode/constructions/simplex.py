r"""Kasarla et al. (NeurIPS 2022): maximum separation in one matrix, the regular simplex.

Solves :math:`\min a` subject to :math:`\langle c_i, c_j\rangle = a` for all :math:`i \ne j`
in closed form: N vertices of the regular simplex in :math:`\mathbb{R}^{N-1}`, with
:math:`\langle c_i, c_j \rangle = -1/(N-1)`, which attains Rankin's simplex bound. The matrix is
built by Kasarla et al.'s recursion

.. math::
    V_1 = \begin{pmatrix} 1 & -1 \end{pmatrix},\qquad
    V_k = \begin{pmatrix} 1 & -\tfrac1k \mathbf{1}_k^\top \\
                          \mathbf{0}_{k-1} & \sqrt{1 - 1/k^2}\, V_{k-1} \end{pmatrix}
    \in \mathbb{R}^{k \times (k+1)},

whose k + 1 columns are unit vectors with pairwise inner product :math:`-1/k`. Unrolled, row
:math:`r` of :math:`V_K` is the top row of :math:`V_{m}`, :math:`m = K - r`, scaled by
:math:`\prod_{j=m+1}^{K} \sqrt{1 - 1/j^2} = \sqrt{m (K + 1) / (K (m + 1))}` (the product telescopes),
so the whole matrix is written at once in :math:`O(N^2)` rather than grown one row at a time.
"""

from __future__ import annotations

import numpy as np

from .base import Construction


def simplex_vectors(n: int, dim: int | None = None) -> np.ndarray:
    r"""The N vertices of the regular simplex as rows, zero-padded to ``dim`` columns.

    Args:
        n: number of vertices, at least 2.
        dim: output dimension, at least N - 1 (default N - 1).

    Examples:
        >>> v = simplex_vectors(4)
        >>> float(np.round(v @ v.T, 12)[0, 1])
        -0.333333333333
    """
    k = n - 1
    dim = k if dim is None else dim
    if n < 2 or dim < k:
        raise ValueError(f"simplex needs n >= 2 and dim >= n - 1, got n={n}, dim={dim}")
    r = np.arange(k)
    m = (k - r).astype(np.float64)
    scale = np.sqrt(m * (k + 1) / (k * (m + 1)))
    out = np.zeros((n, dim))
    out[:, :k] = np.tril(np.broadcast_to(-scale / m, (n, k)), -1)  # vertex c, coordinate r < c: -scale/m
    out[r, r] = scale
    return out


def _build(n: int, dim: int, *, seed: int, progress: bool) -> np.ndarray:
    return simplex_vectors(n, dim)


CONSTRUCTION = Construction(
    name="simplex",
    build=_build,
    summary="Kasarla et al.'s closed-form regular simplex, cos = -1/(N-1); zero-padded when d > N-1",
    requires="d >= N - 1",
    check=lambda n, dim: None if dim >= n - 1 else f"the regular simplex needs d >= N - 1 = {n - 1}",
    optimal=lambda n, dim: dim >= n - 1,
    deterministic=True,
)
