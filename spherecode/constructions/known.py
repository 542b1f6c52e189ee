"""``known``: the best known code of the library (:mod:`.library`) at (N, d), or a polished subset of one.

At its own size a configuration is returned exactly as defined. For N below a configuration's size
in the same dimension, a subset is taken and polished (:mod:`.polish`): the N points farthest from
one point of the code (a spherical cap of the code is dropped, which leaves the remaining points room
to spread), so s_max is never above the code's own. The codebook records the configuration's
``code``, ``title`` and ``source``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Construction, Effort, Param, get_effort, stage
from .library import configurations_at, library

#: Subsets are only taken from configurations of at most this many points (the polish is the cost).
SUBSET_MAX_POINTS = 20_000


def cap_subset(vectors: np.ndarray, n: int) -> np.ndarray:
    """The N rows farthest from row 0 (the others lie in a cap around it), in their original order."""
    order = np.argsort(vectors @ vectors[0], kind="stable")  # most distant first
    return vectors[np.sort(order[:n])]


def known_vectors(n: int, dim: int, code: str | None = None, polish_seconds: float | None = None,
                  effort: str | Effort = "default", progress: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """The configuration ``code`` (default: the best in the library at (N, d)) or a polished subset of it;
    the subset's polish runs the effort's budget of linear programs, or for ``polish_seconds`` seconds
    when given (then the result depends on the machine's speed and records ``machine_dependent``)."""
    from ..errors import SpherecodeError

    found = configurations_at(n, dim)
    if code is not None:
        chosen = [e for e in found if e.key == code]
        if not chosen:
            valid = ", ".join(e.key for e in found) or "none"
            raise SpherecodeError(f"Argument 'code' must name a configuration with N >= {n} points in d={dim} "
                                  f"({valid}); got {code!r}.")
        entry = chosen[0]
    else:
        entry = found[0]
    info: dict[str, Any] = {"code": entry.key, "title": entry.title, "source": entry.source, "code_n": entry.n}
    vectors = entry.build()
    if entry.n == n:
        return vectors, info
    from .polish import polish

    budget = get_effort(effort) if isinstance(effort, str) else effort
    subset = cap_subset(vectors, n)
    if polish_seconds is None:
        polished, cert = polish(subset, max_iter=budget.polish_programs, max_rows=budget.polish_rows, progress=progress)
    else:
        polished, cert = polish(subset, max_iter=budget.polish_programs, time_limit=polish_seconds, progress=progress)
        info["machine_dependent"] = True
    stage(progress, f"known N={n} d={dim}: subset of {entry.key} polished, s_max {cert.s_max:.6f}")
    return polished, {**info, "subset": "cap removed", "certificate": cert.summary()}


def _check(n: int, dim: int) -> str | None:
    found = [e for e in configurations_at(n, dim) if e.n == n or e.n <= SUBSET_MAX_POINTS]
    if found:
        return None
    return f"no known code for this N, d: the library has no configuration with at least {n} points in d={dim}"


def _optimal(n: int, dim: int) -> bool:
    return any(e.n == n and e.proven for e in configurations_at(n, dim))


def _build(n: int, dim: int, *, seed: int, progress: bool, effort: Effort, code: str | None,
           polish_seconds: float | None) -> Any:
    return known_vectors(n, dim, code, polish_seconds, effort, progress)


CONSTRUCTION = Construction(
    name="known",
    build=_build,
    summary="best known codes built from their definitions (Tammes, polytopes, root systems, Schlafli, Gosset, "
            "Leech); a polished subset for smaller N",
    params=(Param("code", str, None, help="a library key (default: the best at (N, d))"),
            Param("polish_seconds", float, None, low=0, positive=True,
                  help="time limit of the subset polish (default: none, the effort's budget of linear programs; "
                       "a limit makes the result machine-dependent)")),
    requires="a library configuration in d with >= N points",
    check=_check,
    optimal=_optimal,
    deterministic=True,
    effort=True,
)


def describe_library() -> list[str]:
    """One line per library configuration, for ``spherecode methods``."""
    lines = [e.describe() for e in library()]
    lines.append("polygon: regular N-gon, any N, d=2, s_max=cos(2 pi/N) (proven optimal)")
    lines.append("dN-roots: D_n roots, N=2n(n-1), d=n (5, 9..32), s_max=1/2; Conway & Sloane ch. 4")
    return lines
