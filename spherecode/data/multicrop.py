r"""Multi-crop views for self-supervised pretraining: 2 global + L local crops, in torch.

Builds on :mod:`spherecode.data.transforms` (random resized crop, flip, normalise) and adds the
photometric augmentations of the SSL recipes, each a ``t(image, generator) -> image`` on a
``(C, H, W)`` tensor (``uint8`` or float in [0, 1]; the output keeps the input's dtype):

- :class:`ColorJitter`: brightness, contrast, saturation and hue in a random order
  (factors :math:`b, c, s \sim U[1-x, 1+x]`, hue shift :math:`h \sim U[-x, x]` turns);
- :class:`RandomGrayscale` (ITU-R 601 luma :math:`0.299R + 0.587G + 0.114B`);
- :class:`RandomSolarize`: :math:`x \mapsto 1 - x` where :math:`x \ge 0.5`;
- :class:`GaussianBlur`: :math:`\sigma \sim U[0.1, 2]` (in pixels of the output crop), separable.

:data:`MULTICROP_PRESETS` holds the two recipes: ``cifar`` (Hypersolid paper: global 32 px scale
0.8-1.0, local 32 px scale 0.08-0.9, colour jitter p 0.8 with 0.8/0.8/0.4/0.2, grayscale 0.2,
solarisation 0.2, no blur) and ``imagenet`` (DINO: global 224 px scale 0.4-1.0, 6 local 96 px
scale 0.05-0.4, jitter p 0.8 with 0.4/0.4/0.2/0.1, grayscale 0.2, blur p 1.0 / 0.1 on the two
global crops and 0.5 on the local ones, solarisation 0.2 on the second global crop).

Examples
--------
>>> import torch
>>> t = multicrop_transform("cifar", n_local=2)
>>> x = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
>>> views = t(x, torch.Generator().manual_seed(0))
>>> len(views), tuple(views[0].shape), views[0].dtype
(4, (3, 32, 32), torch.float32)
>>> all(torch.equal(a, b) for a, b in zip(views, t(x, torch.Generator().manual_seed(0))))
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Union

import torch
import torch.nn.functional as F

from ..errors import SpherecodeError, check_choice, check_int
from .transforms import (CIFAR100_MEAN, CIFAR100_STD, IMAGENET_MEAN, IMAGENET_STD, Compose, Image, Normalize,
                         RandomHorizontalFlip, RandomResizedCrop, Views, _uniform)


def _to_float(img: Image) -> tuple[Image, torch.dtype]:
    return (img.float() / 255.0 if img.dtype == torch.uint8 else img.float()), img.dtype


def _restore(x: Image, dtype: torch.dtype) -> Image:
    x = x.clamp(0.0, 1.0)
    return (x * 255.0).round_().to(torch.uint8) if dtype == torch.uint8 else x.to(dtype)


def grayscale(x: Image) -> Image:
    """Luma ``0.299 R + 0.587 G + 0.114 B`` of float RGB ``(..., 3, H, W)``, shape ``(..., 1, H, W)``."""
    return (0.299 * x[..., 0, :, :] + 0.587 * x[..., 1, :, :] + 0.114 * x[..., 2, :, :]).unsqueeze(-3)


def _hsv(x: Image) -> tuple[Image, Image, Image]:
    """Hue (in sixths of a turn, in [-1, 5)), saturation and value planes ``(..., H, W)`` of float
    RGB ``(..., 3, H, W)``.

    With :math:`\\delta = \\max - \\min`: hue :math:`(g - b)/\\delta`, :math:`2 + (b - r)/\\delta` or
    :math:`4 + (r - g)/\\delta` sixths of a turn as red, green or blue is the largest (0 for greys).
    """
    r, g, b = x.unbind(-3)
    maxc = x.amax(-3)
    delta = maxc - x.amin(-3)
    s = delta / maxc.clamp_min(1e-12)
    h = torch.where(maxc == r, g - b, torch.where(maxc == g, (b - r) + 2.0 * delta, (r - g) + 4.0 * delta))
    return h / delta.clamp_min(1e-30), s, maxc


_HSV_OFFSETS = (5.0, 3.0, 1.0)


@functools.lru_cache(maxsize=256)
def device_constant(values: tuple[float, ...], device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A small constant tensor on ``device``, made once: building it in every step would copy it from
    the host each time, and on CUDA a blocking copy waits for all the work queued before it."""
    return torch.tensor(values, dtype=dtype).to(device)


def _rgb(h6: Image, s: Image, v: Image) -> Image:
    r"""RGB ``(..., 3, H, W)`` from hue (sixths of a turn, any real), saturation, value planes ``(..., H, W)``:
    channel :math:`n \in (5, 3, 1)`, :math:`k = (n + h_6) \bmod 6`, :math:`v - vs\,\mathrm{clip}(\min(k, 4 - k), 0, 1)`."""
    n = device_constant(_HSV_OFFSETS, h6.device, h6.dtype)[:, None, None]
    k = torch.add(n, h6.unsqueeze(-3)).remainder_(6.0)
    t = torch.minimum(k, 4.0 - k).clamp_(0.0, 1.0)
    v = v.unsqueeze(-3)
    return t.mul_((v * s.unsqueeze(-3)).neg_()).add_(v)


