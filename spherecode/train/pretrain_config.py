r"""Configuration of self-supervised pretraining (no torch import: the command line builds its flags from it).

A :class:`~spherecode.train.config.TrainConfig`-style dataclass with the sections
``[data] [model] [optim] [run] [ssl]`` and one section per loss, ``[hypersolid] [hydes] [clamp]``,
whose fields are exactly that loss's constructor arguments (besides ``gather_distributed``, from
``[ssl] gather``, and ``dim``, from ``[ssl] proj_dim``); only the section of ``[ssl] loss`` is used.
Their flags carry the section's name: ``--hydes-alpha``, ``--hypersolid-block-size``, ``--clamp-scale``.
The supervised-only fields (head, codebook, temperature, relabelling, supervised loss, label
smoothing) are absent, so that ``--loss`` names the self-supervised loss. Defaults: AdamW, lr 1e-3,
weight decay 1e-4, no warm-up, ``[run] task = "pretrain"``, k-NN evaluation every 5
epochs and after the last (``eval_every = 5``).

Examples:
    >>> from spherecode.train.config import override
    >>> cfg = override(PretrainConfig(), {"loss": "hydes", "hydes_alpha": 0.5, "epochs": 3})
    >>> cfg.ssl.loss, cfg.hydes.alpha, cfg.run.task, cfg.optim.optimizer, cfg.optim.lr
    ('hydes', 0.5, 'pretrain', 'adamw', 0.001)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .config import CommonOptimConfig, DataConfig, EncoderConfig, RunConfig, _f


@dataclass
class PretrainOptimConfig(CommonOptimConfig):
    """The shared optimiser settings with the pretraining defaults (AdamW, lr 1e-3, weight decay 1e-4)."""

    optimizer: str = _f("adamw", "sgd (momentum) | adamw | lars (large batches)", choices=("sgd", "adamw", "lars"))
    lr: float = _f(1e-3, "peak learning rate (per global batch)", positive=True)
    weight_decay: float = _f(1e-4, "weight decay (decoupled for AdamW)", min=0.0)


@dataclass
class PretrainRunConfig(RunConfig):
    task: str = _f("pretrain", "what to train: pretrain (self-supervised, a [ssl] section; `spherecode train` for "
                   "supervised runs)", choices=("pretrain",))
    # k-NN evaluation every 5 epochs and always after the last one (it embeds both splits)
    eval_every: int = _f(5, "evaluate (k-NN) every this many epochs and at the end (0: never)", min=0)


@dataclass
class SSLConfig:
    loss: str = _f("hypersolid", "self-supervised loss: hypersolid | clamp | hydes (settings in its own section)",
                   flag="--loss", choices=("hypersolid", "clamp", "hydes"))
    views: str = _f("auto", "multi-crop recipe: cifar | imagenet | auto (from the data)")
    n_local: int | None = _f(None, "local crops per image (default: the recipe's 6); views = 2 + n_local", min=0)
    augment: str = _f("auto", "multi-crop on: batched (whole batches on the device) | per-sample (loader workers) "
                              "| auto (batched when the images share one size: cifar100, synthetic)",
                      choices=("auto", "batched", "per-sample"))
    proj_hidden: int = _f(2048, "projector hidden width", min=1)
    proj_dim: int = _f(256, "projector output dimension D (the embedding the loss sees)", min=1)
    proj_layers: int = _f(3, "projector linear layers (>= 1)", min=1)
    gather: bool = _f(True, "under DDP, gather every rank's embeddings (with gradient) for the pairwise terms")
    knn_k: int = _f(200, "neighbours of the k-NN evaluation", min=1)
    knn_temperature: float = _f(0.1, "temperature of the k-NN vote weights exp(cos / T)", positive=True)


@dataclass
class HypersolidConfig:
    """:class:`~spherecode.nn.losses.HypersolidLoss`'s arguments."""

    QUALIFIED: ClassVar[bool] = True
    alpha: float = _f(0.9, "Hypersolid cosine cutoff of the repulsion (0 <= alpha < 1)", min=0.0)
    norm_weight: float = _f(1e-6, "Hypersolid weight of the norm term", min=0.0)
    block_size: int | None = _f(1024, "Hypersolid row block of the pairwise terms (absent: dense)", min=1)


@dataclass
class HydesConfig:
    """:class:`~spherecode.nn.losses.HydesLoss`'s arguments."""

    QUALIFIED: ClassVar[bool] = True
    kappa: float = _f(10.0, "HyDeS vMF concentration", positive=True)
    alpha: float = _f(1.0, "HyDeS weight of H_global", min=0.0)
    beta: float = _f(1.0, "HyDeS weight of H_local", min=0.0)
    block_size: int | None = _f(1024, "HyDeS row block of the pairwise terms (absent: dense)", min=1)


@dataclass
class ClampConfig:
    """:class:`~spherecode.nn.losses.ClampLoss`'s arguments."""

    QUALIFIED: ClassVar[bool] = True
    scale: float = _f(8.0, "CLAMP radius scale r_s", positive=True)
    power: float = _f(2.0, "CLAMP overlap exponent p", positive=True)
    max_range: float = _f(1.5, "CLAMP largest centroid distance with overlap", positive=True)
    min_distance: float = _f(1e-3, "CLAMP smallest centroid distance (clamped below)", min=0.0)
    eps: float = _f(1e-6, "CLAMP numerical floor", positive=True)


#: Loss name -> the config section holding its arguments (the section's name is the loss's).
LOSS_SECTIONS: dict[str, type] = {"hypersolid": HypersolidConfig, "hydes": HydesConfig, "clamp": ClampConfig}


@dataclass
class PretrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: EncoderConfig = field(default_factory=EncoderConfig)
    optim: PretrainOptimConfig = field(default_factory=PretrainOptimConfig)
    run: PretrainRunConfig = field(default_factory=PretrainRunConfig)
    ssl: SSLConfig = field(default_factory=SSLConfig)
    hypersolid: HypersolidConfig = field(default_factory=HypersolidConfig)
    hydes: HydesConfig = field(default_factory=HydesConfig)
    clamp: ClampConfig = field(default_factory=ClampConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def loss_arguments(self) -> dict[str, Any]:
        """The chosen loss's constructor arguments (its section as a dict)."""
        return dataclasses.asdict(getattr(self, self.ssl.loss))
