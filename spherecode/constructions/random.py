"""Uniform random points on the sphere: the baseline every construction must beat."""

from __future__ import annotations

import numpy as np

from .base import Construction


def random_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """N points drawn uniformly from the unit sphere S^{d-1} (normalised Gaussians)."""
    g = np.random.default_rng(seed).standard_normal((n, dim))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def _build(n: int, dim: int, *, seed: int, progress: bool) -> np.ndarray:
    return random_vectors(n, dim, seed)


CONSTRUCTION = Construction(
    name="random",
    build=_build,
    summary="uniform random points on the sphere (the baseline)",
)
