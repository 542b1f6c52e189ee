r"""The dataset interface shared by CIFAR-100, ImageNet and the synthetic set, and the augmenting wrapper.

A :class:`ImageDataset` serves raw images (``uint8`` tensors ``(C, H, W)``) and integer labels;
it knows its classes and its default transforms. :class:`AugmentedDataset` applies a transform
with a generator seeded from ``(seed, epoch, index)``: the loader's sampler yields
``(index, epoch)`` keys (see :mod:`spherecode.data.loader`), so every augmentation is
reproducible whatever the number of workers or ranks, and a resumed run sees the same crops.

Examples:
    >>> from spherecode.data.synthetic import SyntheticImages
    >>> from spherecode.data.transforms import cifar_train_transform
    >>> base = SyntheticImages(num_classes=3, per_class=2, image_size=8)
    >>> ds = AugmentedDataset(base, cifar_train_transform(8, 1), seed=0)
    >>> x, y = ds[(4, 0)]
    >>> tuple(x.shape), y == base.label(4)
    ((3, 8, 8), True)
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import SpherecodeError
from .transforms import Transform


class SampleError(SpherecodeError):
    """One sample cannot be read (a corrupt or truncated image file): a one-line message naming the file.

    A :class:`~torch.utils.data.DataLoader` worker re-raises an exception in the main process as
    ``type(exc)(text)``, where ``text`` is the worker's whole traceback; this class keeps only the
    original one-line message from it, so ``--workers 2`` reports exactly what ``--workers 0`` does.

    Examples:
        >>> str(SampleError("Cannot decode image 'a.jpg': truncated"))
        "Cannot decode image 'a.jpg': truncated"
        >>> wrapped = ("Caught SampleError in DataLoader worker process 0.\\nOriginal Traceback (most recent "
        ...            "call last):\\n  File x.py\\nspherecode.data.dataset.SampleError: Cannot decode a.jpg\\n")
        >>> str(SampleError(wrapped))
        'Cannot decode a.jpg'
    """

    def __init__(self, message: str) -> None:
        if "Original Traceback" in message:
            last = message.rstrip().splitlines()[-1]
            _, sep, original = last.partition(f"{type(self).__name__}: ")
            message = original if sep else last
        super().__init__(message)


class ImageDataset(abc.ABC):
    """Raw images with labels. Subclasses set ``labels`` (int64 array), ``class_names`` and ``kind``."""

    #: "cifar" (small images, CIFAR stem) or "imagenet" (large images, ImageNet stem).
    kind: str = "cifar"
    #: The side of the images the network sees (32 for CIFAR, 224 for ImageNet).
    image_size: int = 32
    labels: np.ndarray
    class_names: list[str]
    #: Where the data came from (a path or "synthetic"), for messages and checkpoints.
    source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.labels)

    def label(self, index: int) -> int:
        return int(self.labels[index])

    @abc.abstractmethod
    def image(self, index: int) -> torch.Tensor:
        """The decoded image ``index`` as a ``uint8`` tensor ``(C, H, W)``."""

    @abc.abstractmethod
    def train_transform(self) -> Transform:
        """The standard training augmentation for this dataset."""

    @abc.abstractmethod
    def eval_transform(self) -> Transform:
        """The deterministic evaluation transform for this dataset."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "size": len(self),
                "num_classes": self.num_classes, "image_size": self.image_size}


def sample_seed(seed: int, epoch: int, index: int) -> int:
    r"""A 63-bit seed for one sample's augmentation: a SplitMix64-style hash of (seed, epoch, index)."""
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + index * 0x94D049BB133111EB) & (2**64 - 1)
    x ^= x >> 31
    x = (x * 0xD6E8FEB86659FD93) & (2**64 - 1)
    x ^= x >> 32
    return x & (2**63 - 1)


class AugmentedDataset(Dataset):
    """``base`` with ``transform`` applied; items are ``(image or tuple of views, label)``.

    Index with an ``int`` (epoch 0) or with an ``(index, epoch)`` pair as yielded by
    :class:`~spherecode.data.loader.ShardedSampler`.
    """

    def __init__(self, base: ImageDataset, transform: Transform, seed: int = 0) -> None:
        self.base, self.transform, self.seed = base, transform, seed

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Any, int]:
        index, epoch = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), 0)
        g = torch.Generator().manual_seed(sample_seed(self.seed, epoch, index))
        return self.transform(self.base.image(index), g), self.base.label(index)
