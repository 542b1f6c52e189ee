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
#: A gap between a value and a bound this small is floating-point rounding: it is reported as 0.
ROUNDING = 1e-12


def clip_gap(gap: float) -> float:
    """``gap`` (a value minus a bound), or 0.0 when ``|gap| <= ROUNDING`` (rounding noise, e.g. the E8
    roots' s_max 0.49999999999999994 against the bound 1/2).

    >>> clip_gap(-5.55e-17), clip_gap(0.25)
    (0.0, 0.25)
    """
    return 0.0 if abs(gap) <= ROUNDING else float(gap)
#: The spherical LP bisection runs only up to this dimension by default (it costs seconds).
LP_MAX_DIM = 512
#: The three-point SDP bound runs only when asked (``sdp=True``, ``--sdp``): its s-search costs 30-90 CPU s
#: per (N, d) at the default degrees (docs/bounds.md); it applies for 3 <= d <= SDP_MAX_DIM.
SDP_MAX_DIM = 8
#: Delsarte's limit on binary constructions is computed (exactly) up to this length.
BINARY_MAX_DIM = 32


#: Row labels of :meth:`BoundsReport.format`. Every ``lower_source`` / ``upper_source`` starts with the
#: label of the row that holds its value (``label`` or ``label: detail``).
RANKIN_SIMPLEX = "Rankin simplex (lower)"
RANKIN_ORTHOPLEX = "Rankin orthoplex (lower)"
LEVENSHTEIN = "Levenshtein (lower)"
SPHERICAL_LP = "spherical LP (lower)"
SPHERICAL_SDP = "spherical SDP (lower)"
GILBERT_VARSHAMOV = "Gilbert-Varshamov (upper)"
BEST_KNOWN = "best known code (upper)"
POLYGON = "regular N-gon (exact in d = 2)"
TWO_POINTS = "S^0 (d = 1) holds two points"
TRIVIAL = "trivial (upper)"


