r"""``mettes``: the prototype objective and optimiser of Mettes et al. (NeurIPS 2019).

Hyperspherical Prototype Networks place the prototypes by minimising the mean, over prototypes, of
each one's largest cosine to another prototype:

.. math::
    L(C) = \frac1N \sum_{i=1}^{N} \max_{j} M_{ij}, \qquad M = C C^\top - 2 I,

(the :math:`-2I` removes the self-similarity), by SGD on the raw prototype matrix, renormalising the
rows after every step. Their public code (``prototypes.py``) uses learning rate 0.1, momentum 0.9
and builds a *new* ``torch.optim.SGD`` around the renormalised prototypes after every step, so the
momentum buffer is empty at every step and each update is a plain gradient step of size 0.1. We
reproduce that exactly (``reset_momentum=True``, the default); ``reset_momentum=False`` keeps the
buffer across steps, which is what the published hyperparameters suggest on paper.
It optimises the average worst neighbour, not the global worst case :math:`s_{\max}`: the baseline
that :mod:`spherecode.constructions.lse` improves on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import check_int
from .base import Construction, Effort, Param, get_effort, progress_bar
from .lse import _check_positive, cpu_threads_for, resolve_device, resolve_dtype


def mettes_loss(vectors: object) -> object:
    r"""Mettes et al.'s objective :math:`\frac1N \sum_i \max_j (C C^\top - 2I)_{ij}` (a torch scalar).

    Examples:
        >>> import torch
        >>> float(mettes_loss(torch.eye(3)))
        0.0
    """
    return _row_maxima(vectors).mean()


def _row_maxima(vectors: object) -> object:
    r"""Each row's largest cosine to another row, :math:`\max_{j \ne i} \langle c_i, c_j \rangle` (torch)."""
    import torch

    c = torch.as_tensor(vectors)
    product = c @ c.T - 2.0 * torch.eye(len(c), dtype=c.dtype, device=c.device)
    return product.max(dim=1).values


def mettes_vectors(
    n: int,
    dim: int,
    *,
    seed: int = 0,
    steps: int | None = None,
    lr: float = 0.1,
    momentum: float = 0.9,
    reset_momentum: bool = True,
    dtype: str = "float32",
    device: str = "cpu",
    effort: str | Effort = "default",
    progress: bool = False,
    history: list[tuple[int, float, float]] | None = None,
) -> np.ndarray:
    """Mettes et al.'s prototypes: SGD on :func:`mettes_loss` from a Gaussian start, rows renormalised.

    Args:
        n, dim: number of prototypes N and dimension d.
        seed: seeds the Gaussian start (``torch.randn``).
        steps: SGD steps ("epochs" in their code; default: the effort's ``mettes_steps``, 1000 at the
            default effort as in their code, 200 at ``fast``, 10,000 at ``best`` as in some of their runs).
        lr, momentum: SGD hyperparameters of the public code.
        reset_momentum: rebuild the optimiser after each step, as the public code does.
        history: if a list is given, ``(step, seconds, s_max)`` of every iterate is appended to it.

    Returns:
        The final (N, d) float64 array (rows of unit norm), as the public code returns.

    Examples:
        >>> v = mettes_vectors(4, 3, steps=50)
        >>> v.shape
        (4, 3)
    """
    import torch

    n, dim = check_int("n", n, minimum=2), check_int("dim", dim, minimum=1)
    budget = get_effort(effort) if isinstance(effort, str) else effort
    steps = budget.mettes_steps if steps is None else check_int("steps", steps, minimum=0)
    lr, momentum = _check_positive("lr", lr), float(momentum)
    tdtype, dev = resolve_dtype(dtype), resolve_device(device)
    gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
    start = torch.randn(n, dim, generator=gen, dtype=torch.float64).to(device=dev, dtype=tdtype)
    protos = torch.nn.functional.normalize(start, p=2, dim=1).requires_grad_(True)
    bar = progress_bar(progress, steps, f"mettes N={n} d={dim}")
    rng: Iterable[int] = range(steps)
    with cpu_threads_for(n * n * dim, dev):
        protos = _sgd(protos, rng, lr, momentum, reset_momentum, history, bar)
    if bar is not None:
        bar.close()
    return protos.detach().to(device="cpu", dtype=torch.float64).numpy().copy()


def _sgd(protos: Any, rng: Iterable[int], lr: float, momentum: float, reset_momentum: bool,
         history: list | None, bar: Any = None) -> Any:
    """``torch.optim.SGD`` written out (buffer b <- momentum b + grad, the first b = grad; x <- x - lr b),
    then rows renormalised; with ``reset_momentum`` the buffer starts afresh every step, as when the public
    code builds a new optimiser after each renormalisation."""
    import torch

    clock = time.perf_counter()
    buf = None
    for k in rng:
        protos.grad = None
        row_max = _row_maxima(protos)
        row_max.mean().backward()  # mettes_loss
        with torch.no_grad():
            if history is not None:  # s_max of this iterate, from the loss's own row maxima: no extra cost
                history.append((k, time.perf_counter() - clock, float(row_max.max())))
            grad = protos.grad
            buf = grad.clone() if buf is None or reset_momentum else buf.mul_(momentum).add_(grad)
            stepped = protos - lr * buf
            protos = torch.nn.functional.normalize(stepped, p=2, dim=1).requires_grad_(True)
        if bar is not None:
            bar.update(1)
    return protos


#: mettes' parameters, declared once; :func:`mettes_vectors` takes the same keywords.
PARAMS: tuple[Param, ...] = (
    Param("steps", int, None, low=0, help="SGD steps (default: the effort's; 1000 at default, as in the public code)"),
    Param("lr", float, 0.1, low=0, high=10.0, positive=True, help="SGD step size"),
    Param("momentum", float, 0.9, low=0, high=1, help="SGD momentum"),
    Param("reset_momentum", bool, True, help="rebuild the optimiser every step, as the public code does"),
    Param("dtype", str, "float32", choices=("float32", "float64"), help="precision"),
    Param("device", str, "cpu", help="'cpu', 'cuda' or 'cuda:K'"),
    Param("polish", bool, False, help="end with the float64 minimax polish (not part of Mettes et al.; its budget "
                                      "follows the effort)"),
)


def _build(n: int, dim: int, *, seed: int, progress: bool, effort: Effort, polish: bool, **params: Any) -> Any:
    out = mettes_vectors(n, dim, seed=seed, progress=progress, effort=effort, **params)
    out = out / np.linalg.norm(out, axis=1, keepdims=True)
    info = {"steps": effort.mettes_steps if params["steps"] is None else params["steps"]}
    if not polish:
        return out, info
    from .polish import polish as run_polish

    out, cert = run_polish(out, max_iter=effort.polish_programs, max_rows=effort.polish_rows, progress=progress)
    return out, {**info, "certificate": cert.summary()}


CONSTRUCTION = Construction(
    name="mettes",
    build=_build,
    summary="Mettes et al. 2019: SGD on the mean of row-max cosines (their public code's optimiser)",
    params=PARAMS,
    memory=lambda n, dim, params: 4 * n * n * (4 if params.get("dtype") == "float32" else 8),
    effort=True,
)
