"""Codebook constructions: a registry from a method name to a :class:`Construction`.

>>> from spherecode.constructions import generate
>>> generate(4, 3, method="simplex").max_cosine  # doctest: +ELLIPSIS
-0.333333333333...
"""

from __future__ import annotations

from typing import Any

from ..codebook import Codebook
from ..errors import check_choice
from . import auto, bch, lse, mettes, orthoplex, random, reed_muller, simplex
from .base import Construction, check_size, run_construction

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
    )
}


def get_construction(method: str) -> Construction:
    """The construction called ``method``; the error lists the valid names."""
    return CONSTRUCTIONS[check_choice("method", method, CONSTRUCTIONS)]


def generate(n: int, dim: int, method: str = "auto", *, seed: int = 0, progress: bool = False, **params: Any) -> Codebook:
    """Make a codebook of ``n`` unit vectors in ``dim`` dimensions with ``method``.

    Args:
        n: number of prototypes N (at least 2).
        dim: dimension d (at least 1).
        method: a key of :data:`CONSTRUCTIONS`.
        seed: random seed; the same seed gives the same codebook.
        progress: show a progress bar for long searches.
        **params: the method's own parameters (see ``Construction.parameters()``).

    Raises:
        SpherecodeError: for an unknown method, an impossible (N, d) or an unknown parameter.
    """
    return run_construction(get_construction(method), n, dim, seed=seed, progress=progress, **params)


__all__ = ["CONSTRUCTIONS", "Construction", "generate", "get_construction", "check_size"]
