r"""Multi-crop views of a whole batch at once, on the batch's device: the recipes of
:mod:`spherecode.data.multicrop` as batched tensor operations.

The per-sample path (:func:`~spherecode.data.multicrop.multicrop_transform`) runs in the loader
workers, one image and one view at a time in Python (about 200 CIFAR images/s per worker for 8
views). Here the loader only stacks the decoded ``uint8`` images (for CIFAR they go straight in)
and :class:`BatchedMultiCrop` makes every view of the batch with a few hundred tensor operations,
however large the batch (on an accelerator each is a kernel launch, so their number, not the
batch size, sets the speed at CIFAR sizes):

- every random number of every (image, view, slot) in one vectorised hash call (:func:`uniforms`);
- the views of one output size as one batch (the 8 CIFAR views: one batch of ``8 N`` images; the
  per-view area range, blur and solarisation probabilities as per-row constants);
- random resized crop and horizontal flip: one matrix per image, view and axis,
  :math:`Y = A X B^\top`, holding the weights of PyTorch's anti-aliased bilinear resize
  (``F.interpolate(..., antialias=True)``) of the crop box, the flip folded into :math:`B`; the
  column matrices of all views in one product with each image (the image is not repeated);
- colour jitter in a random order per image (:func:`jitter_rgb`): brightness, contrast and
  saturation as six passes of per-image 3 x 3 channel matrices around one hue pass (the identity
  where it is not an image's turn);
- grayscale, Gaussian blur (a per-image matrix with reflect padding, :math:`K X K^\top`),
  solarisation, normalisation.

On an accelerator the steps that touch only some images run masked over the whole batch (no
data-dependent shapes, no host synchronisation); on the CPU they select their images, and the
views are made in cache-sized pieces of whole views (``masked`` chooses).

The same presets and the same semantics as the per-sample path (probabilities, ranges, crop
fallback, operation order); the images stay float in [0, 1] between the steps instead of being
rounded to ``uint8`` after each. Randomness is counter-based: every parameter of view ``v`` of
image ``i`` is a hash of ``(seed, epoch, i, v, slot)`` (:func:`uniforms`), so the views are a pure
function of those keys, whatever the batch composition, the number of ranks or a ``--resume``.

Examples
--------
>>> import torch
>>> aug = BatchedMultiCrop("cifar", n_local=2, seed=0)
>>> x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
>>> views = aug(x, torch.arange(4), epoch=0)
>>> len(views), tuple(views[0].shape), views[0].dtype
(4, (4, 3, 32, 32), torch.float32)
>>> all(torch.equal(a, b) for a, b in zip(views, aug(x, torch.arange(4), epoch=0)))
True
>>> torch.allclose(aug(x[2:], torch.arange(2, 4), epoch=0)[1], views[1][2:], atol=1e-5)   # per image, not per batch
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch.utils.data import Dataset

from ..errors import SpherecodeError
from .multicrop import (CropSpec, MultiCropConfig, adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation,
                        device_constant, grayscale, group_views, resolve_multicrop)

_M32 = 0xFFFFFFFF
_CACHE_FLOATS = 1 << 20   # pixels (floats) of one piece of views when selecting on the CPU: 4 MiB, cache-sized


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """``(x * c) mod 2**32`` for int64 ``x`` in [0, 2**32), in 16-bit halves (no int64 overflow)."""
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & _M32


def mix32(x: torch.Tensor) -> torch.Tensor:
    """The ``lowbias32`` integer hash (C. Wellons) of int64 values in [0, 2**32), elementwise."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


@functools.lru_cache(maxsize=4096)
def _mix_int(v: int) -> int:
    """:func:`mix32` of one Python int (plain integer arithmetic; used for constants)."""
    x = v & _M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def sample_keys(seed: int, epoch: torch.Tensor | int, index: torch.Tensor) -> torch.Tensor:
    """A 32-bit key per image (int64 tensor like ``index``) from ``(seed, epoch, index)``."""
    index = index.long()
    epoch = epoch.long() if isinstance(epoch, torch.Tensor) else int(epoch)   # a Python int stays on the host
    base = mix32(torch.full_like(index, _mix_int(seed) ^ (seed >> 32 & _M32)) ^ (epoch & _M32))
    return mix32(base ^ mix32(index & _M32) ^ ((index >> 32) & _M32))


