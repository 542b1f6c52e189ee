"""Slow, obvious references for the bounds tests: exhaustive code search and explicit configurations."""

from __future__ import annotations

import itertools
from functools import lru_cache

import networkx as nx
import numpy as np


@lru_cache(maxsize=None)
def brute_force_a(n: int, d: int) -> int:
    """A(n, d) by an exact maximum-clique search over {0,1}^n (words joined when at distance >= d).

    By translation invariance a largest code may be assumed to contain 0, so the search runs over the
    words of weight >= d only."""
    if d == 1:
        return 2**n
    words = [w for w in range(1, 2**n) if bin(w).count("1") >= d]
    g = nx.Graph()
    g.add_nodes_from(words)
    g.add_edges_from((u, v) for u, v in itertools.combinations(words, 2) if bin(u ^ v).count("1") >= d)
    clique, _ = nx.max_weight_clique(g, weight=None)
    return 1 + len(clique)


def icosahedron() -> np.ndarray:
    phi = (1 + 5**0.5) / 2
    pts = []
    for a, b in itertools.product((-1, 1), repeat=2):
        pts += [(0, a, b * phi), (a, b * phi, 0), (b * phi, 0, a)]
    v = np.array(pts, dtype=float)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def cell24() -> np.ndarray:
    """The 24-cell: the 24 roots of D4, (+-1, +-1, 0, 0) and permutations."""
    pts = set()
    for i, j in itertools.combinations(range(4), 2):
        for a, b in itertools.product((-1, 1), repeat=2):
            p = [0, 0, 0, 0]
            p[i], p[j] = a, b
            pts.add(tuple(p))
    v = np.array(sorted(pts), dtype=float)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def e8_roots() -> np.ndarray:
    """The 240 roots of E8: 112 of the form (+-1, +-1, 0^6) and 128 of (+-1/2)^8 with an even number of minus signs."""
    pts = []
    for i, j in itertools.combinations(range(8), 2):
        for a, b in itertools.product((-1, 1), repeat=2):
            p = [0.0] * 8
            p[i], p[j] = a, b
            pts.append(p)
    for signs in itertools.product((-0.5, 0.5), repeat=8):
        if sum(s < 0 for s in signs) % 2 == 0:
            pts.append(list(signs))
    v = np.array(pts)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def cell600() -> np.ndarray:
    """The 600-cell: the 120 unit icosians."""
    phi = (1 + 5**0.5) / 2
    pts = set()
    for i in range(4):
        for a in (-1, 1):
            p = [0.0] * 4
            p[i] = a
            pts.add(tuple(p))
    for signs in itertools.product((-0.5, 0.5), repeat=4):
        pts.add(signs)
    even = [p for p in itertools.permutations(range(4)) if _parity(p) == 0]
    for a, b, c in itertools.product((-1, 1), repeat=3):
        base = (0.0, a * phi / 2, b * 0.5, c / (2 * phi))
        for p in even:
            pts.add(tuple(round(base[p[k]], 12) for k in range(4)))
    v = np.array(sorted(pts))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _parity(p: tuple[int, ...]) -> int:
    inv = sum(1 for i in range(len(p)) for j in range(i + 1, len(p)) if p[i] > p[j])
    return inv % 2


def worst_cosine(v: np.ndarray) -> float:
    g = v @ v.T
    np.fill_diagonal(g, -np.inf)
    return float(g.max())
