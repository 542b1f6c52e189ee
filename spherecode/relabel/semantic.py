r"""Semantic relabelling: put similar classes on nearby prototypes (a quadratic assignment).

Given a class similarity :math:`S` (N x N, e.g. from a hierarchy) and the Gram matrix
:math:`G = C C^\top` of the codebook rows, find

.. math::
    \pi^\star \approx \arg\max_{\pi \in S_N} J(\pi), \qquad
    J(\pi) = \sum_{y \ne y'} S_{yy'} \, G_{\pi(y)\pi(y')} ,

a quadratic assignment problem (QAP, NP-hard), solved approximately in two stages:

1. **FAQ** (Vogelstein et al. 2015; :func:`scipy.optimize.quadratic_assignment`): Frank-Wolfe on
   the doubly-stochastic relaxation, projected back to a permutation; from the barycentre and from
   random starts (``restarts``), and from the start labelling itself (random starts replace FAQ
   above :data:`FAQ_MAX_N` classes);
2. **swap local search** (2-opt on permutations): repeatedly exchange the prototypes of the two
   classes :math:`a, b` with the largest gain until no exchange improves. With
   :math:`P = G_{\pi\pi}` (the class-ordered Gram matrix), :math:`S_{yy} = 0` and :math:`M = S P`,
   the gain of exchanging :math:`a, b` is

   .. math::
       \Delta_{ab} = 2\big(M_{ab} + M_{ba} - M_{aa} - M_{bb} - S_{ab}(P_{aa} + P_{bb} - 2P_{ab})\big),

   all :math:`N^2` gains in one vectorised step (M is brought up to date after a round by one
   :math:`N \times |J| \times N` product over the moved classes J, :func:`_refresh_m`);
   the best candidates are then re-checked and
   applied one by one in :math:`O(N)` each (:func:`swap_local_search`); then iterated local
   search: perturb the best labelling by a few random exchanges and polish again.

Antipodal prototypes for two similar classes are the worst case (the input's structure is
mirrored). With ``antipodal_penalty = lam > 0`` the search scores an antipodal pair as cosine
:math:`-(1 + \lambda)` so that it removes such sibling pairs whenever an exchange can; the
reported objectives always use the true cosines.

Examples:
    >>> c = np.vstack([np.eye(2), -np.eye(2)])      # +e1, +e2, -e1, -e2
    >>> s = np.kron(np.eye(2), np.ones((2, 2)))     # classes {0, 1} and {2, 3} are siblings
    >>> r = semantic_permutation(s, c, seed=0)
    >>> r.objective_before, r.objective_after     # identity puts siblings on orthogonal rows...
    (0.0, 0.0)
    >>> s2 = s[np.ix_([0, 2, 1, 3], [0, 2, 1, 3])]   # ...this one on antipodal rows
    >>> r2 = semantic_permutation(s2, c, seed=0)
    >>> r2.objective_before, r2.objective_after
    (-4.0, 0.0)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import quadratic_assignment
from threadpoolctl import threadpool_limits

from ..codebook import Codebook, check_permutation
from ..errors import SpherecodeError, check_int
from .metrics import ANTIPODAL_TOL, qap_objective

#: Above this N the FAQ starts (O(N^3) per iteration) are replaced by random starts.
FAQ_MAX_N = 400

@dataclass(frozen=True)
class SemanticResult:
    """The outcome of :func:`semantic_permutation`.

    Attributes:
        permutation: class ``y`` uses row ``permutation[y]``.
        objective_before: :math:`J` of the start labelling (identity unless ``start`` was given).
        objective_after: :math:`J` of ``permutation`` (true cosines, no penalty).
        swaps: exchanges made by the local search on the winning run.
        starts: how many starts were tried.
        seconds: wall time.
    """

    permutation: np.ndarray
    objective_before: float
    objective_after: float
    swaps: int
    starts: int
    seconds: float


def swap_gains(s: np.ndarray, p: np.ndarray, m: np.ndarray, unit_diagonal: bool | None = None) -> np.ndarray:
    r"""All exchange gains :math:`\Delta_{ab}` (module docstring); ``s`` must have a zero diagonal.

    ``unit_diagonal`` (P_yy = 1, true for unit vectors) skips a term; None checks it.
    """
    dm = np.diag(m).copy()
    if unit_diagonal is None:
        unit_diagonal = bool(np.all(np.diag(p) == 1.0))
    gains = m + m.T
    h = s * p
    h *= 2.0
    gains += h
    if unit_diagonal:  # S_ab (P_aa + P_bb) = 2 S_ab
        h = np.multiply(s, 2.0, out=h)
    else:
        dp = np.diag(p)
        h = np.multiply(s, dp[:, None] + dp[None, :], out=h)
    gains -= h
    gains -= dm[:, None]
    gains -= dm[None, :]
    gains *= 2.0
    np.fill_diagonal(gains, 0.0)
    return gains


def swap_gain(s: np.ndarray, p: np.ndarray, a: int, b: int) -> float:
    r"""The gain :math:`\Delta_{ab}` of one exchange in :math:`O(N)`:
    :math:`2\big(\sum_k (S_{ak} - S_{bk})(P_{bk} - P_{ak}) - S_{ab}(P_{aa} + P_{bb} - 2P_{ab})\big)`."""
    return 2.0 * (float((s[a] - s[b]) @ (p[b] - p[a])) - s[a, b] * (p[a, a] + p[b, b] - 2.0 * p[a, b]))


def swap_local_search(similarity: np.ndarray, gram: np.ndarray, permutation: np.ndarray, *,
                      max_swaps: int | None = None, deadline: float | None = None,
                      batch: int | None = None) -> tuple[np.ndarray, int]:
    r"""Exchange search from ``permutation`` until no exchange of two classes gains.

    Each round computes all :math:`N^2` gains at once (one product :math:`M = SP`), then walks the
    ``batch`` best candidates in order, re-evaluating each exactly in :math:`O(N)`
    (:func:`swap_gain`) against the current labelling and applying it if it still gains. The first
    candidate of a round is the best exchange, so a round ends either with progress or at a local
    optimum; :math:`J` never decreases.

    Args:
        similarity: (N, N) symmetric :math:`S` (its diagonal is ignored).
        gram: (N, N) symmetric Gram matrix of the codebook rows (may carry a penalty).
        permutation: start labelling, class y -> row ``permutation[y]``.
        max_swaps: stop after this many exchanges.
        deadline: stop at this ``time.perf_counter()`` value.
        batch: candidates per round (default 4N).

    Returns:
        ``(permutation, swaps)``.
    """
    s = np.array(similarity, dtype=np.float64)
    np.fill_diagonal(s, 0.0)
    perm = np.array(permutation, dtype=np.int64)
    p = np.asarray(gram, dtype=np.float64)[np.ix_(perm, perm)]
    unit = bool(np.all(np.diag(p) == 1.0))
    n = len(perm)
    batch = 4 * n if batch is None else batch
    tol = 1e-10 * max(1.0, float(np.abs(s).sum()))
    swaps = 0
    m = s @ p
    tau = np.arange(n)  # exchanges since M was computed: P = P_M[tau][:, tau]
    while max_swaps is None or swaps < max_swaps:
        if deadline is not None and time.perf_counter() > deadline:
            break
        m = _refresh_m(m, s, p, tau)
        tau = np.arange(n)
        gains = swap_gains(s, p, m, unit)
        cand = np.flatnonzero(gains > tol)
        a_all, b_all = np.divmod(cand, n)
        upper = a_all < b_all
        cand, vals = cand[upper], gains.ravel()[cand[upper]]
        if cand.size == 0:
            break
        if cand.size > batch:
            keep = np.argpartition(-vals, batch)[:batch]
            cand, vals = cand[keep], vals[keep]
        for flat in cand[np.argsort(-vals, kind="stable")]:
            a, b = divmod(int(flat), n)
            if swap_gain(s, p, a, b) > tol:
                p[[a, b]] = p[[b, a]]
                p[:, [a, b]] = p[:, [b, a]]
                perm[[a, b]] = perm[[b, a]]
                tau[[a, b]] = tau[[b, a]]
                swaps += 1
                if max_swaps is not None and swaps >= max_swaps:
                    break
    return perm, swaps


def _refresh_m(m: np.ndarray, s: np.ndarray, p: np.ndarray, tau: np.ndarray) -> np.ndarray:
    r""":math:`M = S P` for the current ``p``, given ``m`` for :math:`P_0` with :math:`P = P_0[\tau][:, \tau]`.

    :math:`S P_0[\tau] = S_{:, \tau^{-1}} P_0 = S P_0 + (S_{:, \tau^{-1}(J)} - S_{:, J}) P_{0, J:}` where
    J are the moved indices: one product of size :math:`N \times |J| \times N` instead of
    :math:`N^3`; then the columns are permuted by :math:`\tau`.
    """
    moved = np.flatnonzero(tau != np.arange(len(tau)))
    if moved.size == 0:
        return m
    if moved.size > len(tau) // 4:
        return s @ p
    inv = np.argsort(tau)
    p0_rows = p[np.ix_(inv[moved], inv)]  # rows J of P_0 = P[inv][:, inv]
    m = m + (s[:, inv[moved]] - s[:, moved]) @ p0_rows
    return m[:, tau]


def penalised_gram(gram: np.ndarray, antipodal_penalty: float) -> np.ndarray:
    """``gram`` with each off-diagonal antipodal entry (cosine -1) lowered by ``antipodal_penalty``."""
    g = np.array(gram, dtype=np.float64)
    if antipodal_penalty:
        anti = g <= -1.0 + ANTIPODAL_TOL
        np.fill_diagonal(anti, False)
        g[anti] -= antipodal_penalty
    return g


def _kick(perm: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``perm`` with ``k`` random exchanges (the perturbation of iterated local search)."""
    out = perm.copy()
    for _ in range(k):
        a, b = rng.choice(len(out), size=2, replace=False)
        out[[a, b]] = out[[b, a]]
    return out


