r"""A synthetic image-classification set with the CIFAR interface, optionally with a class hierarchy.

Flat (``superclasses=0``, the default): class ``k`` has a fixed random low-frequency colour
pattern :math:`T_k`. Hierarchical (``superclasses=K``): every class belongs to one of ``K``
superclasses (balanced, assigned at random from ``seed``, so label order says nothing about the
hierarchy, as alphabetical CIFAR-100 labels); a superclass has a coarse pattern :math:`P_g`
(4 x 4 colour blocks, what its members share) and each class adds a finer pattern :math:`F_k`
(8 x 8 blocks, what tells siblings apart):

.. math::
    T_k = (1 - \phi)\, P_{g(k)} + \phi\, F_k ,

with the fine weight :math:`\phi` (``fine``; 0: siblings are identical, 1: no shared features).
Image ``i`` of class ``y`` is :math:`\mathrm{clip}(T_y + \sigma \varepsilon_i + \nu N_i)`: pixel
noise :math:`\varepsilon_i` and a nuisance pattern :math:`N_i` (standard normal 4 x 4 colour blocks,
upsampled like the class patterns, so it lives at the scale of what tells classes apart), both
drawn from a generator seeded by ``(seed, i)``: image ``i`` is the same on every call and in every
process. Pixel noise alone never makes the task hard (the patterns differ over hundreds of pixels
and nearest-mean classification on raw pixels is exact); the nuisance (``nuisance``, default 128)
makes classes overlap: on raw pixels, nearest class mean / 1-NN test accuracy is about 0.93 / 0.79
for the default 10 classes and about 0.41 / 0.14 for ``classes=100,superclasses=20`` (the fine
patterns reach outside the nuisance's 4 x 4 subspace, so a network can do better there). Nothing is
stored: images are made on demand. :meth:`SyntheticImages.hierarchy` is the class tree (root ->
superclass -> class) that ``spherecode relabel --hierarchy`` reads once written with
:meth:`SyntheticImages.write_hierarchy`.

Examples:
    >>> ds = SyntheticImages(num_classes=4, per_class=3, image_size=8, seed=1)
    >>> len(ds), ds.num_classes, ds.image(5).dtype, tuple(ds.image(5).shape)
    (12, 4, torch.uint8, (3, 8, 8))
    >>> bool((ds.image(5) == ds.image(5)).all()), ds.label(5)
    (True, 1)
    >>> h = SyntheticImages(num_classes=6, per_class=1, image_size=8, superclasses=2, seed=1)
    >>> sorted(map(len, h.superclass_members().values()))
    [3, 3]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SpherecodeError, check_int
from ..files import atomic_write, dump_json
from .dataset import ImageDataset, sample_seed
from .transforms import Transform, cifar_eval_transform, cifar_train_transform

if TYPE_CHECKING:
    import networkx as nx


class SyntheticImages(ImageDataset):
    """``num_classes * per_class`` images of side ``image_size``; labels ``i % num_classes``.

    Args:
        num_classes: number of classes.
        per_class: images per class.
        image_size: side in pixels (32 gives CIFAR-sized images).
        noise: standard deviation of the per-image noise on the 0-255 scale.
        seed: seed of the class patterns (and of the superclass assignment); ``split`` offsets
            the per-image noise.
        superclasses: number of superclasses K (0: no hierarchy); needs ``2 <= K <= num_classes / 2``.
        fine: weight :math:`\\phi` of the class's own fine pattern against its superclass's
            pattern (hierarchical sets only).
        nuisance: standard deviation :math:`\\nu` of the per-image coarse pattern (0-255 scale; 0: none).
    """

    kind = "cifar"
    source = "synthetic"

    def __init__(self, num_classes: int = 10, per_class: int = 100, image_size: int = 32,
                 noise: float = 24.0, seed: int = 0, split: str = "train", superclasses: int = 0,
                 fine: float = 0.35, nuisance: float = 128.0) -> None:
        check_int("classes", num_classes, minimum=2)
        check_int("per_class", per_class, minimum=1)
        self.image_size = check_int("image_size", image_size, minimum=4)
        self.superclasses = check_int("superclasses", superclasses, minimum=0)
        if self.superclasses == 1 or self.superclasses > num_classes // 2:
            raise SpherecodeError(f"Argument 'superclasses' must be 0 (no hierarchy) or between 2 and classes/2 = "
                                  f"{num_classes // 2}, not {superclasses}.")
        if not 0.0 <= fine <= 1.0:
            raise SpherecodeError(f"Argument 'fine' must be between 0 and 1, not {fine}.")
        if not 0.0 <= nuisance <= 255.0:
            raise SpherecodeError(f"Argument 'nuisance' must be between 0 and 255, not {nuisance}.")
        self.noise, self.seed, self.split, self.fine = float(noise), int(seed), split, float(fine)
        self.nuisance = float(nuisance)
        self.labels = np.arange(num_classes * per_class, dtype=np.int64) % num_classes
        self.class_names = [f"class{k:03d}" for k in range(num_classes)]
        g = torch.Generator().manual_seed(seed)
        coarse = torch.rand(num_classes, 3, 4, 4, generator=g) * 255.0
        if self.superclasses:
            # balanced: superclass g holds the classes at positions g, g + K, ... of a random order
            order = torch.randperm(num_classes, generator=g).numpy()
            self.superclass_of = np.empty(num_classes, dtype=np.int64)
            self.superclass_of[order] = np.arange(num_classes) % self.superclasses
            shared = torch.rand(self.superclasses, 3, 4, 4, generator=g) * 255.0
            shared = F.interpolate(shared, size=(8, 8), mode="nearest")
            own = torch.rand(num_classes, 3, 8, 8, generator=g) * 255.0
            coarse = (1.0 - self.fine) * shared[torch.from_numpy(self.superclass_of)] + self.fine * own
        else:
            self.superclass_of = np.arange(num_classes, dtype=np.int64)
        self.templates = F.interpolate(coarse, size=(image_size, image_size), mode="bilinear",
                                       align_corners=False)
        self._offset = {"train": 0, "test": 1, "val": 1}.get(split, 2)

    def image(self, index: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(sample_seed(self.seed, 10**6 + self._offset, index))
        x = self.templates[self.label(index)] + self.noise * torch.randn(self.templates.shape[1:], generator=g)
        if self.nuisance:  # drawn after the pixel noise: nuisance=0 leaves the images as they were
            blocks = torch.randn(1, 3, 4, 4, generator=g)
            x += self.nuisance * F.interpolate(blocks, size=x.shape[1:], mode="bilinear", align_corners=False)[0]
        return x.round_().clamp_(0, 255).to(torch.uint8)

    def train_transform(self) -> Transform:
        return cifar_train_transform(self.image_size, padding=max(1, self.image_size // 8))

    def eval_transform(self) -> Transform:
        return cifar_eval_transform()

    # ------------------------------------------------------------------ hierarchy
    def superclass_members(self) -> dict[str, list[str]]:
        """Superclass name -> its classes' names (label order); one group per class when flat."""
        if not self.superclasses:
            raise SpherecodeError("This synthetic set has no class hierarchy; build it with superclasses=K "
                                  "(data spec 'synthetic:...,superclasses=K').")
        return {f"super{g:02d}": [self.class_names[k] for k in np.flatnonzero(self.superclass_of == g)]
                for g in range(self.superclasses)}

    def hierarchy(self) -> nx.DiGraph:
        """The class tree root -> superclass -> class (:mod:`spherecode.relabel.hierarchy`)."""
        from ..relabel.hierarchy import hierarchy_from_groups

        return hierarchy_from_groups(self.superclass_members(), self.class_names, root="synthetic",
                                     source="synthetic hierarchy")

    def write_hierarchy(self, path: str | os.PathLike[str]) -> Path:
        """Write the hierarchy as JSON (``{"classes": [...], "superclasses": {...}}``), the format
        ``spherecode relabel --hierarchy FILE`` and :func:`~spherecode.relabel.load_hierarchy` read."""
        p = Path(path)
        data = {"name": "synthetic", "classes": self.class_names, "superclasses": self.superclass_members()}
        with atomic_write(p, "w", option="hierarchy", encoding="utf-8") as fh:
            fh.write(dump_json(data, indent=1) + "\n")
        return p
