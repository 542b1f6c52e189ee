r"""The study's answer with uncertainty: paired effects and within-dimension rank correlations.

:func:`report` turns a study's rows (``results.csv``) into a :class:`StudyReport`:

- **cells**: per (head, codebook, labelling) the mean of the metric over seeds and its 95 %
  Student t interval (:func:`.effects.t_interval`);
- **paired effects** (:func:`.effects.paired_difference`, paired by seed): each labelling minus
  ``identity`` on the same codebook; each codebook minus the *reference* codebook of its dimension
  (the worst-separated one, largest :math:`s_{\max}`) with the same labelling; and every prototype
  cell minus the linear head. A seed that one side lacks is dropped and listed;
- **rank correlation** of :math:`s_{\max}` with the metric, Spearman over the runs of one
  dimension and one labelling, and over the runs of all labellings of one dimension (``all``);
  dimensions are never pooled (a larger d changes more than the separation). Each with a
  percentile bootstrap interval over seeds (:func:`.effects.spearman_interval`, seeds resampled
  within each (codebook, labelling) cell; seeded: the same bytes every run).

An effect whose interval excludes 0 is marked ``*``. With one seed there is no interval, and the
report says so.

Examples:
    >>> rows = [{"head": "prototype", "codebook": "c", "dim": 4, "s_max": 0.0, "labelling": lab, "seed": s,
    ...          "best_top1": acc} for s in range(3) for lab, acc in (("identity", 0.5 + s / 100),
    ...                                                               ("semantic", 0.6 + s / 100))]
    >>> e = report(rows).effects[0]
    >>> e.title, round(e.diff.mean, 3), e.diff.excludes_zero
    ('semantic - identity', 0.1, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SpherecodeError, check_choice
from ..files import dump_json
from .effects import (BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, Correlation, Interval, PairedDifference, check_level,
                      paired_difference, spearman_interval, t_interval)

#: Columns of results.csv that a report (or a summary, or the plot) can measure.
METRICS = ("best_top1", "final_top1", "best_top5", "final_top5")
#: The labelling every other labelling is compared with.
BASELINE_LABELLING = "identity"
#: The rank correlation over the runs of every labelling of one dimension.
ALL_LABELLINGS = "all"
#: What each kind of effect compares.
EFFECT_KINDS = {
    "labelling": "labelling minus identity, same codebook",
    "codebook": "codebook minus the worst-separated codebook (largest s_max) of its dimension, same labelling",
    "head": "prototype head minus linear head",
}


@dataclass(frozen=True)
class Cell:
    """One (head, codebook, labelling) of the study: the metric's mean and t interval over seeds."""

    head: str
    codebook: str | None
    labelling: str | None
    dim: int | None
    s_max: float | None
    interval: Interval
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Effect:
    """A paired difference ``a - b`` of the metric (``diff`` is ``None`` when no seed is common)."""

    kind: str
    a: str
    b: str
    context: str
    dim: int | None
    diff: PairedDifference | None

    @property
    def title(self) -> str:
        return f"{self.a} - {self.b}"


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rho of s_max with the metric over the runs of one dimension and one labelling."""

    dim: int
    labelling: str
    codebooks: tuple[str, ...]
    correlation: Correlation


@dataclass
class StudyReport:
    """What :func:`report` returns; :meth:`format` is the text of ``spherecode study report``."""

    metric: str
    level: float
    cells: list[Cell]
    effects: list[Effect]
    correlations: list[RankCorrelation]
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------------- as data
    def to_dict(self) -> dict[str, Any]:
        """Plain data (fractions, not percent), for JSON."""
        def iv(i: Interval | None) -> dict[str, Any] | None:
            if i is None:
                return None
            return {"mean": i.mean, "low": i.low, "high": i.high, "n": i.n, "sd": i.sd,
                    "excludes_zero": i.excludes_zero}

        return {
            "metric": self.metric, "level": self.level,
            "interval": "Student t over seeds (paired by seed for effects)",
            "correlation_interval": f"percentile bootstrap, {BOOTSTRAP_RESAMPLES} resamples of the seeds of each "
                                    f"(codebook, labelling) cell, generator seed {BOOTSTRAP_SEED}",
            "cells": [{"head": c.head, "codebook": c.codebook, "labelling": c.labelling, "dim": c.dim,
                       "s_max": c.s_max, "seeds": list(c.seeds), **(iv(c.interval) or {})} for c in self.cells],
            "effects": [{"kind": e.kind, "a": e.a, "b": e.b, "context": e.context, "dim": e.dim,
                         "seeds": list(e.diff.seeds) if e.diff else [],
                         "dropped_seeds": list(e.diff.dropped) if e.diff else [],
                         "difference": iv(e.diff)} for e in self.effects],
            "correlations": [{"dim": r.dim, "labelling": r.labelling, "codebooks": list(r.codebooks),
                              "rho": r.correlation.rho, "low": r.correlation.low, "high": r.correlation.high,
                              "runs": r.correlation.n, "resamples": r.correlation.resamples,
                              "excludes_zero": r.correlation.excludes_zero} for r in self.correlations],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return dump_json(self.to_dict(), indent=1) + "\n"

    # ------------------------------------------------------------------------- as text
    def format(self) -> str:
        """The report as plain text: points of the metric (percent), ``*`` where a CI excludes 0."""
        pct = round(100 * self.level)
        lines = [f"{self.metric} (%): mean and {pct} % Student t interval over seeds; effects are paired by "
                 f"seed; * marks an interval that excludes 0", "",
                 f"{'head':<10}{'codebook':<18}{'d':>4}{'s_max':>8}  {'labelling':<12}{'n':>3}  mean [{pct} % CI]"]
        for c in self.cells:
            smax = "" if c.s_max is None else f"{c.s_max:.3f}"
            lines.append(f"{c.head:<10}{c.codebook or '-':<18}{_dim(c.dim):>4}{smax:>8}  {c.labelling or '-':<12}"
                         f"{c.interval.n:>3}  {_fmt(c.interval, signed=False)}")
        for kind, what in EFFECT_KINDS.items():
            effects = [e for e in self.effects if e.kind == kind]
            if not effects:
                continue
            lines += ["", f"{what.capitalize()}:", f"  {'d':>4}  {'context':<18}{'effect':<34}{'n':>3}  "
                                                   f"difference [{pct} % CI]"]
            for e in effects:
                lines.append(f"  {_dim(e.dim):>4}  {e.context:<18}{e.title:<34}{e.diff.n if e.diff else 0:>3}  "
                             + (_fmt(e.diff) if e.diff else "no seed in common"))
        if self.correlations:
            lines += ["", f"Spearman rho of s_max with {self.metric} within one dimension and labelling "
                          f"({pct} % percentile bootstrap, {BOOTSTRAP_RESAMPLES} resamples of the seeds of each cell):",
                      f"  {'d':>4}  {'labelling':<12}{'codebooks':>10}{'runs':>6}  rho [{pct} % CI]"]
            for r in self.correlations:
                c = r.correlation
                if c.rho is None:
                    text = "undefined (one s_max or constant accuracy)"
                elif c.low is None:
                    text = f"{c.rho:+.2f} (one run per codebook: no interval)"
                else:
                    text = f"{c.rho:+.2f} [{c.low:+.2f}, {c.high:+.2f}]{' *' if c.excludes_zero else ''}"
                lines.append(f"  {r.dim:>4}  {r.labelling:<12}{len(r.codebooks):>10}{c.n:>6}  {text}")
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)


def _dim(d: int | None) -> str:
    return "-" if d is None else str(d)


def _fmt(i: Interval, signed: bool = True) -> str:
    sign = "+" if signed else ""
    if i.low is None or i.high is None:
        return f"{100 * i.mean:{sign}.1f} (n = 1: no interval)"
    star = " *" if signed and i.excludes_zero else ""
    return f"{100 * i.mean:{sign}.1f} [{100 * i.low:{sign}.1f}, {100 * i.high:{sign}.1f}]{star}"


def report(rows: Iterable[dict[str, Any]] | str | Path | Sequence[str | Path], metric: str = "best_top1",
           level: float = 0.95) -> StudyReport:
    """Cells, paired effects and rank correlations of a study (see the module docstring).

    Args:
        rows: the results rows (``run_study(...).rows``, :func:`~spherecode.study.read_csv`), the
            path of a ``results.csv``, or several paths (a study and its follow-ups: more seeds or
            labellings on the same data and recipe; their rows are pooled).
        metric: one of :data:`METRICS`.
        level: the confidence level of every interval.

    Raises:
        SpherecodeError: an unknown metric, a bad level, no rows, rows of different data or epochs,
            or two rows of one cell with the same seed.
    """
    from .results import cell_key, check_pooled, read_results

    check_choice("metric", metric, METRICS)
    level = check_level(level)
    paths = isinstance(rows, (str, Path)) or (isinstance(rows, (list, tuple)) and bool(rows)
                                              and all(isinstance(r, (str, Path)) for r in rows))
    if paths:
        data = read_results(rows)  # type: ignore[arg-type]
    else:
        data = list(rows)
        check_pooled(data)
    notes: list[str] = []
    seeds_of: dict[tuple[str, str | None, str | None], dict[int, float]] = {}
    info: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
    missing = 0
    for r in data:
        if r.get(metric) is None:
            missing += 1
            continue
        key = cell_key(r)
        seed, value = r.get("seed"), r[metric]
        if isinstance(seed, bool) or not isinstance(seed, int) or isinstance(value, (bool, str)) \
                or not isinstance(value, (int, float)):
            raise SpherecodeError(f"Argument 'rows': run {r.get('run')!r} has seed {seed!r} and {metric} {value!r}; "
                                  "expected an integer seed and a number (a study's results.csv).")
        seeds_of.setdefault(key, {})[seed] = float(value)  # one result per cell and seed (check_pooled)
        info.setdefault(key, {"dim": r.get("dim"), "s_max": r.get("s_max")})
    if not seeds_of:
        raise SpherecodeError(f"Argument 'rows' has no finished run with a value of '{metric}'.")
    if missing:
        notes.append(f"{missing} row(s) without a value of {metric} left out.")

    cells = [Cell(k[0], k[1], k[2], _int(info[k]["dim"]), _float(info[k]["s_max"]),
                  t_interval(list(v.values()), level), tuple(sorted(v))) for k, v in seeds_of.items()]
    if all(c.interval.n < 2 for c in cells):
        notes.append("every cell has a single seed: no intervals; run more seeds (study.seeds).")
    proto = [c for c in cells if c.head == "prototype"]
    codebooks = list(dict.fromkeys(c.codebook for c in proto))
    labellings = list(dict.fromkeys(c.labelling for c in proto))
    by = {(c.codebook, c.labelling): c for c in proto}
    effects: list[Effect] = []

    def add(kind: str, a: Cell, b: Cell, a_name: str, b_name: str, context: str) -> None:
        diff = paired_difference(seeds_of[(a.head, a.codebook, a.labelling)],
                                 seeds_of[(b.head, b.codebook, b.labelling)], level)
        effects.append(Effect(kind, a_name, b_name, context, a.dim, diff))

    for cb in codebooks:
        base = by.get((cb, BASELINE_LABELLING))
        for lab in labellings:
            if base is not None and lab != BASELINE_LABELLING and (cb, lab) in by:
                add("labelling", by[(cb, lab)], base, str(lab), BASELINE_LABELLING, str(cb))
    dims = sorted({c.dim for c in proto if c.dim is not None})
    for d in dims:
        here = [cb for cb in codebooks if _dim_of(by, cb) == d]
        if len(here) < 2:
            continue
        smax = {cb: next(c.s_max for c in proto if c.codebook == cb) for cb in here}
        ref = max(here, key=lambda cb: -1e9 if smax[cb] is None else smax[cb])  # first of the largest
        for lab in labellings:
            for cb in here:
                if cb != ref and (cb, lab) in by and (ref, lab) in by:
                    add("codebook", by[(cb, lab)], by[(ref, lab)], str(cb), str(ref), str(lab))
    linear = next((c for c in cells if c.head == "linear"), None)
    if linear is not None:
        for c in proto:
            add("head", c, linear, f"prototype ({c.labelling})", "linear", str(c.codebook))

    correlations: list[RankCorrelation] = []
    for d in dims:
        for lab in [*labellings, ALL_LABELLINGS] if len(labellings) > 1 else labellings:
            members = [c for c in proto if c.dim == d and c.s_max is not None
                       and (lab == ALL_LABELLINGS or c.labelling == lab)]
            if len({c.codebook for c in members}) < 2:
                continue
            x, y, g = [], [], []
            for c in members:
                for v in seeds_of[(c.head, c.codebook, c.labelling)].values():
                    x.append(c.s_max)
                    y.append(v)
                    g.append((c.codebook, c.labelling))  # resample seeds within each cell
            correlations.append(RankCorrelation(d, str(lab), tuple(dict.fromkeys(str(c.codebook) for c in members)),
                                                spearman_interval(x, y, g, level)))

    dropped = [e for e in effects if e.diff is not None and e.diff.dropped]
    for e in dropped:
        notes.append(f"{e.title} ({e.context}): seed(s) {', '.join(map(str, e.diff.dropped))} measured on one "
                     f"side only, dropped.")
    for e in effects:
        if e.diff is None:
            notes.append(f"{e.title} ({e.context}): the two sides share no seed.")
    return StudyReport(metric, level, cells, effects, correlations, notes)


def _dim_of(by: dict[tuple[Any, Any], Cell], codebook: Any) -> int | None:
    """The dimension of ``codebook`` (from any of its cells)."""
    return next((c.dim for (cb, _), c in by.items() if cb == codebook), None)


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)