def semantic_permutation(similarity: np.ndarray, codebook: Codebook | np.ndarray, *, seed: int = 0,
                         restarts: int = 2, kicks: int | None = None, faq_maxiter: int = 30,
                         antipodal_penalty: float = 1.0, start: np.ndarray | None = None,
                         time_limit: float | None = None) -> SemanticResult:
    r"""Approximately maximise :math:`J(\pi)` (module docstring).

    Starts: the ``start`` labelling, then for :math:`N \le` :data:`FAQ_MAX_N` FAQ from the
    barycentre and from ``restarts`` random doubly-stochastic matrices (for larger N, where FAQ's
    :math:`O(N^3)` iterations cost minutes, ``restarts`` random permutations). Each start is
    polished by :func:`swap_local_search`; then ``kicks`` rounds of iterated local search perturb
    the best labelling by :math:`\max(2, N/50)` random exchanges and polish again, keeping any
    improvement.

    Args:
        similarity: (N, N) symmetric class similarity.
        codebook: a :class:`Codebook` (its ``vectors`` rows) or an (N, d) matrix of unit rows.
        seed: seed of the random starts and kicks (same seed, same result).
        restarts: random starts besides the start labelling and the FAQ barycentre start.
        kicks: iterated-local-search rounds after the starts (default 100 for N <= FAQ_MAX_N,
            else 10: each round costs about one O(N^3) product).
        faq_maxiter: Frank-Wolfe iterations per FAQ run.
        antipodal_penalty: extra cost (in cosine units) of an antipodal pair during the search.
        start: the labelling to improve on (default identity); it is one of the starts, so the
            result scores at least as well as ``start`` under the (penalised) search objective.
        time_limit: seconds after which no new start or kick begins and local searches stop.
    """
    # Many small and medium products: one BLAS thread is as fast, and far faster on a busy machine
    # (oversubscribed OpenBLAS threads spin; we measured 100x slower FAQ runs at N = 100).
    with threadpool_limits(limits=1, user_api="blas"):
        return _semantic_permutation(similarity, codebook, seed=seed, restarts=restarts, kicks=kicks,
                                     faq_maxiter=faq_maxiter, antipodal_penalty=antipodal_penalty,
                                     start=start, time_limit=time_limit)


