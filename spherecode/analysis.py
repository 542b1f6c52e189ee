"""The separation report of a codebook: its measures beside the bounds on the optimum."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .bounds import bound_interval, clip_gap, rankin_attained, rankin_bound
from .codebook import Codebook, as_codebook
from .errors import SpherecodeError
from .separation import cosine_to_degrees


@dataclass(frozen=True)
class SeparationReport:
    """Everything ``spherecode analyze`` prints, as plain numbers.

    ``gap_to_rankin`` is ``max_cosine - rankin_bound``: zero means provably optimal.
    ``bound_lower`` / ``bound_upper`` is the interval that holds the optimum of (P) at (N, d)
    (:func:`spherecode.bounds.bound_interval`: Rankin, Levenshtein, Gilbert-Varshamov, known codes;
    the upper end is never above the codebook's own s_max, which is achieved);
    ``gap_to_lower`` is ``max_cosine - bound_lower``, the most this codebook could still improve.
    Both gaps are 0 where they are within rounding noise of it (:func:`spherecode.bounds.clip_gap`).
    ``chosen`` is what ``auto`` picked and ``source`` where a known configuration comes from (None if
    the codebook does not record them).
    """

    n: int
    dim: int
    method: str
    max_cosine: float
    min_angle_deg: float
    mean_max_cosine: float
    antipodal_pairs: int
    permuted: bool
    rankin_bound: float
    rankin_attained: bool
    gap_to_rankin: float
    bound_lower: float
    bound_upper: float | None
    gap_to_lower: float
    chosen: str | None = None
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        """A human-readable multi-line report."""
        rows = [
            ("codebook", f"N = {self.n} prototypes in d = {self.dim} (method: {self.method}{', relabelled' if self.permuted else ''})"),
            *([("chosen", self.chosen)] if self.chosen else []),
            *([("source", self.source)] if self.source else []),
            ("worst-case cosine", f"{self.max_cosine:.6f}  (minimum angle {self.min_angle_deg:.4f} deg)"),
            ("mean nearest cosine", f"{self.mean_max_cosine:.6f}"),
            ("antipodal pairs", f"{self.antipodal_pairs}"),
            ("Rankin bound", f"{self.rankin_bound:.6f}  ({cosine_to_degrees(self.rankin_bound):.4f} deg; "
                             f"{'attainable' if self.rankin_attained else 'not attainable'} at this (N, d))"),
            ("gap to Rankin", f"{self.gap_to_rankin:.3g}" + ("  (optimal)" if abs(self.gap_to_rankin) < 1e-9 else "")),
            ("optimum lies in", f"[{self.bound_lower:.6f}, {'?' if self.bound_upper is None else f'{self.bound_upper:.6f}'}]"
                                "  (see `spherecode bounds` for every bound)"),
            ("gap to best lower bound", f"{self.gap_to_lower:.3g}" + ("  (optimal)" if abs(self.gap_to_lower) < 1e-9 else "")),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def analyze(codebook: Codebook | str | os.PathLike[str] | np.ndarray, *, progress: bool = False) -> SeparationReport:
    """Measure a codebook's separation and compare it with the bounds for its (N, d).

    Args:
        codebook: a :class:`Codebook`, a codebook file's path or an (N, d) array (N >= 2).
        progress: show a progress bar when comparing all pairs takes long.

    >>> analyze(np.eye(3)).max_cosine
    0.0
    """
    codebook = as_codebook(codebook)
    if codebook.n < 2:
        raise SpherecodeError(f"Argument 'codebook' has N = {codebook.n} prototype; a separation report needs N >= 2.")
    s = float(codebook.scan(progress=progress).row_max.max())
    bound = rankin_bound(codebook.n, codebook.dim)
    lower, upper = bound_interval(codebook.n, codebook.dim)
    upper = s if upper is None else min(upper, s)  # the codebook itself is an achievable value
    return SeparationReport(
        n=codebook.n,
        dim=codebook.dim,
        method=codebook.method,
        max_cosine=s,
        min_angle_deg=codebook.min_angle_deg,
        mean_max_cosine=codebook.mean_max_cosine,
        antipodal_pairs=codebook.antipodal_pairs,
        permuted=codebook.permutation is not None,
        rankin_bound=bound,
        rankin_attained=rankin_attained(codebook.n, codebook.dim),
        gap_to_rankin=clip_gap(s - bound),
        bound_lower=lower,
        bound_upper=upper,
        gap_to_lower=clip_gap(s - lower),
        chosen=_text(codebook.params.get("chosen")),
        source=_text(codebook.params.get("source")),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class SeparationCurves:
    """Worst-case cosine against dimension for a fixed N: every construction beside every bound.

    ``bounds["upper"]`` is the best achievable value: the cheap bounds' upper end, lowered by any
    codebook built here (a built codebook is a witness), and made non-increasing in d (zero padding).

    ``bounds[name][i]`` and ``methods[name][i]`` belong to ``dims[i]``; ``None`` where a bound does
    not apply or a method is invalid at that (N, d). ``seconds[name][i]`` is each build's time.
    """

    n: int
    dims: list[int]
    bounds: dict[str, list[float | None]]
    methods: dict[str, list[float | None]]
    seconds: dict[str, list[float | None]]

    def rows(self) -> list[dict[str, Any]]:
        """One flat record per dimension (what the CSV holds)."""
        out = []
        for i, d in enumerate(self.dims):
            row: dict[str, Any] = {"n": self.n, "dim": d}
            row.update({f"bound_{k}": v[i] for k, v in self.bounds.items()})
            row.update({f"method_{k}": v[i] for k, v in self.methods.items()})
            row.update({f"seconds_{k}": v[i] for k, v in self.seconds.items()})
            out.append(row)
        return out


#: A separation curve has at most this many dimensions.
MAX_CURVE_DIMS = 256
#: The bound curves of :func:`separation_vs_dimension` (BoundsReport fields).
CURVE_BOUNDS = ("rankin", "levenshtein", "spherical_lp", "gv_upper", "known_upper", "lower", "upper")


def default_methods() -> list[str]:
    """Every registered construction except ``auto`` (which only dispatches to the others)."""
    from .constructions import CONSTRUCTIONS

    return [name for name in CONSTRUCTIONS if name != "auto"]


def separation_vs_dimension(
    n: int,
    dims: list[int],
    methods: list[str] | None = None,
    *,
    seed: int = 0,
    lp: bool = True,
    lp_max_dim: int = 128,
    params: dict[str, Any] | None = None,
    effort: str = "fast",
    progress: bool = False,
) -> SeparationCurves:
    """Build every construction valid at (N, d) for each d in ``dims`` and collect every bound.

    Args:
        n: number of prototypes N.
        dims: the dimensions (each >= 1).
        methods: registry names (default :func:`default_methods`); invalid (N, d) pairs are skipped.
        seed: seed for the randomised constructions.
        lp: compute the spherical LP bound where the cheap bounds leave a gap and d <= ``lp_max_dim``.
        params: construction parameters (e.g. ``{"steps": 500}``), passed to each method that has them.
        effort: the constructions' search budget (``"fast"`` by default: a sweep builds many codebooks;
            see :data:`spherecode.constructions.EFFORT_BUDGETS`).
        progress: show progress on stderr over the (d, method) builds (a bar on a terminal, else one
            line per dimension).
    """
    from .bounds import bounds_report
    from .constructions import CONSTRUCTIONS, check_size, generate, get_construction
    from .constructions.base import get_effort, progress_bar, stage

    from .cost import check_cost
    from .separation import scan_seconds

    n = check_size(n, 1)[0]
    dims = list(dict.fromkeys(check_size(n, d)[1] for d in dims))
    if not dims:
        raise SpherecodeError("Argument 'dims' must name at least one dimension.")
    if len(dims) > MAX_CURVE_DIMS:
        raise SpherecodeError(f"Argument 'dims' names {len(dims)} dimensions; a curve has at most {MAX_CURVE_DIMS} "
                              "(use a step, 3:128:5, or log-spacing, geom:3:128:20).")
    methods = default_methods() if methods is None else list(dict.fromkeys(get_construction(m).name for m in methods))
    params = dict(params or {})
    accepted = {k for m in methods for k in CONSTRUCTIONS[m].parameters()}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise SpherecodeError(f"Argument 'params': no selected method has {', '.join(map(repr, unknown))}; "
                              f"their parameters: {', '.join(sorted(accepted)) or 'none'}.")
    valid = [(d, m) for d in dims for m in methods if CONSTRUCTIONS[m].check(n, d) is None]
    check_cost(f"measuring {len(valid)} codebooks of N = {n}", seconds=sum(scan_seconds(n, d) for d, _ in valid),
               option="dims", hint="use fewer dimensions or methods")
    effort = get_effort(effort).name
    bounds: dict[str, list[float | None]] = {k: [] for k in CURVE_BOUNDS}
    values: dict[str, list[float | None]] = {m: [] for m in methods}
    seconds: dict[str, list[float | None]] = {m: [] for m in methods}
    jobs = [(d, m) for d in dims for m in methods]
    bar = progress_bar(progress, len(jobs), f"N={n}", "build")
    for step, d in enumerate(dims):
        report = bounds_report(n, d, lp=lp and d <= lp_max_dim)
        for k in CURVE_BOUNDS:
            bounds[k].append(getattr(report, k))
        for m in methods:
            c = CONSTRUCTIONS[m]
            if c.check(n, d) is not None:
                values[m].append(None)
                seconds[m].append(None)
            else:
                own = {k: v for k, v in params.items() if k in c.parameters()}
                t0 = time.perf_counter()
                values[m].append(generate(n, d, m, seed=seed, effort=effort, **own).max_cosine)
                seconds[m].append(time.perf_counter() - t0)
            if bar is not None:
                bar.update(1)
        # every codebook actually built is an achievable value: it can only lower the upper end
        built = [values[m][-1] for m in methods if values[m][-1] is not None]
        stage(progress, f"separation N={n}: d={d} done ({step + 1}/{len(dims)}), best s_max "
                        + (f"{min(built):.6f}" if built else "none"))
        if built and (bounds["upper"][-1] is None or min(built) < bounds["upper"][-1]):
            bounds["upper"][-1] = min(built)
    if bar is not None:
        bar.close()
    # a code in d' <= d embeds in R^d (zero padding): the achievable end is non-increasing in d
    order = sorted(range(len(dims)), key=lambda i: dims[i])
    best: float | None = None
    for i in order:
        u = bounds["upper"][i]
        best = u if best is None or (u is not None and u < best) else best
        bounds["upper"][i] = best
    return SeparationCurves(n=n, dims=dims, bounds=bounds, methods=values, seconds=seconds)


def parse_dims(text: str) -> list[int]:
    """Parse ``"3:128"`` (every d), ``"3:128:5"`` (step 5), ``"geom:3:128:20"`` (20 roughly
    log-spaced) or ``"10,25,64"`` into a sorted list of dimensions.

    >>> parse_dims("8:12"), parse_dims("10,25,64"), parse_dims("geom:2:64:6")
    ([8, 9, 10, 11, 12], [10, 25, 64], [2, 4, 8, 16, 32, 64])
    """
    bad = SpherecodeError(f"Argument '--dims' must look like 3:128, 3:128:5, geom:3:128:20 or 10,25,64; got {text!r}.")
    try:
        if text.startswith("geom:"):
            lo, hi, count = (int(x) for x in text[5:].split(":"))
            if not 1 <= count <= MAX_CURVE_DIMS or lo < 1 or hi < lo:
                raise bad
            dims = sorted({int(round(v)) for v in np.geomspace(lo, hi, count)})
        elif ":" in text:
            parts = [int(x) for x in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1):
                raise bad
            step = parts[2] if len(parts) == 3 else 1
            if (parts[1] - parts[0]) // step + 1 > MAX_CURVE_DIMS:
                raise SpherecodeError(f"Argument '--dims': {text!r} names {(parts[1] - parts[0]) // step + 1} dimensions; "
                                      f"a curve has at most {MAX_CURVE_DIMS} (use a step or geom:).")
            dims = list(range(parts[0], parts[1] + 1, step))
        else:
            dims = sorted({int(x) for x in text.split(",") if x.strip()})
    except SpherecodeError:
        raise
    except (ValueError, OverflowError):
        raise bad from None
    if not dims or min(dims) < 1:
        raise SpherecodeError(f"Argument '--dims' must give dimensions >= 1; got {text!r}.")
    return dims
