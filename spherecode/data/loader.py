r"""Data loaders: a rank-aware sampler that yields ``(index, epoch)`` keys, the loader factory, and
:class:`DeviceLoader`, which moves a loader's batches to the training device as ``uint8`` and
normalises them there (4x fewer bytes than float32; :func:`split_normalize` takes the final
:class:`~spherecode.data.transforms.Normalize` off a per-sample transform for that).
The GPU-resident CIFAR path is :mod:`spherecode.data.resident`.

:class:`ShardedSampler` permutes ``range(n)`` with a generator seeded by ``seed + epoch`` (the
same permutation on every rank, as :class:`torch.utils.data.DistributedSampler` does) and gives
rank ``r`` of ``W`` the positions ``r, r + W, r + 2W, ...``. With a per-rank batch of ``B / W``,
the union over ranks of the ``k``-th batches is exactly the ``k``-th global batch of ``B`` that a
single process sees, so a DDP run and a single-process run with the same global batch train on
the same samples in each step.

Examples:
    >>> s = ShardedSampler(6, shuffle=False, rank=1, world_size=2)
    >>> list(s)
    [(1, 0), (3, 0), (5, 0)]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .transforms import Compose, Normalize, Transform


class ShardedSampler(Sampler):
    """Yields ``(index, epoch)`` for this rank's share; call :meth:`set_epoch` before each epoch.

    With ``drop_last`` the permutation is cut to a multiple of ``world_size``; otherwise, with
    ``pad``, it is padded by repeating its start (every rank gets the same count), and without
    ``pad`` the ranks split it exactly (counts may differ by one: right for summed metrics).
    """

    def __init__(self, n: int, shuffle: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1,
                 drop_last: bool = False, pad: bool = True) -> None:
        self.n, self.shuffle, self.seed, self.pad = n, shuffle, seed, pad
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        if self.drop_last:
            order = order[: self.n - self.n % self.world_size]
        elif self.pad and self.n % self.world_size:
            pad = self.world_size - self.n % self.world_size
            order += (order * (pad // max(1, len(order)) + 1))[:pad]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter([(i, self.epoch) for i in self.indices()])

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.world_size
        if self.pad:
            return -(-self.n // self.world_size)
        return len(range(self.rank, self.n, self.world_size))


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, rank: int = 0,
                world_size: int = 1, workers: int = 0, pin_memory: bool = False,
                drop_last: bool = False, pad: bool = True) -> DataLoader:
    """A loader over ``dataset`` (indexed by ``(index, epoch)``) with this rank's ``batch_size``.

    Training loaders use ``shuffle=True, drop_last=True``; evaluation loaders ``shuffle=False``
    with ``pad=False`` so that summed metrics over ranks count every sample once.
    """
    sampler = ShardedSampler(len(dataset), shuffle=shuffle, seed=seed, rank=rank,  # type: ignore[arg-type]
                             world_size=world_size, drop_last=drop_last, pad=pad)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      pin_memory=pin_memory, drop_last=drop_last, persistent_workers=workers > 0,
                      prefetch_factor=4 if workers > 0 else None)


def split_normalize(transform: Transform) -> tuple[Transform, Normalize | None]:
    """``(transform without its final Normalize, that Normalize)`` for a :class:`Compose` ending in one,
    else ``(transform, None)``: the per-sample work then ends in ``uint8`` and the normalisation runs
    on the device (:class:`DeviceLoader`)."""
    if isinstance(transform, Compose) and transform.transforms and isinstance(transform.transforms[-1], Normalize):
        return Compose(transform.transforms[:-1]), transform.transforms[-1]
    return transform, None


class DeviceNormalize:
    """``(x / 255 - mean) / std`` for a ``uint8`` batch ``(B, C, H, W)`` on its device, in float32."""

    def __init__(self, normalize: Normalize, device: torch.device) -> None:
        self.mean = normalize.mean.view(1, -1, 1, 1).to(device)
        self.scale = (1.0 / (255.0 * normalize.std)).view(1, -1, 1, 1).to(device)
        self.shift = (self.mean / normalize.std.view(1, -1, 1, 1).to(device))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().mul_(self.scale).sub_(self.shift)


class DeviceLoader:
    """Iterate ``loader``'s batches on ``device``: tensors cross non-blocking; ``uint8`` image batches
    are normalised there by ``normalize``; 4-D float images become channels_last when asked.
    ``set_epoch``, ``len``, ``sampler`` and ``dataset`` pass through to the loader."""

    def __init__(self, loader: DataLoader, device: torch.device, normalize: Normalize | None = None,
                 channels_last: bool = False) -> None:
        self.loader, self.device, self.channels_last = loader, device, channels_last
        self.sampler, self.dataset = loader.sampler, loader.dataset
        self.normalize = DeviceNormalize(normalize, device) if normalize is not None else None

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.loader)

    def to_device(self, batch: Any) -> Any:
        if isinstance(batch, torch.Tensor):
            t = batch.to(self.device, non_blocking=True)
            if t.dtype == torch.uint8 and t.ndim == 4 and self.normalize is not None:
                t = self.normalize(t)
            if self.channels_last and t.ndim == 4 and t.is_floating_point():
                t = t.contiguous(memory_format=torch.channels_last)
            return t
        if isinstance(batch, (list, tuple)):
            return type(batch)(self.to_device(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self.to_device(v) for k, v in batch.items()}
        return batch

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield self.to_device(batch)