def _semantic_permutation(similarity: np.ndarray, codebook: Codebook | np.ndarray, *, seed: int, restarts: int,
                          kicks: int | None, faq_maxiter: int, antipodal_penalty: float, start: np.ndarray | None,
                          time_limit: float | None) -> SemanticResult:
    t0 = time.perf_counter()
    rows = codebook.vectors if isinstance(codebook, Codebook) else np.asarray(codebook, dtype=np.float64)
    n = len(rows)
    s = np.asarray(similarity, dtype=np.float64)
    if s.shape != (n, n):
        raise SpherecodeError(f"Argument 'similarity' must be {n} x {n} to match the codebook's N = {n}, not shape {s.shape}.")
    restarts = check_int("restarts", restarts, minimum=0)
    kicks = (100 if n <= FAQ_MAX_N else 10) if kicks is None else check_int("kicks", kicks, minimum=0)
    if time_limit is None:
        from ..cost import check_cost

        check_cost(f"a semantic search with {restarts} restarts and {kicks} kicks at N = {n}",
                   seconds=search_seconds(n, restarts, kicks), option="restarts/kicks",
                   hint="use fewer, or bound the search with time_limit (--time-limit)")
    elif not (isinstance(time_limit, (int, float)) and math.isfinite(time_limit) and time_limit > 0):
        raise SpherecodeError(f"Argument 'time_limit' must be a positive number of seconds, not {time_limit!r}.")
    faq_maxiter = check_int("faq_maxiter", faq_maxiter, minimum=1)
    if not antipodal_penalty >= 0:
        raise SpherecodeError(f"Argument 'antipodal_penalty' must be non-negative, not {antipodal_penalty}.")
    start = np.arange(n) if start is None else check_permutation(start, n, "start")
    s0 = s.copy()
    np.fill_diagonal(s0, 0.0)
    g = rows @ rows.T
    b = penalised_gram(g, antipodal_penalty)
    deadline = None if time_limit is None else t0 + float(time_limit)
    rng = np.random.default_rng(seed)

    def out_of_time() -> bool:
        return deadline is not None and time.perf_counter() > deadline

    best, best_score, best_swaps, tried = start, -np.inf, 0, 0
    for k in range(restarts + 2):
        if k > 0 and out_of_time():
            break
        if k == 0:
            init = start
        elif n <= FAQ_MAX_N and n > 1:
            res = quadratic_assignment(s0, b, method="faq", options={
                "maximize": True, "P0": "barycenter" if k == 1 else "randomized",
                "rng": np.random.default_rng(int(rng.integers(2**31))), "maxiter": faq_maxiter})
            init = np.asarray(res.col_ind, dtype=np.int64)
        else:
            init = rng.permutation(n)
        perm, swaps = swap_local_search(s0, b, init, deadline=deadline)
        tried += 1
        score = qap_objective(s0, b, perm)
        if score > best_score:
            best, best_score, best_swaps = perm, score, swaps
    for _ in range(kicks if n > 3 else 0):
        if out_of_time():
            break
        perm, swaps = swap_local_search(s0, b, _kick(best, max(2, n // 50), rng), deadline=deadline)
        tried += 1
        score = qap_objective(s0, b, perm)
        if score > best_score:
            best, best_score, best_swaps = perm, score, swaps
    return SemanticResult(
        permutation=best,
        objective_before=qap_objective(s0, g, start),
        objective_after=qap_objective(s0, g, best),
        swaps=best_swaps,
        starts=tried,
        seconds=time.perf_counter() - t0,
    )


def search_seconds(n: int, restarts: int, kicks: int | None) -> float:
    r"""Estimated seconds of :func:`semantic_permutation` without a time limit (measured on one busy core:
    a FAQ start costs about :math:`1.2 \cdot 10^{-7} N^3` s, a kick or a random start
    :math:`3 \cdot 10^{-9} N^3` s, plus a few milliseconds of overhead each)."""
    kicks = (100 if n <= FAQ_MAX_N else 10) if kicks is None else kicks
    start = 2e-3 + (1.2e-7 if n <= FAQ_MAX_N else 3e-9) * float(n) ** 3
    return (restarts + 1) * start + kicks * (5e-4 + 3e-9 * float(n) ** 3)


def random_permutation(n: int, seed: int = 0) -> np.ndarray:
    """A uniformly random permutation of ``range(n)``."""
    return np.random.default_rng(seed).permutation(check_int("n", n, minimum=1)).astype(np.int64)
