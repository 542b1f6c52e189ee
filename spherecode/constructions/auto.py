"""``auto``: the best codebook the toolkit can make for (N, d).

Where a construction provably attains Rankin's bound it is used: the regular simplex for
d >= N - 1 (s_max = -1/(N-1)) and the cross-polytope for d + 2 <= N <= 2d (s_max = 0); both are
exact, so ``auto`` reaches the optimum wherever the bound is attained. Otherwise it runs the best
search, :mod:`lse` from random starts, builds every binary code of :data:`CODE_METHODS` that is
valid at (N, d) as it is, and polishes with :mod:`lse` every construction named in
:data:`INIT_METHODS`; the codebook with the smallest s_max wins, and its origin is recorded as
``chosen`` (with the code's parameters when a code wins).

The binary codes win where N is large for d and d is a code length: at N = 21841, d = 1024 the
extended BCH(1023) code has s_max 0.03125 where lse's default run reaches 0.0649 (and polishing the
code with lse leaves it at 0.03125: its worst pairs are too many and too rigid); at N = 1000, d = 64
the extended BCH(63) code has 0.125 against lse's 0.146. Elsewhere lse wins (N = 1000, d = 128:
0.073 against 0.125; d = 256: 0.032 against BCH(255)'s 0.059).

Binary codes as *starting points* were measured and are not used: polishing the ``bch`` / ``rm``
codebook with lse ended worse than lse from random starts at every point tried (s_max, N = 100:
d=15 0.266 vs 0.224; d=16 0.248 (bch), 0.250 (rm) vs 0.208; d=31 0.115 vs 0.082; d=32 0.113, 0.108
vs 0.078), and would double the run time. Add a name to :data:`INIT_METHODS` to try other inits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..separation import max_cosine
from .base import Construction
from .orthoplex import orthoplex_vectors
from .simplex import simplex_vectors

#: Deterministic constructions built as they are and kept when they beat the search.
CODE_METHODS: tuple[str, ...] = ("bch", "rm")
#: Constructions tried as starting points for lse polishing, when registered and valid at (N, d).
#: Empty: the binary codes were measured worse as inits than random starts (see above).
INIT_METHODS: tuple[str, ...] = ()


def _build(n: int, dim: int, *, seed: int = 0, progress: bool = False,
           steps: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    if dim >= n - 1:
        return simplex_vectors(n, dim), {"chosen": "simplex"}
    if n <= 2 * dim:
        return orthoplex_vectors(n, dim), {"chosen": "orthoplex"}
    from .lse import lse_vectors

    candidates = [("lse", lse_vectors(n, dim, seed=seed, progress=progress, steps=steps), {})]
    for name, (vectors, info) in _valid_builds(CODE_METHODS, n, dim, seed):
        candidates.append((name, vectors, info))
    for name, (vectors, _) in _valid_builds(INIT_METHODS, n, dim, seed):
        polished = lse_vectors(n, dim, seed=seed, progress=progress, steps=steps, init=vectors)
        candidates.append((f"lse from {name}", polished, {}))
    chosen, best, info = min(candidates, key=lambda c: max_cosine(c[1]))  # first wins a tie: lse
    return best, {"chosen": chosen, **info}


def _valid_builds(names: tuple[str, ...], n: int, dim: int, seed: int) -> Iterator[tuple[str, tuple[np.ndarray, dict]]]:
    """``(name, (vectors, info))`` for each registered construction in ``names`` that is valid at (N, d)."""
    from . import CONSTRUCTIONS

    for name in names:
        c = CONSTRUCTIONS.get(name)
        if c is not None and c.check(n, dim) is None:
            out = c.build(n, dim, seed=seed, progress=False)
            yield name, (out if isinstance(out, tuple) else (out, {}))


CONSTRUCTION = Construction(
    name="auto",
    build=_build,
    summary="the best the toolkit can do: simplex/orthoplex where optimal, else the better of an lse search "
            "and the binary codes",
    optimal=lambda n, dim: dim >= n - 1 or n <= 2 * dim,
)
