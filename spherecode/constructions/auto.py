"""``auto``: the best codebook the toolkit can make for (N, d).

Where a construction provably attains Rankin's bound it is used: the regular simplex for
d >= N - 1 (s_max = -1/(N-1)) and the cross-polytope for d + 2 <= N <= 2d (s_max = 0); both are
exact, so ``auto`` reaches the optimum wherever the bound is attained. Otherwise it runs the best
search, :mod:`lse` from random starts, and also polishes with :mod:`lse` every construction named
in :data:`INIT_METHODS` that is registered and valid at (N, d); the codebook with the smallest
s_max wins, and its origin is recorded as ``chosen``.

Binary codes as starting points were measured and are *not* used: polishing the ``bch`` / ``rm``
codebook with lse ended worse than lse from random starts at every point tried (s_max, N = 100:
d=15 0.266 vs 0.224; d=16 0.248 (bch), 0.250 (rm) vs 0.208; d=31 0.115 vs 0.082; d=32 0.113, 0.108
vs 0.078), and would double the run time. Add a name to :data:`INIT_METHODS` to try other inits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..separation import max_cosine
from .base import Construction
from .orthoplex import orthoplex_vectors
from .simplex import simplex_vectors

#: Constructions tried as starting points for lse polishing, when registered and valid at (N, d).
#: Empty: the binary codes were measured worse as inits than random starts (see above).
INIT_METHODS: tuple[str, ...] = ()


def _build(n: int, dim: int, *, seed: int = 0, progress: bool = False,
           steps: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    if dim >= n - 1:
        return simplex_vectors(n, dim), {"chosen": "simplex"}
    if n <= 2 * dim:
        return orthoplex_vectors(n, dim), {"chosen": "orthoplex"}
    from . import CONSTRUCTIONS
    from .lse import lse_vectors

    best = lse_vectors(n, dim, seed=seed, progress=progress, steps=steps)
    chosen, best_s = "lse", max_cosine(best)
    for name in INIT_METHODS:
        c = CONSTRUCTIONS.get(name)
        if c is None or c.check(n, dim) is not None:
            continue
        out = c.build(n, dim, seed=seed, progress=False)
        start = out[0] if isinstance(out, tuple) else out
        polished = lse_vectors(n, dim, seed=seed, progress=progress, steps=steps, init=start)
        s = max_cosine(polished)
        if s < best_s:
            best, chosen, best_s = polished, f"lse from {name}", s
    return best, {"chosen": chosen}


CONSTRUCTION = Construction(
    name="auto",
    build=_build,
    summary="the best the toolkit can do: simplex/orthoplex where optimal, else an lse search",
    optimal=lambda n, dim: dim >= n - 1 or n <= 2 * dim,
)