def rgb_to_hsv(x: Image) -> Image:
    """Float RGB in [0, 1] ``(..., 3, H, W)`` to HSV with hue in [0, 1) turns."""
    h6, s, v = _hsv(x)
    return torch.stack([(h6 / 6.0) % 1.0, s, v], dim=-3)


def hsv_to_rgb(x: Image) -> Image:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = x.unbind(-3)
    return _rgb(6.0 * h, s, v)


# The adjustments take float images ``(..., C, H, W)`` in [0, 1] and a factor that is a number or
# a tensor broadcasting against the image (``(N, 1, 1, 1)``: one factor per image of a batch).
Factor = Union[float, torch.Tensor]


def adjust_brightness(x: Image, factor: Factor) -> Image:
    return (x * factor).clamp(0, 1)


def adjust_contrast(x: Image, factor: Factor) -> Image:
    """Blend with the image's mean luma (mean over channels and pixels for non-RGB)."""
    mean = (grayscale(x) if x.shape[-3] == 3 else x).mean(dim=(-3, -2, -1), keepdim=True)
    return (factor * x + (1 - factor) * mean).clamp(0, 1)


def adjust_saturation(x: Image, factor: Factor) -> Image:
    if x.shape[-3] != 3:
        return x
    return (factor * x + (1 - factor) * grayscale(x)).clamp(0, 1)


def adjust_hue(x: Image, shift: Factor) -> Image:
    """Rotate the hue by ``shift`` turns (``-0.5 <= shift <= 0.5``; a tensor broadcasts as ``(N, 1, 1)``)."""
    if x.shape[-3] != 3 or (not isinstance(shift, torch.Tensor) and shift == 0):
        return x
    h6, s, v = _hsv(x)
    return _rgb(h6 + 6.0 * shift, s, v)  # _rgb takes the hue modulo a turn


def solarize(x: Image, threshold: float = 0.5) -> Image:
    """Invert the pixels at or above ``threshold``: :math:`x \\mapsto 1 - x`."""
    return torch.where(x >= threshold, 1.0 - x, x)


class ColorJitter:
    """With probability ``p``: brightness, contrast, saturation, hue jitter in a random order."""

    def __init__(self, brightness: float, contrast: float, saturation: float, hue: float, p: float = 0.8) -> None:
        if not 0 <= hue <= 0.5:
            raise SpherecodeError(f"Argument 'hue' must be in [0, 0.5], not {hue!r}.")
        self.brightness, self.contrast, self.saturation, self.hue, self.p = brightness, contrast, saturation, hue, p

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        if _uniform(g) >= self.p:
            return img
        x, dtype = _to_float(img)
        ops = [
            lambda t, f=_uniform(g, max(0.0, 1 - self.brightness), 1 + self.brightness): adjust_brightness(t, f),
            lambda t, f=_uniform(g, max(0.0, 1 - self.contrast), 1 + self.contrast): adjust_contrast(t, f),
            lambda t, f=_uniform(g, max(0.0, 1 - self.saturation), 1 + self.saturation): adjust_saturation(t, f),
            lambda t, f=_uniform(g, -self.hue, self.hue): adjust_hue(t, f),
        ]
        for k in torch.randperm(4, generator=g).tolist():
            x = ops[k](x)
        return _restore(x, dtype)

    def __repr__(self) -> str:
        return f"ColorJitter({self.brightness}, {self.contrast}, {self.saturation}, {self.hue}, p={self.p})"


class RandomGrayscale:
    """With probability ``p``: replace every channel by the luma."""

    def __init__(self, p: float = 0.2) -> None:
        self.p = p

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        if _uniform(g) >= self.p or img.shape[-3] != 3:
            return img
        x, dtype = _to_float(img)
        return _restore(grayscale(x).expand(3, -1, -1).clone(), dtype)

    def __repr__(self) -> str:
        return f"RandomGrayscale(p={self.p})"


class RandomSolarize:
    """With probability ``p``: invert the pixels at or above ``threshold`` (of the [0, 1] range)."""

    def __init__(self, p: float = 0.2, threshold: float = 0.5) -> None:
        self.p, self.threshold = p, threshold

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        if _uniform(g) >= self.p:
            return img
        x, dtype = _to_float(img)
        return _restore(solarize(x, self.threshold), dtype)

    def __repr__(self) -> str:
        return f"RandomSolarize(p={self.p})"


