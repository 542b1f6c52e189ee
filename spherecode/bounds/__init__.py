r"""Bounds on the optimum of (P): one module per bound, numbers in, numbers out.

:func:`bounds_report` collects every bound that applies to (N, d) into a :class:`BoundsReport`:
``lower`` is the best proven lower bound on the optimal :math:`s_{\max}` (Rankin, Levenshtein,
the spherical LP bound, the three-point SDP bound when asked) and ``upper`` the best guaranteed achievable :math:`s_{\max}` (a
construction that attains Rankin's bound, Gilbert-Varshamov, a known code, or values the caller
achieved and passes in: the bounds package builds nothing).

>>> lo, hi = bound_interval(100, 64)
>>> lo, hi
(0.0, 0.0)
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SpherecodeError, check_int
from ..separation import cosine_to_degrees
from .delsarte import binary_distance_limit, delsarte_bound, delsarte_lp, krawtchouk
from .gilbert_varshamov import (
    gilbert_size,
    gv_best_upper_bound,
    gv_interval,
    gv_upper_bound,
    hamming_ball_volume,
    varshamov_distance,
)
from .known import KnownCode, best_known_upper, known_code, known_codes
from .levenshtein import gegenbauer, levenshtein_bound, levenshtein_lower_bound
from .rankin import rankin_attained, rankin_bound, rankin_orthoplex, rankin_simplex
from .spherical_lp import spherical_lp_bound, spherical_lp_lower_bound
from .sdp import MAX_DEGREE as SDP_MAX_DEGREE
from .sdp import sdp_bound, sdp_lower_bound

#: Bounds closer than this are treated as equal (the interval is closed: the optimum is known).
TIGHT = 1e-9
#: The spherical LP bisection runs only up to this dimension by default (it costs seconds).
LP_MAX_DIM = 512
#: The three-point SDP bound runs only when asked (``sdp=True``, ``--sdp``): minutes of CPU per (N, d)
#: at degree 6 (see experiments/bench_sdp.py); it applies for 3 <= d <= SDP_MAX_DIM.
SDP_MAX_DIM = 8
#: Delsarte's limit on binary constructions is computed (exactly) up to this length.
BINARY_MAX_DIM = 32


@dataclass(frozen=True)
class BoundsReport:
    r"""Every bound for (N, d) and the interval ``[lower, upper]`` that holds the optimum of (P).

    Lower bounds (no N-point code does better): ``rankin``, ``levenshtein``, ``spherical_lp``,
    ``spherical_sdp`` (computed only when asked; ``spherical_sdp_note`` says why it is missing).
    Achievable values (some N-point code does at least this well): ``rankin`` when attained,
    ``gv_upper`` (:math:`1 - 2 d_{GV}/d`), ``known_upper`` (the table), and ``achieved``
    (the s_max of codebooks the caller built, by name). ``provably_optimal`` names what the caller
    reported as provably optimal at (N, d). ``binary_limit`` is not a bound on
    (P): it is the best s_max any *binary* code (BCH, Reed-Muller, ...) can reach at length d by
    Delsarte's LP, :math:`1 - 2D/d`. ``None`` means "does not apply" or "not computed".
    ``seconds`` records each bound's cost.
    """

    n: int
    dim: int
    lower: float
    lower_source: str
    upper: float | None
    upper_source: str | None
    rankin_simplex: float
    rankin_orthoplex: float | None
    rankin: float
    rankin_attained: bool
    levenshtein: float | None
    spherical_lp: float | None
    gv_distance: int | None
    gv_upper: float | None
    known: dict[str, Any] | None
    known_upper: float | None
    known_upper_source: str | None
    provably_optimal: list[str]
    achieved: dict[str, float]
    binary_limit: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    spherical_sdp: float | None = None
    spherical_sdp_note: str | None = None

    @property
    def exact(self) -> bool:
        """Whether the interval is closed: the optimum of (P) is known."""
        return self.upper is not None and self.upper - self.lower <= TIGHT

    @property
    def width(self) -> float | None:
        return None if self.upper is None else self.upper - self.lower

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exact": self.exact, "width": self.width}

    def format(self) -> str:
        """A human-readable table of the bounds."""

        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:+.6f}  ({cosine_to_degrees(v):8.4f} deg)"

        rows = [
            ("problem", f"N = {self.n} unit vectors in d = {self.dim}: minimise the worst-case cosine s_max"),
            ("Rankin simplex (lower)", fmt(self.rankin_simplex)),
            ("Rankin orthoplex (lower)", fmt(self.rankin_orthoplex) + ("" if self.rankin_orthoplex is not None else "  (N < d + 2)")),
            ("Levenshtein (lower)", fmt(self.levenshtein)),
            ("spherical LP (lower)", fmt(self.spherical_lp)),
            ("spherical SDP (lower)", fmt(self.spherical_sdp)
             + (f"  ({self.spherical_sdp_note})" if self.spherical_sdp_note else "")),
            ("Gilbert-Varshamov (upper)", fmt(self.gv_upper) + (f"  (d_GV = {self.gv_distance})" if self.gv_distance else "")),
            ("best known code (upper)", fmt(self.known_upper) + (f"  ({self.known_upper_source})" if self.known_upper_source else "")),
        ]
        if self.binary_limit is not None:
            rows.append(("binary codes cannot beat (Delsarte)", fmt(self.binary_limit) + "  (limit of BCH, RM, ... at length d)"))
        for name, value in self.achieved.items():
            rows.append((f"construction {name} (upper)", fmt(value)))
        rows += [
            ("interval for the optimum", f"[{self.lower:+.6f}, {'?' if self.upper is None else f'{self.upper:+.6f}'}]"
             + ("  (closed: optimum known)" if self.exact else f"  width {self.width:.4g}" if self.width is not None else "")),
            ("lower bound from", self.lower_source),
            ("upper bound from", self.upper_source or "none applies"),
            ("provably optimal here", ", ".join(self.provably_optimal) or "no construction is known to be optimal"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def bounds_report(n: int, dim: int, *, lp: bool = True, achieved: Mapping[str, float] | None = None,
                  optimal: Iterable[str] = (), lp_degree: int | None = None, sdp: bool = False,
                  sdp_degree: int | None = None, progress: bool = False) -> BoundsReport:
    r"""Every bound on the optimum of (P) for N points in :math:`\mathbb{R}^d`.

    Args:
        n: number of points N >= 2.
        dim: dimension d >= 1.
        lp: run the expensive bounds: the spherical LP search (seconds) when the cheap bounds leave a
            gap and d <= LP_MAX_DIM, and Delsarte's binary limit for d <= BINARY_MAX_DIM.
        achieved: s_max of codebooks built at (N, d), by name (e.g. from
            :func:`spherecode.constructions.construction_table`): each is an achievable upper bound.
        optimal: names of constructions that are provably optimal at (N, d), reported as given.
        lp_degree: the LP polynomial degree (default: see :func:`spherical_lp.default_degree`).
        sdp: run the three-point SDP bound (:mod:`spherecode.bounds.sdp`; minutes of CPU) when
            3 <= d <= SDP_MAX_DIM (also where the interval is already closed); it starts from the
            LP's value.
        sdp_degree: the SDP's degree D (default :data:`spherecode.bounds.sdp.DEFAULT_DEGREE`).
        progress: print one line per SDP solve on stderr.
    """
    n = check_int("n", n, minimum=2)
    dim = check_int("dim", dim, minimum=1)
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds[name] = time.perf_counter() - t0
        return out

    simplex, orthoplex = rankin_simplex(n), rankin_orthoplex(n, dim)
    rankin, attained = rankin_bound(n, dim), rankin_attained(n, dim)
    lowers: dict[str, float] = {"Rankin": rankin}
    uppers: dict[str, float] = {"trivial (any N points)": 1.0}
    if attained:
        uppers["Rankin (attained by the simplex or cross-polytope)"] = rankin
    if n > 2 * dim and dim == 1:  # S^0 holds two points: N >= 3 forces a repeated point
        lowers["S^0 has only two points"] = 1.0
    if dim == 2:  # the circle is solved: some gap between N points is at most 2 pi / N, the N-gon attains it
        polygon = math.cos(2 * math.pi / n)
        lowers["regular N-gon (exact in d = 2)"] = polygon
        uppers["regular N-gon (exact in d = 2)"] = polygon
    leven = timed("levenshtein", levenshtein_lower_bound, n, dim) if dim >= 3 else None
    if leven is not None:
        lowers["Levenshtein"] = leven
    gv_d = timed("gilbert_varshamov", varshamov_distance, dim, n)
    gv_up = None if gv_d is None else 1.0 - 2.0 * gv_d / dim
    if gv_up is not None:
        uppers[f"Gilbert-Varshamov (d_GV = {gv_d})"] = gv_up
        best_gv = timed("gilbert_varshamov_shorter", gv_best_upper_bound, n, dim)
        if best_gv is not None and best_gv[0] < gv_up:
            uppers[f"Gilbert-Varshamov at length {best_gv[1]} (zero-padded)"] = best_gv[0]
    exact_entry = known_code(n, dim)
    best = best_known_upper(n, dim)
    best_source = None if best is None else f"{best.configuration}, d={best.dim}"  # d may be below dim: zero-padded
    if best is not None:
        uppers[f"known code: {best_source}"] = best.max_cosine
    achieved = {str(k): float(v) for k, v in (achieved or {}).items()}
    for name, value in achieved.items():
        if not math.isfinite(value) or not -1.0 <= value <= 1.0:
            raise SpherecodeError(f"Argument 'achieved' must map names to cosines in [-1, 1]; got {name}={value!r}.")
        uppers[f"construction '{name}'"] = value
    if exact_entry is not None and exact_entry.exact:
        lowers[f"known optimum ({exact_entry.proof})"] = exact_entry.max_cosine
    lower_now = max(lowers.values())
    upper_now = min(uppers.values(), default=None)
    lp_value = None
    if lp and dim >= 2 and dim <= LP_MAX_DIM and (upper_now is None or upper_now - lower_now > TIGHT):
        lp_value = timed("spherical_lp", spherical_lp_lower_bound, n, dim, lp_degree)
        if lp_value is not None:  # None: not available (N astronomically large for d)
            lowers["spherical LP"] = lp_value
    sdp_value, sdp_note = None, None
    if sdp_degree is not None:
        sdp_degree = check_int("sdp_degree", sdp_degree, minimum=1, maximum=SDP_MAX_DEGREE)
    if sdp:
        lower_now = max(lowers.values())
        if not 3 <= dim <= SDP_MAX_DIM:
            sdp_note = f"applies for 3 <= d <= {SDP_MAX_DIM}"
        else:  # asked for explicitly: run it even where the interval is already closed
            start = lp_value if lp_value is not None else timed("spherical_lp", spherical_lp_lower_bound, n, dim, lp_degree)
            if start is None:
                sdp_note = "not available: the LP bound it starts from is not"
            else:
                sdp_value, sdp_note = timed("spherical_sdp", sdp_lower_bound, n, dim, sdp_degree, start=start,
                                            progress=progress)
                if sdp_value is not None:
                    lowers["spherical SDP (three-point)"] = sdp_value
                else:
                    sdp_note = f"n/a: {sdp_note}"
    binary = None
    if lp and dim <= BINARY_MAX_DIM:
        dist = timed("delsarte", binary_distance_limit, dim, n)
        binary = None if dist is None else 1.0 - 2.0 * dist / dim
    lower_source, lower = max(lowers.items(), key=lambda kv: kv[1])
    upper_source, upper = min(uppers.items(), key=lambda kv: kv[1], default=(None, None))
    if upper is not None and 0 < lower - upper <= TIGHT:  # floating-point noise in a closed interval
        lower = upper
    return BoundsReport(
        n=n, dim=dim, lower=lower, lower_source=lower_source, upper=upper, upper_source=upper_source,
        rankin_simplex=simplex, rankin_orthoplex=orthoplex, rankin=rankin, rankin_attained=attained,
        levenshtein=leven, spherical_lp=lp_value, gv_distance=gv_d, gv_upper=gv_up,
        known=None if exact_entry is None else asdict(exact_entry),
        known_upper=None if best is None else best.max_cosine,
        known_upper_source=best_source,
        provably_optimal=list(optimal), achieved=achieved, binary_limit=binary, seconds=seconds,
        spherical_sdp=sdp_value, spherical_sdp_note=sdp_note,
    )


@lru_cache(maxsize=1024)
def bound_interval(n: int, dim: int) -> tuple[float, float | None]:
    """The cheap interval ``(lower, upper)`` for the optimum (Rankin, Levenshtein, GV, known codes;
    no LP, nothing built): what ``spherecode analyze`` shows.

    >>> bound_interval(240, 8)
    (0.5, 0.5)
    """
    r = bounds_report(n, dim, lp=False)
    return r.lower, r.upper


__all__ = [
    "BoundsReport", "KnownCode", "best_known_upper", "binary_distance_limit", "bound_interval", "bounds_report",
    "delsarte_bound", "gv_best_upper_bound",
    "delsarte_lp", "gegenbauer", "gilbert_size", "gv_interval", "gv_upper_bound", "hamming_ball_volume",
    "known_code", "known_codes", "krawtchouk", "levenshtein_bound", "levenshtein_lower_bound",
    "rankin_attained", "rankin_bound", "rankin_orthoplex", "rankin_simplex", "sdp_bound", "sdp_lower_bound",
    "spherical_lp_bound", "spherical_lp_lower_bound", "varshamov_distance",
]
