"""Figures of the embedding geometry (matplotlib imported when a figure is drawn).

Kept apart from :mod:`spherecode.plots` so the two can be merged by the integrator without conflict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: File types :func:`plot_pair_cosines` writes (matplotlib's vector and raster formats used here).
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def plot_pair_cosines(histogram: dict[str, np.ndarray], path: str | Path | None = None, title: str = "") -> Any:
    """Histogram of positive (same class) and negative pair cosines, each normalised to a density.

    ``histogram`` is the output of :func:`spherecode.geometry.pair_cosine_histograms`. Returns the
    figure; saves it when ``path`` is given.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    edges = np.asarray(histogram["edges"])
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for key, colour in (("negative", "tab:red"), ("positive", "tab:blue")):
        counts = np.asarray(histogram[key], dtype=float)
        if counts.sum() > 0:
            ax.bar(centres, counts / (counts.sum() * width), width=width, alpha=0.55, color=colour,
                   label=f"{key} pairs ({int(counts.sum())})")
    ax.set_xlabel("cosine similarity")
    ax.set_ylabel("density")
    ax.set_xlim(-1, 1)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        from .files import atomic_save

        fmt = Path(path).suffix.lower()[1:]
        try:
            atomic_save(path, lambda fh: fig.savefig(fh, dpi=120, format=fmt), option="--plot")
        finally:
            plt.close(fig)
    return fig
