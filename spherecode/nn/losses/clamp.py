r"""CLAMP (Zhang, Heeger & Martiniani, arXiv 2506.13717): pack the views' spheres like soft particles.

Defaults read from the public code. With raw embeddings :math:`z\in\mathbb{R}^{B\times V\times D}`:

1. centre and project: :math:`x_{iv} = (z_{iv}-\bar z)/\|z_{iv}-\bar z\|`, :math:`\bar z` the mean
   over all :math:`BV` embeddings;
2. centroid :math:`c_i = \frac1V\sum_v x_{iv}` and radius
   :math:`r_i = r_s\sqrt{\sum_v\|x_{iv}-c_i\|^2/(V-1)/\min(D,V)}`;
3. pair range :math:`S_{ij}=\min(r_i+r_j, 1.5)`, distance :math:`d_{ij}=\|c_i-c_j\|`;
4. energy over overlapping pairs :math:`E=\tfrac12\sum_{i\ne j,\ 10^{-3}<d_{ij}<S_{ij}}(1-d_{ij}/S_{ij})^p`
   (:math:`p = 2`: harmonic), and the loss :math:`\log(E + 10^{-6})`.

There is no separate alignment term: shrinking the radii lowers the overlap. The pairwise terms are
over images (B x B), not views, so they stay small.

Examples
--------
>>> import torch
>>> z = torch.randn(16, 4, 8, generator=torch.Generator().manual_seed(0))
>>> loss = ClampLoss(scale=8.0)
>>> value = loss(z)
>>> sorted(loss.terms)
['energy', 'mean_radius', 'overlapping_pairs']
>>> abs(float(value) - torch.log(loss.terms["energy"] + 1e-6).item()) < 1e-5
True
"""

from __future__ import annotations

import math

import torch

from ...errors import SpherecodeError
from .base import EmbeddingLoss
from .hypersolid import _diagonal_mask


class ClampLoss(EmbeddingLoss):
    r"""CLAMP's log overlap energy of the views' spheres (see the module docstring).

    Parameters
    ----------
    scale:
        Radius scale :math:`r_s` (the public code uses about 7 to 8.5; default 8.0).
    power:
        Exponent :math:`p` of the soft overlap (2: harmonic).
    max_range:
        Cap on the pair range :math:`S_{ij}` (1.5).
    min_distance:
        Pairs closer than this are skipped (1e-3).
    eps:
        Added to the energy inside the log (1e-6).
    gather_distributed:
        Gather the centroids and radii of every rank (with gradient); this rank's images are the
        rows, all images the columns, and the energy is summed over ranks before the log.

    ``terms`` after a call: ``energy``, ``mean_radius`` and ``overlapping_pairs`` (ordered pairs).
    """

    def __init__(self, scale: float = 8.0, power: float = 2.0, max_range: float = 1.5, min_distance: float = 1e-3,
                 eps: float = 1e-6, gather_distributed: bool = False, *, dim: int | None = None) -> None:
        super().__init__(gather_distributed=gather_distributed, dim=dim)
        for name, value in (("scale", scale), ("power", power), ("max_range", max_range), ("eps", eps)):
            if not (math.isfinite(float(value)) and float(value) > 0):
                raise SpherecodeError(f"Argument '{name}' must be a positive number, not {value!r}.")
        if not float(min_distance) >= 0:
            raise SpherecodeError(f"Argument 'min_distance' must be >= 0, not {min_distance!r}.")
        self.scale, self.power, self.max_range = float(scale), float(power), float(max_range)
        self.min_distance, self.eps = float(min_distance), float(eps)

    def compute(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        b, v, d = z.shape
        flat = z.reshape(b * v, d)
        everything, _ = self.gather(flat)
        x = flat - everything.mean(dim=0)
        x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        x = x.reshape(b, v, d)
        c = x.mean(dim=1)                                                   # (B, D)
        spread = ((x - c[:, None, :]) ** 2).sum(dim=(1, 2)) / (v - 1) / min(d, v)
        r = self.scale * spread.clamp_min(1e-24).sqrt()                    # (B,)

        cr, offset = self.gather(torch.cat([c, r[:, None]], dim=1))
        c_all, r_all = cr[:, :d], cr[:, d]
        sq = (c * c).sum(-1)[:, None] + (c_all * c_all).sum(-1)[None, :] - 2.0 * c @ c_all.T
        s_range = (r[:, None] + r_all[None, :]).clamp(max=self.max_range)
        own = _diagonal_mask(b, c_all.shape[0], offset, z.device)
        # a pair counts when min_distance < d < S (checked on squared distances, then sqrt where safe)
        active = (sq > self.min_distance ** 2) & (sq < s_range ** 2) & ~own
        dist = torch.where(active, sq, torch.ones_like(sq)).sqrt()
        overlap = torch.where(active, (1.0 - dist / s_range).clamp_min(0.0) ** self.power, torch.zeros_like(sq))
        energy_here = 0.5 * overlap.sum()
        energies, _ = self.gather(energy_here.reshape(1), equal_sizes=True)
        energy = energies.sum()
        loss = torch.log(energy + self.eps)
        pairs, _ = self.gather(active.sum().reshape(1).to(z.dtype), equal_sizes=True)
        return loss, {"energy": energy, "mean_radius": r.mean(), "overlapping_pairs": pairs.sum()}