def uniforms(keys: torch.Tensor, stream: int | tuple[int, ...], count: int) -> torch.Tensor:
    """``(len(keys), count)`` float32 numbers in [0, 1), the ``count`` slots of ``stream`` for each key;
    for a tuple of streams, ``(len(stream), len(keys), count)`` in one vectorised call (the same numbers).

    A counter-based generator: slot ``j`` is ``mix32(mix32(key ^ h(stream)) ^ h(j))`` (24 bits kept).
    """
    slots = device_constant(tuple(_mix_int(0x68E31DA4 + j) for j in range(count)), keys.device, torch.int64)
    if isinstance(stream, int):
        head = mix32(keys ^ _mix_int(0x5BD1E995 + stream))
    else:
        streams = device_constant(tuple(_mix_int(0x5BD1E995 + s) for s in stream), keys.device, torch.int64)
        head = mix32(keys[None, :] ^ streams[:, None])
    bits = mix32(head[..., None] ^ slots) >> 8
    return bits.float() * (1.0 / (1 << 24))


# slots of one view's stream
_TRIES = 10
_S_SCALE, _S_RATIO, _S_TOP, _S_LEFT = 0, _TRIES, 2 * _TRIES, 2 * _TRIES + 1
_S_FLIP, _S_JITTER, _S_FACTORS, _S_ORDER = 2 * _TRIES + 2, 2 * _TRIES + 3, 2 * _TRIES + 4, 2 * _TRIES + 8
_S_GRAY, _S_BLUR, _S_SIGMA, _S_SOLAR = 2 * _TRIES + 12, 2 * _TRIES + 13, 2 * _TRIES + 14, 2 * _TRIES + 15
_SLOTS = 2 * _TRIES + 16


@dataclass
class ViewParams:
    """The random parameters of one view for N images (tensors with N rows)."""

    box: torch.Tensor        # (N, 4) int64: top, left, height, width of the crop
    flip: torch.Tensor       # (N,) bool
    factors: torch.Tensor    # (N, 4): brightness, contrast, saturation (1 = identity), hue shift (0 = identity)
    order: torch.Tensor      # (N, 4) int64: the jitter operations (0 b, 1 c, 2 s, 3 h) in the order applied
    gray: torch.Tensor       # (N,) bool
    sigma: torch.Tensor      # (N,) blur sigma in pixels, 0 = no blur
    solarize: torch.Tensor   # (N,) bool


