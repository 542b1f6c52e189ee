r"""``lse``: the log-sum-exp relaxation of the codebook problem, solved by projected gradient descent.

The worst-case cosine :math:`s_{\max}(C) = \max_{i \ne j} \langle c_i, c_j \rangle` is not smooth.
For :math:`t > 0` the log-sum-exp

.. math::
    F_t(C) = \frac1t \log \sum_{i \ne j} \exp\big(t \langle c_i, c_j \rangle\big),
    \qquad s_{\max}(C) \le F_t(C) \le s_{\max}(C) + \frac{\log(N(N-1))}{t},

is smooth and tends to :math:`s_{\max}` as :math:`t \to \infty`. Its gradient is

.. math::
    \nabla_{c_i} F_t = 2 \sum_{j \ne i} w_{ij} c_j, \qquad
    w_{ij} = \frac{\exp(t \langle c_i, c_j\rangle)}{\sum_{k \ne l} \exp(t \langle c_k, c_l\rangle)},

computed stably by subtracting :math:`s_{\max}` before exponentiating. Each step projects the
gradient onto the tangent space of the sphere at every row
(:math:`g_i \leftarrow g_i - \langle g_i, c_i\rangle c_i`), takes an Adam step and renormalises
the rows. The temperature grows geometrically from ``t_start`` to ``t_end`` and the step size
shrinks geometrically from ``lr_start`` to ``lr_end``, so the search first spreads the points out and
then pushes on the few worst pairs only. ``restarts`` random starts run together as one
``R x N x d`` tensor (batched matrix products); the iterate with the smallest *true*
:math:`s_{\max}` over all restarts and steps is returned.

For large N (more than ``dense_limit`` points) the N x N Gram matrix is never formed: every
``refresh`` steps a scan in row blocks finds each row's ``neighbours`` largest cosines, and the
steps in between evaluate :math:`F_t` over those candidate pairs only (at large t all other pairs
carry negligible weight). The true :math:`s_{\max}` is measured at every scan, and the best scanned
iterate is returned.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..bounds.rankin import rankin_attained, rankin_bound
from ..errors import SpherecodeError, check_int
from ..separation import max_cosine, normalize_rows
from .base import Construction, Effort, Param, get_effort, progress_bar, stage

#: Largest N whose Gram matrix is formed densely at every step (above it: neighbour lists).
DENSE_LIMIT = 4096
#: Restarts are batched while R * N^2 stays below this many Gram entries (at least 1, at most 8).
RESTART_BUDGET = 1_000_000
_DTYPES = ("float32", "float64")
#: First Adam step of the float64 sharpening after the anneal (``sharpen``); it decays 100-fold.
SHARPEN_LR = 1e-3
#: Below this many multiply-adds per Gram matrix, one CPU thread is faster than several.
SMALL_WORK = 50_000_000


@contextmanager
def cpu_threads_for(work: int, device: Any) -> Iterator[None]:
    """Run small CPU problems on one thread (thread start-up costs more than it saves), then restore."""
    import torch

    before = torch.get_num_threads()
    small = device.type == "cpu" and work < SMALL_WORK and before > 1
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(before)


def default_restarts(n: int) -> int:
    """How many random restarts run together by default: 8 for tiny N, 1 for large N.

    >>> default_restarts(100), default_restarts(1000), default_restarts(5000)
    (8, 1, 1)
    """
    return max(1, min(8, RESTART_BUDGET // (n * n)))


@dataclass(frozen=True)
class Schedule:
    """The schedule defaults of one search path (dense Gram, or neighbour lists above ``dense_limit``)."""

    steps: int
    t_start: float
    lr_start: float
    refresh: int


def default_schedule(n: int, dim: int, dense_limit: int = DENSE_LIMIT, effort: str | Effort = "default",
                     restarts: int | None = None) -> Schedule:
    """The defaults for N points in R^d at an effort level (:data:`~.base.EFFORT_BUDGETS`).

    Dense path (N <= ``dense_limit``): every step sees every pair, so a hot, fast start spreads the
    points (``lr_start`` 0.05); the effort's step budget (:meth:`~.base.Effort.lse_dense_steps`: 1000 at
    the default effort, fewer where one step is costly: 600 at N = 1000, d = 512) and first temperature.
    Above it (neighbour lists): the effort's ``sparse_steps`` (200 by default), a full rescan every 5
    steps and ``lr_start = min(0.05, 0.15 / sqrt(d))``. Each neighbour-list step sees candidate pairs
    only, and candidates go stale as the points move: rescanning every 5 steps instead of 10 and moving
    less per step in high d help far more than they cost. Measured, 200 steps, s_max: N = 8000,
    d = 512: 0.094 (the dense path's lr 0.05, refresh 10), 0.079 (refresh 5), 0.076 (refresh 5, lr 0.01),
    0.0733 (refresh 5, lr 0.005, t_start 100) at 1.4x the time; N = 5000, d = 16: 0.603 (dense settings,
    refresh 10), 0.594 (refresh 5, lr 0.05 or 0.0375).

    >>> default_schedule(1000, 64).steps, default_schedule(20000, 1024).steps, default_schedule(1000, 64, effort="best").steps
    (1000, 200, 12000)
    >>> round(default_schedule(20000, 1024).lr_start, 5), default_schedule(20000, 4).lr_start
    (0.00469, 0.05)
    """
    budget = get_effort(effort) if isinstance(effort, str) else effort
    if n <= dense_limit:
        r = default_restarts(n) if restarts is None else restarts
        return Schedule(steps=budget.lse_dense_steps(n, dim, r), t_start=budget.t_start, lr_start=0.05, refresh=1)
    return Schedule(steps=budget.sparse_steps, t_start=10.0, lr_start=min(0.05, 0.15 / math.sqrt(dim)), refresh=5)


def resolved_schedule(n: int, dim: int, dense_limit: int, polishing: bool, t_end: float, *, steps: int | None = None,
                      t_start: float | None = None, lr_start: float | None = None,
                      refresh: int | None = None, effort: str | Effort = "default",
                      restarts: int | None = None) -> dict[str, Any]:
    """``steps``, ``t_start``, ``lr_start`` and ``refresh`` as given, else their defaults for N's path and
    the effort level.

    When polishing a codebook the temperature starts at ``t_end / 10``: the points are already spread.
    """
    base = default_schedule(n, dim, dense_limit, effort, restarts)
    return {
        "steps": base.steps if steps is None else steps,
        "t_start": (t_end / 10 if polishing else base.t_start) if t_start is None else t_start,
        "lr_start": base.lr_start if lr_start is None else lr_start,
        "refresh": base.refresh if refresh is None else refresh,
    }


def resolve_device(device: str) -> Any:
    """The ``torch.device`` for ``device``; a clear error if it is unknown or not available here."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise SpherecodeError(f"Argument 'device' must be 'cpu', 'cuda' or 'cuda:K', not {device!r}.") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SpherecodeError(f"Argument 'device' is {device!r} but CUDA is not available here; use 'cpu'.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SpherecodeError(
                f"Argument 'device' is {device!r} but only {torch.cuda.device_count()} CUDA device(s) exist."
            )
    elif dev.type != "cpu":
        raise SpherecodeError(f"Argument 'device' must be 'cpu', 'cuda' or 'cuda:K', not {device!r}.")
    return dev


def resolve_dtype(dtype: str) -> Any:
    """``torch.float32`` or ``torch.float64`` from its name."""
    import torch

    if dtype not in _DTYPES:
        raise SpherecodeError(f"Argument 'dtype' must be one of {', '.join(_DTYPES)}; got {dtype!r}.")
    return getattr(torch, dtype)


def _check_positive(name: str, value: object) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not value > 0
            or not math.isfinite(value)):
        raise SpherecodeError(f"Argument '{name}' must be a positive finite number, not {value!r}.")
    return float(value)


