"""Codebook constructions: a registry from a method name to a :class:`Construction`.

>>> from spherecode.constructions import generate
>>> generate(4, 3, method="simplex").max_cosine  # doctest: +ELLIPSIS
-0.333333333333...
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..codebook import Codebook
from ..errors import check_choice
from . import auto, bch, known, lse, mettes, orthoplex, random, reed_muller, simplex
from .base import EFFORT_BUDGETS, EFFORTS, Construction, Effort, Param, build_vectors, check_size, run_construction

#: Every construction by name. ``auto`` is the default.
CONSTRUCTIONS: dict[str, Construction] = {
    c.name: c
    for c in (
        auto.CONSTRUCTION,
        simplex.CONSTRUCTION,
        orthoplex.CONSTRUCTION,
        random.CONSTRUCTION,
        bch.CONSTRUCTION,
        reed_muller.CONSTRUCTION,
        lse.CONSTRUCTION,
        mettes.CONSTRUCTION,
        known.CONSTRUCTION,
    )
}


def get_construction(method: str) -> Construction:
    """The construction called ``method``; the error lists the valid names."""
    return CONSTRUCTIONS[check_choice("method", method, CONSTRUCTIONS)]


def generate(n: int, dim: int, method: str = "auto", *, seed: int = 0, effort: str = "default", progress: bool = False,
             **params: Any) -> Codebook:
    """Make a codebook of ``n`` unit vectors in ``dim`` dimensions with ``method``.

    Args:
        n: number of prototypes N (at least 2).
        dim: dimension d (at least 1).
        method: a key of :data:`CONSTRUCTIONS`.
        seed: random seed; the same seed (and effort) gives the same codebook, on any machine and under any
            load: every budget is counted in iterations (docs/constructions.md, "Effort and determinism").
        effort: ``"fast"`` (sweeps and plots), ``"default"`` or ``"best"`` (minutes): the search budgets of
            :data:`~.base.EFFORT_BUDGETS`; recorded in the codebook by the constructions that follow it.
        progress: show progress on stderr for long searches (bars on a terminal, else one line per stage).
        **params: the method's own parameters (see ``Construction.parameters()``).

    Raises:
        SpherecodeError: for an unknown method, an impossible (N, d), an (N, d) too large for this
            machine's memory, or an unknown or invalid parameter (see ``Construction.params``).
    """
    return run_construction(get_construction(method), n, dim, seed=seed, effort=effort, progress=progress, **params)


def construction_table(n: int, dim: int, build: bool = True) -> dict[str, dict[str, Any]]:
    """For each registered construction at (N, d): valid (and why not), provably optimal, deterministic,
    and, when ``build``, the s_max of the deterministic ones, built and measured (``known`` reports its
    configuration's value from the definition at its own size instead of measuring, e.g., 196560 points).
    Nothing is built where Rankin's bound is attained (the simplex or cross-polytope closes the interval),
    nor where building and measuring would take more than :data:`spherecode.cost.QUICK_SECONDS` or a
    quarter of the memory available: ``not_built`` then says why.
    Feed it to :func:`spherecode.bounds.bounds_report` as ``achieved`` / ``optimal``.
    """
    from ..bounds.rankin import rankin_attained
    from .library import configurations_at

    n, dim = check_size(n, dim)
    build = build and not rankin_attained(n, dim)
    table: dict[str, dict[str, Any]] = {}
    for name, c in CONSTRUCTIONS.items():
        reason = c.check(n, dim)
        entry: dict[str, Any] = {"valid": reason is None, "reason": reason,
                                 "optimal": reason is None and bool(c.optimal(n, dim)),
                                 "deterministic": c.deterministic, "max_cosine": None}
        if reason is None and build and c.deterministic:
            if name == "known":
                exact = [e for e in configurations_at(n, dim) if e.n == n]
                entry["max_cosine"] = exact[0].max_cosine if exact else None
            else:
                entry["not_built"] = _too_costly(c, n, dim)
                if entry["not_built"] is None:
                    entry["max_cosine"] = _measured(name, n, dim)
        table[name] = entry
    return table


def _too_costly(c: Construction, n: int, dim: int) -> str | None:
    """Why building and measuring ``c`` at (N, d) is too costly for a report, or None."""
    from ..cost import QUICK_SECONDS, available_memory, format_bytes, format_seconds
    from ..separation import scan_seconds

    seconds = scan_seconds(n, dim)
    if seconds > QUICK_SECONDS:
        return f"measuring all pairs would take about {format_seconds(seconds)}"
    memory = 8 * n * dim + int(c.memory(n, dim, c.checked_params({})))
    if memory > available_memory() / 4:
        return f"it would need about {format_bytes(memory)} of memory"
    return None


@lru_cache(maxsize=256)
def _measured(name: str, n: int, dim: int) -> float:
    return generate(n, dim, name).max_cosine


__all__ = ["CONSTRUCTIONS", "EFFORTS", "EFFORT_BUDGETS", "Construction", "Effort", "Param", "build_vectors", "generate", "get_construction", "check_size", "construction_table"]
