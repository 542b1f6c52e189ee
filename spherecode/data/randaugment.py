r"""RandAugment (Cubuk et al. 2020) as batched tensor operations on ``uint8`` images, in torch.

Each training image gets :math:`N` operations, each drawn uniformly (with replacement) from the 14
of the paper and applied with probability :math:`p`; every operation has one magnitude
:math:`M \in [0, 30]` on timm's scale (level :math:`\ell = M / 10`; 10 is the full standard range,
larger values extrapolate it as the TF EfficientNet code does, clipped to each operation's domain).
The mapping is timm's "increasing" one (``rand-m9-n2-inc1``): a larger :math:`M` is a stronger
change for every operation, and the signed ones flip their sign with probability 1/2.

================  ===========================================================================
operation         argument at level :math:`\ell` (:math:`s = \pm 1`)
================  ===========================================================================
identity          --
autocontrast      per channel :math:`\lfloor 255 (x - lo)/(hi - lo) \rfloor` (PIL ``ImageOps``)
equalize          per channel histogram equalisation (PIL ``ImageOps.equalize``, exactly)
rotate            :math:`30 \ell s` degrees about the centre
solarize          invert pixels :math:`\ge 256 - \lfloor 256 \ell \rfloor`
color             saturation factor :math:`1 + 0.9 \ell s` (blend with the luma)
posterize         keep :math:`4 - \lfloor 4 \ell \rfloor` most significant bits
contrast          factor :math:`1 + 0.9 \ell s` (blend with the mean luma)
brightness        factor :math:`1 + 0.9 \ell s` (blend with black)
sharpness         factor :math:`1 + 0.9 \ell s` (blend with PIL's 3 x 3 SMOOTH filter)
shear_x, shear_y  :math:`0.3 \ell s`: source :math:`(x + k y, y)` / :math:`(x, y + k x)`
translate_x, _y   :math:`0.45 \ell s` of the width / height
================  ===========================================================================

Factors are clipped at 0, bits to [0, 8], the threshold to [0, 256]. The geometric operations map
each output pixel centre :math:`p` to a source point :math:`A p` (PIL's ``Image.transform``
convention) and sample it bilinearly, with grey 128 outside the image. Images stay ``uint8``
between the operations (rounded after each), as with PIL. The colour operations reuse
:mod:`spherecode.data.multicrop`'s brightness, contrast, saturation and solarisation.

Randomness: three numbers in [0, 1) per image and operation slot (which operation, whether it is
applied, its sign), drawn by :meth:`RandAugment.draws` from a CPU generator: the per-sample path
(:class:`RandAugment` as a transform) draws them from the sample's generator, the device-resident
loader for the whole epoch from ``(seed, epoch)``, indexed by sample; then :meth:`RandAugment.apply`
transforms a whole batch on its device with no host synchronisation.

Examples:
    >>> import torch
    >>> ra = RandAugment(n=2, m=9)
    >>> x = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
    >>> y = ra(x, torch.Generator().manual_seed(0))
    >>> y.shape == x.shape and y.dtype == torch.uint8
    True
    >>> torch.equal(y, ra(x, torch.Generator().manual_seed(0)))
    True
    >>> posterize(torch.tensor([[[[200, 77]]]], dtype=torch.uint8), torch.tensor([2]))[0, 0, 0].tolist()
    [192, 64]
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..errors import SpherecodeError, check_int
from .multicrop import _restore, _to_float, adjust_brightness, adjust_contrast, adjust_saturation, device_constant, solarize
from .transforms import Compose, Image, Normalize, Transform

#: The operations of the paper, in a fixed order (the index is what the draws select).
OPS = ("identity", "autocontrast", "equalize", "rotate", "solarize", "color", "posterize", "contrast",
       "brightness", "sharpness", "shear_x", "shear_y", "translate_x", "translate_y")
GEOMETRIC = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")
#: Largest magnitude (timm's ``magnitude_max`` of the original TF code).
MAX_MAGNITUDE = 30
#: Grey value of the pixels a geometric operation brings in from outside the image.
FILL = 128


def _u8(x: torch.Tensor) -> torch.Tensor:
    return x.round().clamp_(0, 255).to(torch.uint8)


def _per_image(v: torch.Tensor) -> torch.Tensor:
    return v.float().view(-1, 1, 1, 1)


# ----------------------------------------------------------------------------- the operations
# Each takes uint8 images (B, C, H, W) and, where it has one, an argument per image (B,).

def autocontrast(x: torch.Tensor) -> torch.Tensor:
    r"""Stretch each channel to [0, 255]: :math:`\lfloor 255 (x - lo) / (hi - lo) \rfloor` (flat channels unchanged)."""
    lo = x.amin(dim=(-2, -1), keepdim=True).float()
    hi = x.amax(dim=(-2, -1), keepdim=True).float()
    scaled = ((x.float() - lo) * 255.0 / (hi - lo).clamp_min(1.0)).floor_().clamp_(0, 255).to(torch.uint8)
    return torch.where(hi > lo, scaled, x)


def equalize(x: torch.Tensor) -> torch.Tensor:
    r"""Histogram equalisation per channel, PIL's rule: with :math:`h` the histogram, :math:`n` the pixel
    count and :math:`h_{top}` the count of the largest value present, :math:`s = \lfloor (n - h_{top})/255 \rfloor`;
    value :math:`v \mapsto \lfloor (\lfloor s/2 \rfloor + \sum_{u < v} h_u) / s \rfloor` (unchanged when :math:`s = 0`)."""
    b, c = x.shape[:2]
    flat = x.reshape(b * c, -1).long()
    hist = torch.zeros(b * c, 256, dtype=torch.int64, device=x.device).scatter_add_(1, flat, torch.ones_like(flat))
    top = hist.gather(1, flat.amax(1, keepdim=True))
    step = (flat.shape[1] - top) // 255
    lut = ((step // 2) + hist.cumsum(1) - hist) // step.clamp_min(1)
    out = torch.where(step > 0, lut.clamp_(max=255).gather(1, flat), flat)
    return out.to(torch.uint8).view_as(x)


def posterize(x: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the ``bits`` (0-8) most significant bits of every value: ``x & (0xFF << (8 - bits))``."""
    mask = (255 - (2 ** (8 - bits.long().clamp(0, 8)) - 1)).to(torch.uint8).view(-1, 1, 1, 1)
    return x & mask.to(x.device)