def load_init(init: object, n: int, dim: int) -> np.ndarray:
    """Starting vectors from a Codebook, an array, or a codebook file path; rows normalised."""
    from ..codebook import Codebook

    if isinstance(init, (str, Path)):
        init = Codebook.load(init)
    if isinstance(init, Codebook):
        init = init.vectors
    arr = np.asarray(init, dtype=np.float64)
    if arr.shape != (n, dim):
        raise SpherecodeError(f"Argument 'init' must have shape ({n}, {dim}), not {arr.shape}.")
    if not np.all(np.isfinite(arr)) or not np.all(arr.any(axis=1)):
        raise SpherecodeError("Argument 'init' must hold finite, non-zero rows.")
    return normalize_rows(arr)


def lse_vectors(
    n: int,
    dim: int,
    *,
    seed: int = 0,
    steps: int | None = None,
    restarts: int | None = None,
    t_start: float | None = None,
    t_end: float = 2000.0,
    lr_start: float | None = None,
    lr_end: float = 1e-4,
    init: object = None,
    target: float | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    neighbours: int = 16,
    refresh: int | None = None,
    dense_limit: int = DENSE_LIMIT,
    sharpen: int | None = None,
    effort: str | Effort = "default",
    progress: bool = False,
    history: list[tuple[int, float, float]] | None = None,
) -> np.ndarray:
    r"""N unit vectors in R^d with small worst-case cosine, by annealed log-sum-exp descent.

    Args:
        n, dim: number of vectors N >= 2 and dimension d >= 1.
        seed: seeds the random starts (and the perturbations of ``init``).
        steps: gradient steps per restart (default: the effort's budget, :func:`default_schedule`).
        restarts: random starts optimised together (default :func:`default_restarts`).
        t_start, t_end: the temperature grows geometrically from ``t_start`` to ``t_end``;
            ``t_start`` defaults to 10 from random starts and to ``t_end / 10`` when polishing ``init``.
        lr_start, lr_end: Adam step size, decayed geometrically (``lr_start`` 0.05, or
            ``min(0.05, 0.15 / sqrt(d))`` for N > ``dense_limit``).
        init: a Codebook, an (N, d) array or a codebook file to polish; restart 0 starts exactly
            there, the others from small perturbations of it. The result is never worse than it.
        target: stop as soon as the true s_max is at most this (default: run all steps, or stop
            when the Rankin bound is met to 1e-7).
        dtype: ``"float32"`` (fast) or ``"float64"``.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:K"``.
        neighbours, refresh: for N > ``dense_limit``, candidate neighbours per row and how many
            steps between full scans (default 5).
        sharpen: after the anneal, this many float64 steps from the best iterate with t growing from
            ``t_end`` to ``10 t_end`` and a small step (:data:`SHARPEN_LR`), dense path only (default: the
            effort's ``sharpen_steps``, 0 but at ``best``).
        effort: ``"fast"``, ``"default"`` or ``"best"`` (:data:`~.base.EFFORT_BUDGETS`): the default budgets.
        progress: show a tqdm progress bar.
        history: if a list is given, ``(step, seconds, best true s_max)`` is appended at every improvement.

    Returns:
        The best (N, d) float64 array found, rows of unit norm.

    Examples:
        >>> v = lse_vectors(6, 5, steps=200)
        >>> bool(abs((v @ v.T - 2 * np.eye(6)).max() + 1 / 5) < 1e-4)  # the regular simplex
        True
    """
    import torch

    n, dim = check_int("n", n, minimum=2), check_int("dim", dim, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    dense_limit = check_int("dense_limit", dense_limit, minimum=2)
    t_end = _check_positive("t_end", t_end)
    budget = get_effort(effort) if isinstance(effort, str) else effort
    restarts = default_restarts(n) if restarts is None else check_int("restarts", restarts, minimum=1)
    sched = resolved_schedule(n, dim, dense_limit, init is not None, t_end, steps=steps, t_start=t_start,
                              lr_start=lr_start, refresh=refresh, effort=budget, restarts=restarts)
    steps = check_int("steps", sched["steps"], minimum=0)
    sharpen = budget.sharpen_steps if sharpen is None else check_int("sharpen", sharpen, minimum=0)
    neighbours = check_int("neighbours", neighbours, minimum=1)
    refresh = check_int("refresh", sched["refresh"], minimum=1)
    t_start = _check_positive("t_start", sched["t_start"])
    lr_start, lr_end = _check_positive("lr_start", sched["lr_start"]), _check_positive("lr_end", lr_end)
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))
                               or not math.isfinite(target)):
        raise SpherecodeError(f"Argument 'target' must be a finite number or None, not {target!r}.")
    tdtype, dev = resolve_dtype(dtype), resolve_device(device)
    start = None if init is None else load_init(init, n, dim)
    bound = rankin_bound(n, dim) if rankin_attained(n, dim) else -math.inf
    stop_at = bound + 1e-7 if target is None else max(float(target), bound + 1e-7)

    clock = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(restarts, n, dim, generator=gen, dtype=torch.float64)
    if start is not None:
        scale = 0.1 / math.sqrt(dim)
        x = torch.from_numpy(start).unsqueeze(0) + scale * x
        x[0] = torch.from_numpy(start)
    x = x.to(device=dev, dtype=tdtype)
    x = x / x.norm(dim=-1, keepdim=True)

    search = _DenseSearch(x) if n <= dense_limit else _NeighbourSearch(x, neighbours, refresh)
    bar = progress_bar(progress, steps, f"lse N={n} d={dim}")
    with cpu_threads_for(restarts * n * min(n, dense_limit) * dim, dev):
        _descend(x, search, steps, (t_start, t_end), (lr_start, lr_end), stop_at, bar, history, clock)
    if bar is not None:
        bar.close()
    stage(progress, f"lse N={n} d={dim}: {steps} {dtype} steps, {restarts} restart(s), s_max {search.best_value:.6f}")
    best = normalize_rows(search.best_x.to(device="cpu", dtype=torch.float64).numpy())
    if start is not None and max_cosine(start) <= max_cosine(best):  # float32 rounding could lose a hair
        best = start
    if sharpen and n <= dense_limit and search.best_value > stop_at:
        best = lse_vectors(n, dim, seed=seed, steps=sharpen, restarts=1, t_start=t_end, t_end=10 * t_end,
                           lr_start=SHARPEN_LR, lr_end=SHARPEN_LR / 100, init=best, target=target, dtype="float64",
                           device=device, dense_limit=dense_limit, sharpen=0, progress=progress)
    return best


