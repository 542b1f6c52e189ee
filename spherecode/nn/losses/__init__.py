"""Self-supervised packing losses on embeddings shaped (B images, V views, D features).

A registry maps each name used by ``spherecode pretrain --loss`` to its class.
"""

from __future__ import annotations

from .base import EmbeddingLoss
from .clamp import ClampLoss
from .hydes import HydesLoss
from .hypersolid import HypersolidLoss

#: ``--loss`` name -> loss class.
SSL_LOSSES: dict[str, type[EmbeddingLoss]] = {
    "hypersolid": HypersolidLoss,
    "clamp": ClampLoss,
    "hydes": HydesLoss,
}

__all__ = ["SSL_LOSSES", "ClampLoss", "EmbeddingLoss", "HydesLoss", "HypersolidLoss"]
