r"""Learned relabelling: a relaxed permutation trained jointly with the network.

:class:`SinkhornPermutation` holds free logits :math:`L \in \mathbb{R}^{N \times N}` (row = class,
column = codebook row) and turns them into a doubly-stochastic matrix by log-domain Sinkhorn
normalisation at temperature :math:`\tau`:

.. math::
    \log P^{(0)} = L / \tau, \qquad
    \log P \leftarrow \log P - \operatorname{logsumexp}_{\text{row}}(\log P), \quad
    \log P \leftarrow \log P - \operatorname{logsumexp}_{\text{col}}(\log P)

(``sinkhorn_iters`` alternating rounds; Adams & Zemel 2011, Mena et al. 2018). The soft prototype of
class y is :math:`\tilde c_y = \sum_k P_{yk} c_k` (re-normalised to the sphere by default). As
:math:`\tau \to 0`, P tends to the permutation matrix of the linear assignment of L.

:meth:`SinkhornPermutation.penalty` is AutoShuffleNet's exact penalty (Lyu et al., KDD 2020): for a
doubly-stochastic P,

.. math::
    \mathcal{P}(P) = \sum_i \big(\lVert P_{i:} \rVert_1 - \lVert P_{i:} \rVert_2\big)
                   + \sum_j \big(\lVert P_{:j} \rVert_1 - \lVert P_{:j} \rVert_2\big) \ \ge 0,

zero exactly when P is a permutation matrix; add ``weight * module.penalty()`` to the loss to drive
P to a permutation. :meth:`~SinkhornPermutation.hard_permutation` rounds by linear assignment.

Examples:
    >>> import torch
    >>> perm = SinkhornPermutation(3, init=np.array([2, 0, 1]))
    >>> perm.hard_permutation().tolist()
    [2, 0, 1]
    >>> protos = torch.eye(3, dtype=torch.float64)
    >>> perm(protos).argmax(dim=1).tolist()       # class y's soft prototype is nearest row pi[y]
    [2, 0, 1]
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from ..codebook import check_permutation
from ..errors import SpherecodeError, check_int


def init_margin(n: int, temperature: float, mass: float) -> float:
    r"""Logit margin :math:`m` whose Sinkhorn matrix puts weight ``mass`` on a permutation's entries.

    With logits :math:`m` on a permutation's entries and 0 elsewhere, :math:`e^{L/\tau}` has equal
    row and column sums, so Sinkhorn returns it scaled: :math:`P_{y,\pi(y)} = a/(a + N - 1)` with
    :math:`a = e^{m/\tau}`; solving for ``mass`` gives :math:`m = \tau\log(\mathrm{mass}(N-1)/(1-\mathrm{mass}))`.

    >>> round(init_margin(20, 0.1, 0.5), 4)   # 0.1 * log(19)
    0.2944
    """
    if n < 2:
        return 0.0
    return float(temperature * np.log(mass * (n - 1) / (1.0 - mass)))


class SinkhornPermutation(nn.Module):
    """A relaxed permutation of N classes onto N prototypes (see the module docstring).

    Args:
        n: number of classes N (= codebook rows).
        temperature: Sinkhorn temperature tau > 0 (smaller is closer to a hard permutation);
            may be changed during training (``module.temperature = ...``) to anneal.
        final_temperature: with :meth:`anneal`, the temperature at the end of training (geometric
            from ``temperature``; ``None``: no annealing). It hardens P, so the soft prototypes of the
            last epochs are the rounded ones used in evaluation.
        sinkhorn_iters: alternating row/column normalisations.
        init: optional start permutation (class y -> row ``init[y]``); default identity.
        init_mass: the start's weight P[y, init[y]] (default 1/2; see :func:`init_margin`). A soft
            start matters: a margin of many tau (the old default, margin 1 at tau 0.1: weight 0.9991
            for N = 20) saturates Sinkhorn, the gradient of P vanishes and training never leaves ``init``.
        init_scale: an explicit logit margin (overrides ``init_mass``; others start at 0).
        noise: std of random logits added at initialisation (breaks ties; 0 = deterministic).
        normalize: re-project the soft prototypes onto the unit sphere in :meth:`forward`.
    """

    def __init__(self, n: int, temperature: float = 0.1, sinkhorn_iters: int = 20, init: np.ndarray | None = None,
                 init_mass: float = 0.5, init_scale: float | None = None, noise: float = 0.0,
                 normalize: bool = True, final_temperature: float | None = None) -> None:
        super().__init__()
        n = check_int("n", n, minimum=1)
        self.sinkhorn_iters = check_int("sinkhorn_iters", sinkhorn_iters, minimum=1)
        if not temperature > 0:
            raise SpherecodeError(f"Argument 'temperature' must be positive, not {temperature}.")
        self.temperature = self.start_temperature = float(temperature)
        if final_temperature is not None and not final_temperature > 0:
            raise SpherecodeError(f"Argument 'final_temperature' must be positive, not {final_temperature}.")
        self.final_temperature = None if final_temperature is None else float(final_temperature)
        self.normalize = bool(normalize)
        if not 0.0 < init_mass < 1.0:
            raise SpherecodeError(f"Argument 'init_mass' must be in (0, 1), not {init_mass}.")
        init = np.arange(n) if init is None else check_permutation(init, n, "init")
        if init_scale is None:
            init_scale = init_margin(n, self.temperature, init_mass)
        logits = torch.zeros(n, n, dtype=torch.float32)
        logits[torch.arange(n), torch.from_numpy(init)] = float(init_scale)
        if noise:
            logits += noise * torch.randn(n, n)
        self.logits = nn.Parameter(logits)

    def anneal(self, progress: float) -> float:
        r"""Set :math:`\tau = \tau_0 (\tau_1/\tau_0)^{t}` at training progress :math:`t \in [0, 1]`; returns it.

        Without ``final_temperature`` the temperature stays :math:`\tau_0`.
        """
        t = min(max(float(progress), 0.0), 1.0)
        if self.final_temperature is not None:
            self.temperature = self.start_temperature * (self.final_temperature / self.start_temperature) ** t
        return self.temperature

    @property
    def n(self) -> int:
        return int(self.logits.shape[0])

    def log_matrix(self) -> Tensor:
        """Log of the doubly-stochastic matrix P (N x N): row y = class y, column k = row k."""
        log_p = self.logits / self.temperature
        for _ in range(self.sinkhorn_iters):
            log_p = log_p - torch.logsumexp(log_p, dim=1, keepdim=True)
            log_p = log_p - torch.logsumexp(log_p, dim=0, keepdim=True)
        return log_p

    def matrix(self) -> Tensor:
        """The doubly-stochastic matrix P (columns sum to 1 exactly, rows within Sinkhorn's tolerance)."""
        return self.log_matrix().exp()

    def forward(self, prototypes: Tensor) -> Tensor:
        r"""Class-ordered soft prototypes :math:`P C` (N x d) from the codebook rows ``prototypes`` (N x d).

        Pass the codebook's ``vectors`` (not its ``prototypes``: the module learns the permutation).
        """
        if prototypes.ndim != 2 or prototypes.shape[0] != self.n:
            raise SpherecodeError(f"Argument 'prototypes' must be an ({self.n}, d) matrix, not shape {tuple(prototypes.shape)}.")
        p = self.matrix().to(prototypes.dtype)
        soft = p @ prototypes
        if self.normalize:
            soft = soft / soft.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return soft

    def penalty(self) -> Tensor:
        r"""AutoShuffleNet's :math:`\ell_1 - \ell_2` penalty of P (zero iff P is a permutation)."""
        p = self.matrix()
        rows = p.abs().sum(dim=1) - p.norm(dim=1)
        cols = p.abs().sum(dim=0) - p.norm(dim=0)
        return rows.sum() + cols.sum()

    @torch.no_grad()
    def hard_permutation(self) -> np.ndarray:
        """Round to a permutation by linear assignment on the logits: class y -> row ``pi[y]``."""
        scores = self.logits.detach().cpu().double().numpy()
        rows, cols = linear_sum_assignment(scores, maximize=True)
        perm = np.empty(self.n, dtype=np.int64)
        perm[rows] = cols
        return perm

    def extra_repr(self) -> str:
        anneal = "" if self.final_temperature is None else f" -> {self.final_temperature}"
        return f"n={self.n}, temperature={self.temperature}{anneal}, sinkhorn_iters={self.sinkhorn_iters}"
