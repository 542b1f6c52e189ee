"""Figures over the public functions: separation versus dimension, cosine histograms, Gram heatmaps.

Every function returns a :class:`matplotlib.figure.Figure` (Agg backend: headless) that a notebook
displays and :func:`save_figure` writes as PNG or PDF by the file's suffix.

>>> import numpy as np
>>> from spherecode import Codebook
>>> fig = plot_histogram(Codebook(np.eye(4)))
>>> type(fig).__name__
'Figure'
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless; must precede pyplot

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .analysis import SeparationCurves  # noqa: E402
from .bounds import bound_interval  # noqa: E402
from .codebook import Codebook, as_codebook  # noqa: E402
from .cost import check_cost, pair_scan_seconds  # noqa: E402
from .errors import SpherecodeError, check_int  # noqa: E402
from .files import atomic_save  # noqa: E402
from .separation import pair_cosine_histogram  # noqa: E402

#: File types :func:`save_figure` writes.
FIGURE_SUFFIXES = (".png", ".pdf")
#: A histogram has at most this many bins (more than a figure can show).
MAX_BINS = 10_000

#: Line style of each bound curve: (label, colour, linestyle).
_BOUND_STYLE = {
    "rankin": ("Rankin (lower)", "black", "-"),
    "levenshtein": ("Levenshtein (lower)", "tab:red", "--"),
    "spherical_lp": ("spherical LP (lower)", "tab:purple", ":"),
    "gv_upper": ("Gilbert-Varshamov (achievable)", "tab:green", "-."),
    "known_upper": ("best known code (achievable)", "tab:olive", (0, (1, 1))),
}


def plot_separation(curves: SeparationCurves, *, log_dims: bool = True) -> Figure:
    """Worst-case cosine against dimension: each construction (markers) over the bound curves.

    The region below the best lower bound is shaded: no N-point code lies there. The right axis
    reads the same values as angles in degrees.
    """
    dims = np.asarray(curves.dims, dtype=float)
    fig, ax = plt.subplots(figsize=(10.0, 5.4), constrained_layout=True)

    def series(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    lower = series(curves.bounds["lower"])
    floor = min(np.nanmin(lower), -0.05)
    ax.fill_between(dims, floor - 1, lower, color="0.85", label="impossible (below best lower bound)", zorder=0)
    upper = series(curves.bounds["upper"])
    ax.fill_between(dims, lower, upper, color="tab:cyan", alpha=0.15, label="the optimum lies here", zorder=0)
    for key, (label, colour, style) in _BOUND_STYLE.items():
        y = series(curves.bounds.get(key, []))
        if np.all(np.isnan(y)):
            continue
        ax.plot(dims, y, color=colour, linestyle=style, linewidth=1.6, label=label, zorder=2)
    markers = "osD^v<>ph*"
    cmap = plt.get_cmap("tab10")
    for i, (name, vals) in enumerate(curves.methods.items()):
        y = series(vals)
        if np.all(np.isnan(y)):
            continue
        ax.plot(dims, y, marker=markers[i % len(markers)], markersize=4.5, linewidth=1.0,
                color=cmap((i + 3) % 10), label=f"{name}", zorder=3)
    ax.axhline(0.0, color="0.4", linewidth=0.6, zorder=1)
    if log_dims and dims.min() > 0 and dims.max() / dims.min() > 4:
        ax.set_xscale("log")
        ticks: list[int] = []
        for d in (2, 3, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 256, 512, 1024):
            if dims.min() <= d <= dims.max() and (not ticks or d / ticks[-1] >= 1.45 or d in (4, 8, 16, 32, 64, 128, 256, 512, 1024)):
                if ticks and d / ticks[-1] < 1.45:
                    ticks[-1] = d  # prefer the power of two over a crowded neighbour
                else:
                    ticks.append(d)
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.minorticks_off()
    if dims.min() <= curves.n / 2 <= dims.max():
        ax.axvline(curves.n / 2, color="0.5", linewidth=0.8, linestyle=":", zorder=1)
        right = np.log(curves.n / 2 / dims.min()) > 0.75 * np.log(dims.max() / dims.min()) if log_dims else False
        ax.annotate("d = N/2: orthogonal\nprototypes exist", (curves.n / 2, 0.0), xytext=(-4 if right else 4, 14),
                    textcoords="offset points", fontsize=8, color="0.3", ha="right" if right else "left")
    finite = [v for vals in (*curves.methods.values(), *curves.bounds.values()) for v in vals if v is not None]
    top = min(1.02, max(finite) + 0.05) if finite else 1.0
    ax.set_ylim(floor, top)
    ax.set_xlim(dims.min(), dims.max())
    ax.set_xlabel("dimension d")
    ax.set_ylabel(r"worst-case cosine $s_{\max}$ (lower is better)")
    ax.set_title(f"Separation of N = {curves.n} prototypes versus dimension")
    ax.grid(True, alpha=0.3)
    sec = ax.secondary_yaxis("right", functions=(_cos_to_deg, _deg_to_cos))
    sec.set_ylabel("minimum angle (degrees)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.09, 1.0), framealpha=0.9)
    return fig


def _cos_to_deg(c: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def _deg_to_cos(a: np.ndarray) -> np.ndarray:
    return np.cos(np.radians(a))


def plot_histogram(codebook: Codebook | str | os.PathLike[str] | np.ndarray, *, bins: int = 60) -> Figure:
    """Histogram of the N(N-1)/2 pairwise cosines, with s_max and the bounds for (N, d) marked.

    ``codebook`` may also be a codebook file's path or an (N, d) array; the cosines are counted by row
    blocks, and a codebook whose all-pairs scan would take too long is refused with an estimate.
    """
    bins = check_int("bins", bins, minimum=1, maximum=MAX_BINS)
    codebook = as_codebook(codebook)
    if codebook.n < 2:
        raise SpherecodeError("A cosine histogram needs a codebook with at least 2 prototypes.")
    check_cost(f"a histogram of all pairs of N = {codebook.n} prototypes in d = {codebook.dim}",
               seconds=pair_scan_seconds(codebook.n, codebook.dim), option="codebook", hint="use a smaller codebook")
    counts = pair_cosine_histogram(codebook.vectors, bins)
    edges = np.linspace(-1.0, 1.0, bins + 1)
    fig, ax = plt.subplots(figsize=(7.0, 4.2), constrained_layout=True)
    ax.stairs(counts, edges, fill=True, color="tab:blue", alpha=0.8)
    s = codebook.max_cosine
    ax.axvline(s, color="tab:red", linewidth=1.5, label=f"$s_{{\\max}}$ = {s:.4f}")
    lower, upper = bound_interval(codebook.n, codebook.dim)
    ax.axvline(lower, color="black", linestyle="--", linewidth=1.2, label=f"optimal $s_{{\\max}}$ >= {lower:.4f} (best lower bound)")
    if upper is not None and upper != lower:
        ax.axvline(upper, color="tab:green", linestyle="-.", linewidth=1.2, label=f"optimal $s_{{\\max}}$ <= {upper:.4f} (achievable)")
    ax.set_xlabel("pairwise cosine")
    ax.set_ylabel("pairs")
    ax.set_title(f"Pairwise cosines: N = {codebook.n}, d = {codebook.dim} ({codebook.method})")
    ax.legend(fontsize=8)
    return fig


def plot_gram(codebook: Codebook, *, max_size: int = 2000) -> Figure:
    """Heatmap of the Gram matrix in class order (``codebook.prototypes``), colours from -1 to 1.

    Codebooks larger than ``max_size`` are shown as their first ``max_size`` classes.
    """
    codebook = as_codebook(codebook)
    protos = codebook.prototypes[:max_size]
    g = protos @ protos.T
    fig, ax = plt.subplots(figsize=(6.4, 5.6), constrained_layout=True)
    im = ax.imshow(g, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, label=r"$\langle c_i, c_j \rangle$")
    shown = "" if len(protos) == codebook.n else f", first {len(protos)} classes"
    ax.set_title(f"Gram matrix: N = {codebook.n}, d = {codebook.dim} ({codebook.method}{shown})")
    ax.set_xlabel("class j")
    ax.set_ylabel("class i")
    return fig


def plot_study(rows: list[dict], *, metric: str = "best_top1", title: str | None = None) -> Figure:
    """Accuracy against the codebook's worst-case cosine :math:`s_{\\max}`, one series per labelling.

    ``rows`` are a study's results (:func:`spherecode.study.read_csv` or ``run_study(...).rows``);
    each point is the mean of ``metric`` over seeds with its 95 % Student t interval over seeds as
    the bar (no bar with one seed; points of different labellings at the same :math:`s_{\\max}` are
    nudged apart). The linear-head baseline, when present, is a horizontal line with its interval as
    a band. Paired effects: :func:`spherecode.study.report`.
    """
    from .study.results import summarise

    _check_study_rows(rows, metric)
    groups = summarise(rows, metric)
    if not groups:
        raise SpherecodeError("Argument 'rows' is empty: the study has no finished runs to plot.")
    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    protos = [g for g in groups if g["head"] == "prototype" and g["s_max"] is not None and g[f"{metric}_mean"] is not None]
    labellings = list(dict.fromkeys(g["labelling"] for g in protos))
    smax = np.array([g["s_max"] for g in protos]) if protos else np.zeros(1)
    nudge = 0.012 * max(float(np.ptp(smax)), 0.1)
    for k, lab in enumerate(labellings):
        pts = sorted((g for g in protos if g["labelling"] == lab), key=lambda g: g["s_max"])
        x = np.array([g["s_max"] for g in pts]) + (k - (len(labellings) - 1) / 2) * nudge
        y = 100 * np.array([g[f"{metric}_mean"] for g in pts])
        lo = 100 * np.array([g[f"{metric}_mean"] - (g[f"{metric}_low"] if g[f"{metric}_low"] is not None
                                                    else g[f"{metric}_mean"]) for g in pts])
        hi = 100 * np.array([(g[f"{metric}_high"] if g[f"{metric}_high"] is not None else g[f"{metric}_mean"])
                             - g[f"{metric}_mean"] for g in pts])
        ax.errorbar(x, y, yerr=np.stack([lo, hi]), marker="o", linestyle="", capsize=3, label=lab)
    for g in groups:
        if g["head"] == "linear" and g[f"{metric}_mean"] is not None:
            m = 100 * g[f"{metric}_mean"]
            ax.axhline(m, color="grey", linestyle="--", label="linear head")
            if g[f"{metric}_low"] is not None:
                ax.axhspan(100 * g[f"{metric}_low"], 100 * g[f"{metric}_high"], color="grey", alpha=0.15)
    names: dict[float, list[str]] = {}
    for g in protos:
        names.setdefault(round(float(g["s_max"]), 6), []).append(str(g["codebook"]))
    for x0, ns in names.items():
        ax.annotate(" / ".join(dict.fromkeys(ns)), (x0, 0), xycoords=("data", "axes fraction"), xytext=(0, 3),
                    textcoords="offset points", rotation=90, fontsize=7, color="dimgrey", ha="center", va="bottom")
    ax.set_xlabel("worst-case cosine $s_{\\max}$ of the codebook (lower is better separated)")
    ax.set_ylabel(f"validation {metric.replace('_', ' ')} (%)\nmean, 95 % t interval over seeds")
    if title:
        ax.set_title(title)
    ax.legend(title="labelling", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # clear of the points
    fig.tight_layout()
    return fig


def _check_study_rows(rows: list[dict], metric: str) -> None:
    """The numeric columns a study figure reads hold finite numbers (or are empty) in every row."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SpherecodeError("Argument 'rows' must be a list of result records (dicts), e.g. from read_csv.")
    for i, row in enumerate(rows, 1):
        for key in dict.fromkeys(("s_max", metric, "final_top1", "spearman")):
            value = row.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or not np.isfinite(value):
                raise SpherecodeError(f"Argument 'rows': row {i} has {key} = {value!r}; expected a finite number "
                                      "or an empty cell.")


def save_figure(fig: Figure, path: str | os.PathLike[str], *, overwrite: bool = False, dpi: int = 150) -> Path:
    """Write ``fig`` as PNG or PDF (by suffix); refuse to overwrite unless ``overwrite``."""
    p = Path(path)
    if p.suffix.lower() not in FIGURE_SUFFIXES:
        raise SpherecodeError(f"Argument 'path' must end in {' or '.join(FIGURE_SUFFIXES)}, not {p.name!r}.")
    if p.exists() and not overwrite:
        raise SpherecodeError(f"Argument 'path': '{p}' already exists; pass --force (overwrite=True) to replace it.")
    try:
        atomic_save(p, lambda fh: fig.savefig(fh, dpi=dpi, format=p.suffix.lower()[1:]), overwrite=overwrite)
    finally:
        plt.close(fig)
    return p


__all__ = ["FIGURE_SUFFIXES", "plot_gram", "plot_histogram", "plot_separation", "plot_study", "save_figure"]
