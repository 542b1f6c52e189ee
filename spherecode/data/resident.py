r"""The device-resident pipeline for small in-memory images (CIFAR): one ``uint8`` tensor on the
training device, whole batches augmented there.

The way the fastest CIFAR trainers feed a GPU: the 50,000 x 3 x 32 x 32 training images (150 MB)
live on the device; each step gathers a batch by index and applies the standard augmentation to
the whole batch at once, with no worker process and no per-sample Python:

- random crop with zero padding :math:`p`: pad to :math:`(H + 2p)`, take the ``size`` x ``size``
  window at offset :math:`(t, l) \in [0, H + 2p - \mathrm{size}]^2`;
- horizontal flip with probability :math:`q`;

both as one gather over the batch (:func:`crop_flip`), then ``(x / 255 - mean) / std`` in float32.

Randomness: for epoch :math:`e` a CPU ``torch.Generator`` seeded from ``(seed, e)`` draws every
sample's offsets and flip (indexed by the sample, not its position), and they are moved to the
device. The stream is therefore the same on any device, with any batch size, number of ranks, or
after ``--resume``. The order of the samples is the :class:`~spherecode.data.loader.ShardedSampler`'s
(the same permutation as the per-sample path). ImageNet-style folders keep the per-sample path.

Examples:
    >>> import torch
    >>> x = torch.arange(2 * 1 * 3 * 3, dtype=torch.uint8).view(2, 1, 3, 3)
    >>> crop_flip(x, torch.tensor([1, 0]), torch.tensor([1, 2]), torch.tensor([False, True]), size=3, padding=1)[1, 0]
    tensor([[ 0,  0,  0],
            [ 0, 11, 10],
            [ 0, 14, 13]], dtype=torch.uint8)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import SpherecodeError
from .dataset import ImageDataset, sample_seed
from .loader import DeviceNormalize, ShardedSampler
from .randaugment import RandAugment
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, Transform

#: Largest dataset materialised as one tensor when it has no ``images`` tensor of its own (bytes).
MAX_BYTES = 4 * 2**30


def crop_flip(images: torch.Tensor, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor,
              size: int, padding: int) -> torch.Tensor:
    """Batched random crop with zero padding and horizontal flip.

    ``images`` (B, C, H, W) any dtype; ``top``/``left`` (B,) offsets into the padded image;
    ``flip`` (B,) bool. Row ``b`` equals ``RandomCrop(size, padding)`` at ``(top[b], left[b])``
    followed by a left-right flip where ``flip[b]``.
    """
    padded = F.pad(images, (padding,) * 4) if padding else images
    return crop_flip_padded(padded, top, left, flip, size)


def crop_flip_padded(padded: torch.Tensor, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor,
                     size: int) -> torch.Tensor:
    """:func:`crop_flip` on already padded images, as one ``gather``: output pixel ``(r, s)`` of row ``b``
    reads padded pixel ``(top[b] + r, left[b] + s)``, or ``left[b] + size - 1 - s`` where flipped."""
    b, c, hp, wp = padded.shape
    dev = padded.device
    ar = torch.arange(size, device=dev)
    rows = top.to(dev).view(-1, 1) + ar                                                  # (B, size)
    cols = left.to(dev).view(-1, 1) + torch.where(flip.to(dev).view(-1, 1), size - 1 - ar, ar)
    index = (rows.view(b, size, 1) * wp + cols.view(b, 1, size)).view(b, 1, size * size).expand(b, c, size * size)
    return padded.reshape(b, c, hp * wp).gather(2, index).view(b, c, size, size)


def dataset_tensors(base: ImageDataset) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images uint8 (n, C, H, W), labels int64 (n,))`` of a dataset whose images all have one size."""
    images = getattr(base, "images", None)
    if not (isinstance(images, torch.Tensor) and images.dtype == torch.uint8 and images.ndim == 4
            and len(images) == len(base)):
        first = base.image(0) if len(base) else torch.zeros(3, base.image_size, base.image_size, dtype=torch.uint8)
        if first.numel() * len(base) > MAX_BYTES:
            raise SpherecodeError(f"Argument '--pipeline' device: the dataset '{base.source}' is too large to hold "
                                  "as one tensor; use --pipeline workers.")
        items = [base.image(i) for i in range(len(base))]
        if any(t.shape != first.shape or t.dtype != torch.uint8 for t in items):
            raise SpherecodeError(f"Argument '--pipeline' device: the images of '{base.source}' differ in size or are "
                                  "not uint8; use --pipeline workers.")
        images = torch.stack(items) if items else first[None][:0]
    return images.contiguous(), torch.as_tensor(base.labels, dtype=torch.int64)


def resident_augmentation(transform: Transform) -> dict[str, Any] | None:
    """The settings of a transform the resident path reproduces, or ``None``.

    ``Compose([RandomCrop, RandomHorizontalFlip, Normalize])`` (the CIFAR training recipe; with a
    :class:`~spherecode.data.randaugment.RandAugment` before ``Normalize`` or not) and
    ``Compose([Normalize])`` (evaluation) qualify.
    """
    ts = transform.transforms if isinstance(transform, Compose) else None
    if not ts or not isinstance(ts[-1], Normalize):
        return None
    kinds = [type(t) for t in ts[:-1]]
    if kinds == []:
        return {"crop": None, "padding": 0, "flip": 0.0, "normalize": ts[-1]}
    if kinds[:2] == [RandomCrop, RandomHorizontalFlip] and kinds[2:] in ([], [RandAugment]):
        return {"crop": ts[0].size, "padding": ts[0].padding, "flip": float(ts[1].p), "normalize": ts[-1],
                "randaugment": ts[2] if len(kinds) == 3 else None}
    return None


