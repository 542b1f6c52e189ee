"""What a construction is, how it declares its parameters, and the one checked path that runs any of them.

Every construction declares its tunable parameters once, explicitly, as :class:`Param` records (type,
default, range, help). :func:`run_construction` is the only way a construction is built: by
:func:`spherecode.constructions.generate`, by the command line (``generate -p KEY=VALUE``) and by ``auto``
for the constructions it compares. It checks (N, d), that the machine can hold the result and the
method's working memory (:func:`check_memory`), and every parameter (:meth:`Param.check`), each with a
one-line :class:`~spherecode.errors.SpherecodeError` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ..codebook import Codebook
from ..cost import available_memory
from ..errors import SpherecodeError, check_int

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
                  **params: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """The checked path: validate (N, d), memory and parameters, build, and return ``(vectors, recorded)``
    where ``recorded`` holds every parameter as applied plus the construction's provenance."""
    n, dim = check_size(n, dim)
    seed = check_int("seed", seed, minimum=0)
    reason = construction.check(n, dim)
    if reason is not None:
        raise SpherecodeError(f"Method '{construction.name}' cannot make N={n} in d={dim}: {reason}.")
    checked = construction.checked_params(params)
    check_memory(construction, n, dim, checked)
    if isinstance(params.get("steps"), int) and params["steps"] > 0:  # a search length the user chose: estimate it
        from ..cost import FLOPS, check_cost

        per_step = 6.0 * n * min(n, 4096) * dim / FLOPS  # forward and backward over the (candidate) Gram matrix
        check_cost(f"{params['steps']} steps of '{construction.name}' at N={n}, d={dim}", seconds=params["steps"] * per_step,
                   option="steps", hint="use fewer steps")
    out = construction.build(n, dim, seed=seed, progress=progress, **checked)
    vectors, info = out if isinstance(out, tuple) else (out, {})
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.shape != (n, dim):  # a construction bug, not a user error
        raise RuntimeError(f"{construction.name} returned shape {vectors.shape}, expected {(n, dim)}")
    recorded = {k: v for k, v in {**checked, **info}.items() if _jsonable(v)}
    return vectors, recorded


def run_construction(construction: Construction, n: int, dim: int, *, seed: int = 0, progress: bool = False,
                     **params: Any) -> Codebook:
    """Build a :class:`Codebook` with ``construction`` through :func:`build_vectors` (every check)."""
    vectors, recorded = build_vectors(construction, n, dim, seed=seed, progress=progress, **params)
    return Codebook(vectors, method=construction.name, params=recorded,
                    seed=None if construction.deterministic else check_int("seed", seed, minimum=0))


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, list, tuple, dict, np.generic))
