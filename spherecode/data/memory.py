r"""Small image sets held in memory as one ``uint8`` tensor, and a seeded stratified split.

:class:`TensorImages` serves images from a ``(n, C, H, W)`` ``uint8`` tensor with the CIFAR-style
augmentation (random crop with zero padding, optional horizontal flip, per-channel normalisation).
The real-image specs ``digits`` and ``mnist`` (:mod:`spherecode.data.digits`) are built on it.

:func:`stratified_split` puts ``round(fraction * n_c)`` of the ``n_c`` samples of every class ``c``
in the test split, chosen by a generator seeded with ``seed``: the same split on every call.

Examples:
    >>> import numpy as np
    >>> labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> train, test = stratified_split(labels, 0.25, seed=0)
    >>> len(train), len(test), sorted(labels[test].tolist())
    (6, 2, [0, 1])
    >>> sorted(train.tolist() + test.tolist()) == list(range(8))
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..errors import SpherecodeError
from .dataset import ImageDataset
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, Transform


def stratified_split(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``(train indices, test indices)``: ``round(fraction * n_c)`` test samples of each class."""
    if not 0.0 < fraction < 1.0:
        raise SpherecodeError(f"Argument 'test_fraction' must lie strictly between 0 and 1, not {fraction!r}.")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        test.append(rng.permutation(idx)[: int(round(fraction * len(idx)))])
    mask = np.zeros(len(labels), dtype=bool)
    mask[np.concatenate(test)] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation on the 0-1 scale of ``uint8`` images ``(n, C, H, W)``."""
    x = images.float().div_(255.0).transpose(0, 1).reshape(images.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).clamp_min(1e-3).tolist())


class TensorImages(ImageDataset):
    """Images from a ``uint8`` tensor ``(n, C, H, W)`` with labels ``(n,)`` (square images).

    Args:
        images: the images; ``image_size`` is their side.
        labels: integer class labels in ``0 .. len(class_names) - 1``.
        class_names: one name per class.
        mean, std: normalisation statistics on the 0-1 scale (one value per channel).
        padding: zero padding of the random crop in training (pixels).
        flip: random horizontal flips in training (off for digits: a mirrored digit is another glyph).
        source: where the images came from (for messages and checkpoints).
    """

    kind = "cifar"

    def __init__(self, images: torch.Tensor, labels: np.ndarray, class_names: Sequence[str],
                 mean: Sequence[float], std: Sequence[float], padding: int = 4, flip: bool = False,
                 source: str = "") -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != images.shape[-2]:
            raise SpherecodeError(f"TensorImages needs square uint8 images (n, C, H, W), not {images.dtype} "
                                  f"{tuple(images.shape)}.")
        self.images = images.contiguous()
        self.labels = np.asarray(labels, dtype=np.int64)
        self.class_names = list(class_names)
        self.image_size = int(images.shape[-1])
        self.mean, self.std = tuple(mean), tuple(std)
        self.padding, self.flip, self.source = padding, flip, source

    def image(self, index: int) -> torch.Tensor:
        return self.images[index]

    def train_transform(self) -> Transform:
        steps: list[Transform] = [RandomCrop(self.image_size, self.padding)]
        if self.flip:
            steps.append(RandomHorizontalFlip())
        return Compose([*steps, Normalize(self.mean, self.std)])

    def eval_transform(self) -> Transform:
        return Compose([Normalize(self.mean, self.std)])
