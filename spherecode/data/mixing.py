r"""Mixup and CutMix of a batch, on its device (Zhang et al. 2018; Yun et al. 2019).

With :math:`\lambda \sim \mathrm{Beta}(a, a)` and a permutation :math:`\pi` of the batch:

- mixup: :math:`\tilde x_b = \lambda x_b + (1 - \lambda) x_{\pi(b)}`;
- CutMix: a box of area :math:`(1 - \lambda) H W` (centre uniform, clipped to the image) of
  :math:`x_b` is replaced by the same box of :math:`x_{\pi(b)}`, and :math:`\lambda` becomes the
  kept fraction of the area;

and the loss is :math:`\lambda\,\ell(\tilde x_b, y_b) + (1 - \lambda)\,\ell(\tilde x_b, y_{\pi(b)})`.
With both on, each batch uses one of them with probability 1/2 (as timm does). The draws (λ, π,
the box, the choice) come from the given CPU generator, so a run is reproducible and resumes
exactly; π and the box are then moved to the batch's device.

Examples:
    >>> import torch
    >>> x = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])
    >>> mixed, y2, lam = mix_batch(x, torch.tensor([0, 1]), 1.0, 0.0, torch.Generator().manual_seed(0))
    >>> bool(torch.allclose(mixed[0], (1 - lam) * torch.ones(1, 2, 2)))
    True
"""

from __future__ import annotations

import math

import torch

from ..errors import SpherecodeError


def _beta(alpha: float, g: torch.Generator) -> float:
    """A Beta(alpha, alpha) draw from two Gamma draws made with ``g`` (torch's Beta takes no generator)."""
    u = torch._standard_gamma(torch.tensor([alpha, alpha], dtype=torch.float64), generator=g)
    return float(u[0] / (u[0] + u[1]))


def cutmix_box(h: int, w: int, lam: float, g: torch.Generator) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of a box of about ``(1 - lam) h w`` pixels, centre uniform, clipped."""
    ratio = math.sqrt(1.0 - lam)
    ch, cw = int(h * ratio), int(w * ratio)
    cy, cx = int(torch.randint(0, h, (), generator=g)), int(torch.randint(0, w, (), generator=g))
    return max(cy - ch // 2, 0), min(cy + ch // 2, h), max(cx - cw // 2, 0), min(cx + cw // 2, w)


def mix_batch(x: torch.Tensor, y: torch.Tensor, mixup_alpha: float, cutmix_alpha: float,
              g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """``(mixed images, partner labels y[pi], lambda)`` for a batch ``x`` (B, C, H, W), labels ``y``."""
    if mixup_alpha < 0 or cutmix_alpha < 0 or not (mixup_alpha > 0 or cutmix_alpha > 0):
        raise SpherecodeError(f"mix_batch needs a positive mixup or cutmix alpha, not {mixup_alpha}, {cutmix_alpha}.")
    use_cutmix = cutmix_alpha > 0 and (mixup_alpha <= 0 or float(torch.rand((), generator=g)) < 0.5)
    lam = _beta(cutmix_alpha if use_cutmix else mixup_alpha, g)
    perm = torch.randperm(x.shape[0], generator=g).to(x.device)
    if use_cutmix:
        h, w = x.shape[-2:]
        top, bottom, left, right = cutmix_box(h, w, lam, g)
        mixed = x.clone()
        mixed[..., top:bottom, left:right] = x[perm][..., top:bottom, left:right]
        lam = 1.0 - (bottom - top) * (right - left) / (h * w)
    else:
        mixed = x * lam + x[perm] * (1.0 - lam)
    return mixed, y[perm], lam
