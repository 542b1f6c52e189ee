r"""Measures of a labelling: how well the prototypes' geometry follows the class similarity.

For class-ordered prototypes :math:`p_y = c_{\pi(y)}` and a class similarity :math:`S`:

* the **QAP objective** :math:`J(\pi) = \sum_{y \ne y'} S_{yy'} \langle c_{\pi(y)}, c_{\pi(y')} \rangle`
  (what :mod:`spherecode.relabel.semantic` maximises; the diagonal is a constant and left out);
* the **Spearman correlation** between :math:`S_{yy'}` and :math:`\langle p_y, p_{y'} \rangle` over
  the :math:`N(N-1)/2` unordered pairs (``scipy.stats.spearmanr``, ties get average ranks);
* the number of **sibling pairs** (same parent in the hierarchy, or similarity at least a threshold)
  whose prototypes are **negative** (cosine below :data:`NEG_TOL`) or **antipodal** (cosine at most
  :math:`-1 + \text{ANTIPODAL\_TOL}`).

Examples:
    >>> protos = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    >>> s = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1.0]])
    >>> r = labelling_report(protos, s)
    >>> r.sibling_pairs, r.antipodal_sibling_pairs, r.objective
    (1, 1, -2.0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import SpherecodeError

#: A cosine below -NEG_TOL counts as negative.
NEG_TOL = 1e-9
#: A cosine at most -1 + ANTIPODAL_TOL counts as antipodal.
ANTIPODAL_TOL = 1e-9
#: Cosines are rounded to this many decimals before ranking, so that rounding noise (an
#: equidistant code has one cosine, computed with errors of 1e-16) does not create fake order.
RANK_DECIMALS = 10


def qap_objective(similarity: np.ndarray, gram: np.ndarray, permutation: np.ndarray | None = None) -> float:
    r""":math:`J(\pi) = \sum_{y \ne y'} S_{yy'} G_{\pi(y)\pi(y')}` for the Gram matrix ``G`` of the rows.

    ``permutation=None`` is the identity (``gram`` already in class order).
    """
    s = np.asarray(similarity, dtype=np.float64)
    g = np.asarray(gram, dtype=np.float64)
    if permutation is not None:
        g = g[np.ix_(permutation, permutation)]
    return float(np.sum(s * g) - np.sum(np.diag(s) * np.diag(g)))


def spearman_similarity_cosine(similarity: np.ndarray, prototypes: np.ndarray) -> float:
    """Spearman's rank correlation between class similarity and prototype cosine over pairs y < y'.

    Both sides are rounded to :data:`RANK_DECIMALS` decimals first; NaN when either is constant
    (e.g. an equidistant code, where every labelling is equivalent).
    """
    from scipy.stats import spearmanr  # heavy import, only when needed

    s = np.asarray(similarity, dtype=np.float64)
    p = np.asarray(prototypes, dtype=np.float64)
    i, j = np.triu_indices(len(s), k=1)
    a, b = np.round(s[i, j], RANK_DECIMALS), np.round((p @ p.T)[i, j], RANK_DECIMALS)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def spearman_upper_bound(similarity: np.ndarray, prototypes: np.ndarray) -> float:
    """An upper bound on :func:`spearman_similarity_cosine` over all labellings of ``prototypes``.

    Relabelling only re-pairs the multiset of pair similarities with the multiset of pair cosines;
    Spearman's rho (Pearson on average ranks) is largest when both are co-sorted (rearrangement
    inequality). Cosines with few distinct values (RM(1, m): only 0 and -1) cap rho well below 1.
    """
    from scipy.stats import spearmanr

    s = np.asarray(similarity, dtype=np.float64)
    p = np.asarray(prototypes, dtype=np.float64)
    i, j = np.triu_indices(len(s), k=1)
    a = np.sort(np.round(s[i, j], RANK_DECIMALS))
    b = np.sort(np.round((p @ p.T)[i, j], RANK_DECIMALS))
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def default_siblings(similarity: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Sibling mask from a similarity: pairs with ``S >= threshold``.

    The default threshold is the largest off-diagonal similarity, i.e. the pairs that share the
    deepest common ancestor (same parent, for a tree whose leaves are all at one depth).
    """
    s = np.asarray(similarity, dtype=np.float64)
    off = ~np.eye(len(s), dtype=bool)
    if threshold is None:
        threshold = float(s[off].max()) - 1e-12 if len(s) > 1 else np.inf
    mask = (s >= threshold) & off
    return mask


@dataclass(frozen=True)
class LabellingReport:
    """The measures of one labelling, as plain numbers (see the module docstring)."""

    n: int
    objective: float
    spearman: float
    sibling_pairs: int
    negative_sibling_pairs: int
    antipodal_sibling_pairs: int
    mean_sibling_cosine: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self, label: str = "") -> str:
        head = f"{label}: " if label else ""
        return (f"{head}objective {self.objective:.4f}, spearman {self.spearman:.4f}, "
                f"siblings {self.sibling_pairs} (negative {self.negative_sibling_pairs}, "
                f"antipodal {self.antipodal_sibling_pairs}, mean cosine {self.mean_sibling_cosine:.4f})")


def labelling_report(prototypes: np.ndarray, similarity: np.ndarray, siblings: np.ndarray | None = None,
                     threshold: float | None = None) -> LabellingReport:
    """Measure class-ordered ``prototypes`` (row y = class y) against ``similarity``.

    Args:
        prototypes: (N, d) unit rows in class order (``Codebook.prototypes``).
        similarity: (N, N) symmetric class similarity.
        siblings: optional boolean (N, N) mask of sibling pairs (e.g. ``hierarchy.sibling_mask``);
            default :func:`default_siblings` with ``threshold``.
    """
    p = np.asarray(prototypes, dtype=np.float64)
    s = np.asarray(similarity, dtype=np.float64)
    n = len(p)
    if s.shape != (n, n):
        raise SpherecodeError(f"Argument 'similarity' must be {n} x {n} to match the {n} prototypes, not shape {s.shape}.")
    mask = default_siblings(s, threshold) if siblings is None else np.asarray(siblings, dtype=bool)
    if mask.shape != (n, n):
        raise SpherecodeError(f"Argument 'siblings' must be {n} x {n}, not shape {mask.shape}.")
    g = p @ p.T
    upper = np.triu(mask, k=1)
    cos = g[upper]
    return LabellingReport(
        n=n,
        objective=qap_objective(s, g),
        spearman=spearman_similarity_cosine(s, p),
        sibling_pairs=int(upper.sum()),
        negative_sibling_pairs=int(np.sum(cos < -NEG_TOL)),
        antipodal_sibling_pairs=int(np.sum(cos <= -1 + ANTIPODAL_TOL)),
        mean_sibling_cosine=float(cos.mean()) if cos.size else float("nan"),
    )
