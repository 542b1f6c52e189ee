r"""Classification heads: the fixed-codebook :class:`PrototypeHead` and the :class:`LinearHead` baseline.

Prototype head (SCIENCE.md section 1): with unit prototypes :math:`c_1, \dots, c_N` (class order)
and features :math:`f`, the output is :math:`z = f / \lVert f \rVert` and

.. math::  \mathrm{logit}_i = \langle z, c_i \rangle / \tau,
           \qquad \hat y = \arg\max_i \langle z, c_i \rangle .

The prototypes are a buffer, never trained. ``relabelling`` chooses which prototype each class
uses: ``"auto"``, the default (the codebook's stored permutation when it has one, else row ``y``
for class ``y``), ``"none"`` (row ``y`` of the codebook's vectors, ignoring a stored permutation:
an explicit choice), ``"fixed"`` (the codebook's stored permutation, ``codebook.prototypes``;
required), or ``"learned"`` (a relaxed permutation trained
jointly, :class:`spherecode.relabel.learned.SinkhornPermutation`: soft class-ordered prototypes in
training, the rounded hard permutation in evaluation).

Examples:
    >>> import numpy as np, torch
    >>> from spherecode.codebook import Codebook
    >>> head = PrototypeHead(Codebook(np.eye(3)), temperature=0.5)
    >>> head(torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, -1.0]]))
    tensor([[ 2.,  0.,  0.],
            [ 0.,  0., -2.]])
    >>> head.predict(torch.tensor([[0.1, 0.9, 0.0]]))
    tensor([1])
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..codebook import Codebook
from ..errors import SpherecodeError, check_choice

RELABELLINGS = ("auto", "none", "fixed", "learned")


class Relabelling(Protocol):
    """What the head needs from a learned relabelling module (spherecode.relabel.learned.SinkhornPermutation)."""

    def __call__(self, prototypes: torch.Tensor) -> torch.Tensor: ...

    def hard_permutation(self) -> Any: ...


def build_learned_relabelling(codebook: Codebook, **options: Any) -> nn.Module:
    """A :class:`~spherecode.relabel.learned.SinkhornPermutation` for ``codebook``'s N classes.

    It starts from the codebook's stored permutation when there is one, else from the identity;
    ``options`` go to the module (e.g. ``init_mass``).
    """
    from ..relabel.learned import SinkhornPermutation

    return SinkhornPermutation(codebook.n, init=codebook.permutation, **options)


class PrototypeHead(nn.Module):
    """Logits :math:`\\langle z, c_i\\rangle/\\tau` against a fixed codebook; nearest-prototype prediction.

    Args:
        codebook: the codebook (N prototypes in R^d; N = number of classes).
        temperature: :math:`\\tau > 0`.
        relabelling: ``"auto"`` (default; also ``None``), ``"none"``, ``"fixed"`` or ``"learned"``
            (see the module docstring); ``self.relabelling`` holds the resolved choice.
        relabeller: an explicit learned relabelling module (else one is built for ``"learned"``).
    """

    def __init__(self, codebook: Codebook, temperature: float = 0.1, relabelling: str | None = None,
                 relabeller: nn.Module | None = None) -> None:
        super().__init__()
        relabelling = check_choice("relabelling", relabelling or "auto", RELABELLINGS)
        if relabelling == "auto":
            relabelling = "fixed" if codebook.permutation is not None else "none"
        if not temperature > 0:
            raise SpherecodeError(f"Argument 'temperature' must be positive, not {temperature}.")
        if relabelling == "fixed" and codebook.permutation is None:
            raise SpherecodeError("relabelling='fixed' needs a codebook with a stored permutation "
                                  "(see `spherecode relabel`); this one has none. Use relabelling 'none'.")
        self.codebook = codebook
        self.temperature = float(temperature)
        self.relabelling = relabelling
        rows = codebook.prototypes if relabelling == "fixed" else codebook.vectors
        self.register_buffer("prototypes", torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32)))
        self.relabeller: nn.Module | None = None
        self._hard: torch.Tensor | None = None  # the rounded permutation, cached while in eval mode
        if relabelling == "learned":
            self.relabeller = relabeller if relabeller is not None else build_learned_relabelling(codebook)

    @property
    def num_classes(self) -> int:
        return int(self.prototypes.shape[0])

    @property
    def dim(self) -> int:
        return int(self.prototypes.shape[1])

    def class_prototypes(self) -> torch.Tensor:
        """(N, d) prototypes in class order as used now (soft in training with a learned relabelling)."""
        if self.relabeller is None:
            return self.prototypes
        if self.training:
            return self.relabeller(self.prototypes)
        if self._hard is None or self._hard.device != self.prototypes.device:
            perm = np.asarray(self.relabeller.hard_permutation(), dtype=np.int64)
            self._hard = torch.as_tensor(perm, device=self.prototypes.device)
        return self.prototypes[self._hard]

    def train(self, mode: bool = True) -> PrototypeHead:
        self._hard = None  # the relabelling may change while training: round again afterwards
        return super().train(mode)

    def cosines(self, features: torch.Tensor) -> torch.Tensor:
        r""":math:`\langle z, c_i\rangle` for :math:`z = f/\lVert f\rVert`, shape (B, N), in float32
        (float64 for float64 features) whatever the autocast state."""
        if features.shape[-1] != self.dim:
            raise SpherecodeError(f"PrototypeHead: features have dimension {features.shape[-1]}, codebook has {self.dim}.")
        # float32 even under autocast: in bf16 the cosines near 1 take only a few dozen values
        # (spacing 2^-8), so logits err by up to 0.05 at temperature 0.1 and (1 - cos)^2 has no gradient
        dtype = torch.promote_types(features.dtype, torch.float32)  # float64 stays float64
        with torch.autocast(device_type=features.device.type, enabled=False):
            z = F.normalize(features.to(dtype), dim=-1)
            return z @ self.class_prototypes().to(dtype).t()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.cosines(features) / self.temperature

    def penalty(self) -> torch.Tensor | None:
        """The learned relabelling's permutation penalty (``None`` without one)."""
        fn = getattr(self.relabeller, "penalty", None)
        return fn() if callable(fn) else None

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Nearest prototype: :math:`\\arg\\max_i \\langle z, c_i \\rangle`."""
        return self.cosines(features).argmax(dim=-1)

    def current_codebook(self) -> Codebook:
        """The codebook with the permutation in use now (hard permutation for a learned relabelling)."""
        if self.relabelling == "learned" and self.relabeller is not None:
            return self.codebook.with_permutation(np.asarray(self.relabeller.hard_permutation()))
        if self.relabelling == "fixed":
            return self.codebook
        return self.codebook.with_permutation(None)


class LinearHead(nn.Module):
    """The learned baseline: logits :math:`W f + b` with ``W`` of shape (N, d)."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, num_classes)

    @property
    def num_classes(self) -> int:
        return self.linear.out_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        return self.forward(features).argmax(dim=-1)


class Classifier(nn.Module):
    """An encoder followed by a head; ``forward`` returns the logits."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))