def gaussian_blur(x: Image, sigma: float) -> Image:
    """Separable Gaussian blur of float ``(C, H, W)``, kernel radius ``ceil(3 sigma)``, reflect padding."""
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[0]
    y = F.pad(x.unsqueeze(0), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    y = F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return y.squeeze(0)


class GaussianBlur:
    """With probability ``p``: Gaussian blur with ``sigma ~ U[sigma_min, sigma_max]`` pixels."""

    def __init__(self, p: float = 0.5, sigma: tuple[float, float] = (0.1, 2.0)) -> None:
        self.p, self.sigma = p, sigma

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        if _uniform(g) >= self.p:
            return img
        x, dtype = _to_float(img)
        return _restore(gaussian_blur(x, _uniform(g, *self.sigma)), dtype)

    def __repr__(self) -> str:
        return f"GaussianBlur(p={self.p}, sigma={self.sigma})"


@dataclass(frozen=True)
class CropSpec:
    """One kind of crop: output side, area fraction range, blur and solarisation probabilities."""

    size: int
    scale: tuple[float, float]
    blur: float = 0.0
    solarize: float = 0.0


@dataclass(frozen=True)
class MultiCropConfig:
    """Two global crops (their own blur/solarisation), ``n_local`` local crops, shared colour settings."""

    global_crops: tuple[CropSpec, CropSpec]
    local_crop: CropSpec
    n_local: int
    jitter: tuple[float, float, float, float]
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    flip_p: float = 0.5
    mean: tuple[float, float, float] = CIFAR100_MEAN
    std: tuple[float, float, float] = CIFAR100_STD

    @property
    def n_views(self) -> int:
        return 2 + self.n_local

    def crops(self) -> list[CropSpec]:
        return [*self.global_crops, *([self.local_crop] * self.n_local)]


#: Multi-crop recipes: ``cifar`` (Hypersolid paper) and ``imagenet`` (DINO defaults).
MULTICROP_PRESETS: dict[str, MultiCropConfig] = {
    "cifar": MultiCropConfig(
        global_crops=(CropSpec(32, (0.8, 1.0), solarize=0.2), CropSpec(32, (0.8, 1.0), solarize=0.2)),
        local_crop=CropSpec(32, (0.08, 0.9), solarize=0.2), n_local=6,
        jitter=(0.8, 0.8, 0.4, 0.2)),
    "imagenet": MultiCropConfig(
        global_crops=(CropSpec(224, (0.4, 1.0), blur=1.0), CropSpec(224, (0.4, 1.0), blur=0.1, solarize=0.2)),
        local_crop=CropSpec(96, (0.05, 0.4), blur=0.5), n_local=6,
        jitter=(0.4, 0.4, 0.2, 0.1), mean=IMAGENET_MEAN, std=IMAGENET_STD),
}


def crop_transform(spec: CropSpec, cfg: MultiCropConfig) -> Compose:
    """Crop, flip, colour jitter, grayscale, blur, solarise, normalise: one view."""
    steps = [RandomResizedCrop(spec.size, spec.scale), RandomHorizontalFlip(cfg.flip_p),
             ColorJitter(*cfg.jitter, p=cfg.jitter_p), RandomGrayscale(cfg.grayscale_p)]
    if spec.blur > 0:
        steps.append(GaussianBlur(spec.blur))
    if spec.solarize > 0:
        steps.append(RandomSolarize(spec.solarize))
    steps.append(Normalize(cfg.mean, cfg.std))
    return Compose(steps)


def resolve_multicrop(preset: str | MultiCropConfig = "cifar", n_local: int | None = None,
                      size_scale: float | None = None) -> MultiCropConfig:
    """The config of a preset name (or a config), with ``n_local`` local crops and every crop side
    multiplied by ``size_scale`` (rounded, at least 1) when given."""
    if isinstance(preset, str):
        check_choice("preset", preset, MULTICROP_PRESETS)
        cfg = MULTICROP_PRESETS[preset]
    else:
        cfg = preset
    if n_local is not None:
        cfg = replace(cfg, n_local=check_int("n_local", n_local, minimum=0))
    if size_scale is not None:
        def scaled(c: CropSpec) -> CropSpec:
            return replace(c, size=max(1, int(round(c.size * size_scale))))
        cfg = replace(cfg, global_crops=(scaled(cfg.global_crops[0]), scaled(cfg.global_crops[1])),
                      local_crop=scaled(cfg.local_crop))
    return cfg


def multicrop_transform(preset: str | MultiCropConfig = "cifar", n_local: int | None = None,
                        size_scale: float | None = None) -> Views:
    """The multi-crop transform of a preset (or config): returns ``2 + n_local`` views per image.

    ``n_local`` overrides the preset's number of local crops; ``size_scale`` rescales every crop
    side (e.g. to pretrain on small synthetic images). The same views for a whole batch on the
    device: :class:`spherecode.data.multicrop_batched.BatchedMultiCrop`.
    """
    cfg = resolve_multicrop(preset, n_local, size_scale)
    return Views([crop_transform(spec, cfg) for spec in cfg.crops()])


def group_views(views: Sequence[Any], key: Callable[[Any], Any] = lambda v: v.shape) -> list[tuple[int, int]]:
    """``(start, stop)`` runs of consecutive views with the same shape (one forward pass each), or
    the same ``key`` (e.g. crop specs of one output size)."""
    runs: list[tuple[int, int]] = []
    for i, v in enumerate(views):
        if runs and key(views[runs[-1][0]]) == key(v):
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs
