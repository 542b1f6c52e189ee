"""Separation of codebooks that *are* a closed-form configuration, without the all-pairs scan.

Measuring s_max compares all N(N-1)/2 pairs: :math:`2 N^2 d` operations, about a minute for the
196560 minimal vectors of the Leech lattice. When a codebook's vectors are exactly (bit for bit,
checked by rebuilding them) the regular simplex or a vertex-transitive configuration of the library
(the symmetry group maps any point to any other, so every point sees the same neighbours: polygons,
root systems, the 24- and 600-cells, the Schlafli and Gosset configurations and the Leech lattice's
minimal vectors; Conway & Sloane, *Sphere Packings, Lattices and Groups*, ch. 4), one row's inner
products give every row's: :math:`O(N d)`.
"""

from __future__ import annotations

import numpy as np

from ..codebook import Codebook
from ..separation import ANTIPODAL_TOL, PairScan

#: Library configurations whose symmetry group is transitive on the points (besides the D_n roots and polygons).
TRANSITIVE = ("24-cell", "600-cell", "e6", "e7", "e8", "schlafli", "gosset", "leech")


def _from_one_row(vectors: np.ndarray) -> PairScan:
    """Row 0's neighbours stand for every row's (valid for a vertex-transitive configuration)."""
    cos = vectors @ vectors[0]
    cos[0] = np.nan  # not a pair: neither a neighbour nor an antipode
    partners = int(np.count_nonzero(cos <= -1.0 + ANTIPODAL_TOL))
    n = len(vectors)
    return PairScan(row_max=np.full(n, float(np.nanmax(cos))), antipodal_pairs=n * partners // 2)


def exact_scan(codebook: Codebook) -> PairScan | None:
    """The :class:`~spherecode.separation.PairScan` of ``codebook`` in O(N d) if its vectors are
    exactly (whatever its recorded method) the regular simplex or a vertex-transitive library
    configuration, else ``None``."""
    n, dim, v = codebook.n, codebook.dim, codebook.vectors
    if dim >= n - 1:
        from .simplex import simplex_vectors

        if np.array_equal(v, simplex_vectors(n, dim)):
            return _from_one_row(v)  # the simplex's symmetric group is transitive too
    from .library import configurations_at

    for entry in configurations_at(n, dim):
        transitive = entry.key in TRANSITIVE or entry.key.endswith("-roots") or entry.key == "polygon"
        if transitive and entry.n == n and entry.dim == dim and np.array_equal(v, entry.build()):
            return _from_one_row(v)
    return None
