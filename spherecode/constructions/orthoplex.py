r"""The cross-polytope (orthoplex): the vectors :math:`\pm e_k`.

For :math:`d + 2 \le N \le 2d` any N of the 2d vectors :math:`\pm e_k` have
:math:`s_{\max} = 0`, which attains Rankin's orthoplex bound and is therefore optimal.
We take :math:`e_1, \dots, e_d` first and then :math:`-e_1, -e_2, \dots`, so that a prototype
and its antipode are never neighbours in label order.
"""

from __future__ import annotations

import numpy as np

from ..bounds.rankin import rankin_attained
from .base import Construction


def orthoplex_vectors(n: int, dim: int) -> np.ndarray:
    """N of the 2d vectors ±e_k as rows: e_1..e_d, then -e_1, -e_2, ... (needs N <= 2d).

    Examples:
        >>> orthoplex_vectors(3, 2)
        array([[ 1.,  0.],
               [ 0.,  1.],
               [-1., -0.]])
    """
    if not 1 <= n <= 2 * dim:
        raise ValueError(f"orthoplex needs 1 <= n <= 2 * dim, got n={n}, dim={dim}")
    eye = np.eye(dim)
    return np.vstack([eye, -eye])[:n]


def _build(n: int, dim: int, *, seed: int, progress: bool) -> np.ndarray:
    return orthoplex_vectors(n, dim)


CONSTRUCTION = Construction(
    name="orthoplex",
    build=_build,
    summary="the cross-polytope ±e_k: s_max = 0, optimal (Rankin) for d + 2 <= N <= 2d",
    requires="N <= 2d",
    check=lambda n, dim: None if n <= 2 * dim else f"the cross-polytope has only 2d = {2 * dim} vertices",
    optimal=lambda n, dim: n >= dim + 2 and rankin_attained(n, dim),
    deterministic=True,
)