class ResidentLoader:
    """Batches of ``(images, labels)`` from a dataset held as one tensor on ``device``.

    Args:
        images, labels: the whole dataset (``uint8`` images; moved to ``device`` once).
        batch_size: this rank's batch.
        device: where images live and batches are made.
        shuffle, seed, rank, world_size, drop_last, pad: as :func:`~spherecode.data.loader.make_loader`.
        crop, padding, flip: the augmentation (``crop=None``: none; evaluation).
        randaugment: a :class:`~spherecode.data.randaugment.RandAugment` applied after the crop/flip.
        normalize: the :class:`~spherecode.data.transforms.Normalize` to apply on the device.
        channels_last: return channels_last batches.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, device: torch.device, *,
                 shuffle: bool, seed: int = 0, rank: int = 0, world_size: int = 1, drop_last: bool = False,
                 pad: bool = True, crop: int | None = None, padding: int = 0, flip: float = 0.0,
                 randaugment: RandAugment | None = None, normalize: Normalize | None = None,
                 channels_last: bool = False) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise SpherecodeError(f"ResidentLoader needs uint8 images (n, C, H, W), not {images.dtype} {tuple(images.shape)}.")
        if crop is not None and crop > images.shape[-1] + 2 * padding:
            raise SpherecodeError(f"ResidentLoader: crop {crop} exceeds the padded image {images.shape[-1] + 2 * padding}.")
        # with a crop, the padded images are kept (padded once, not at every batch)
        self.images = (F.pad(images, (padding,) * 4) if crop is not None and padding else images).to(device)
        self.side = images.shape[-1]
        self.labels = labels.to(device)
        self.batch_size, self.device, self.seed, self.drop_last = batch_size, device, seed, drop_last
        self.crop, self.padding, self.flip, self.channels_last = crop, padding, flip, channels_last
        self.randaugment = randaugment
        self.normalize = DeviceNormalize(normalize, device) if normalize is not None else None
        self.sampler = ShardedSampler(len(images), shuffle=shuffle, seed=seed, rank=rank, world_size=world_size,
                                      drop_last=drop_last, pad=pad)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def augmentation(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every sample's ``(top, left, flip)`` for ``epoch``, drawn on the CPU from ``(seed, epoch)``."""
        n = len(self.images)
        g = torch.Generator().manual_seed(sample_seed(self.seed, epoch, 2**40))
        span = self.side + 2 * self.padding - (self.crop or 0)
        top = torch.randint(0, span + 1, (n,), generator=g)
        left = torch.randint(0, span + 1, (n,), generator=g)
        flip = torch.rand(n, generator=g) < self.flip
        return top.to(self.device), left.to(self.device), flip.to(self.device)

    def randaugment_params(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every sample's RandAugment ``(ops, args)`` for ``epoch``, drawn on the CPU from ``(seed, epoch)``
        (a stream of its own, so the crops are the same with RandAugment on or off)."""
        assert self.randaugment is not None
        g = torch.Generator().manual_seed(sample_seed(self.seed, epoch, 2**40 + 1))
        ops, args = self.randaugment.params(self.randaugment.draws(g, len(self.images)))
        return ops.to(self.device), args.to(self.device)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.as_tensor(self.sampler.indices(), dtype=torch.int64)
        if self.drop_last:
            order = order[: len(order) - len(order) % self.batch_size]
        order = order.to(self.device)
        aug = self.augmentation(self.sampler.epoch) if self.crop is not None else None
        ra = self.randaugment_params(self.sampler.epoch) if self.randaugment is not None else None
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            x = self.images.index_select(0, idx)
            if aug is not None:
                x = crop_flip_padded(x, aug[0][idx], aug[1][idx], aug[2][idx], self.crop)  # type: ignore[arg-type]
            if ra is not None:
                x = self.randaugment.apply(x, ra[0][idx], ra[1][idx])  # type: ignore[union-attr]
            if self.normalize is not None:
                x = self.normalize(x)
            if self.channels_last and x.is_floating_point():
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels.index_select(0, idx)


def resident_loader(base: ImageDataset, transform: Transform, batch_size: int, device: torch.device,
                    **kwargs: Any) -> ResidentLoader | None:
    """A :class:`ResidentLoader` reproducing ``transform`` on ``base``, or ``None`` when the resident path
    does not apply (not CIFAR-style in-memory data, or an augmentation it does not implement)."""
    spec = resident_augmentation(transform)
    if spec is None or base.kind != "cifar" or len(base) == 0:
        return None
    try:
        images, labels = dataset_tensors(base)
    except SpherecodeError:
        return None  # images of several sizes or too many: the per-sample path serves them
    return ResidentLoader(images, labels, batch_size, device, crop=spec["crop"], padding=spec["padding"],
                          flip=spec["flip"], randaugment=spec.get("randaugment"), normalize=spec["normalize"], **kwargs)
