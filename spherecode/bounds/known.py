r"""Best known and proven optimal spherical codes, shipped as package data (``known_codes.json``).

A code of N' points in :math:`\mathbb{R}^{d'}` with maximal cosine s gives, for every
:math:`N \le N'` and :math:`d \ge d'`, an N-point code in :math:`\mathbb{R}^d` with
:math:`s_{\max} \le s` (drop points, pad with zeros). :func:`best_known_upper` uses that to turn the
table into an achievable upper bound on the optimum of (P) for any (N, d).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import check_int


@dataclass(frozen=True)
class KnownCode:
    """One table entry: ``n`` points in ``dim`` dimensions with maximal cosine ``max_cosine``.

    ``exact`` is true when the value is a proven optimum (``proof`` names the argument).
    """

    dim: int
    n: int
    max_cosine: float
    exact: bool
    configuration: str
    expression: str | None = None
    proof: str | None = None
    note: str | None = None


@lru_cache(maxsize=1)
def known_codes() -> tuple[KnownCode, ...]:
    """Every table entry, ordered by (dim, n).

    >>> len([c for c in known_codes() if c.exact]) >= 10
    True
    """
    text = resources.files(__package__).joinpath("known_codes.json").read_text(encoding="utf-8")
    entries = json.loads(text)["codes"]
    return tuple(sorted((KnownCode(**e) for e in entries), key=lambda c: (c.dim, c.n)))


def known_code(n: int, dim: int) -> KnownCode | None:
    """The table entry for exactly (N, d), if there is one.

    >>> known_code(240, 8).max_cosine
    0.5
    """
    n = check_int("n", n, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    return next((c for c in known_codes() if c.n == n and c.dim == dim), None)


def best_known_upper(n: int, dim: int) -> KnownCode | None:
    r"""The table entry with the smallest maximal cosine among codes with :math:`N' \ge N` points in
    :math:`d' \le d` dimensions: its value is achievable for (N, d).

    >>> best_known_upper(200, 8).configuration
    'E8 roots (kissing configuration)'
    """
    n = check_int("n", n, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    usable = [c for c in known_codes() if c.n >= n and c.dim <= dim]
    return min(usable, key=lambda c: (c.max_cosine, -c.exact), default=None)
