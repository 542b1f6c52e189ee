r"""Effects with uncertainty over seeds: t intervals, paired differences and a bootstrapped Spearman.

Pure functions (numbers in, numbers out; numpy and scipy only) used by :mod:`.report`.

- :func:`t_interval`: the mean of ``n`` values with the two-sided Student t interval
  :math:`\bar x \pm t_{(1+\gamma)/2,\,n-1}\, s/\sqrt n` (``s`` the sample standard deviation,
  :math:`\gamma` the level, 0.95 by default). With ``n = 1`` there is no interval.
- :func:`paired_difference`: two arms measured with the same seeds (same data order and
  initialisation apart from the factor studied) are compared through the per-seed differences
  :math:`D_s = a_s - b_s` and their t interval. A seed measured in one arm only is dropped and
  reported.
- :func:`spearman_interval`: Spearman's rank correlation (ties get average ranks) of ``x`` with
  ``y`` and a percentile bootstrap interval over seeds: each group's (a codebook's) runs are
  resampled with replacement within the group, ``x`` (the codebook's :math:`s_{\max}`) is kept, and
  the correlation is recomputed; the generator is seeded, so the interval is the same every run.

Examples:
    >>> iv = t_interval([1.0, 2.0, 3.0])
    >>> iv.mean, round(iv.low, 4), round(iv.high, 4)       # 2 -+ t_{0.975,2} * 1 / sqrt(3)
    (2.0, -0.4841, 4.4841)
    >>> d = paired_difference({0: 0.7, 1: 0.8, 2: 0.9}, {0: 0.6, 1: 0.6, 3: 0.5})
    >>> d.seeds, d.dropped, round(d.mean, 3)
    ((0, 1), (2, 3), 0.15)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Bootstrap resamples of :func:`spearman_interval` and the seed of its generator.
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values with its t interval (``low``/``high`` are ``None`` when ``n < 2``)."""

    mean: float
    low: float | None
    high: float | None
    n: int
    sd: float | None

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely above or entirely below 0."""
        return bool(self.low is not None and self.high is not None and (self.low > 0 or self.high < 0))


def check_level(level: float) -> float:
    """The confidence level, checked to lie strictly between 0 and 1."""
    from ..errors import SpherecodeError

    if not isinstance(level, (int, float)) or not 0.0 < float(level) < 1.0:
        raise SpherecodeError(f"Argument 'level' must be a number between 0 and 1 (e.g. 0.95), not {level!r}.")
    return float(level)


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Interval:
    r"""Mean and Student t interval :math:`\bar x \pm t_{(1+\gamma)/2,\,n-1}\, s/\sqrt n`.

    ``n = 1`` gives the value with no interval (``low = high = sd = None``); equal values give a
    zero-width interval.

    Raises:
        ValueError: ``values`` is empty.
    """
    level = check_level(level)
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("t_interval needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return Interval(mean, None, None, 1, None)
    from scipy import stats

    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf((1.0 + level) / 2.0, x.size - 1) * sd / np.sqrt(x.size))
    return Interval(mean, mean - half, mean + half, int(x.size), sd)


@dataclass(frozen=True)
class PairedDifference(Interval):
    """:class:`Interval` of the per-seed differences ``a - b``; ``dropped``: seeds in one arm only."""

    seeds: tuple[int, ...] = ()
    dropped: tuple[int, ...] = ()


def paired_difference(a: Mapping[int, float], b: Mapping[int, float], level: float = 0.95) -> PairedDifference | None:
    """The t interval of :math:`D_s = a_s - b_s` over the seeds both arms have (``None``: no common seed).

    ``a`` and ``b`` map a seed to the arm's metric; seeds present in only one arm are dropped and
    listed in ``dropped``.
    """
    common = sorted(set(a) & set(b))
    dropped = tuple(sorted(set(a) ^ set(b)))
    if not common:
        return None
    iv = t_interval([a[s] - b[s] for s in common], level)
    return PairedDifference(iv.mean, iv.low, iv.high, iv.n, iv.sd, tuple(common), dropped)


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho with its percentile bootstrap interval (``None`` when undefined)."""

    rho: float | None
    low: float | None
    high: float | None
    n: int
    groups: int
    resamples: int

    @property
    def excludes_zero(self) -> bool:
        return bool(self.low is not None and self.high is not None and (self.low > 0 or self.high < 0))


def _rank_correlation(rx: np.ndarray, ry: np.ndarray) -> np.ndarray:
    """Pearson correlation of rank rows (the last axis); ``nan`` where a row is constant."""
    cx = rx - rx.mean(axis=-1, keepdims=True)
    cy = ry - ry.mean(axis=-1, keepdims=True)
    den = np.sqrt((cx * cx).sum(axis=-1) * (cy * cy).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (cx * cy).sum(axis=-1) / den
    return np.where(den > 1e-12, r, np.nan)


def spearman_interval(x: Sequence[float], y: Sequence[float], groups: Sequence[object], level: float = 0.95,
                      resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Correlation:
    r"""Spearman's :math:`\rho(x, y)` and a percentile bootstrap interval, resampling within groups.

    ``x``, ``y`` and ``groups`` are parallel: one entry per run (``x`` its codebook's
    :math:`s_{\max}`, ``y`` its accuracy, ``groups`` its codebook). A resample draws, for every
    group, as many of its runs as it has, with replacement (the design, which codebooks, is kept;
    the seeds are resampled), and recomputes :math:`\rho` with average ranks for ties. Resamples in
    which ``y`` is constant (no correlation defined) are left out; the interval is the
    :math:`(1-\gamma)/2` and :math:`(1+\gamma)/2` quantiles of the rest. With fewer than two
    distinct ``x`` values, or constant ``y``, :math:`\rho` is ``None``; with one run per group
    there is no interval.
    """
    from scipy import stats

    level = check_level(level)
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if not xs.shape == ys.shape == (len(groups),):
        raise ValueError("x, y and groups must have the same length")
    labels = list(dict.fromkeys(groups))
    n, k = int(xs.size), len(labels)
    if n < 3 or np.unique(xs).size < 2 or np.unique(ys).size < 2:
        return Correlation(None, None, None, n, k, 0)
    rho = float(_rank_correlation(stats.rankdata(xs), stats.rankdata(ys)))
    members = [np.flatnonzero([g == lab for g in groups]) for lab in labels]
    if all(m.size == 1 for m in members) or resamples < 1:
        return Correlation(rho, None, None, n, k, 0)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([m[rng.integers(0, m.size, size=(resamples, m.size))] for m in members], axis=1)
    rb = _rank_correlation(stats.rankdata(xs[idx], axis=1), stats.rankdata(ys[idx], axis=1))
    rb = rb[np.isfinite(rb)]
    if rb.size == 0:
        return Correlation(rho, None, None, n, k, 0)
    low, high = np.quantile(rb, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return Correlation(rho, float(low), float(high), n, k, int(rb.size))
