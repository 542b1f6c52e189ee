r"""Process-group setup for DDP runs launched with ``torchrun`` (or any launcher that sets the env vars).

``torchrun --nproc_per_node=G -m spherecode train ...`` sets ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` then joins the group (NCCL on
CUDA, Gloo on CPU) and picks ``cuda:LOCAL_RANK``. Without those variables the run is a single
process and nothing is initialised. Metric sums are combined with :func:`all_reduce_sums`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import SpherecodeError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``; ``created`` if :func:`setup` opened the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    created: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``; checks explicit requests."""
    if spec == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError):
        raise SpherecodeError(f"Argument '--device' must be cpu, cuda, cuda:N or auto; got {spec!r}.") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SpherecodeError(f"Argument '--device' is {spec!r} but CUDA is not available on this machine; use --device cpu.")
        if device.index is None:
            device = torch.device(f"cuda:{local_rank}")
        elif device.index >= torch.cuda.device_count():
            raise SpherecodeError(f"Argument '--device': {spec!r} does not exist ({torch.cuda.device_count()} GPUs).")
    elif device.type != "cpu":
        raise SpherecodeError(f"Argument '--device' must be cpu, cuda, cuda:N or auto; got {spec!r}.")
    return device


def setup(device_spec: str) -> tuple[DistInfo, torch.device]:
    """Join the process group described by the environment (if any) and choose this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(), resolve_device(device_spec)
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_spec, local)
    created = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
        created = True
    return DistInfo(rank, world, local, created), device


def teardown(info: DistInfo) -> None:
    """Close the process group if :func:`setup` opened it."""
    if info.created and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sums(sums: dict[str, torch.Tensor | float], info: DistInfo,
                    device: torch.device | None = None) -> dict[str, float]:
    """Sum each value over ranks and return plain floats.

    Ranks may hold different keys (a rank whose shard was empty holds none): the key sets are
    gathered first and missing entries count as 0, so every rank joins the same collectives.
    """
    keys = sorted(sums)
    if info.enabled:
        gathered: list[list[str] | None] = [None] * info.world_size
        dist.all_gather_object(gathered, keys)
        keys = sorted(set().union(*(g or [] for g in gathered)))
    if not keys:
        return {}
    if device is None:
        device = next((v.device for v in sums.values() if isinstance(v, torch.Tensor)), torch.device("cpu"))
    zero = torch.zeros((), dtype=torch.float64, device=device)
    flat = torch.stack([torch.as_tensor(sums[k]).detach().to(device, torch.float64).reshape(()) if k in sums else zero
                        for k in keys])
    if info.enabled:
        dist.all_reduce(flat)
    return dict(zip(keys, flat.cpu().tolist()))


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