def solarize_u8(x: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Invert (``255 - x``) the values at or above ``threshold`` (0-256)."""
    xf, dtype = _to_float(x)
    return _restore(solarize(xf, _per_image(threshold) / 255.0), dtype)


def brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    xf, dtype = _to_float(x)
    return _restore(adjust_brightness(xf, _per_image(factor)), dtype)


def contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    xf, dtype = _to_float(x)
    return _restore(adjust_contrast(xf, _per_image(factor)), dtype)


def color(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    xf, dtype = _to_float(x)
    return _restore(adjust_saturation(xf, _per_image(factor)), dtype)


def sharpness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    r"""Blend with PIL's SMOOTH image (kernel :math:`[1,1,1;1,5,1;1,1,1]/13` inside, the border kept):
    :math:`d + f (x - d)`."""
    b, c, h, w = x.shape
    if h < 3 or w < 3:
        return x
    xf = x.float()
    kernel = device_constant(tuple(v / 13.0 for v in (1, 1, 1, 1, 5, 1, 1, 1, 1)), x.device).view(1, 1, 3, 3)
    smooth = F.conv2d(xf.reshape(b * c, 1, h, w), kernel).view(b, c, h - 2, w - 2)
    degenerate = xf.clone()
    degenerate[..., 1:-1, 1:-1] = smooth
    return _u8(degenerate + _per_image(factor) * (xf - degenerate))


def affine_matrices(ops: torch.Tensor, args: torch.Tensor, h: int, w: int) -> torch.Tensor:
    r"""``(B, 2, 3)`` matrices :math:`A` mapping an output pixel centre ``(x, y, 1)`` (pixels, origin at the
    top-left corner) to its source point, for operation indices ``ops`` with arguments ``args``; the identity
    for the non-geometric operations. Rotation by :math:`\theta` degrees turns the picture counter-clockwise
    about the centre :math:`c` (PIL's ``rotate``): source :math:`R(-\theta)`-style
    :math:`[\cos a, \sin a; -\sin a, \cos a](p - c) + c` with :math:`a = -\theta`."""
    a = -torch.deg2rad(args.float())
    cos, sin = torch.cos(a), torch.sin(a)
    cx, cy = w / 2.0, h / 2.0
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    t = {name: ops == OPS.index(name) for name in GEOMETRIC}
    rot = t["rotate"]
    m00 = torch.where(rot, cos, one)
    m01 = torch.where(rot, sin, torch.where(t["shear_x"], args.float(), zero))
    m10 = torch.where(rot, -sin, torch.where(t["shear_y"], args.float(), zero))
    m11 = m00
    m02 = torch.where(rot, cx - cos * cx - sin * cy, torch.where(t["translate_x"], args.float() * w, zero))
    m12 = torch.where(rot, cy + sin * cx - cos * cy, torch.where(t["translate_y"], args.float() * h, zero))
    return torch.stack([torch.stack([m00, m01, m02], -1), torch.stack([m10, m11, m12], -1)], -2)


def warp(x: torch.Tensor, matrices: torch.Tensor, fill: float = FILL) -> torch.Tensor:
    """Bilinear resampling of uint8 images at the source points ``matrices @ (x + 1/2, y + 1/2, 1)``;
    points outside the image read ``fill``."""
    b, c, h, w = x.shape
    dev = x.device
    ys, xs = torch.meshgrid(torch.arange(h, device=dev) + 0.5, torch.arange(w, device=dev) + 0.5, indexing="ij")
    pts = torch.stack([xs.flatten(), ys.flatten(), torch.ones(h * w, device=dev)])       # (3, HW)
    src = matrices.to(dev).float() @ pts                                                   # (B, 2, HW)
    grid = torch.stack([src[:, 0] * (2.0 / w) - 1.0, src[:, 1] * (2.0 / h) - 1.0], -1).view(b, h, w, 2)
    inp = torch.cat([x.float(), torch.ones(b, 1, h, w, device=dev)], 1)
    s = F.grid_sample(inp, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return _u8(s[:, :c] + (1.0 - s[:, c:]) * fill)


#: The colour (pointwise or local) operations: name -> f(images, argument per image).
COLOR_OPS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "autocontrast": lambda x, a: autocontrast(x),
    "equalize": lambda x, a: equalize(x),
    "solarize": solarize_u8,
    "color": color,
    "posterize": posterize,
    "contrast": contrast,
    "brightness": brightness,
    "sharpness": sharpness,
}


def op_arguments(m: int) -> tuple[tuple[float, ...], tuple[bool, ...]]:
    """The unsigned argument of each operation of :data:`OPS` at magnitude ``m``, and whether it takes a random sign."""
    level = m / 10.0
    enhance = max(0.0, 0.9 * level)
    table = {"rotate": 30.0 * level, "solarize": float(min(256, max(0, 256 - 256 * m // 10))),
             "posterize": float(min(8, max(0, 4 - 4 * m // 10))), "shear_x": 0.3 * level, "shear_y": 0.3 * level,
             "translate_x": 0.45 * level, "translate_y": 0.45 * level,
             **{k: enhance for k in ("color", "contrast", "brightness", "sharpness")}}
    signed = set(GEOMETRIC) | {"color", "contrast", "brightness", "sharpness"}
    return tuple(table.get(k, 0.0) for k in OPS), tuple(k in signed for k in OPS)


def _run(name: str, x: torch.Tensor, op: torch.Tensor, arg: torch.Tensor) -> torch.Tensor:
    """Operation ``name`` on images ``x`` (the geometric ones read their matrix from ``op``/``arg``)."""
    if name in GEOMETRIC:
        return warp(x, affine_matrices(op, arg, x.shape[-2], x.shape[-1]))
    return COLOR_OPS[name](x, arg)


def _apply_gathered(x: torch.Tensor, op: torch.Tensor, arg: torch.Tensor) -> torch.Tensor:
    """One slot: each operation on the rows that drew it (host-side choices; for the CPU)."""
    for k in op.unique().tolist():
        if OPS[k] == "identity":
            continue
        sel = op == k
        if bool(sel.all()):
            x = _run(OPS[k], x, op, arg)
        else:
            rows = sel.nonzero().squeeze(1)
            x = x.index_put((rows,), _run(OPS[k], x[rows], op[rows], arg[rows]))
    return x


def _apply_masked(x: torch.Tensor, op: torch.Tensor, arg: torch.Tensor) -> torch.Tensor:
    """One slot: every operation on the whole batch, each image keeping its own (no host synchronisation)."""
    geometric = device_constant(tuple(OPS.index(k) for k in GEOMETRIC), x.device, torch.int64)
    geo = (op[:, None] == geometric).any(1).view(-1, 1, 1, 1)
    x = torch.where(geo, _run("rotate", x, op, arg), x)   # one warp: the matrices follow each image's op
    for name in COLOR_OPS:
        x = torch.where((op == OPS.index(name)).view(-1, 1, 1, 1), _run(name, x, op, arg), x)
    return x


_ENHANCE = tuple(OPS.index(k) for k in ("color", "contrast", "brightness", "sharpness"))


class RandAugment:
    """The RandAugment policy: ``n`` operations per image at magnitude ``m`` (0-30), each applied with
    probability ``p``. A transform ``t(image, generator)`` on one uint8 ``(C, H, W)`` image, and a batched
    :meth:`apply` for the device-resident path."""

    def __init__(self, n: int = 2, m: int = 9, p: float = 0.5) -> None:
        self.n = check_int("randaugment_n", n, minimum=1)
        self.m = check_int("randaugment_m", m, minimum=0, maximum=MAX_MAGNITUDE)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise SpherecodeError(f"Argument 'randaugment_p' must be a probability in [0, 1], not {p!r}.")
        self.p = float(p)
        magnitude, signed = op_arguments(self.m)
        self._magnitude, self._signed = torch.tensor(magnitude), torch.tensor(signed)

    def draws(self, g: torch.Generator, count: int) -> torch.Tensor:
        """``(count, n, 3)`` uniforms in [0, 1) from ``g``: operation, application and sign of each slot."""
        return torch.rand(count, self.n, 3, generator=g)

    def params(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ops (B, n) int64, args (B, n) float32)`` from the draws ``u`` (B, n, 3); a slot that is not
        applied becomes the identity."""
        ops = (u[..., 0] * len(OPS)).long().clamp_(max=len(OPS) - 1)
        ops = torch.where(u[..., 1] < self.p, ops, torch.zeros_like(ops))
        mag, signed = self._magnitude.to(u.device)[ops], self._signed.to(u.device)[ops]
        args = torch.where(signed & (u[..., 2] < 0.5), -mag, mag)
        enhance = torch.zeros_like(ops, dtype=torch.bool)
        for k in _ENHANCE:
            enhance |= ops == k
        return ops, torch.where(enhance, (1.0 + args).clamp_min(0.0), args)

    def apply(self, x: torch.Tensor, ops: torch.Tensor, args: torch.Tensor) -> torch.Tensor:
        """The operations ``ops`` (B, n) with arguments ``args`` applied in turn to uint8 images ``x`` (B, C, H, W).

        On an accelerator every operation runs on the whole batch and each image keeps its own result (no
        host synchronisation); on the CPU each operation runs only on the images that drew it."""
        if x.dtype != torch.uint8 or x.ndim != 4:
            raise SpherecodeError(f"RandAugment needs uint8 images (B, C, H, W), not {x.dtype} {tuple(x.shape)}.")
        ops, args = ops.to(x.device), args.to(x.device)
        for j in range(ops.shape[1]):
            x = (_apply_gathered if x.device.type == "cpu" else _apply_masked)(x, ops[:, j], args[:, j])
        return x

    def __call__(self, img: Image, g: torch.Generator) -> Image:
        if img.dtype != torch.uint8 or img.ndim != 3:
            raise SpherecodeError(f"RandAugment needs a uint8 image (C, H, W), not {img.dtype} {tuple(img.shape)}; "
                                  "place it before Normalize.")
        return self.apply(img[None], *self.params(self.draws(g, 1)))[0]

    def __repr__(self) -> str:
        return f"RandAugment(n={self.n}, m={self.m}, p={self.p})"


def with_randaugment(transform: Transform, policy: RandAugment) -> Compose:
    """``transform`` (a :class:`Compose` ending in :class:`Normalize`) with ``policy`` inserted before the
    normalisation, where the images are still uint8."""
    ts = transform.transforms if isinstance(transform, Compose) else None
    if not ts or not isinstance(ts[-1], Normalize):
        raise SpherecodeError(f"Argument '--randaugment-n': the training transform {transform!r} does not end in "
                              "Normalize, so RandAugment has no uint8 stage to act on.")
    return Compose([*ts[:-1], policy, ts[-1]])


__all__ = ["OPS", "GEOMETRIC", "MAX_MAGNITUDE", "RandAugment", "affine_matrices", "autocontrast", "brightness",
           "color", "contrast", "equalize", "op_arguments", "posterize", "sharpness", "solarize_u8", "warp",
           "with_randaugment"]

