r"""Best known spherical codes, built from their definitions, with their provenance.

Every configuration is built from its definition (Conway & Sloane, *Sphere Packings, Lattices and
Groups*, ch. 1, 4 and 8; Coxeter, *Regular Polytopes*) and measured; where no closed form exists
(the Tammes optima for N = 7, 8, 9, 10, 13, 14) the coordinates found by this package's search and
polish are shipped (``tammes.json``) and checked against the proven optimum in the tests.

* the regular N-gon in R^2 (optimal for every N);
* the Tammes optima in R^3 for N = 4..14 (proven: Fejes Toth 1943, Schutte & van der Waerden 1951,
  Danzer 1963, Musin & Tarasov 2012 and 2015);
* the 24-cell (= D4 roots, 24 in R^4, cos 1/2) and the 600-cell (120 in R^4, cos 36 deg, optimal);
* the root systems D_n (2n(n-1) in R^n), E6 (72), E7 (126), E8 (240, optimal), cos 1/2;
* the Schlafli configuration (27 in R^6, cos 1/4, optimal) and Gosset's (56 in R^7, cos 1/3,
  optimal), from the E8 roots: Gosset = {r : r.a = 1} and Schlafli = {r : r.a = 1, r.b = 0}
  projected on the orthogonal complement of a (and b), for roots a, b with a.b = -1;
* the minimal vectors of the Leech lattice (196560 in R^24, cos 1/2, optimal), from the extended
  Golay code.

The constructions work in exact arithmetic where they can (integer coordinates) and return float64
unit rows.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

PHI = (1 + math.sqrt(5)) / 2


@dataclass(frozen=True)
class KnownConfiguration:
    """One configuration of the library.

    Attributes:
        key: short name (``-p code=KEY``).
        title: what it is, for reports.
        n, dim: N points in R^d.
        max_cosine: its worst-case cosine, from the definition (the tests measure it).
        proven: whether it is a proven optimum of (P) at (N, d).
        source: where the construction (and the proof, if any) comes from.
        build: makes the (N, d) float64 unit rows.
    """

    key: str
    title: str
    n: int
    dim: int
    max_cosine: float
    proven: bool
    source: str
    build: Callable[[], np.ndarray]

    def describe(self) -> str:
        return (f"{self.key}: {self.title}, N={self.n}, d={self.dim}, s_max={self.max_cosine:.9g}"
                f"{' (proven optimal)' if self.proven else ''}; {self.source}")


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def polygon(n: int) -> np.ndarray:
    """The regular N-gon on the unit circle (optimal in R^2: s_max = cos(2 pi / N))."""
    angles = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def icosahedron() -> np.ndarray:
    """The 12 vertices (0, +-1, +-phi) and their cyclic permutations, normalised."""
    rows = [np.roll([0.0, a, b * PHI], k) for k in range(3) for a in (1, -1) for b in (1, -1)]
    return _unit(np.array(rows))


def d_roots(dim: int) -> np.ndarray:
    """The 2n(n-1) roots +-e_i +-e_j of D_n (n = ``dim``), normalised (cosines 0, +-1/2, -1)."""
    rows = []
    for i, j in itertools.combinations(range(dim), 2):
        for si, sj in itertools.product((1.0, -1.0), repeat=2):
            v = np.zeros(dim)
            v[i], v[j] = si, sj
            rows.append(v)
    return _unit(np.array(rows))


@lru_cache(maxsize=1)
def e8_roots_scaled() -> np.ndarray:
    """The 240 E8 roots times 2 (integers, norm^2 8): the 112 of D8 and the 128 (+-1/2)^8 with an even
    number of minus signs."""
    d8 = np.rint(d_roots(8) * math.sqrt(2)) * 2
    halves = np.array([s for s in itertools.product((1, -1), repeat=8) if s.count(-1) % 2 == 0], dtype=np.float64)
    return np.vstack([d8, halves])


def _complement_basis(fixed: np.ndarray) -> np.ndarray:
    """Orthonormal basis (rows) of the orthogonal complement of the rows of ``fixed`` in R^8."""
    q, _ = np.linalg.qr(np.vstack([fixed, np.eye(8)]).T)
    return q[:, len(fixed):8].T


def _e8_slice(conditions: list[tuple[np.ndarray, float]], project: list[np.ndarray]) -> np.ndarray:
    """E8 roots r with r.a = value for each (a, value), projected on the complement of ``project``, in
    coordinates of an orthonormal basis of that complement, normalised."""
    roots = e8_roots_scaled() / 2
    keep = np.ones(len(roots), dtype=bool)
    for a, value in conditions:
        keep &= np.isclose(roots @ a, value)
    basis = _complement_basis(np.array(project))
    return _unit(roots[keep] @ basis.T)


_A = np.full(8, 0.5)  # a root of E8
_B = np.array([-1.0, -1.0, 0, 0, 0, 0, 0, 0])  # a root with a.b = -1


def e8() -> np.ndarray:
    """The 240 roots of E8, normalised (the kissing configuration in R^8)."""
    return _unit(e8_roots_scaled())


def e7() -> np.ndarray:
    """The 126 roots of E7: the E8 roots orthogonal to a root a, in R^7."""
    return _e8_slice([(_A, 0.0)], [_A])


def e6() -> np.ndarray:
    """The 72 roots of E6: the E8 roots orthogonal to the A2 spanned by a, b (a.b = -1), in R^6."""
    return _e8_slice([(_A, 0.0), (_B, 0.0)], [_A, _B])


def gosset() -> np.ndarray:
    """Gosset's 56 points in R^7 (cosines -1, -1/3, 1/3): the E8 roots with r.a = 1, projected on a-perp."""
    return _e8_slice([(_A, 1.0)], [_A])