def construction_row(name: str) -> str:
    """The row label of a construction's achieved value."""
    return f"construction {name} (upper)"


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
    ``seconds`` records each bound's cost. ``gv_padded`` is Gilbert-Varshamov's best value at a shorter
    length ``gv_padded_length`` (zero-padded to d), where it beats the value at length d.
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
    gv_padded: float | None = None
    gv_padded_length: int | None = None
    spherical_sdp: float | None = None
    spherical_sdp_note: str | None = None

    @property
    def exact(self) -> bool:
        """Whether the interval is closed: the optimum of (P) is known."""
        return self.upper is not None and self.upper - self.lower <= TIGHT

    @property
    def width(self) -> float | None:
        """``upper - lower`` (0 at rounding noise, :func:`clip_gap`)."""
        return None if self.upper is None else clip_gap(self.upper - self.lower)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exact": self.exact, "width": self.width}

    def _lp_note(self) -> str:
        """Why the spherical LP row is n/a, when it is."""
        if self.spherical_lp is not None:
            return ""
        if self.dim < 2:
            return "  (d = 1)"
        if self.dim > LP_MAX_DIM:
            return f"  (not computed above d = {LP_MAX_DIM})"
        if "spherical_lp" in self.seconds:
            return "  (N too large for d: Levenshtein's degree cap)"
        return "  (not computed: lp=False, --no-lp)"

    def format(self) -> str:
        """A human-readable table of the bounds."""

        def fmt(v: float | None) -> str:
            return "n/a" if v is None else f"{v:+.6f}  ({cosine_to_degrees(v):8.4f} deg)"

        gv = fmt(self.gv_upper) + (f"  (d_GV = {self.gv_distance})" if self.gv_distance else "")
        if self.gv_padded is not None:
            gv += f"; {self.gv_padded:+.6f} at length {self.gv_padded_length}, zero-padded"
        rows = [
            ("problem", f"N = {self.n} unit vectors in d = {self.dim}: minimise the worst-case cosine s_max"),
            (RANKIN_SIMPLEX, fmt(self.rankin_simplex)),
            (RANKIN_ORTHOPLEX, fmt(self.rankin_orthoplex) + ("" if self.rankin_orthoplex is not None else "  (N < d + 2)")),
            (LEVENSHTEIN, fmt(self.levenshtein) + ("  (d < 3)" if self.dim < 3 else "")),
            (SPHERICAL_LP, fmt(self.spherical_lp) + self._lp_note()),
            (SPHERICAL_SDP, fmt(self.spherical_sdp)
             + (f"  ({self.spherical_sdp_note})" if self.spherical_sdp_note else "")),
            (GILBERT_VARSHAMOV, gv),
            (BEST_KNOWN, fmt(self.known_upper) + (f"  ({self.known_upper_source})" if self.known_upper_source else "")),
        ]
        if self.binary_limit is not None:
            rows.append(("binary codes cannot beat (Delsarte)", fmt(self.binary_limit) + "  (limit of BCH, RM, ... at length d)"))
        for name, value in self.achieved.items():
            rows.append((construction_row(name), fmt(value)))
        labels = {k for k, _ in rows}
        for source, value in ((self.lower_source, self.lower), (self.upper_source, self.upper)):
            label = None if source is None else source.split(": ")[0]
            if label is not None and label not in labels:  # a bound with no row of its own (d = 1, 2; trivial)
                rows.append((label, fmt(value)))
                labels.add(label)
        width_text = "  (closed: optimum known)" if self.exact else f"  width {self.width:.4g}" if self.width is not None else ""
        rows += [
            ("interval for the optimum", f"[{self.lower:+.6f}, {'?' if self.upper is None else f'{self.upper:+.6f}'}]"
             + width_text),
            ("lower bound from", self.lower_source),
            ("upper bound from", self.upper_source or "none applies"),
            ("provably optimal here", ", ".join(self.provably_optimal) or "no construction is known to be optimal"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


#: The largest N the bounds are computed for: every count up to 2^53 is exact in double precision.
MAX_N = 2**53


def _check_witnesses(achieved: Any, optimal: Any) -> tuple[Mapping[str, Any], list[str]]:
    """``achieved`` a mapping (its values are checked below) and ``optimal`` a list of names, or a one-line error."""
    if achieved is not None and not isinstance(achieved, Mapping):
        raise SpherecodeError(f"Argument 'achieved' must map construction names to s_max values, not {type(achieved).__name__}.")
    if isinstance(optimal, (str, bytes)) or not isinstance(optimal, Iterable):
        raise SpherecodeError(f"Argument 'optimal' must be a list of construction names, not {optimal!r}.")
    names = list(optimal)
    if not all(isinstance(x, str) for x in names):
        raise SpherecodeError(f"Argument 'optimal' must be a list of construction names (strings), not {names!r}.")
    return achieved or {}, names


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
        sdp: run the three-point SDP bound (:mod:`spherecode.bounds.sdp`; about a minute of CPU) when
            3 <= d <= SDP_MAX_DIM (also where the interval is already closed); it starts from the
            LP's value.
        sdp_degree: the SDP's degree D (default :func:`spherecode.bounds.sdp.default_degree`: 6, 7 in d = 4, 5).
        progress: print one line per SDP solve on stderr.
    """
    n = check_int("n", n, minimum=2, maximum=MAX_N)
    dim = check_int("dim", dim, minimum=1)
    achieved, optimal = _check_witnesses(achieved, optimal)
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        seconds[name] = time.perf_counter() - t0
        return out

    simplex, orthoplex = rankin_simplex(n), rankin_orthoplex(n, dim)
    rankin, attained = rankin_bound(n, dim), rankin_attained(n, dim)
    rankin_row = RANKIN_SIMPLEX if orthoplex is None or simplex >= orthoplex else RANKIN_ORTHOPLEX
    # keys: source texts that start with their row's label; on a tie the first inserted wins
    lowers: dict[str, float] = {rankin_row: rankin}
    uppers: dict[str, float] = {}
    if attained:
        uppers[f"{rankin_row}: attained by the simplex or cross-polytope"] = rankin
    if n > 2 * dim and dim == 1:  # S^0 holds two points: N >= 3 forces a repeated point
        lowers[TWO_POINTS] = 1.0
    if dim == 2:  # the circle is solved: some gap between N points is at most 2 pi / N, the N-gon attains it
        polygon = math.cos(2 * math.pi / n)
        lowers[POLYGON] = polygon
        uppers[POLYGON] = polygon
    leven = timed("levenshtein", levenshtein_lower_bound, n, dim) if dim >= 3 else None
    if leven is not None:
        lowers[LEVENSHTEIN] = leven
    exact_entry = known_code(n, dim)
    best = best_known_upper(n, dim)
    best_source = None if best is None else f"{best.configuration}, d={best.dim}"  # d may be below dim: zero-padded
    if best is not None:
        uppers[f"{BEST_KNOWN}: {best_source}"] = best.max_cosine
    achieved = dict(achieved or {})
    for name, value in achieved.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpherecodeError(f"Argument 'achieved' must map names to cosines in [-1, 1]; got {name}={value!r}.")
    achieved = {str(k): float(v) for k, v in achieved.items()}
    for name, value in achieved.items():
        if not math.isfinite(value) or not -1.0 <= value <= 1.0:
            raise SpherecodeError(f"Argument 'achieved' must map names to cosines in [-1, 1]; got {name}={value!r}.")
        uppers[construction_row(name)] = value
    gv_d = timed("gilbert_varshamov", varshamov_distance, dim, n)
    gv_up = None if gv_d is None else 1.0 - 2.0 * gv_d / dim
    gv_padded = gv_length = None
    if gv_up is not None:
        uppers[f"{GILBERT_VARSHAMOV}: d_GV = {gv_d}"] = gv_up
        best_gv = timed("gilbert_varshamov_shorter", gv_best_upper_bound, n, dim)
        if best_gv is not None and best_gv[0] < gv_up:
            gv_padded, gv_length = best_gv
            uppers[f"{GILBERT_VARSHAMOV}: at length {gv_length}, zero-padded"] = gv_padded
    uppers[f"{TRIVIAL}: any N points"] = 1.0
    if exact_entry is not None and exact_entry.exact:
        lowers[f"{BEST_KNOWN}: a proven optimum ({exact_entry.proof})"] = exact_entry.max_cosine
    lp_value = None
    if lp and 2 <= dim <= LP_MAX_DIM:  # computed even where the interval is closed: one program there
        lp_value = timed("spherical_lp", spherical_lp_lower_bound, n, dim, lp_degree)
        if lp_value is not None:  # None: not available (N astronomically large for d)
            lowers[SPHERICAL_LP] = lp_value
    sdp_value, sdp_note = None, None
    if sdp_degree is not None:
        sdp_degree = check_int("sdp_degree", sdp_degree, minimum=1, maximum=SDP_MAX_DEGREE)
    if not sdp:
        sdp_note = ("not run: --sdp (sdp=True) runs it, about a minute of CPU" if 3 <= dim <= SDP_MAX_DIM
                    else f"applies for 3 <= d <= {SDP_MAX_DIM}")
    elif not 3 <= dim <= SDP_MAX_DIM:
        sdp_note = f"applies for 3 <= d <= {SDP_MAX_DIM}"
    else:  # asked for explicitly: run it even where the interval is already closed
        start = lp_value if lp_value is not None else timed("spherical_lp", spherical_lp_lower_bound, n, dim, lp_degree)
        if start is None:
            sdp_note = "not available: the LP bound it starts from is not"
        else:
            sdp_value, sdp_note = timed("spherical_sdp", sdp_lower_bound, n, dim, sdp_degree, start=start,
                                        progress=progress)
            if sdp_value is not None:
                lowers[SPHERICAL_SDP] = sdp_value
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
        gv_padded=gv_padded, gv_padded_length=gv_length,
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
    "clip_gap",
    "delsarte_bound", "gv_best_upper_bound",
    "delsarte_lp", "gegenbauer", "gilbert_size", "gv_interval", "gv_upper_bound", "hamming_ball_volume",
    "known_code", "known_codes", "krawtchouk", "levenshtein_bound", "levenshtein_lower_bound",
    "rankin_attained", "rankin_bound", "rankin_orthoplex", "rankin_simplex", "sdp_bound", "sdp_lower_bound",
    "spherical_lp_bound", "spherical_lp_lower_bound", "varshamov_distance",
]
