r"""Image augmentations written in torch (no torchvision), composable and reproducible.

Every transform is a callable ``t(image, generator) -> image`` on a ``(C, H, W)`` tensor. Images
enter as ``uint8`` (as decoded) and leave :class:`Normalize` as ``float32``. All randomness is
drawn from the ``torch.Generator`` passed in, so an augmentation is a pure function of its seed:
:class:`~spherecode.data.views.AugmentedDataset` seeds it from (run seed, epoch, sample index),
which makes runs reproducible under any number of workers, ranks, and across ``--resume``.

A transform may also return a tuple of tensors (several views of one image, as multi-crop
self-supervised methods need): :class:`Views` does that.

Examples:
    >>> import torch
    >>> t = cifar_train_transform()
    >>> x = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
    >>> y = t(x, torch.Generator().manual_seed(0))
    >>> tuple(y.shape), y.dtype
    ((3, 32, 32), torch.float32)
    >>> torch.equal(y, t(x, torch.Generator().manual_seed(0)))
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Union

import torch
import torch.nn.functional as F

from ..errors import SpherecodeError

Image = torch.Tensor
Output = Union[torch.Tensor, tuple[torch.Tensor, ...]]
Transform = Callable[[Image, torch.Generator], Output]

#: Channel statistics of the training sets (0-1 scale).
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _uniform(g: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=g))


def _randint(g: torch.Generator, low: int, high: int) -> int:
    """An integer in [low, high] inclusive."""
    return int(torch.randint(low, high + 1, (), generator=g))


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img: Image, g: torch.Generator) -> Output:
        for t in self.transforms:
            img = t(img, g)  # type: ignore[assignment]
        return img

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(map(repr, self.transforms)) + ")"


class Views:
    """Several independently augmented views of one image: returns a tuple, one tensor per view."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        if not transforms:
            raise SpherecodeError("Argument 'transforms' of Views needs at least one transform.")
        self.transforms = list(transforms)

    def __call__(self, img: Image, g: torch.Generator) -> Output:
        return tuple(t(img, g) for t in self.transforms)  # type: ignore[misc]


class RandomCrop:
    """Pad by ``padding`` pixels (zeros) on each side, then crop ``size`` x ``size`` at random."""

    def __init__(self, size: int, padding: int = 0) -> None:
        self.size, self.padding = size, padding

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        if self.padding:
            img = F.pad(img, (self.padding,) * 4)
        h, w = img.shape[-2:]
        if h < self.size or w < self.size:
            raise SpherecodeError(f"RandomCrop: image {h}x{w} is smaller than the crop {self.size}.")
        top, left = _randint(g, 0, h - self.size), _randint(g, 0, w - self.size)
        return img[..., top:top + self.size, left:left + self.size]

    def __repr__(self) -> str:
        return f"RandomCrop({self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        return img.flip(-1) if _uniform(g) < self.p else img

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def resize(img: Image, size: tuple[int, int]) -> Image:
    """Bilinear resize with anti-aliasing to ``(height, width)``; keeps uint8 as uint8."""
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    dtype = img.dtype
    out = F.interpolate(img.unsqueeze(0).float(), size=size, mode="bilinear",
                        align_corners=False, antialias=True).squeeze(0)
    if dtype == torch.uint8:
        out = out.round_().clamp_(0, 255).to(torch.uint8)
    return out


class RandomResizedCrop:
    r"""Crop a random area fraction in ``scale`` with aspect ratio in ``ratio`` (log-uniform), resize to ``size``.

    The Inception-style crop: up to 10 tries, then a centre crop clipped to the allowed ratios.
    """

    def __init__(self, size: int, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> None:
        self.size, self.scale, self.ratio = size, scale, ratio

    def box(self, h: int, w: int, g: torch.Generator) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the crop."""
        area = h * w
        log_r = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * _uniform(g, *self.scale)
            aspect = math.exp(_uniform(g, *log_r))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return _randint(g, 0, h - ch), _randint(g, 0, w - cw), ch, cw
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            cw, ch = w, int(round(w / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            ch, cw = h, int(round(h * self.ratio[1]))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        top, left, ch, cw = self.box(img.shape[-2], img.shape[-1], g)
        return resize(img[..., top:top + ch, left:left + cw], (self.size, self.size))

    def __repr__(self) -> str:
        return f"RandomResizedCrop({self.size}, scale={self.scale}, ratio={self.ratio})"


class Resize:
    """Resize the shorter side to ``size`` keeping the aspect ratio."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        h, w = img.shape[-2:]
        if h <= w:
            new = (self.size, max(1, int(round(w * self.size / h))))
        else:
            new = (max(1, int(round(h * self.size / w))), self.size)
        return resize(img, new)

    def __repr__(self) -> str:
        return f"Resize({self.size})"


class CenterCrop:
    """Crop the central ``size`` x ``size`` square."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        h, w = img.shape[-2:]
        if h < self.size or w < self.size:
            img = resize(img, (max(h, self.size), max(w, self.size)))
            h, w = img.shape[-2:]
        top, left = (h - self.size) // 2, (w - self.size) // 2
        return img[..., top:top + self.size, left:left + self.size]

    def __repr__(self) -> str:
        return f"CenterCrop({self.size})"


class Normalize:
    r"""uint8 or [0, 1] float image to float32 :math:`(x/255 - \mu)/\sigma` per channel."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        x = img.float().div_(255.0) if img.dtype == torch.uint8 else img.float()
        return (x - self.mean) / self.std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.flatten().tolist()}, std={self.std.flatten().tolist()})"


def cifar_train_transform(size: int = 32, padding: int = 4,
                          mean: Sequence[float] = CIFAR100_MEAN, std: Sequence[float] = CIFAR100_STD) -> Compose:
    """Random crop with 4-pixel zero padding, horizontal flip, normalisation (the standard CIFAR recipe)."""
    return Compose([RandomCrop(size, padding), RandomHorizontalFlip(), Normalize(mean, std)])


def cifar_eval_transform(mean: Sequence[float] = CIFAR100_MEAN, std: Sequence[float] = CIFAR100_STD) -> Compose:
    """Normalisation only."""
    return Compose([Normalize(mean, std)])


def imagenet_train_transform(size: int = 224, mean: Sequence[float] = IMAGENET_MEAN,
                             std: Sequence[float] = IMAGENET_STD) -> Compose:
    """Random resized crop (scale 0.08-1) to ``size``, horizontal flip, normalisation."""
    return Compose([RandomResizedCrop(size), RandomHorizontalFlip(), Normalize(mean, std)])


def imagenet_eval_transform(size: int = 224, resize_to: int | None = None, mean: Sequence[float] = IMAGENET_MEAN,
                            std: Sequence[float] = IMAGENET_STD) -> Compose:
    """Resize the shorter side to 256 (scaled as 256/224 for other sizes), centre crop ``size``, normalise."""
    resize_to = resize_to or int(round(size * 256 / 224))
    return Compose([Resize(resize_to), CenterCrop(size), Normalize(mean, std)])