def _descend(x: Any, search: Any, steps: int, temps: tuple[float, float], lrs: tuple[float, float], stop_at: float,
             bar: Any, history: list | None, clock: float) -> None:
    """Annealed projected Adam on F_t; ``search`` computes gradients and keeps the best iterate."""
    import torch

    m = torch.zeros_like(x)
    v = torch.zeros_like(x)
    beta1, beta2, eps = 0.9, 0.999, 1e-12
    for k in range(steps + 1):
        frac = min(k / max(steps - 1, 1), 1.0)
        t = temps[0] * (temps[1] / temps[0]) ** frac
        lr = lrs[0] * (lrs[1] / lrs[0]) ** frac
        g = search.gradient(x, t, final=k == steps)  # also updates the best iterate
        if history is not None and search.improved:
            history.append((k, time.perf_counter() - clock, search.best_value))
        if k == steps or search.best_value <= stop_at:
            return
        g -= (g * x).sum(-1, keepdim=True) * x  # tangent space of each row's sphere
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v / (1 - beta2 ** (k + 1))).sqrt_().add_(eps)
        x = x - (lr / (1 - beta1 ** (k + 1))) * m / denom
        x = x / x.norm(dim=-1, keepdim=True)
        if bar is not None:
            bar.update(1)
            if k % 20 == 0:
                bar.set_postfix(s_max=f"{search.best_value:.5f}", t=f"{t:.0f}")