def crop_boxes(u_scale: torch.Tensor, u_ratio: torch.Tensor, u_top: torch.Tensor, u_left: torch.Tensor, h: int, w: int,
               scale: tuple[Any, Any], ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """Inception-style crop boxes ``(..., 4)`` as :class:`~spherecode.data.transforms.RandomResizedCrop`:
    the first of the tries (last dim of ``u_scale``, ``u_ratio``) that fits, else a centre crop.

    ``u_top``, ``u_left``: ``(...)``; ``scale``: numbers, or float64 tensors broadcasting against
    ``u_top`` (one area range per row, e.g. per view)."""
    area = h * w
    lo, hi = (t[..., None] if isinstance(t, torch.Tensor) else t for t in scale)
    target = area * (lo + (hi - lo) * u_scale.double())
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u_ratio.double())
    cw = torch.round(torch.sqrt(target * aspect)).long()
    ch = torch.round(torch.sqrt(target / aspect)).long()
    ok = (cw > 0) & (cw <= w) & (ch > 0) & (ch <= h)
    first = ok.long().argmax(dim=-1, keepdim=True)
    found = ok.any(dim=-1)
    cw, ch = cw.gather(-1, first)[..., 0], ch.gather(-1, first)[..., 0]
    in_ratio = w / h
    if in_ratio < ratio[0]:
        fw, fh = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        fw, fh = int(round(h * ratio[1])), h
    else:
        fw, fh = w, h
    cw, ch = torch.where(found, cw, fw), torch.where(found, ch, fh)
    top = torch.where(found, (u_top.double() * (h - ch + 1)).floor().long().clamp(max=h - ch), (h - fh) // 2)
    left = torch.where(found, (u_left.double() * (w - cw + 1)).floor().long().clamp(max=w - cw), (w - fw) // 2)
    return torch.stack([top, left, ch, cw], dim=-1)


def resize_weights(start: torch.Tensor, length: torch.Tensor, size: int, n_in: int,
                   flip: torch.Tensor | None = None) -> torch.Tensor:
    r"""``(N, size, n_in)`` weights of the anti-aliased bilinear resize of ``[start, start + length)`` to ``size``
    (output reversed for the images where ``flip`` is true).

    PyTorch's ``antialias=True`` kernel (PIL's): scale :math:`s = L/S`, support
    :math:`\max(s, 1)`, output ``i`` centred at :math:`s(i + 1/2)`, triangle weights
    :math:`\max(0, 1 - |j + 1/2 - c_i| / \max(s, 1))` over the crop, normalised per row.
    """
    scale = (length.float() / size)[:, None, None]                             # (N, 1, 1)
    inv_support = 1.0 / scale.clamp(min=1.0)
    out = torch.arange(size, device=start.device, dtype=torch.float32)[None, :, None]
    if flip is not None:
        out = torch.where(flip[:, None, None], size - 1 - out, out)
    centre = scale * (out + 0.5)
    j = torch.arange(n_in, device=start.device, dtype=torch.float32)[None, None, :] - start.float()[:, None, None]
    w = (1.0 - ((j + 0.5 - centre) * inv_support).abs()).clamp_(min=0.0)
    w = w.mul_((j >= 0) & (j < length.float()[:, None, None]))
    return w.div_(w.sum(dim=2, keepdim=True))


def blur_matrices(sigma: torch.Tensor, size: int, max_sigma: float) -> torch.Tensor:
    """``(N, size, size)`` matrices of :func:`~spherecode.data.multicrop.gaussian_blur` along one axis
    (radius ``ceil(3 sigma)`` capped at ``size - 1``, reflect padding); the identity where ``sigma == 0``."""
    n, dev = sigma.shape[0], sigma.device
    r_max = max(1, min(math.ceil(3 * max_sigma), size - 1))
    t = torch.arange(-r_max, r_max + 1, device=dev, dtype=torch.float32)
    s = sigma.clamp(min=1e-6)[:, None]
    radius = torch.ceil(3 * s).clamp(min=1, max=size - 1)
    k = torch.exp(-0.5 * (t[None, :] / s) ** 2) * (t.abs()[None, :] <= radius)
    k = k / k.sum(dim=1, keepdim=True)                                        # (N, 2R + 1)
    src = torch.arange(size, device=dev)[:, None] + t.long()[None, :]         # (size, 2R + 1), reflect
    src = torch.where(src < 0, -src, torch.where(src >= size, 2 * (size - 1) - src, src))
    m = torch.zeros(n, size, size, device=dev)
    m.scatter_add_(2, src.expand(n, -1, -1), k[:, None, :].expand(-1, size, -1).contiguous())
    eye = torch.eye(size, device=dev).expand(n, -1, -1)
    blurred = (sigma > 0) & (size > 1)
    return torch.where(blurred[:, None, None], m, eye)


_LUMA = (0.299, 0.587, 0.114)
_IDENTITY = (1.0, 1.0, 1.0, 0.0)  # jitter factors that change nothing
# The jitter as six channel-affine passes around one hue pass: passes 0-2 are positions 0-2 (the
# identity from the hue's position on), passes 3-5 positions 1-3 (the identity up to the hue's position).
_PASS_POS = (0, 1, 2, 1, 2, 3)
_PASS_BEFORE = (True, True, True, False, False, False)


def _affine_passes(factors: torch.Tensor, order: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    r"""The channel matrices ``(6, N, 3, 3)`` and contrast weights ``(6, N)`` of the six passes, and
    whether each image has a hue shift.

    Brightness (op 0), contrast (1) or saturation (2) are each ``clamp(M x + b)`` with a 3 x 3 channel
    matrix: brightness :math:`fI`; contrast :math:`fI`, :math:`b = (1 - f)\bar\ell` (the mean luma of
    the image as it is then); saturation :math:`fI + (1 - f)\mathbf{1}w^\top`. A pass that is not an
    operation's turn is the identity (:math:`M = I`, :math:`b = 0`), which leaves the image as it was.
    """
    dev = factors.device
    pos_hue = (order == 3).long().argmax(dim=1, keepdim=True)                  # (N, 1)
    pos = device_constant(_PASS_POS, dev, torch.int64)
    turn = torch.where(device_constant(_PASS_BEFORE, dev, torch.bool), pos < pos_hue, pos > pos_hue)
    op = torch.where(turn, order[:, pos], 3)                                   # (N, 6), 3: identity
    f = factors[:, :3].gather(1, op.clamp(max=2))
    scale = torch.where(op <= 2, f, 1.0).to(dtype)
    sat = torch.where(op == 2, 1.0 - f, 0.0).to(dtype)
    contrast = torch.where(op == 1, 1.0 - f, 0.0).to(dtype)
    w = device_constant(_LUMA, dev, dtype)
    eye = torch.eye(3, device=dev, dtype=dtype)
    m = (scale.t()[:, :, None, None] * eye + sat.t()[:, :, None, None] * w).contiguous()   # (6, N, 3, 3)
    return m, contrast.t().contiguous(), factors[:, 3] != 0


def _affine_pass(z: torch.Tensor, m: torch.Tensor, contrast: torch.Tensor) -> torch.Tensor:
    """One channel-affine pass of images ``z`` (N, 3, H * W): ``clamp(m z + contrast * mean luma)``."""
    w = device_constant(_LUMA, z.device, z.dtype)
    bias = (contrast * (z.mean(dim=-1) @ w))[:, None, None].expand(-1, z.shape[1], 1)
    return torch.baddbmm(bias, m, z).clamp_(0.0, 1.0)


def jitter_rgb(y: torch.Tensor, factors: torch.Tensor, order: torch.Tensor, masked: bool | None = None) -> torch.Tensor:
    """Colour jitter of RGB images ``y`` (N, 3, H, W): the operations of ``order`` (0 brightness,
    1 contrast, 2 saturation, 3 hue) with ``factors``, in each image's order.

    Brightness, contrast and saturation are fused channel matrices, six passes around one hue pass
    (:func:`_affine_passes`: the three positions before each image's hue, then the three after).
    With ``masked`` (the default on an accelerator: no data-dependent shapes, no host
    synchronisation) every pass and the hue run on all the images at once (a pass that is not an
    image's turn is its identity; the hue kept where there is a shift). Otherwise (the CPU default,
    where reading group sizes waits for nothing and every pass over the pixels counts) the images
    are grouped by the position of their hue, each group runs only its own three passes, and the
    images left alone by the jitter are skipped.
    """
    masked = y.device.type != "cpu" if masked is None else masked
    n, c, h, wd = y.shape
    m, contrast, has_hue = _affine_passes(factors, order, y.dtype)
    shift = factors[:, 3, None, None].to(y.dtype)
    if masked:
        z = y.reshape(n, c, h * wd)
        for j in range(6):
            if j == 3:
                hued = adjust_hue(z.view(n, c, h, wd), shift).view(n, c, h * wd)
                z = torch.where(has_hue[:, None, None], hued, z)
            z = _affine_pass(z, m[j], contrast[j])
        return z.view(n, c, h, wd)
    identity = device_constant(_IDENTITY, y.device, factors.dtype)
    pos_hue = (order == 3).long().argmax(dim=1)
    group = torch.where((factors != identity).any(dim=1), pos_hue, 4)
    perm = group.argsort(stable=True)
    counts = torch.bincount(group, minlength=5).tolist()
    z, m, contrast, shift = y.reshape(n, c, h * wd)[perm], m[:, perm], contrast[:, perm], shift[perm]
    a = 0
    for q in range(4):       # the images whose hue comes at position q: passes 0 .. q-1, the hue, passes 3+q .. 5
        b = a + counts[q]
        if b > a:
            part = z[a:b]
            for j in range(q):
                part = _affine_pass(part, m[j, a:b], contrast[j, a:b])
            part = adjust_hue(part.view(b - a, c, h, wd), shift[a:b]).view(b - a, c, h * wd)
            for j in range(3 + q, 6):
                part = _affine_pass(part, m[j, a:b], contrast[j, a:b])
            z[a:b] = part
        a = b
    return y.index_copy(0, perm, z.view(n, c, h, wd))


class BatchedMultiCrop:
    """The multi-crop views of a batch: ``aug(images, indices, epoch) -> [V tensors (N, C, s, s)]``.

    ``images``: ``uint8`` (or float in [0, 1]) ``(N, C, H, W)``, all of one size, on any device;
    ``indices``: each image's index in the dataset; ``epoch``: an int or a tensor per image.
    ``preset``, ``n_local`` and ``size_scale`` as in :func:`~spherecode.data.multicrop.multicrop_transform`.
    ``masked``: the strategy of the steps that touch only some images (jitter order, hue, grayscale,
    solarisation): ``True`` masks over the whole batch (no data-dependent shapes, no host
    synchronisation), ``False`` selects the images (fewer passes over the pixels, a few more
    operations), ``None`` (default) masks on an accelerator and selects on the CPU. Same views.
    """

    def __init__(self, preset: str | MultiCropConfig = "cifar", n_local: int | None = None,
                 size_scale: float | None = None, seed: int = 0, masked: bool | None = None) -> None:
        self.config = resolve_multicrop(preset, n_local, size_scale)
        self.seed = int(seed)
        self.masked = masked

    @property
    def n_views(self) -> int:
        return self.config.n_views

    def params(self, keys: torch.Tensor, view: int, h: int, w: int) -> ViewParams:
        """The parameters of view ``view`` for the images with ``keys`` (:func:`sample_keys`)."""
        return self._draw(uniforms(keys, view, _SLOTS)[None], (view,), h, w)

    def _draw(self, u: torch.Tensor, views: tuple[int, ...], h: int, w: int) -> ViewParams:
        """The parameters of ``views`` from their uniforms ``u`` ``(len(views), N, slots)``: ``len(views) * N``
        rows, view by view (the per-view settings broadcast as ``(len(views), 1)`` constants)."""
        cfg, dev = self.config, u.device
        specs = [cfg.crops()[v] for v in views]

        def per_view(values: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return device_constant(tuple(values), dev, dtype)[:, None]

        scale = (per_view((s.scale[0] for s in specs), torch.float64),
                 per_view((s.scale[1] for s in specs), torch.float64))
        box = crop_boxes(u[..., _S_SCALE:_S_SCALE + _TRIES], u[..., _S_RATIO:_S_RATIO + _TRIES], u[..., _S_TOP],
                         u[..., _S_LEFT], h, w, scale)
        b, c, s, hue = cfg.jitter
        lows = device_constant((max(0.0, 1 - b), max(0.0, 1 - c), max(0.0, 1 - s), -hue), dev)
        highs = device_constant((1 + b, 1 + c, 1 + s, hue), dev)
        factors = lows + (highs - lows) * u[..., _S_FACTORS:_S_FACTORS + 4]
        jitter = u[..., _S_JITTER] < cfg.jitter_p
        factors = torch.where(jitter[..., None], factors, device_constant(_IDENTITY, dev))
        sigma = 0.1 + (2.0 - 0.1) * u[..., _S_SIGMA]
        sigma = torch.where(u[..., _S_BLUR] < per_view(s.blur for s in specs), sigma, 0.0)
        rows = u.shape[0] * u.shape[1]
        return ViewParams(box=box.reshape(rows, 4), flip=(u[..., _S_FLIP] < cfg.flip_p).reshape(rows),
                          factors=factors.reshape(rows, 4),
                          order=u[..., _S_ORDER:_S_ORDER + 4].argsort(dim=-1).reshape(rows, 4),
                          gray=(u[..., _S_GRAY] < cfg.grayscale_p).reshape(rows), sigma=sigma.reshape(rows),
                          solarize=(u[..., _S_SOLAR] < per_view(s.solarize for s in specs)).reshape(rows))

    def apply(self, x: torch.Tensor, p: ViewParams, spec: CropSpec) -> torch.Tensor:
        """One view of float images ``x`` (N, C, H, W) in [0, 1] with parameters ``p``, normalised."""
        return self._render(x, p, spec.size, spec.blur > 0, spec.solarize > 0)

    def _render(self, x: torch.Tensor, p: ViewParams, size: int, blur: bool, solar: bool) -> torch.Tensor:
        """``k`` views of ``size`` px of float images ``x`` (N, C, H, W) in [0, 1] at once: ``p`` holds
        ``k * N`` rows, view by view; the output ``(k * N, C, size, size)``, normalised. ``blur`` /
        ``solar``: whether any of the views may be blurred / solarised."""
        cfg = self.config
        n, ch, h, w = x.shape
        k = p.box.shape[0] // n
        masked = x.device.type != "cpu" if self.masked is None else self.masked
        rows = resize_weights(p.box[:, 0], p.box[:, 2], size, h)                  # (kN, size, H)
        cols = resize_weights(p.box[:, 1], p.box[:, 3], size, w, flip=p.flip)     # (kN, size, W)
        # the columns of all k views in one product with each image (the image is not repeated)
        cols = cols.view(k, n, size, w).permute(1, 3, 0, 2).reshape(n, w, k * size)
        y = torch.bmm(x.reshape(n, ch * h, w), cols).view(n, ch, h, k, size).permute(3, 0, 1, 2, 4)
        y = torch.matmul(rows.view(k, n, 1, size, h), y).reshape(k * n, ch, size, size)
        if ch == 3:
            y = jitter_rgb(y, p.factors, p.order, masked)
            if not masked:  # grayscale: every channel the luma (on the CPU, only the drawn images)
                rows_g = p.gray.nonzero()[:, 0]
                y[rows_g] = grayscale(y[rows_g]).expand(-1, 3, -1, -1)
            else:
                y = torch.where(p.gray[:, None, None, None], grayscale(y).expand_as(y), y)
        else:  # the generic operations, each with the identity factor where it is not the image's turn
            f = p.factors[:, :, None, None, None]
            ops = (adjust_brightness, adjust_contrast, adjust_saturation)
            for pos in range(4):
                for op in range(3):
                    y = ops[op](y, torch.where((p.order[:, pos] == op)[:, None, None, None], f[:, op], 1.0))
        if blur:
            kb = blur_matrices(p.sigma, size, 2.0)
            y = torch.matmul(torch.matmul(kb[:, None], y), kb[:, None].transpose(-1, -2))
        if solar:  # x -> 1 - x at or above 0.5, i.e. 0.5 - |x - 0.5|, for the drawn images
            if not masked:
                rows_s = p.solarize.nonzero()[:, 0]
                y[rows_s] = 0.5 - (y[rows_s] - 0.5).abs()
            else:
                y = torch.where(p.solarize[:, None, None, None], 0.5 - (y - 0.5).abs(), y)
        mean = device_constant(tuple(cfg.mean), y.device, y.dtype)[:, None, None]
        inv_std = device_constant(tuple(1.0 / s for s in cfg.std), y.device, y.dtype)[:, None, None]
        return (y - mean).mul_(inv_std)

    def __call__(self, images: torch.Tensor, indices: torch.Tensor, epoch: torch.Tensor | int = 0) -> list[torch.Tensor]:
        if images.dim() != 4:
            raise SpherecodeError(f"BatchedMultiCrop: argument 'images' must be (N, C, H, W); got shape {tuple(images.shape)}.")
        if indices.shape != (images.shape[0],):
            raise SpherecodeError(f"BatchedMultiCrop: argument 'indices' must hold one index per image "
                                  f"({images.shape[0]}); got shape {tuple(indices.shape)}.")
        crops = self.config.crops()
        with torch.autocast(images.device.type, enabled=False):
            x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
            keys = sample_keys(self.seed, epoch, indices.to(images.device))
            n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
            u = uniforms(keys, tuple(range(len(crops))), _SLOTS)                  # (V, N, slots): every draw at once
            masked = x.device.type != "cpu" if self.masked is None else self.masked
            views: list[torch.Tensor] = []
            # the views of one size as one batch of (stop - start) * N images
            for start, stop in group_views(crops, key=lambda spec: spec.size):
                group = tuple(range(start, stop))
                p = self._draw(u[start:stop], group, h, w)
                size = crops[start].size
                blur, solar = any(crops[v].blur > 0 for v in group), any(crops[v].solarize > 0 for v in group)
                # selecting (the CPU): pieces of whole views of about _CACHE_FLOATS pixels, which stay in the cache
                step = len(group) if masked else max(1, _CACHE_FLOATS // (n * x.shape[1] * size * size))
                for a in range(0, len(group), step):
                    b = min(a + step, len(group))
                    rows = slice(a * n, b * n)
                    y = self._render(x, ViewParams(**{f.name: getattr(p, f.name)[rows] for f in fields(p)}),
                                     size, blur, solar)
                    views.extend(y.view(b - a, n, *y.shape[1:]).unbind(0))
            return views

    def __repr__(self) -> str:
        return f"BatchedMultiCrop({self.config!r}, seed={self.seed}, masked={self.masked})"


class KeyedImages(Dataset):
    """The raw ``uint8`` images of ``base`` with their keys: items ``(image, (index, epoch))``.

    Indexed like :class:`~spherecode.data.dataset.AugmentedDataset` (an int or an ``(index,
    epoch)`` pair); the batch's ``(N, 2)`` keys tell :class:`BatchedMultiCrop` what to draw.
    """

    def __init__(self, base: Any) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, epoch = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), 0)
        return self.base.image(index), torch.tensor([index, epoch])


__all__ = ["BatchedMultiCrop", "KeyedImages", "ViewParams", "blur_matrices", "crop_boxes", "mix32", "resize_weights",
           "sample_keys", "uniforms"]
