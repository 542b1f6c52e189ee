"""What a construction is, and :func:`generate`, the one entry point that runs any of them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from ..codebook import Codebook
from ..errors import SpherecodeError, check_int

#: What a build function returns: the (N, d) vectors, optionally with extra provenance to record.
Built = Union[np.ndarray, tuple[np.ndarray, dict[str, Any]]]


@dataclass(frozen=True)
class Construction:
    """A named way to build N unit vectors in R^d.

    Attributes:
        name: registry key, used on the command line (``--method``).
        build: ``build(n, dim, *, seed, progress, **params) -> vectors | (vectors, info)``.
        summary: one line for ``spherecode methods``.
        requires: the (N, d) condition in words, e.g. ``"d >= N - 1"``.
        check: ``check(n, dim) -> None`` if (N, d) is valid, else the reason it is not.
        optimal: ``optimal(n, dim) -> bool``: provably optimal for (P) at (N, d).
        deterministic: true if the seed plays no role.
    """

    name: str
    build: Callable[..., Built]
    summary: str
    requires: str = "any N >= 2, d >= 1"
    check: Callable[[int, int], str | None] = lambda n, dim: None
    optimal: Callable[[int, int], bool] = lambda n, dim: False
    deterministic: bool = False

    def parameters(self) -> dict[str, Any]:
        """The build function's tunable keyword parameters and their defaults."""
        sig = inspect.signature(self.build)
        return {
            p.name: p.default
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in ("seed", "progress")
        }


def check_size(n: object, dim: object) -> tuple[int, int]:
    """Validate N >= 2 and d >= 1 (integers) and return them as ints."""
    return check_int("n", n, minimum=2), check_int("dim", dim, minimum=1)


def run_construction(
    construction: Construction,
    n: int,
    dim: int,
    *,
    seed: int = 0,
    progress: bool = False,
    **params: Any,
) -> Codebook:
    """Build a :class:`Codebook` with ``construction`` after checking (N, d) and the parameters."""
    n, dim = check_size(n, dim)
    seed = check_int("seed", seed, minimum=0)
    reason = construction.check(n, dim)
    if reason is not None:
        raise SpherecodeError(f"Method '{construction.name}' cannot make N={n} in d={dim}: {reason}.")
    known = construction.parameters()
    unknown = sorted(set(params) - set(known))
    if unknown:
        valid = ", ".join(known) or "none"
        raise SpherecodeError(
            f"Method '{construction.name}' has no parameter {', '.join(map(repr, unknown))}; valid parameters: {valid}."
        )
    out = construction.build(n, dim, seed=seed, progress=progress, **params)
    vectors, info = out if isinstance(out, tuple) else (out, {})
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.shape != (n, dim):  # a construction bug, not a user error
        raise RuntimeError(f"{construction.name} returned shape {vectors.shape}, expected {(n, dim)}")
    recorded = {**{k: v for k, v in known.items() if not callable(v)}, **params, **info}
    recorded = {k: v for k, v in recorded.items() if _jsonable(v)}
    return Codebook(vectors, method=construction.name, params=recorded,
                    seed=None if construction.deterministic else seed)


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, list, tuple, dict, np.generic))
