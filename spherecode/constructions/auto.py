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

With the library of best known codes (:mod:`.library`, construction ``known``): where a configuration
of the library is a proven optimum at (N, d) it is returned at once; otherwise a configuration at
(N, d), and for N below a configuration's size in the same d (N at least half of it) a polished
subset of it, compete with the search. Every search ends with the minimax polish (:mod:`.polish`),
and the winner is polished once more (``polish=false`` turns both off).

Search robustness where it is cheap: below :data:`SMALL_WORK` (N^2 d) the search runs several
rounds (:func:`search_rounds`), alternating lse from a new seed and the polish from a random start,
each polished; N = 13 in R^3, for instance, has a bad local optimum (56.95 deg) that lse from 40
seeds did not escape while the polish from the third random start reached the optimum (57.1367 deg).
Large problems run one lse search, or at effort ``best`` several long anneals from random starts,
each sharpened in float64; the best is polished.

Every budget (lse steps, rounds, starts, the polish's linear programs) comes from the effort level
(:data:`~.base.EFFORT_BUDGETS`), counted in iterations: the same (N, d, seed, effort) gives the same
bytes on any machine. ``polish_seconds`` is the one clock, off by default; a codebook built with it
records ``machine_dependent``.

Above lse's dense limit, when a binary code is valid at (N, d) the search is skipped: at N = 21841,
d = 1024 the code has s_max 0.03125 where lse's 200 steps reach 0.0649 in 277 s. There the codes are
compared by their guaranteed s_max, 1 - 2 d_min / d, not by a full scan each (:func:`_score`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bounds.rankin import rankin_attained
from ..separation import max_cosine
from .base import Construction, Effort, Param, build_vectors, get_effort, stage
from .known import SUBSET_MAX_POINTS
from .library import configurations_at
from .orthoplex import orthoplex_vectors
from .simplex import simplex_vectors

#: Deterministic constructions built as they are and kept when they beat the search.
CODE_METHODS: tuple[str, ...] = ("bch", "rm")
#: Constructions tried as starting points for lse polishing, when registered and valid at (N, d).
#: Empty: the binary codes were measured worse as inits than random starts (see above).
INIT_METHODS: tuple[str, ...] = ()
#: Below this N^2 d the search runs several rounds (alternating lse and the polish from random starts).
SMALL_WORK = 60_000
#: A library configuration's subset competes when N is at least this fraction of its size.
SUBSET_FRACTION = 0.5


def search_rounds(n: int, dim: int, effort: str | Effort = "default", steps: int | None = None) -> int:
    """Independent searches by default. Small problems (N^2 d below :data:`SMALL_WORK`):
    ``SMALL_WORK / (N^2 d)`` clamped to [1, the effort's ``rounds``]; larger ones: the effort's lse
    starts (:meth:`~.base.Effort.starts`; 1 but at ``best``) for lse runs of ``steps`` steps.

    >>> search_rounds(13, 3), search_rounds(56, 7), search_rounds(1000, 64)
    (6, 2, 1)
    >>> search_rounds(13, 3, "fast"), search_rounds(1000, 128, "best"), search_rounds(1000, 256, "best")
    (2, 4, 2)
    """
    budget = get_effort(effort) if isinstance(effort, str) else effort
    small = SMALL_WORK // (n * n * dim)
    if small >= 1:
        return int(min(budget.rounds, small))
    from .lse import default_schedule

    return budget.starts(n, dim, default_schedule(n, dim, effort=budget).steps if steps is None else steps)


def _build(n: int, dim: int, *, seed: int, progress: bool, effort: Effort, steps: int | None, polish: bool,
           polish_seconds: float | None, rounds: int | None) -> tuple[np.ndarray, dict[str, Any]]:
    from . import CONSTRUCTIONS
    from .lse import DENSE_LIMIT

    if rankin_attained(n, dim):
        if dim >= n - 1:
            return simplex_vectors(n, dim), {"chosen": "simplex"}
        return orthoplex_vectors(n, dim), {"chosen": "orthoplex"}
    known = configurations_at(n, dim)
    exact = [e for e in known if e.n == n]
    if exact and exact[0].proven:
        return exact[0].build(), {"chosen": f"known: {exact[0].title}", "source": exact[0].source}
    budget = {"max_iter": effort.polish_programs, "progress": progress}
    budget.update({"max_rows": effort.polish_rows} if polish_seconds is None else {"time_limit": polish_seconds})
    candidates: list[tuple[str, np.ndarray, dict[str, Any]]] = []
    for e in known:
        if e.n == n or (n >= SUBSET_FRACTION * e.n and e.n <= SUBSET_MAX_POINTS and polish):
            vectors, info = build_vectors(CONSTRUCTIONS["known"], n, dim, effort=effort.name, code=e.key,
                                          polish_seconds=polish_seconds, progress=progress)
            label = f"known: {e.title}" + ("" if e.n == n else f" (subset of {e.n}, polished)")
            candidates.append((label, vectors, {"source": e.source}))
    codes = [(name, *build_vectors(CONSTRUCTIONS[name], n, dim, seed=seed))
             for name in CODE_METHODS if name in CONSTRUCTIONS and CONSTRUCTIONS[name].check(n, dim) is None]
    candidates += codes
    if not (codes and n > DENSE_LIMIT):
        candidates += _search(n, dim, seed, progress, effort, steps, polish, budget,
                              rounds or search_rounds(n, dim, effort, steps))
    for name in INIT_METHODS:
        c = CONSTRUCTIONS.get(name)
        if c is not None and c.check(n, dim) is None:
            start, _ = build_vectors(c, n, dim, seed=seed)
            from .lse import lse_vectors

            candidates.append((f"lse from {name}", lse_vectors(n, dim, seed=seed, steps=steps, init=start,
                                                               effort=effort), {}))
    scored = [(_score(n, dim, v, info, DENSE_LIMIT), k, label, v, info) for k, (label, v, info) in enumerate(candidates)]
    for s, _, label, _, _ in scored:
        stage(progress, f"auto N={n} d={dim}: candidate {label}: s_max {s:.6f}")
    s, _, chosen, best, info = min(scored, key=lambda c: (c[0], c[1]))  # first wins a tie
    out: dict[str, Any] = {"chosen": chosen, **info}
    if polish and n <= DENSE_LIMIT and "certificate" not in info:
        from .polish import polish as run_polish

        best, cert = run_polish(best, **budget)
        out["certificate"] = cert.summary()
        stage(progress, f"auto N={n} d={dim}: polished {chosen}: s_max {cert.s_max:.6f} "
                        f"({cert.iterations} programs, {cert.stopped})")
    if polish_seconds is not None and polish:
        out["machine_dependent"] = True  # a polish stopped by the clock
    return best, out


def _score(n: int, dim: int, vectors: np.ndarray, info: dict[str, Any], dense_limit: int) -> float:
    """s_max, measured; above the dense limit a binary code is scored by its guaranteed value
    1 - 2 d_min / d instead (its words are at least d_min apart), which saves a full N^2 d scan per code
    (about a minute at N = 21841, d = 1024 on a shared core)."""
    if n > dense_limit and "code_d" in info:
        return 1.0 - 2.0 * float(info["code_d"]) / dim
    return max_cosine(vectors)


def _search(n: int, dim: int, seed: int, progress: bool, effort: Effort, steps: int | None, polish: bool,
            budget: dict[str, Any], rounds: int) -> list[tuple[str, np.ndarray, dict[str, Any]]]:
    """``rounds`` searches: lse from seed, seed + 1, ...; for small problems (N^2 d below
    :data:`SMALL_WORK`) every other round is the polish from a random start instead, and each round is
    polished when ``polish``."""
    from . import CONSTRUCTIONS
    from .lse import DENSE_LIMIT
    from .polish import polish as run_polish
    from .random import random_vectors

    small = n * n * dim < SMALL_WORK
    out = []
    for r in range(rounds):
        if small and r % 2 == 1 and polish:
            start, label = random_vectors(n, dim, seed + r), f"polish from random start {r}"
        else:
            start, _ = build_vectors(CONSTRUCTIONS["lse"], n, dim, seed=seed + r, progress=progress,
                                     effort=effort.name, steps=steps)
            label = "lse" if r == 0 else f"lse seed {seed + r}"
        info: dict[str, Any] = {}
        if polish and small and n <= DENSE_LIMIT and rounds > 1:
            start, cert = run_polish(start, **budget)
            info["certificate"] = cert.summary()
        stage(progress, f"auto N={n} d={dim}: round {r + 1}/{rounds} ({label}) done")
        out.append((label, start, info))
    return out


def _memory(n: int, dim: int, params: Any) -> int:  # the effort changes steps, not memory
    from .lse import lse_memory

    return lse_memory(n, dim, {"steps": params.get("steps")})


CONSTRUCTION = Construction(
    name="auto",
    build=_build,
    summary="the best the toolkit can do: simplex/orthoplex where Rankin's bound is attained, a proven known "
            "code, else the best of lse searches, known codes (or polished subsets) and binary codes, polished",
    params=(
        Param("steps", int, None, low=0, help="lse steps (default: lse's at the effort)"),
        Param("polish", bool, True, help="end the searches and the winner with the minimax polish"),
        Param("polish_seconds", float, None, low=0, positive=True,
              help="time limit of each polish (default: none, the effort's budget of linear programs; "
                   "a limit makes the result machine-dependent)"),
        Param("rounds", int, None, low=1, help="independent searches (default: more for small N^2 d, "
                                               "several lse starts at effort best)"),
    ),
    optimal=lambda n, dim: rankin_attained(n, dim) or any(e.n == n and e.proven for e in configurations_at(n, dim)),
    memory=_memory,
    effort=True,
)
