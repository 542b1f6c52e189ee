r"""Self-supervised pretraining through the shared loop: :class:`PretrainTask` and its config.

The task plugs into :class:`~spherecode.train.loop.Trainer` like the supervised one: the loop
handles devices, DDP, mixed precision, the AdamW/SGD optimiser, the warm-up + cosine schedule,
checkpoints, ``--resume`` and ``metrics.jsonl``; the task supplies

- the model: a ResNet backbone and a projector MLP
  (``Linear-BN-ReLU`` x (``proj_layers`` - 1), then ``Linear`` to ``proj_dim``);
- multi-crop views (:mod:`spherecode.data.multicrop`; the ``cifar`` or ``imagenet`` preset from
  the data, crop sides scaled to the data's image size): with ``augment = "batched"`` (the
  default for images of one size: CIFAR, synthetic) the loader hands over the ``uint8`` images
  and :class:`~spherecode.data.multicrop_batched.BatchedMultiCrop` makes every view of the batch
  on the device in :meth:`PretrainTask.training_step`; with ``"per-sample"`` the loader workers do;
- the loss: Hypersolid, CLAMP or HyDeS on the (B, V, D) projector outputs, in float32 outside
  autocast, gathering across ranks (with gradient) under DDP;
- evaluation: weighted k-NN (k = 200, T = 0.1) on the frozen backbone's features of the train
  split (evaluation transform) against the test split, top-1 and top-5 (``val_top1``, ``val_top5``).

The config (:class:`~spherecode.train.pretrain_config.PretrainConfig`) has the sections
``[data] [model] [optim] [run] [ssl]`` and one per loss (``[hypersolid] [hydes] [clamp]``: exactly
that loss's arguments). Evaluation receives an :class:`~spherecode.train.task.EvalContext`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.multicrop import MULTICROP_PRESETS, group_views, multicrop_transform
from ..data.multicrop_batched import BatchedMultiCrop, KeyedImages
from ..errors import SpherecodeError, check_choice, check_int
from ..nn.backbones import ARCHS, resnet
from ..nn.losses import SSL_LOSSES, EmbeddingLoss
from .knn import knn_accuracy
from .pretrain_config import PretrainConfig, SSLConfig
from .task import EvalContext, StepOutput, Task, unwrap_model

if TYPE_CHECKING:
    from ..data.dataset import ImageDataset


def build_loss(config: PretrainConfig, gather: bool | None = None) -> EmbeddingLoss:
    """The configured loss module: its section's arguments, ``gather_distributed`` from ``[ssl] gather``
    and ``dim`` set to ``proj_dim`` (so a mismatch is caught)."""
    ssl = config.ssl
    check_choice("loss", ssl.loss, SSL_LOSSES)
    gather = ssl.gather if gather is None else gather
    return SSL_LOSSES[ssl.loss](**config.loss_arguments(), gather_distributed=gather, dim=ssl.proj_dim)


def projector(in_dim: int, hidden: int, out_dim: int, layers: int) -> nn.Sequential:
    """``(Linear-BN-ReLU) x (layers - 1)`` then ``Linear`` to ``out_dim``."""
    check_int("proj_layers", layers, minimum=1)
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


class SSLModel(nn.Module):
    """Backbone + projector. ``forward(views)`` maps a list of V view batches (B, C, h, w) to the
    (B, V, D) embeddings, running views of the same size in one pass; a single tensor gives (N, D)."""

    def __init__(self, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.backbone, self.projector = backbone, head

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's features (what the k-NN and the linear probe see)."""
        return self.backbone(x)

    def forward(self, views: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        if isinstance(views, torch.Tensor):
            return self.projector(self.backbone(views))
        b = views[0].shape[0]
        outs = []
        for start, stop in group_views(views):
            z = self.projector(self.backbone(torch.cat(list(views[start:stop]))))
            outs.append(z.view(stop - start, b, -1))
        return torch.cat(outs).transpose(0, 1)


class PretrainTask(Task):
    """Self-supervised pretraining with a packing loss (see the module docstring)."""

    name = "pretrain"
    config_type = PretrainConfig

    def __init__(self, config: PretrainConfig, train_set: ImageDataset, state: dict[str, Any] | None = None) -> None:
        super().__init__(config, train_set, state)  # type: ignore[arg-type]
        m, s = config.model, config.ssl
        check_choice("arch", m.arch, ARCHS)
        check_choice("views", s.views, ("auto", *MULTICROP_PRESETS))
        if s.n_local is not None:
            check_int("n_local", s.n_local, minimum=0)
        check_int("proj_dim", s.proj_dim, minimum=1)
        self.loss = build_loss(config)
        self.loss.equal_batches = True  # every rank's training batch has batch_size / W images (drop_last)
        if 2 + (s.n_local if s.n_local is not None else 6) < self.loss.min_views:
            raise SpherecodeError(f"Argument '--n-local' {s.n_local}: the loss needs at least {self.loss.min_views} views.")
        self.preset = (train_set.kind if train_set.kind in MULTICROP_PRESETS else "cifar") if s.views == "auto" else s.views
        self.batched = batched_augmentation(s.augment, train_set)
        self.augment = BatchedMultiCrop(*self._multicrop_args(train_set), seed=config.run.seed) if self.batched else None
        self._memory_loader: Any = None  # the k-NN memory's loader, built at the first evaluation and kept

    def _multicrop_args(self, base: ImageDataset) -> tuple[str, int | None, float | None]:
        """(preset, n_local, size_scale): crop sides scaled to the data's image size."""
        scale = base.image_size / MULTICROP_PRESETS[self.preset].global_crops[0].size
        return self.preset, self.config.ssl.n_local, None if scale == 1 else scale

    def build_model(self) -> nn.Module:
        m, s = self.config.model, self.config.ssl
        variant = self.train_set.kind if m.variant == "auto" else m.variant
        backbone = resnet(m.arch, variant=variant, width=m.width, norm=m.norm)
        return SSLModel(backbone, projector(backbone.out_dim, s.proj_hidden, s.proj_dim, s.proj_layers))

    def train_dataset(self, base: ImageDataset) -> Dataset:
        from ..data.dataset import AugmentedDataset

        if self.batched:
            return KeyedImages(base)  # uint8 images and (index, epoch) keys; the views are made on the device
        return AugmentedDataset(base, multicrop_transform(*self._multicrop_args(base)), seed=self.config.run.seed)

    def training_step(self, model: nn.Module, batch: Any) -> StepOutput:
        views, keys = batch
        if self.augment is not None:
            views = self.augment(views, keys[:, 0], keys[:, 1])
            if self.config.run.channels_last and views[0].device.type == "cuda":
                views = [v.contiguous(memory_format=torch.channels_last) for v in views]
        z = model(list(views))
        with torch.autocast(device_type=z.device.type, enabled=False):
            loss = self.loss(z.float())
        n = float(z.shape[0])
        sums: dict[str, torch.Tensor | float] = {"loss": loss.detach() * n, "count": n}
        sums.update({k: v * n for k, v in self.loss.terms.items()})
        return StepOutput(loss, sums)

    def evaluate(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        """k-NN top-1/top-5 of the frozen backbone: train split (eval transform) vs the test split.

        Each rank embeds only its shard of both splits and keeps the features on its device; the
        k-NN gathers only each shard's top-k candidates (:func:`~spherecode.train.knn.knn_predict`
        with ``sharded=True``). The memory loader is built once and kept (no new workers per evaluation).
        """
        if ctx.eval_set is None or ctx.loader is None or ctx.make_loader is None:
            return {}
        net = unwrap_model(model)
        if self._memory_loader is None:
            self._memory_loader = ctx.make_loader(self.train_set)
        train_x, train_y = backbone_features(net, self._memory_loader, ctx, "k-NN memory (training set)")
        test_x, test_y = backbone_features(net, ctx.loader, ctx, "k-NN queries (held-out set)")
        s = self.config.ssl
        return knn_accuracy(train_x, train_y, test_x, test_y, k=s.knn_k, temperature=s.knn_temperature,
                            num_classes=self.train_set.num_classes, sharded=ctx.dist.enabled)


AUGMENT_MODES = ("auto", "batched", "per-sample")


def batched_augmentation(mode: str, train_set: ImageDataset) -> bool:
    """Whether ``[ssl] augment = mode`` makes the views on the device for ``train_set``."""
    check_choice("augment", mode, AUGMENT_MODES)
    same_size = train_set.kind == "cifar"  # CIFAR and synthetic: one image size; folders: any size
    if mode == "batched" and not same_size:
        raise SpherecodeError(f"Argument '--augment' batched needs images of one size (cifar100, synthetic); "
                              f"'{train_set.source or train_set.kind}' has images of any size: use --augment per-sample or auto.")
    return mode == "batched" or (mode == "auto" and same_size)


def backbone_features(model: nn.Module, loader: Any, ctx: EvalContext, label: str = "features") -> tuple[torch.Tensor, torch.Tensor]:
    """Backbone features of every ``(image, label)`` batch of ``loader`` (batches on ``ctx.device``), kept there;
    progress on stderr under ``label`` when ``ctx.progress``."""
    from .knn import extract_features

    features = model.features if hasattr(model, "features") else model
    with ctx.autocast():
        return extract_features(_Call(features), loader, ctx.device, keep_on_device=True,
                                progress=label if ctx.progress else None)


class _Call(nn.Module):
    """Wrap a callable as a module (so that :func:`extract_features` can switch eval mode on its owner)."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn
        self.owner = getattr(fn, "__self__", None)

    def train(self, mode: bool = True) -> _Call:
        if isinstance(self.owner, nn.Module):
            self.owner.train(mode)
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


__all__ = ["PretrainConfig", "PretrainTask", "SSLConfig", "SSLModel", "build_loss", "projector"]
