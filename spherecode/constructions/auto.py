"""``auto``: the best codebook the toolkit can make for (N, d).

Where a construction provably attains a bound it is used (the regular simplex for d >= N - 1,
the cross-polytope for N <= 2d); otherwise the best search runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Construction
from .orthoplex import orthoplex_vectors
from .simplex import simplex_vectors


def _build(n: int, dim: int, *, seed: int = 0, progress: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    if dim >= n - 1:
        return simplex_vectors(n, dim), {"chosen": "simplex"}
    if n <= 2 * dim:
        return orthoplex_vectors(n, dim), {"chosen": "orthoplex"}
    from .lse import lse_vectors

    return lse_vectors(n, dim, seed=seed, progress=progress), {"chosen": "lse"}


CONSTRUCTION = Construction(
    name="auto",
    build=_build,
    summary="the best the toolkit can do: an optimal construction where one exists, else a search",
    optimal=lambda n, dim: dim >= n - 1 or n <= 2 * dim,
)
