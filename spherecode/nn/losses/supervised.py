r"""Supervised losses on head outputs.

- Cross-entropy on the prototype (or linear) logits with label smoothing :math:`\varepsilon`:
  :math:`-\sum_i q_i \log p(i \mid z)` with :math:`q = (1-\varepsilon)\,e_y + \varepsilon/N`.
- Mettes et al. (2019): :math:`(1 - \cos(z, c_y))^2`, averaged over the batch.

Examples:
    >>> import torch
    >>> mettes_loss(torch.tensor([[1.0, 0.0], [0.0, 0.5]]), torch.tensor([0, 1]))
    tensor(0.1250)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def prototype_cross_entropy(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` (B, N) against class indices, with label smoothing."""
    return F.cross_entropy(logits.float(), target, label_smoothing=label_smoothing)


def mettes_loss(cosines: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Mean of :math:`(1 - \langle z, c_y\rangle)^2` given the cosines (B, N) to every prototype."""
    cos_y = cosines.float().gather(1, target.view(-1, 1)).squeeze(1)
    return (1.0 - cos_y).pow(2).mean()


#: Supervised loss names for the config: "ce" works with both heads, "mettes" needs prototypes.
SUPERVISED_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "ce": prototype_cross_entropy,
    "mettes": mettes_loss,
}