def schlafli() -> np.ndarray:
    """The Schlafli configuration, 27 points in R^6 (cosines 1/4, -1/2): E8 roots with r.a = 1, r.b = 0,
    projected on the complement of a and b."""
    return _e8_slice([(_A, 1.0), (_B, 0.0)], [_A, _B])


def cell24() -> np.ndarray:
    """The 24-cell: the D4 roots (+-1, +-1, 0, 0) and permutations, normalised."""
    return d_roots(4)


def cell600() -> np.ndarray:
    """The 120 vertices of the 600-cell: (+-1, 0, 0, 0) permuted, (+-1/2)^4, and the even permutations
    of (+-phi, +-1, +-1/phi, 0) / 2."""
    rows = [v for k in range(4) for s in (1.0, -1.0) for v in [np.eye(4)[k] * s]]
    rows += [np.array(s) / 2 for s in itertools.product((1.0, -1.0), repeat=4)]
    even = [p for p in itertools.permutations(range(4)) if _parity(p) == 0]
    for signs in itertools.product((1.0, -1.0), repeat=3):
        base = np.array([signs[0] * PHI, signs[1] * 1.0, signs[2] / PHI, 0.0]) / 2
        for p in even:
            v = np.empty(4)
            v[list(p)] = base
            rows.append(v)
    return _unit(np.array(rows))


def _parity(perm: tuple[int, ...]) -> int:
    inversions = sum(1 for i, j in itertools.combinations(range(len(perm)), 2) if perm[i] > perm[j])
    return inversions % 2


def golay_code() -> np.ndarray:
    """The 4096 codewords (uint8, 4096 x 24) of the extended binary Golay code, generated by [I | J - A]
    with A the adjacency matrix of the icosahedron (Conway & Sloane, ch. 3, sec. 2.8.2)."""
    ico = icosahedron()
    adjacency = np.isclose(ico @ ico.T, 1 / math.sqrt(5)).astype(np.uint8)  # 5 neighbours each
    gen = np.hstack([np.eye(12, dtype=np.uint8), 1 - adjacency])
    messages = ((np.arange(4096)[:, None] >> np.arange(12)) & 1).astype(np.uint8)
    return (messages @ gen) % 2


