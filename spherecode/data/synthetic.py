r"""A synthetic image-classification set with the CIFAR interface, for smoke tests and benchmarks.

Class ``k`` has a fixed random low-frequency colour pattern :math:`T_k`; image ``i`` of class
``y`` is :math:`\mathrm{clip}(T_y + \sigma \varepsilon_i)` with noise drawn from a generator
seeded by ``(seed, i)``, so image ``i`` is the same on every call and in every process and the
classes are separable (a small network fits them quickly). Nothing is stored: images are made
on demand.

Examples:
    >>> ds = SyntheticImages(num_classes=4, per_class=3, image_size=8, seed=1)
    >>> len(ds), ds.num_classes, ds.image(5).dtype, tuple(ds.image(5).shape)
    (12, 4, torch.uint8, (3, 8, 8))
    >>> bool((ds.image(5) == ds.image(5)).all()), ds.label(5)
    (True, 1)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import check_int
from .dataset import ImageDataset, sample_seed
from .transforms import Transform, cifar_eval_transform, cifar_train_transform


class SyntheticImages(ImageDataset):
    """``num_classes * per_class`` images of side ``image_size``; labels ``i % num_classes``.

    Args:
        num_classes: number of classes.
        per_class: images per class.
        image_size: side in pixels (32 gives CIFAR-sized images).
        noise: standard deviation of the per-image noise on the 0-255 scale.
        seed: seed of the class patterns; ``split`` offsets the per-image noise.
    """

    kind = "cifar"
    source = "synthetic"

    def __init__(self, num_classes: int = 10, per_class: int = 100, image_size: int = 32,
                 noise: float = 24.0, seed: int = 0, split: str = "train") -> None:
        check_int("classes", num_classes, minimum=2)
        check_int("per_class", per_class, minimum=1)
        self.image_size = check_int("image_size", image_size, minimum=4)
        self.noise, self.seed, self.split = float(noise), int(seed), split
        self.labels = np.arange(num_classes * per_class, dtype=np.int64) % num_classes
        self.class_names = [f"class{k:03d}" for k in range(num_classes)]
        g = torch.Generator().manual_seed(seed)
        coarse = torch.rand(num_classes, 3, 4, 4, generator=g) * 255.0
        self.templates = F.interpolate(coarse, size=(image_size, image_size), mode="bilinear",
                                       align_corners=False)
        self._offset = {"train": 0, "test": 1, "val": 1}.get(split, 2)

    def image(self, index: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(sample_seed(self.seed, 10**6 + self._offset, index))
        x = self.templates[self.label(index)] + self.noise * torch.randn(self.templates.shape[1:], generator=g)
        return x.round_().clamp_(0, 255).to(torch.uint8)

    def train_transform(self) -> Transform:
        return cifar_train_transform(self.image_size, padding=max(1, self.image_size // 8))

    def eval_transform(self) -> Transform:
        return cifar_eval_transform()