class _DenseSearch:
    """F_t and its gradient from the full (R, N, N) Gram matrix; tracks the best true s_max."""

    def __init__(self, x: Any) -> None:
        self.best_x = x[0].clone()
        self.best_value = math.inf
        self.improved = False

    def gradient(self, x: Any, t: float, final: bool = False) -> Any:
        gram = x @ x.transpose(1, 2)
        gram.diagonal(dim1=1, dim2=2).fill_(-math.inf)
        smax = gram.amax(dim=(1, 2))  # true s_max of every restart at this iterate
        r = int(smax.argmin())
        value = float(smax[r])
        self.improved = value < self.best_value
        if self.improved:
            self.best_value, self.best_x = value, x[r].clone()
        if final:
            return x
        # w_ij proportional to exp(t (G_ij - s_max)); the constant 1/Z is irrelevant to Adam but kept.
        weights = gram.sub_(smax[:, None, None]).mul_(t).exp_()
        z = weights.sum(dim=(1, 2), keepdim=True)
        return 2.0 * (weights @ x) / z


class _NeighbourSearch:
    """F_t over candidate pairs (each row's largest cosines, symmetrised), refreshed by a blocked scan.

    The candidate pattern is a sparse CSR matrix over the R*N rows of all restarts (block diagonal);
    a step costs one sampled product (the candidate cosines) and one sparse-dense product (the
    gradient), O(N k d) instead of O(N^2 d).
    """

    BLOCK = 1024
    PRUNE = 60.0

    def __init__(self, x: Any, neighbours: int, refresh: int) -> None:
        self.k = min(neighbours, x.shape[1] - 1)
        self.refresh = refresh
        self.calls = 0
        self.best_x = x[0].clone()
        self.best_value = math.inf
        self.improved = False

    def _scan(self, x: Any, t: float) -> Any:
        r"""True s_max per restart; rebuilds the symmetric candidate pattern.

        Candidates more than ``PRUNE / t`` below their restart's s_max are dropped: their weight
        :math:`\exp(t (G_{ij} - s_{\max}))` is below :math:`e^{-60}` now and shrinks as t grows.
        """
        import torch

        r, n, _ = x.shape
        smax = torch.full((r,), -math.inf, dtype=x.dtype, device=x.device)
        cols = torch.empty((r, n, self.k), dtype=torch.long, device=x.device)
        top = torch.empty((r, n, self.k), dtype=x.dtype, device=x.device)
        for s in range(0, n, self.BLOCK):
            e = min(s + self.BLOCK, n)
            g = x[:, s:e] @ x.transpose(1, 2)
            g[:, torch.arange(e - s), torch.arange(s, e)] = -math.inf
            vals, idx = g.topk(self.k, dim=-1)
            cols[:, s:e] = idx
            top[:, s:e] = vals
            smax = torch.maximum(smax, vals[..., 0].amax(dim=1))
        total = r * n
        offset = (torch.arange(r, device=x.device) * n).view(r, 1, 1)
        rows = (torch.arange(n, device=x.device).view(1, n, 1) + offset).expand_as(cols)
        keep = top >= (smax - self.PRUNE / t).view(r, 1, 1)
        rows, cols = rows[keep], (cols + offset)[keep]
        key = torch.cat([rows * total + cols, cols * total + rows]).unique()  # sorted: CSR order
        self.row, self.col = key // total, key % total
        self.crow = torch.zeros(total + 1, dtype=torch.long, device=x.device)
        self.crow[1:] = torch.bincount(self.row, minlength=total).cumsum(0)
        self.restart_of = self.row // n
        return smax

    def _csr(self, values: Any, total: int) -> Any:
        import torch

        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(self.crow, self.col, values, size=(total, total), check_invariants=False)

    def gradient(self, x: Any, t: float, final: bool = False) -> Any:
        import torch

        r, n, d = x.shape
        if final or self.calls % self.refresh == 0:
            smax = self._scan(x, t)
            best = int(smax.argmin())
            value = float(smax[best])
            self.improved = value < self.best_value
            if self.improved:
                self.best_value, self.best_x = value, x[best].clone()
        else:
            self.improved = False
        self.calls += 1
        if final:
            return x
        flat = x.reshape(r * n, d)
        pattern = self._csr(torch.ones(len(self.col), dtype=x.dtype, device=x.device), r * n)
        vals = torch.sparse.sampled_addmm(pattern, flat, flat.T, beta=0.0).values()
        peak = torch.full((r,), -math.inf, dtype=x.dtype, device=x.device)
        peak = peak.scatter_reduce(0, self.restart_of, vals, reduce="amax")
        w = ((vals - peak[self.restart_of]) * t).exp_()
        z = torch.zeros(r, dtype=x.dtype, device=x.device).index_add_(0, self.restart_of, w)
        grad = self._csr(w / z[self.restart_of], r * n) @ flat
        return (2.0 * grad).view(r, n, d)