def leech_minimal_scaled() -> np.ndarray:
    """The 196560 minimal vectors of the Leech lattice times sqrt(8) (integers, norm^2 32), int8:
    (+-2^8 0^16) on the octads with an even number of minus signs (97152), (-3 1^23) with the signs
    changed on a Golay codeword (98304), and (+-4 +-4 0^22) (1104)."""
    words = golay_code()
    octads = words[words.sum(axis=1) == 8].astype(bool)  # 759
    signs = np.array([s for s in itertools.product((1, -1), repeat=8) if s.count(-1) % 2 == 0], dtype=np.int8)
    shape2 = np.zeros((len(octads) * len(signs), 24), dtype=np.int8)
    for k, octad in enumerate(octads):
        block = shape2[k * len(signs):(k + 1) * len(signs)]
        block[:, octad] = 2 * signs
    flips = (1 - 2 * words.astype(np.int16)).astype(np.int8)  # (-1)^c
    shape3 = np.empty((24 * len(words), 24), dtype=np.int8)
    for pos in range(24):
        base = np.ones(24, dtype=np.int8)
        base[pos] = -3
        shape3[pos * len(words):(pos + 1) * len(words)] = flips * base
    shape4 = []
    for i, j in itertools.combinations(range(24), 2):
        for si, sj in itertools.product((4, -4), repeat=2):
            v = np.zeros(24, dtype=np.int8)
            v[i], v[j] = si, sj
            shape4.append(v)
    return np.vstack([shape2, shape3, np.array(shape4, dtype=np.int8)])


def leech() -> np.ndarray:
    """The 196560 minimal vectors of the Leech lattice, normalised (cosines 0, +-1/4, +-1/2, -1)."""
    return leech_minimal_scaled().astype(np.float64) / math.sqrt(32)


@lru_cache(maxsize=1)
def _tammes_table() -> dict:
    text = resources.files(__package__).joinpath("tammes.json").read_text(encoding="utf-8")
    return json.loads(text)


def tammes_degrees(n: int) -> float:
    """The proven optimal minimum angle (degrees) of N points in R^3 for the shipped N (literature values)."""
    return float(_tammes_table()["degrees"][str(n)])


def _tammes_stored(n: int) -> Callable[[], np.ndarray]:
    def build() -> np.ndarray:
        return _unit(np.array(_tammes_table()["vectors"][str(n)], dtype=np.float64))

    return build


_TAMMES_PROOF = {4: "Rankin simplex bound", 5: "Rankin orthoplex bound", 6: "Rankin orthoplex bound",
                 7: "Schutte & van der Waerden 1951", 8: "Schutte & van der Waerden 1951",
                 9: "Schutte & van der Waerden 1951", 10: "Danzer 1963", 11: "Danzer 1963",
                 12: "Fejes Toth 1943", 13: "Musin & Tarasov 2012", 14: "Musin & Tarasov 2015"}


def _tammes_entries() -> list[KnownConfiguration]:
    from .orthoplex import orthoplex_vectors
    from .simplex import simplex_vectors

    out = [KnownConfiguration("tammes4", "regular tetrahedron", 4, 3, -1 / 3, True, _TAMMES_PROOF[4],
                              lambda: simplex_vectors(4, 3)),
           KnownConfiguration("tammes5", "triangular bipyramid (5 octahedron vertices)", 5, 3, 0.0, True,
                              _TAMMES_PROOF[5], lambda: orthoplex_vectors(5, 3)),
           KnownConfiguration("tammes6", "octahedron", 6, 3, 0.0, True, _TAMMES_PROOF[6],
                              lambda: orthoplex_vectors(6, 3))]
    for n in (7, 8, 9, 10):
        out.append(KnownConfiguration(f"tammes{n}", f"Tammes optimum N={n} ({tammes_degrees(n)} deg)", n, 3,
                                      math.cos(math.radians(tammes_degrees(n))), True,
                                      f"{_TAMMES_PROOF[n]}; coordinates from search + polish", _tammes_stored(n)))
    out.append(KnownConfiguration("tammes11", "icosahedron less one vertex", 11, 3, 1 / math.sqrt(5), True,
                                  _TAMMES_PROOF[11], lambda: icosahedron()[:11]))
    out.append(KnownConfiguration("icosahedron", "icosahedron (Tammes N=12)", 12, 3, 1 / math.sqrt(5), True,
                                  _TAMMES_PROOF[12], icosahedron))
    for n in (13, 14):
        out.append(KnownConfiguration(f"tammes{n}", f"Tammes optimum N={n} ({tammes_degrees(n)} deg)", n, 3,
                                      math.cos(math.radians(tammes_degrees(n))), True,
                                      f"{_TAMMES_PROOF[n]}; coordinates from search + polish", _tammes_stored(n)))
    return out


