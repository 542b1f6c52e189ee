r"""Configuration of self-supervised pretraining (no torch import: the command line builds its flags from it).

A :class:`~spherecode.train.config.TrainConfig`-style dataclass with the sections
``[data] [model] [optim] [run] [ssl]``: the supervised-only fields (head, codebook, temperature,
relabelling, supervised loss, label smoothing) are left out, so that ``--loss`` names the
self-supervised loss. Defaults: AdamW, lr 1e-3, weight decay 1e-4, no warm-up, ``[run] task =
"pretrain"``, k-NN evaluation every 5 epochs and after the last (``eval_every = 5``).

Examples:
    >>> from spherecode.train.config import override
    >>> cfg = override(PretrainConfig(), {"loss": "hydes", "epochs": 3})
    >>> cfg.ssl.loss, cfg.run.task, cfg.optim.optimizer, cfg.optim.lr
    ('hydes', 'pretrain', 'adamw', 0.001)
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import DataConfig, ModelConfig, OptimConfig, RunConfig, _f


def _section(cls: type, name: str, drop: Sequence[str] = (), defaults: dict[str, Any] | None = None) -> type:
    """A copy of config section ``cls`` without the fields ``drop`` and with new ``defaults``."""
    hints = typing.get_type_hints(cls)
    defaults = defaults or {}
    specs = []
    for f in dataclasses.fields(cls):
        if f.name in drop:
            continue
        if f.name in defaults:
            new = field(default=defaults[f.name], metadata=f.metadata)
        elif f.default is not dataclasses.MISSING:
            new = field(default=f.default, metadata=f.metadata)
        else:
            new = field(default_factory=f.default_factory, metadata=f.metadata)  # type: ignore[arg-type]
        specs.append((f.name, hints[f.name], new))
    cls_new = dataclasses.make_dataclass(name, specs)
    cls_new.__module__ = __name__
    return cls_new


EncoderConfig = _section(ModelConfig, "EncoderConfig", drop=("head", "codebook", "temperature", "relabelling",
                                                             "relabel_penalty", "dim"))
PretrainOptimConfig = _section(OptimConfig, "PretrainOptimConfig", drop=("loss", "label_smoothing"),
                               defaults={"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-4})
# k-NN evaluation every 5 epochs and always after the last one (it embeds both splits)
PretrainRunConfig = _section(RunConfig, "PretrainRunConfig", defaults={"task": "pretrain", "eval_every": 5})


@dataclass
class SSLConfig:
    loss: str = _f("hypersolid", "self-supervised loss: hypersolid | clamp | hydes", flag="--loss")
    views: str = _f("auto", "multi-crop recipe: cifar | imagenet | auto (from the data)")
    n_local: int | None = _f(None, "local crops per image (default: the recipe's 6); views = 2 + n_local")
    augment: str = _f("auto", "multi-crop on: batched (whole batches on the device) | per-sample (loader workers) "
                              "| auto (batched when the images share one size: cifar100, synthetic)")
    proj_hidden: int = _f(2048, "projector hidden width")
    proj_dim: int = _f(256, "projector output dimension D (the embedding the loss sees)")
    proj_layers: int = _f(3, "projector linear layers (>= 1)")
    alpha: float = _f(0.9, "Hypersolid cosine cutoff of the repulsion")
    norm_weight: float = _f(1e-6, "Hypersolid weight of the norm term")
    kappa: float = _f(10.0, "HyDeS vMF concentration")
    global_weight: float = _f(1.0, "HyDeS weight alpha of H_global")
    local_weight: float = _f(1.0, "HyDeS weight beta of H_local")
    clamp_scale: float = _f(8.0, "CLAMP radius scale r_s")
    clamp_power: float = _f(2.0, "CLAMP overlap exponent p")
    block_size: int | None = _f(1024, "row block of the pairwise terms (Hypersolid, HyDeS); absent: dense")
    gather: bool = _f(True, "under DDP, gather every rank's embeddings (with gradient) for the pairwise terms")
    knn_k: int = _f(200, "neighbours of the k-NN evaluation")
    knn_temperature: float = _f(0.1, "temperature of the k-NN vote weights exp(cos / T)")


@dataclass
class PretrainConfig:
    data: DataConfig = field(default_factory=DataConfig)  # type: ignore[valid-type]
    model: EncoderConfig = field(default_factory=EncoderConfig)  # type: ignore[valid-type]
    optim: PretrainOptimConfig = field(default_factory=PretrainOptimConfig)  # type: ignore[valid-type]
    run: PretrainRunConfig = field(default_factory=PretrainRunConfig)  # type: ignore[valid-type]
    ssl: SSLConfig = field(default_factory=SSLConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