#: lse's parameters, declared once; :func:`lse_vectors` takes the same keywords.
PARAMS: tuple[Param, ...] = (
    Param("steps", int, None, low=0, help="gradient steps (default: the effort's budget; 1000 at default effort, "
                                          "fewer for large N^2 d; 200 above dense_limit)"),
    Param("restarts", int, None, low=1, help="random starts run together (default: 8 for tiny N, 1 for large)"),
    Param("t_start", float, None, low=0, positive=True, help="first temperature (default 10; t_end/10 when polishing)"),
    Param("t_end", float, 2000.0, low=0, positive=True, help="last temperature"),
    Param("lr_start", float, None, low=0, high=10.0, positive=True, help="first Adam step size"),
    Param("lr_end", float, 1e-4, low=0, high=10.0, positive=True, help="last Adam step size"),
    Param("init", str, None, help="codebook file to polish"),
    Param("target", float, None, help="stop once the true s_max is at most this"),
    Param("dtype", str, "float32", choices=_DTYPES, help="search precision"),
    Param("device", str, "cpu", help="'cpu', 'cuda' or 'cuda:K'"),
    Param("neighbours", int, 16, low=1, help="candidate neighbours per row above dense_limit"),
    Param("refresh", int, None, low=1, help="steps between full scans above dense_limit (default 5)"),
    Param("dense_limit", int, DENSE_LIMIT, low=2, help="largest N searched with the dense Gram matrix"),
    Param("sharpen", int, None, low=0, help="float64 steps from t_end to 10 t_end after the anneal (default: "
                                            "the effort's, 0 but at best)"),
    Param("polish", bool, False, help="end with the float64 minimax polish (spherecode.constructions.polish)"),
)


