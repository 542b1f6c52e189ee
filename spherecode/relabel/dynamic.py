r"""Dynamic label-to-prototype assignment (DL2PA; Ebrahimi et al., CVPR 2024).

The prototypes :math:`c_1, \dots, c_N` stay fixed; which class trains against which prototype
changes during training. :class:`DynamicAssignment` keeps, without gradient, a memory of each
class's mean direction: for every batch, with :math:`z = f / \lVert f \rVert` the normalised
features and :math:`\bar z_y` the mean of :math:`z` over the batch's samples of class :math:`y`,

.. math::
    q_y \leftarrow \frac{\mu\, q_y + (1 - \mu)\, \bar z_y}{\lVert \mu\, q_y + (1 - \mu)\, \bar z_y \rVert}

(classes absent from the batch keep :math:`q_y`; the memory starts at zero, so a class's first batch
sets its direction). Every so often (:meth:`DynamicAssignment.assign`) the classes are reassigned to
the prototypes by the linear assignment

.. math::
    \pi = \arg\max_{\pi \in S_N} \sum_y \langle q_y, c_{\pi(y)} \rangle

(scipy's ``linear_sum_assignment``, as in :func:`~spherecode.relabel.assignment.assignment_permutation`),
and class :math:`y` trains against row :math:`\pi(y)` from then on. DL2PA uses :math:`\mu = 0.9` and
reassigns once per epoch; it reports the largest gains where the codebook separates worst (CIFAR-100,
d = 10: 57.2 % against 51.1 % for fixed prototypes; docs/relabelling.md).

The module is a head's relabelling (``module(rows)`` gives the class-ordered prototypes, as the learned
relabelling does) and holds its whole state in buffers (``means``, ``permutation``, ``steps``), so a
checkpoint of the model restores it exactly. Under DDP, :meth:`~DynamicAssignment.update` all-reduces
the per-class sums and counts, so every rank keeps the same memory and computes the same assignment.

Examples:
    >>> import torch
    >>> dyn = DynamicAssignment(3, 3, momentum=0.9)
    >>> z = torch.eye(3)[[2, 0, 1]]                 # class y's features point at row pi[y]
    >>> dyn.update(z, torch.tensor([0, 1, 2]))
    >>> dyn.assign(torch.eye(3))                     # classes that moved
    3
    >>> dyn.permutation.tolist()
    [2, 0, 1]
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..codebook import check_permutation
from ..errors import SpherecodeError, check_int

#: DL2PA's memory momentum (Ebrahimi et al., CVPR 2024, their public code).
DEFAULT_MOMENTUM = 0.9


class DynamicAssignment(nn.Module):
    """Per-class feature memory and the current class -> prototype permutation (see the module docstring).

    Args:
        n: number of classes N (= codebook rows).
        dim: feature dimension d (= codebook dimension).
        momentum: :math:`\\mu \\in [0, 1)`: the memory's weight in each update (0: the last batch's mean).
        init: start permutation (class y -> row ``init[y]``); default identity.
        assign_every: reassign after every this many :meth:`update` calls (given the prototypes;
            ``None``: only when :meth:`assign` is called, e.g. once per epoch by the trainer).
        distributed: all-reduce the per-class sums and counts over the default process group when
            one is initialised (every rank then holds the same memory).
    """

    def __init__(self, n: int, dim: int, momentum: float = DEFAULT_MOMENTUM, init: np.ndarray | None = None,
                 assign_every: int | None = None, distributed: bool = True) -> None:
        super().__init__()
        n = check_int("n", n, minimum=1)
        dim = check_int("dim", dim, minimum=1)
        if not 0.0 <= momentum < 1.0:
            raise SpherecodeError(f"Argument 'momentum' must be in [0, 1), not {momentum}.")
        self.momentum = float(momentum)
        self.assign_every = None if assign_every is None else check_int("assign_every", assign_every, minimum=1)
        self.distributed = bool(distributed)
        perm = np.arange(n) if init is None else check_permutation(init, n, "init")
        self.register_buffer("means", torch.zeros(n, dim, dtype=torch.float32))
        self.register_buffer("permutation", torch.as_tensor(np.asarray(perm, dtype=np.int64)))
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        #: Classes moved by each reassignment since the last :meth:`take_moved` (for the run's log).
        self.moved: list[int] = []
        #: While True, ``assign_every`` does not reassign (the memory still learns): the trainer holds
        #: the assignment during its warm-up epochs (set from the epoch, so a resumed run agrees).
        self.hold = False

    @property
    def n(self) -> int:
        return int(self.means.shape[0])

    def forward(self, prototypes: Tensor) -> Tensor:
        """Class-ordered prototypes: row ``permutation[y]`` of the codebook rows ``prototypes`` (N x d)."""
        if prototypes.ndim != 2 or prototypes.shape[0] != self.n:
            raise SpherecodeError(f"Argument 'prototypes' must be an ({self.n}, d) matrix, not shape {tuple(prototypes.shape)}.")
        return prototypes[self.permutation]

    def hard_permutation(self) -> np.ndarray:
        """The current permutation: class y -> row ``pi[y]``."""
        return self.permutation.detach().cpu().numpy().astype(np.int64)

    @torch.no_grad()
    def update(self, features: Tensor, labels: Tensor, weights: Tensor | None = None,
               prototypes: Tensor | None = None) -> None:
        r"""Fold one batch into the memory: :math:`q_y \leftarrow \mathrm{normalise}(\mu q_y + (1-\mu)\bar z_y)`.

        Args:
            features: (B, d) features (normalised here; detached).
            labels: (B,) class indices.
            weights: optional (B,) sample weights (e.g. mixup's lambda), else 1.
            prototypes: the codebook rows, needed with ``assign_every`` (reassigned when due).
        """
        if features.ndim != 2 or features.shape[1] != self.means.shape[1]:
            raise SpherecodeError(f"Argument 'features' must be a (B, {self.means.shape[1]}) matrix, "
                                  f"not shape {tuple(features.shape)}.")
        z = F.normalize(features.detach().float(), dim=1)
        w = torch.ones(z.shape[0], device=z.device) if weights is None else weights.detach().float().to(z.device)
        labels = labels.to(z.device)
        sums = torch.zeros_like(self.means).index_add_(0, labels, z * w[:, None])
        counts = torch.zeros(self.n, device=z.device).index_add_(0, labels, w)
        if self.distributed and torch.distributed.is_available() and torch.distributed.is_initialized():
            packed = torch.cat([sums, counts[:, None]], dim=1)
            torch.distributed.all_reduce(packed)
            sums, counts = packed[:, :-1], packed[:, -1]
        seen = counts > 0
        batch_mean = sums / counts.clamp_min(1e-12)[:, None]
        new = F.normalize(self.momentum * self.means + (1.0 - self.momentum) * batch_mean, dim=1)
        self.means.copy_(torch.where(seen[:, None], new, self.means))
        self.steps += 1
        if self.assign_every is not None and not self.hold and int(self.steps) % self.assign_every == 0:
            if prototypes is None:
                raise SpherecodeError("DynamicAssignment.update(): 'prototypes' is needed with assign_every.")
            self.assign(prototypes)

    @torch.no_grad()
    def assign(self, prototypes: Tensor) -> int:
        r"""Reassign classes to prototypes: :math:`\pi = \arg\max_\pi \sum_y \langle q_y, c_{\pi(y)}\rangle`.

        ``prototypes``: the codebook rows (N x d, not class-ordered). Classes never seen (zero memory) keep their prototype unless another
        class needs it. Returns the number of classes whose prototype changed (also kept in ``moved``).
        """
        from scipy.optimize import linear_sum_assignment

        if prototypes.shape != self.means.shape:
            raise SpherecodeError(f"Argument 'prototypes' must be an {tuple(self.means.shape)} matrix, "
                                  f"not shape {tuple(prototypes.shape)}.")
        q = self.means.detach().cpu().double().numpy()
        c = prototypes.detach().cpu().double().numpy()
        current = self.hard_permutation()
        scores = q @ c.T
        # a tiny bonus for the current prototype keeps ties (unseen classes, equal scores) where they are
        scores[np.arange(self.n), current] += 1e-9
        rows_idx, cols = linear_sum_assignment(scores, maximize=True)
        perm = np.empty(self.n, dtype=np.int64)
        perm[rows_idx] = cols
        moved = int(np.sum(perm != current))
        self.permutation.copy_(torch.as_tensor(perm, device=self.permutation.device))
        self.moved.append(moved)
        return moved

    def take_moved(self) -> list[int]:
        """The classes moved by each reassignment since the last call (and forget them)."""
        out, self.moved = self.moved, []
        return out

    def extra_repr(self) -> str:
        every = "per epoch" if self.assign_every is None else f"every {self.assign_every} steps"
        return f"n={self.n}, momentum={self.momentum}, assign {every}"

