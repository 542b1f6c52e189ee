"""What a construction is, how it declares its parameters, and the one checked path that runs any of them.

Every construction declares its tunable parameters once, explicitly, as :class:`Param` records (type,
default, range, help). :func:`run_construction` is the only way a construction is built: by
:func:`spherecode.constructions.generate`, by the command line (``generate -p KEY=VALUE``) and by ``auto``
for the constructions it compares. It checks (N, d), that the machine can hold the result and the
method's working memory (:func:`check_memory`), and every parameter (:meth:`Param.check`), each with a
one-line :class:`~spherecode.errors.SpherecodeError` naming the argument.

**Effort and determinism.** Every search budget is counted in iterations (gradient steps, linear
programs, restarts), never in seconds, and the budgets of each effort level are declared once, in
:data:`EFFORT_BUDGETS`: the same arguments, seed and effort give the same codebook on a fast or a slow,
idle or loaded machine. Only an explicit time limit (``polish_seconds``) makes a result depend on the
machine's speed, and the codebook then records ``"machine_dependent": true``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ..codebook import Codebook
from ..cost import available_memory, progress_bar, stage  # noqa: F401  (the constructions import them from here)
from ..errors import SpherecodeError, check_choice, check_int

#: What a build function returns: the (N, d) vectors, optionally with extra provenance to record.
Built = Union[np.ndarray, tuple[np.ndarray, dict[str, Any]]]

#: Integer parameters without a declared upper end (steps, restarts, ...) are at most this.
MAX_COUNT = 10**9

_TYPE_NAMES = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false"}


@dataclass(frozen=True)
class Param:
    """One tunable parameter of a construction.

    Attributes:
        name: keyword name (``-p name=value`` on the command line).
        type: ``int``, ``float``, ``str`` or ``bool``.
        default: the default; ``None`` means "chosen from (N, d)" (then ``None`` is also accepted).
        low, high: inclusive range for numbers (``None``: unbounded on that side).
        help: one line for ``spherecode methods``.
        choices: the valid values of a string parameter (``None``: any string).
        positive: numbers must be > ``low`` rather than >= (``low`` is then usually 0).

    >>> Param("steps", int, 1000, low=0).check(5)
    5
    >>> Param("t_end", float, 2000.0, low=0, positive=True).check(float("inf"))
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Argument 't_end' must be a finite number, not inf.
    """

    name: str
    type: type
    default: Any
    low: float | None = None
    high: float | None = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    positive: bool = False

    def check(self, value: Any) -> Any:
        """``value`` converted to the declared type, or a one-line error naming the parameter."""
        if value is None and self.default is None:
            return None
        bad = f"Argument '{self.name}' must be {self._kind()}, not {value!r}."
        if self.type is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise SpherecodeError(bad)
            return bool(value)
        if self.type is str:
            if not isinstance(value, str):
                raise SpherecodeError(bad)
            if self.choices is not None and value not in self.choices:
                raise SpherecodeError(f"Argument '{self.name}' must be one of {', '.join(self.choices)}; got {value!r}.")
            return value
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise SpherecodeError(bad)
        if self.type is int:
            if isinstance(value, (float, np.floating)) and not (math.isfinite(value) and float(value).is_integer()):
                raise SpherecodeError(bad)
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise SpherecodeError(bad)
        too_low = self.low is not None and (value <= self.low if self.positive else value < self.low)
        if self.type is int and self.high is None and value > MAX_COUNT:
            raise SpherecodeError(f"Argument '{self.name}' must be at most {MAX_COUNT}, not {value!r}.")
        too_high = self.high is not None and value > self.high
        if too_low or too_high:
            raise SpherecodeError(f"Argument '{self.name}' must be {self._range()}, not {value!r}.")
        return value

    def _kind(self) -> str:
        kind = _TYPE_NAMES[self.type]
        return kind + " or null (automatic)" if self.default is None else kind

    def _range(self) -> str:
        low = None if self.low is None else f"{'>' if self.positive else '>='} {self.low:g}"
        high = None if self.high is None else f"<= {self.high:g}"
        return " and ".join(x for x in (low, high) if x)

    def describe(self) -> str:
        """``name=default (type, range): help`` for ``spherecode methods``."""
        kind = self.type.__name__ + (f" in {{{', '.join(self.choices)}}}" if self.choices else "")
        rng = self._range() if self.type in (int, float) else ""
        default = "auto" if self.default is None else repr(self.default)
        return f"{self.name}={default} ({kind}{', ' + rng if rng else ''})" + (f": {self.help}" if self.help else "")


#: The effort levels, cheapest first: ``generate(..., effort=)`` and ``spherecode generate --effort``.
EFFORTS: tuple[str, ...] = ("fast", "default", "best")


@dataclass(frozen=True)
class Effort:
    r"""The iteration budgets of the searches at one effort level (never seconds: see the module docstring).

    Attributes:
        name: the level (a key of :data:`EFFORT_BUDGETS`).
        lse_steps: lse's steps per run on the dense path (N <= its ``dense_limit``), at most ...
        lse_work: ... ``lse_work / (R N^2 d)`` (R restarts), at least :data:`MIN_LSE_STEPS`: one step
            costs about :math:`2 R N^2 d` multiply-adds, so large problems get fewer steps.
        sparse_steps: lse's steps above ``dense_limit`` (neighbour lists).
        t_start: lse's first temperature from random starts (the anneal ends at ``t_end``).
        sharpen_steps: float64 lse steps from ``t_end`` to ``10 t_end`` after the search (0: none).
        polish_programs: the minimax polish solves at most this many linear programs ...
        polish_rows: ... with at most this many constraint rows (pairs) summed over them, so small
            problems (a few dozen pairs per program) run to convergence and large ones stop early.
        mettes_steps: ``mettes``' SGD steps (1000 at ``default``, as in Mettes et al.'s public code).
        rounds: ``auto``'s independent searches for the smallest problems (N^2 d below its SMALL_WORK).
        start_work: ``auto``'s independent lse runs: ``start_work / (steps N^2 d)``, clamped to
            [1, :data:`MAX_STARTS`] (1 for every level but ``best``).
    """

    name: str
    lse_steps: int
    lse_work: float
    sparse_steps: int
    t_start: float
    sharpen_steps: int
    polish_programs: int
    polish_rows: int
    mettes_steps: int
    rounds: int
    start_work: float

    def lse_dense_steps(self, n: int, dim: int, restarts: int) -> int:
        """lse's steps at (N, d) with R restarts on the dense path.

        >>> EFFORT_BUDGETS["default"].lse_dense_steps(100, 10, 8), EFFORT_BUDGETS["default"].lse_dense_steps(1000, 512, 1)
        (1000, 600)
        """
        return int(max(MIN_LSE_STEPS, min(self.lse_steps, self.lse_work // (restarts * n * n * dim))))

    def starts(self, n: int, dim: int, steps: int) -> int:
        """``auto``'s independent lse runs at (N, d) (each of ``steps`` steps).

        >>> EFFORT_BUDGETS["best"].starts(1000, 128, 12000), EFFORT_BUDGETS["default"].starts(1000, 128, 1000)
        (4, 1)
        """
        return int(max(1, min(MAX_STARTS, self.start_work // max(1, steps * n * n * dim))))


#: Fewest lse steps any effort gives a dense run.
MIN_LSE_STEPS = 50
#: Most independent lse runs of ``auto`` (``best``).
MAX_STARTS = 4

#: Every effort level's budgets, declared once. ``fast`` is for sweeps and plots; ``default`` keeps
#: ``auto`` at N = 1000, d = 128 to about a minute of CPU; ``best`` anneals longer (12,000 steps from
#: t = 20) from several random starts, sharpens in float64 and polishes longer (minutes of CPU).
#: docs/constructions.md has the measured s_max and CPU seconds of each level.
EFFORT_BUDGETS: dict[str, Effort] = {
    e.name: e for e in (
        Effort("fast", lse_steps=80, lse_work=2e10, sparse_steps=50, t_start=10.0, sharpen_steps=0,
               polish_programs=6, polish_rows=1_000, mettes_steps=120, rounds=2, start_work=0.0),
        Effort("default", lse_steps=1000, lse_work=3.072e11, sparse_steps=200, t_start=10.0, sharpen_steps=0,
               polish_programs=200, polish_rows=15_000, mettes_steps=1000, rounds=6, start_work=0.0),
        Effort("best", lse_steps=12_000, lse_work=math.inf, sparse_steps=1000, t_start=20.0, sharpen_steps=1000,
               polish_programs=500, polish_rows=30_000, mettes_steps=10_000, rounds=12, start_work=6.4e12),
    )
}


def get_effort(effort: str) -> Effort:
    """The budgets of ``effort``; a one-line error naming the valid levels."""
    return EFFORT_BUDGETS[check_choice("effort", effort, EFFORT_BUDGETS)]


def _no_memory(n: int, dim: int, params: Mapping[str, Any]) -> int:
    return 0


@dataclass(frozen=True)
class Construction:
    """A named way to build N unit vectors in R^d.

    Attributes:
        name: registry key, used on the command line (``--method``).
        build: ``build(n, dim, *, seed, progress, **params) -> vectors | (vectors, info)``; it receives
            every declared parameter, checked (defaults filled in).
        summary: one line for ``spherecode methods``.
        params: the tunable parameters, declared once (:class:`Param`).
        requires: the (N, d) condition in words, e.g. ``"d >= N - 1"``.
        check: ``check(n, dim) -> None`` if (N, d) is valid, else the reason it is not.
        optimal: ``optimal(n, dim) -> bool``: provably optimal for (P) at (N, d).
        deterministic: true if the seed plays no role.
        memory: ``memory(n, dim, params) -> bytes``: working memory beyond the (N, d) float64 result.
        effort: its budgets follow the effort dial: ``build`` also receives ``effort=`` (an :class:`Effort`)
            and the codebook records the level.
    """

    name: str
    build: Callable[..., Built]
    summary: str
    params: tuple[Param, ...] = ()
    requires: str = "any N >= 2, d >= 1"
    check: Callable[[int, int], str | None] = lambda n, dim: None
    optimal: Callable[[int, int], bool] = lambda n, dim: False
    deterministic: bool = False
    memory: Callable[[int, int, Mapping[str, Any]], int] = _no_memory
    effort: bool = False

    def parameters(self) -> dict[str, Any]:
        """The tunable keyword parameters and their defaults (``None``: chosen from (N, d))."""
        return {p.name: p.default for p in self.params}

    def checked_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared parameter, checked, with defaults for those not given; unknown names raise."""
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(declared))
        if unknown:
            valid = ", ".join(declared) or "none"
            raise SpherecodeError(
                f"Method '{self.name}' has no parameter {', '.join(map(repr, unknown))}; valid parameters: {valid}."
            )
        return {name: p.check(params[name]) if name in params else p.default for name, p in declared.items()}


