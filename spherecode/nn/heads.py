r"""Classification heads: the fixed-codebook :class:`PrototypeHead` and the :class:`LinearHead` baseline.

Prototype head (Mettes et al. 2019; Kasarla et al. 2022; docs/training.md): with unit prototypes :math:`c_1, \dots, c_N` (class order)
and features :math:`f`, the output is :math:`z = f / \lVert f \rVert` and

.. math::  \mathrm{logit}_i = \langle z, c_i \rangle / \tau,
           \qquad \hat y = \arg\max_i \langle z, c_i \rangle .

The prototypes are a buffer, never trained. ``relabelling`` chooses which prototype each class
uses: ``"auto"``, the default (the codebook's stored permutation when it has one, else row ``y``
for class ``y``), ``"none"`` (row ``y`` of the codebook's vectors, ignoring a stored permutation:
an explicit choice), ``"fixed"`` (the codebook's stored permutation, ``codebook.prototypes``;
required), ``"learned"`` (a relaxed permutation trained
jointly, :class:`spherecode.relabel.learned.SinkhornPermutation`: soft class-ordered prototypes in
training, the rounded hard permutation in evaluation), or ``"dynamic"`` (a hard permutation
reassigned during training from a memory of each class's mean feature direction,
:class:`spherecode.relabel.dynamic.DynamicAssignment`; DL2PA, Ebrahimi et al. 2024).

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

RELABELLINGS = ("auto", "none", "fixed", "learned", "dynamic")


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


def build_dynamic_relabelling(codebook: Codebook, **options: Any) -> nn.Module:
    """A :class:`~spherecode.relabel.dynamic.DynamicAssignment` for ``codebook``'s N classes, starting
    from its stored permutation when there is one, else from the identity; ``options`` go to the
    module (``momentum``, ``assign_every``)."""
    from ..relabel.dynamic import DynamicAssignment

    return DynamicAssignment(codebook.n, codebook.dim, init=codebook.permutation, **options)


class PrototypeHead(nn.Module):
    """Logits :math:`\\langle z, c_i\\rangle/\\tau` against a fixed codebook; nearest-prototype prediction.

    Args:
        codebook: the codebook (N prototypes in R^d; N = number of classes).
        temperature: :math:`\\tau > 0`.
        relabelling: ``"auto"`` (default; also ``None``), ``"none"``, ``"fixed"``, ``"learned"`` or
            ``"dynamic"`` (see the module docstring); ``self.relabelling`` holds the resolved choice.
        relabeller: an explicit learned or dynamic relabelling module (else one is built with its defaults).
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
        elif relabelling == "dynamic":
            self.relabeller = relabeller if relabeller is not None else build_dynamic_relabelling(codebook)
        self._features: torch.Tensor | None = None  # the last training batch's features (dynamic: for observe())

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
        if self.training or self.relabelling == "dynamic":
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
        if self.relabelling == "dynamic" and self.training:
            self._features = features.detach()
        return self.cosines(features) / self.temperature

    def observe(self, labels: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """Dynamic relabelling: fold the last training batch's features, of classes ``labels``, into
        the class memory (:meth:`DynamicAssignment.update`; it reassigns when ``assign_every`` is due).

        ``labels`` may list the batch k times (e.g. both classes of mixed images, with ``weights``
        lam and 1 - lam): the features are then repeated k times."""
        if self.relabelling != "dynamic" or self._features is None:
            raise SpherecodeError("PrototypeHead.observe() needs relabelling 'dynamic' and a training forward pass first.")
        features, self._features = self._features, None
        k, rest = divmod(labels.shape[0], features.shape[0])
        if rest or k < 1:
            raise SpherecodeError(f"Argument 'labels' must list the batch's {features.shape[0]} samples a whole number "
                                  f"of times, not {labels.shape[0]} labels.")
        if k > 1:
            features = features.repeat(k, 1)
        self.relabeller.update(features, labels, weights, prototypes=self.prototypes)  # type: ignore[union-attr]

    def reassign(self) -> int:
        """Dynamic relabelling: reassign classes to prototypes from the memory now; returns how many moved."""
        if self.relabelling != "dynamic":
            raise SpherecodeError(f"PrototypeHead.reassign() needs relabelling 'dynamic', not {self.relabelling!r}.")
        return self.relabeller.assign(self.prototypes)  # type: ignore[union-attr]

    def penalty(self) -> torch.Tensor | None:
        """The learned relabelling's permutation penalty (``None`` without one)."""
        fn = getattr(self.relabeller, "penalty", None)
        return fn() if callable(fn) else None

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Nearest prototype: :math:`\\arg\\max_i \\langle z, c_i \\rangle`."""
        return self.cosines(features).argmax(dim=-1)

    def current_codebook(self) -> Codebook:
        """The codebook with the permutation in use now (hard permutation for a learned relabelling,
        the current assignment for a dynamic one)."""
        if self.relabelling in ("learned", "dynamic") and self.relabeller is not None:
            return self.codebook.with_permutation(np.asarray(self.relabeller.hard_permutation()))
        if self.relabelling == "fixed":
            return self.codebook
        return self.codebook.with_permutation(None)


#: The linear head's input normalisation: batch (BatchNorm1d), group (one group: per sample), or none.
LINEAR_NORMS = ("batch", "group", "none")


class LinearHead(nn.Module):
    r"""The learned baseline: logits :math:`W\,\mathrm{norm}(f) + b` with ``W`` of shape (N, d).

    ``norm`` standardises the features first, without affine parameters (``W`` and ``b`` absorb them):
    ``"batch"`` (``BatchNorm1d``: per feature over the batch), ``"group"`` (``GroupNorm`` with one
    group: per sample, batch-independent like a group-norm backbone) or ``"none"`` (:math:`W f + b`).
    Pooled ReLU features share one dominant direction at initialisation (mean cosine between two
    digits' features 0.93 / 0.95 for ResNet-18 width 16 / 8; -0.005 standardised), so without it
    the logits all move together and the head needs a much larger learning rate; with it, the head
    trains at the prototype head's recipe (docs/training.md, "A fair linear baseline").
    """

    def __init__(self, in_dim: int, num_classes: int, norm: str = "none") -> None:
        super().__init__()
        check_choice("norm", norm, LINEAR_NORMS)
        self.norm: nn.Module = nn.Identity()
        if norm == "batch":
            self.norm = nn.BatchNorm1d(in_dim, affine=False)
        elif norm == "group":
            self.norm = nn.GroupNorm(1, in_dim, affine=False)
        self.linear = nn.Linear(in_dim, num_classes)

    @property
    def num_classes(self) -> int:
        return self.linear.out_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(features))

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        return self.forward(features).argmax(dim=-1)


class Classifier(nn.Module):
    """An encoder followed by a head; ``forward`` returns the logits."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))