def lse_memory(n: int, dim: int, params: Any) -> int:
    """Working memory of an lse run in bytes: the (R, N, N) Gram matrix and its weights on the dense path,
    row blocks and candidate lists above ``dense_limit``, plus the iterate and Adam's moments."""
    item = 4 if params.get("dtype", "float32") == "float32" else 8
    r = params.get("restarts") or default_restarts(n)
    dense_limit = params.get("dense_limit") or DENSE_LIMIT
    k = min(params.get("neighbours") or 16, n - 1)
    if n <= dense_limit:
        pairs = 3 * r * n * n * item
    else:
        pairs = r * (2 * _NeighbourSearch.BLOCK * n * item + 6 * n * k * (16 + item))
    return pairs + 8 * r * n * dim * item


def _build(n: int, dim: int, *, seed: int, progress: bool, effort: Effort, polish: bool,
           **params: Any) -> tuple[np.ndarray, dict[str, Any]]:
    vectors = lse_vectors(n, dim, seed=seed, progress=progress, effort=effort, **params)
    # the defaults that depend on (N, d) and the effort, as they were applied
    dense_limit, init = params["dense_limit"], params["init"]
    restarts = params["restarts"] or default_restarts(n)
    resolved = resolved_schedule(n, dim, dense_limit, init is not None, params["t_end"], steps=params["steps"],
                                 t_start=params["t_start"], lr_start=params["lr_start"], refresh=params["refresh"],
                                 effort=effort, restarts=restarts)
    if n <= dense_limit:
        del resolved["refresh"]  # no neighbour lists on the dense path
    sharpen = effort.sharpen_steps if params["sharpen"] is None else params["sharpen"]
    info: dict[str, Any] = {**resolved, "restarts": restarts, "sharpen": sharpen if n <= dense_limit else 0}
    if polish:
        from .polish import polish as run_polish

        vectors, cert = run_polish(vectors, max_iter=effort.polish_programs, max_rows=effort.polish_rows,
                                   progress=progress)
        info["certificate"] = cert.summary()
    return vectors, info


CONSTRUCTION = Construction(
    name="lse",
    build=_build,
    summary="log-sum-exp relaxation of max cosine, annealed projected Adam in torch (CPU/GPU), batched restarts",
    params=PARAMS,
    memory=lse_memory,
    effort=True,
)
