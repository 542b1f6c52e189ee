r"""Geometry of a set of embeddings on the sphere (learned features or a codebook).

Every measure works on the unit vectors :math:`u_i = x_i/\|x_i\|` (:math:`n` of them in
:math:`\mathbb{R}^D`), optionally with class labels:

- anisotropy: mean cosine over distinct pairs, :math:`\frac{\|\sum_i u_i\|^2 - n}{n(n-1)}`
  (0 for isotropic directions, 1 for collapse; Ethayarajh 2019);
- mean feature correlation: mean :math:`|\rho_{kl}|` over distinct feature pairs :math:`k \ne l`
  of the Pearson correlation of the raw features (constant features are left out);
- centre-vector norm: :math:`\|\frac1n\sum_i u_i\|`;
- effective rank (Roy & Vetterli 2007): :math:`\exp H(p)`, :math:`p_k = \sigma_k/\sum_j\sigma_j`
  over the singular values of the matrix of unit vectors (not centred), of the embeddings and of
  the class centroids (means of each class's unit vectors);
- structure ratio: embedding effective rank / centroid effective rank;
- sensitivity index :math:`d' = (\mu_+ - \mu_-)/\sqrt{(\sigma_+^2 + \sigma_-^2)/2}` over the cosines
  of positive (same class) and negative (different classes) pairs;
- mean pairwise angle in degrees over distinct pairs.

All pair statistics are exact (sufficient statistics or chunked loops), never subsampled.

Examples
--------
>>> import numpy as np
>>> simplex = np.eye(4) - 0.25                 # the regular simplex of 4 points in R^4
>>> r = geometry_report(simplex)
>>> round(r.anisotropy, 12), round(r.mean_angle_deg, 6), round(r.effective_rank, 6)
(-0.333333333333, 109.471221, 3.0)
>>> r = geometry_report(np.array([[1.0, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]), labels=[0, 0, 1, 1])
>>> r.d_prime > 3 and r.centroid_effective_rank < 2
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .errors import SpherecodeError


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise SpherecodeError("Argument 'embeddings' has a zero row; every embedding needs a direction.")
    return x / norms


def _as_matrix(embeddings: Any) -> np.ndarray:
    from .files import check_array

    if hasattr(embeddings, "vectors") and hasattr(embeddings, "prototypes"):  # a Codebook
        embeddings = embeddings.vectors
    if hasattr(embeddings, "detach"):  # a torch tensor
        embeddings = embeddings.detach().cpu().double().numpy()
    x = check_array(embeddings, "embeddings")
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise SpherecodeError(f"Argument 'embeddings' must be a matrix (n, D) with n >= 2; got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise SpherecodeError("Argument 'embeddings' contains NaN or infinite values.")
    return x


def effective_rank(matrix: np.ndarray) -> float:
    r"""Roy & Vetterli (2007): :math:`\exp(-\sum_k p_k \log p_k)`, :math:`p_k = \sigma_k / \|\sigma\|_1`.

    >>> round(effective_rank(np.eye(5)), 12), round(effective_rank(np.ones((3, 4))), 12)
    (5.0, 1.0)
    """
    s = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)
    total = s.sum()
    if total == 0:
        return 0.0
    p = s[s > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))


def anisotropy(u: np.ndarray) -> float:
    """Mean cosine over distinct pairs of unit rows (exact, O(n D))."""
    n = u.shape[0]
    total = u.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


def mean_feature_correlation(x: np.ndarray) -> float | None:
    """Mean absolute Pearson correlation over distinct pairs of (non-constant) features; ``None`` when
    fewer than two features vary (the correlation is undefined)."""
    std = x.std(axis=0)
    keep = std > 1e-12 * max(1.0, float(np.abs(x).max()))
    if keep.sum() < 2:
        return None
    c = np.corrcoef(x[:, keep], rowvar=False)
    d = c.shape[0]
    return float((np.abs(c).sum() - np.trace(np.abs(c))) / (d * (d - 1)))


def pair_moments(u: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
    r"""Mean and variance of the cosines of positive and negative distinct pairs, exactly.

    Uses :math:`\sum_{i,j} s_{ij} = \|\sum_i u_i\|^2` and :math:`\sum_{i,j} s_{ij}^2 = \|U^\top U\|_F^2`
    per class and overall, then removes the diagonal (:math:`s_{ii} = 1`).
    """
    n = u.shape[0]
    tot = u.sum(axis=0)
    all_s, all_s2 = float(tot @ tot) - n, float(np.sum((u.T @ u) ** 2)) - n
    all_pairs = n * (n - 1)
    out = {"all_mean": all_s / all_pairs}
    if labels is None:
        return out
    pos_s = pos_s2 = 0.0
    pos_pairs = 0
    for c in np.unique(labels):
        uc = u[labels == c]
        m = uc.shape[0]
        t = uc.sum(axis=0)
        pos_s += float(t @ t) - m
        g = uc @ uc.T if m < uc.shape[1] else uc.T @ uc
        pos_s2 += float(np.sum(g**2)) - m
        pos_pairs += m * (m - 1)
    neg_pairs = all_pairs - pos_pairs
    if pos_pairs:
        out["pos_mean"] = pos_s / pos_pairs
        out["pos_var"] = max(pos_s2 / pos_pairs - out["pos_mean"] ** 2, 0.0)
    if neg_pairs:
        out["neg_mean"] = (all_s - pos_s) / neg_pairs
        out["neg_var"] = max((all_s2 - pos_s2) / neg_pairs - out["neg_mean"] ** 2, 0.0)
    return out


def mean_pairwise_angle(u: np.ndarray, chunk: int = 2048) -> float:
    """Mean angle in degrees over distinct pairs (chunked: memory O(chunk n))."""
    n = u.shape[0]
    total = 0.0
    for i0 in range(0, n, chunk):
        s = np.clip(u[i0:i0 + chunk] @ u.T, -1.0, 1.0)
        ang = np.degrees(np.arccos(s))
        rows = np.arange(i0, min(i0 + chunk, n))
        ang[rows - i0, rows] = 0.0
        total += float(ang.sum())
    return total / (n * (n - 1))


def pair_cosine_histograms(embeddings: Any, labels: Sequence[int] | np.ndarray, bins: int = 100,
                           chunk: int = 2048) -> dict[str, np.ndarray]:
    """Histograms over [-1, 1] of the cosines of positive and negative distinct pairs (each unordered pair once).

    Returns ``edges`` (bins + 1), ``positive`` and ``negative`` counts.
    """
    u = _unit(_as_matrix(embeddings))
    y = np.asarray(labels)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    pos = np.zeros(bins, dtype=np.int64)
    neg = np.zeros(bins, dtype=np.int64)
    n = u.shape[0]
    for i0 in range(0, n, chunk):
        s = u[i0:i0 + chunk] @ u.T
        rows = np.arange(i0, min(i0 + chunk, n))
        upper = rows[:, None] < np.arange(n)[None, :]
        same = y[rows][:, None] == y[None, :]
        pos += np.histogram(np.clip(s[upper & same], -1, 1), edges)[0]
        neg += np.histogram(np.clip(s[upper & ~same], -1, 1), edges)[0]
    return {"edges": edges, "positive": pos, "negative": neg}


@dataclass(frozen=True)
class GeometryReport:
    """The measures of the module docstring; class-based ones are ``None`` without labels."""

    n: int
    dim: int
    anisotropy: float
    mean_feature_correlation: float | None
    center_norm: float
    effective_rank: float
    mean_angle_deg: float
    num_classes: int | None = None
    centroid_effective_rank: float | None = None
    structure_ratio: float | None = None
    positive_mean: float | None = None
    negative_mean: float | None = None
    d_prime: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        rows = [("embeddings", f"n = {self.n} in D = {self.dim}" + (f", {self.num_classes} classes" if self.num_classes else "")),
                ("anisotropy", f"{self.anisotropy:.6f}"),
                ("mean feature correlation", "n/a" if self.mean_feature_correlation is None
                 else f"{self.mean_feature_correlation:.6f}"),
                ("centre-vector norm", f"{self.center_norm:.6f}"),
                ("effective rank", f"{self.effective_rank:.4f}"),
                ("mean pairwise angle", f"{self.mean_angle_deg:.4f} deg")]
        if self.num_classes:
            rows += [("centroid effective rank", f"{self.centroid_effective_rank:.4f}"),
                     ("structure ratio", f"{self.structure_ratio:.4f}"),
                     ("positive / negative cosine", f"{_fmt(self.positive_mean)} / {_fmt(self.negative_mean)}"),
                     ("sensitivity index d'", _fmt(self.d_prime))]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.4f}"


def geometry_report(embeddings: Any, labels: Sequence[int] | np.ndarray | None = None) -> GeometryReport:
    """Measure ``embeddings`` (array, tensor or :class:`~spherecode.codebook.Codebook`), optionally per class.

    For a codebook without labels each vector is its own class: the centroid measures equal the
    embedding ones and there are no positive pairs, so they are reported only when labels are given.
    """
    from .cost import check_cost, pair_scan_seconds

    x = _as_matrix(embeddings)
    u = _unit(x)
    n, dim = u.shape
    check_cost(f"the mean angle over all pairs of n = {n} embeddings in D = {dim}",
               seconds=pair_scan_seconds(n, dim) + 2e-8 * float(n) * n, option="embeddings",
               hint="measure a sample of the embeddings")
    kw: dict[str, Any] = {}
    if labels is not None:
        y = np.asarray(labels)
        if y.shape != (n,):
            raise SpherecodeError(f"Argument 'labels' must have one entry per embedding ({n}); got shape {y.shape}.")
        classes = np.unique(y)
        centroids = np.stack([u[y == c].mean(axis=0) for c in classes])
        er_c = effective_rank(centroids)
        m = pair_moments(u, y)
        dp = None
        if "pos_mean" in m and "neg_mean" in m:
            pooled = np.sqrt((m["pos_var"] + m["neg_var"]) / 2)
            dp = float((m["pos_mean"] - m["neg_mean"]) / pooled) if pooled > 0 else float("inf")
        kw = {"num_classes": int(classes.size), "centroid_effective_rank": er_c,
              "positive_mean": m.get("pos_mean"), "negative_mean": m.get("neg_mean"), "d_prime": dp}
    er = effective_rank(u)
    if labels is not None:
        kw["structure_ratio"] = er / kw["centroid_effective_rank"] if kw["centroid_effective_rank"] else float("nan")
    return GeometryReport(n=n, dim=dim, anisotropy=anisotropy(u), mean_feature_correlation=mean_feature_correlation(x),
                          center_norm=float(np.linalg.norm(u.mean(axis=0))), effective_rank=er,
                          mean_angle_deg=mean_pairwise_angle(u), **kw)