_CS = "Conway & Sloane, Sphere Packings, Lattices and Groups"


@lru_cache(maxsize=1)
def library() -> tuple[KnownConfiguration, ...]:
    """Every fixed-size configuration, ordered by (d, N) (the N-gon and D_n families are separate:
    :func:`configurations_at`)."""
    entries = _tammes_entries() + [
        KnownConfiguration("24-cell", "24-cell (D4 roots)", 24, 4, 0.5, False,
                           "Coxeter, Regular Polytopes; best known (Cohn's table), optimality open", cell24),
        KnownConfiguration("600-cell", "600-cell", 120, 4, (1 + math.sqrt(5)) / 4, True,
                           "Coxeter, Regular Polytopes; optimal: Andreev 1999", cell600),
        KnownConfiguration("e6", "E6 roots", 72, 6, 0.5, False, f"{_CS}, ch. 4 sec. 8.3 (kissing configuration)", e6),
        KnownConfiguration("schlafli", "Schlafli configuration", 27, 6, 0.25, True,
                           f"{_CS}, ch. 14; optimal: Levenshtein bound attained", schlafli),
        KnownConfiguration("gosset", "Gosset configuration (E7* minimal vectors)", 56, 7, 1 / 3, True,
                           f"{_CS}, ch. 4 sec. 8.2; optimal: Levenshtein bound attained", gosset),
        KnownConfiguration("e7", "E7 roots", 126, 7, 0.5, False, f"{_CS}, ch. 4 sec. 8.2 (kissing configuration)", e7),
        KnownConfiguration("e8", "E8 roots", 240, 8, 0.5, True,
                           f"{_CS}, ch. 4 sec. 8.1; optimal: Levenshtein 1979, Odlyzko & Sloane 1979", e8),
        KnownConfiguration("leech", "Leech lattice minimal vectors", 196560, 24, 0.5, True,
                           f"{_CS}, ch. 4 sec. 11; optimal: Levenshtein 1979, Odlyzko & Sloane 1979", leech),
    ]
    return tuple(sorted(entries, key=lambda e: (e.dim, e.n)))


def d_roots_entry(dim: int) -> KnownConfiguration:
    """D_n (n = ``dim`` >= 4) as a library entry."""
    return KnownConfiguration(f"d{dim}-roots", f"D{dim} roots", 2 * dim * (dim - 1), dim, 0.5, False,
                              f"{_CS}, ch. 4 sec. 7.1", lambda: d_roots(dim))


def polygon_entry(n: int) -> KnownConfiguration:
    """The regular N-gon as a library entry (proven optimal in R^2)."""
    return KnownConfiguration("polygon", f"regular {n}-gon", n, 2, math.cos(2 * math.pi / n), True,
                              "the circle: some gap is at most 2 pi / N", lambda: polygon(n))


#: Largest D_n built as a library entry (beyond it the 2n(n-1) points are far from the best codes).
D_ROOTS_MAX_DIM = 32


def configurations_at(n: int, dim: int) -> list[KnownConfiguration]:
    """Every library configuration in exactly d = ``dim`` dimensions with at least N points, best
    (smallest s_max, then fewest points) first."""
    found = [e for e in library() if e.dim == dim and e.n >= n]
    if dim == 2:
        found.append(polygon_entry(n))
    if 4 <= dim <= D_ROOTS_MAX_DIM and 2 * dim * (dim - 1) >= n and dim not in (4, 6, 7, 8):  # E-types dominate
        found.append(d_roots_entry(dim))
    return sorted(found, key=lambda e: (e.max_cosine, e.n))