def check_size(n: object, dim: object) -> tuple[int, int]:
    """Validate N >= 2 and d >= 1 (integers) and return them as ints."""
    return check_int("n", n, minimum=2), check_int("dim", dim, minimum=1)


def check_memory(construction: Construction, n: int, dim: int, params: Mapping[str, Any],
                 available: int | None = None) -> None:
    """Refuse, with one line, an (N, d) whose result (N d float64) and working memory cannot fit in memory."""
    need = 8 * n * dim + int(construction.memory(n, dim, params))
    have = available_memory() if available is None else available
    if need > have:
        raise SpherecodeError(
            f"Method '{construction.name}' at N={n}, d={dim} needs about {need / 1e9:.3g} GB "
            f"({8 * n * dim / 1e9:.3g} GB for the N x d float64 codebook) but only {have / 1e9:.3g} GB "
            f"of memory is available; use a smaller N or d."
        )


def build_vectors(construction: Construction, n: int, dim: int, *, seed: int = 0, progress: bool = False,
                  effort: str = "default", **params: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """The checked path: validate (N, d), memory, effort and parameters, build, and return
    ``(vectors, recorded)`` where ``recorded`` holds every parameter as applied plus the construction's
    provenance (and the effort level, for the constructions that follow it)."""
    n, dim = check_size(n, dim)
    seed = check_int("seed", seed, minimum=0)
    budget = get_effort(effort)
    reason = construction.check(n, dim)
    if reason is not None:
        raise SpherecodeError(f"Method '{construction.name}' cannot make N={n} in d={dim}: {reason}.")
    checked = construction.checked_params(params)
    check_memory(construction, n, dim, checked)
    if isinstance(params.get("steps"), int) and params["steps"] > 0:  # a search length the user chose: estimate it
        from ..cost import MATMUL_FLOPS, check_cost

        restarts = params.get("restarts") or 1
        # the Gram matrix (2 N M d) and the gradient (2 N M d) over M = N (candidate) columns, per restart
        per_step = 4.0 * restarts * n * min(n, 4096) * dim / MATMUL_FLOPS
        check_cost(f"{params['steps']} steps of '{construction.name}' at N={n}, d={dim}", seconds=params["steps"] * per_step,
                   option="steps", hint="use fewer steps")
    extra = {"effort": budget} if construction.effort else {}
    out = construction.build(n, dim, seed=seed, progress=progress, **extra, **checked)
    vectors, info = out if isinstance(out, tuple) else (out, {})
    if construction.effort:
        info = {"effort": budget.name, **info}
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.shape != (n, dim):  # a construction bug, not a user error
        raise RuntimeError(f"{construction.name} returned shape {vectors.shape}, expected {(n, dim)}")
    recorded = {k: v for k, v in {**checked, **info}.items() if _jsonable(v)}
    return vectors, recorded


def run_construction(construction: Construction, n: int, dim: int, *, seed: int = 0, progress: bool = False,
                     effort: str = "default", **params: Any) -> Codebook:
    """Build a :class:`Codebook` with ``construction`` through :func:`build_vectors` (every check)."""
    vectors, recorded = build_vectors(construction, n, dim, seed=seed, progress=progress, effort=effort, **params)
    return Codebook(vectors, method=construction.name, params=recorded,
                    seed=None if construction.deterministic else check_int("seed", seed, minimum=0))


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, list, tuple, dict, np.generic))
