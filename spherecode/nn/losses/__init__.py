"""Losses: supervised ones on head outputs (:mod:`.supervised`) and the self-supervised packing
losses on embeddings shaped (B images, V views, D features): Hypersolid, CLAMP, HyDeS.

:data:`SSL_LOSSES` maps each name used by ``spherecode pretrain --loss`` to its class.
"""

from __future__ import annotations

from .base import EmbeddingLoss
from .clamp import ClampLoss
from .hydes import HydesLoss
from .hypersolid import HypersolidLoss
from .supervised import SUPERVISED_LOSSES, mettes_loss, prototype_cross_entropy

#: ``--loss`` name -> loss class.
SSL_LOSSES: dict[str, type[EmbeddingLoss]] = {
    "hypersolid": HypersolidLoss,
    "clamp": ClampLoss,
    "hydes": HydesLoss,
}

__all__ = ["SSL_LOSSES", "SUPERVISED_LOSSES", "ClampLoss", "EmbeddingLoss", "HydesLoss", "HypersolidLoss",
           "mettes_loss", "prototype_cross_entropy"]
