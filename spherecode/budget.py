r"""Memory budget: one estimate before a large allocation, refused in one line when it cannot fit.

A size that cannot fit (a data set of 10^5 classes, images of side 10^5, a network of width 10^5)
would otherwise run for hours or die in the allocator. :func:`check_memory` compares an estimate
with the memory this process may use: on a CUDA device the device's free memory, else the
memory available now (:func:`~spherecode.cost.available_memory`), capped by the
process's address-space limit (``ulimit -v``). :func:`training_bytes` estimates a training step
of a model without allocating it: the model is built and run on PyTorch's ``meta`` device, which
computes shapes only.

Examples:
    >>> format_bytes(3 * 10**9)
    '3 GB'
    >>> check_memory(10**18, "a table of 10^18 bytes", "--size")
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Argument '--size': a table of 10^18 bytes needs about 1e+06 TB, ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cost import available_memory, format_bytes
from .errors import SpherecodeError


def memory_limit(device: Any = None) -> int:
    """Bytes this process may still allocate: a CUDA device's free memory, or the host's available
    memory capped by the address-space limit (``RLIMIT_AS``)."""
    if device is not None and getattr(device, "type", str(device)).startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    have = available_memory()
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            have = min(have, soft)
    except (ImportError, ValueError, OSError):  # pragma: no cover - non-POSIX
        pass
    return have


def check_memory(need: float, what: str, option: str, device: Any = None, advice: str = "use a smaller size") -> None:
    """Raise one line naming ``option`` when ``need`` bytes exceed :func:`memory_limit`."""
    have = memory_limit(device)
    if need > have:
        where = f"free on {device}" if device is not None and str(device).startswith("cuda") else "available"
        raise SpherecodeError(f"Argument '{option}': {what} needs about {format_bytes(need)}, more than the "
                              f"{format_bytes(have)} of memory {where}; {advice}.")


def training_bytes(build_model: Callable[[], Any], batch: int, image_size: int, optimizer_states: int = 2,
                   activation_scale: float = 1.0) -> int:
    """Estimated bytes of one training step: weights, gradients and ``optimizer_states`` copies of them
    (float32), plus the activations of a ``(batch, 3, image_size, image_size)`` forward pass, kept for
    the backward pass (times ``activation_scale``: 0.5 under 16-bit autocast). Computed on the ``meta``
    device (nothing is allocated); 0 when the model cannot run there (the estimate is then skipped).

    >>> from spherecode.nn.backbones import resnet
    >>> 0.3e9 < training_bytes(lambda: resnet("resnet18", variant="cifar"), 64, 32) < 3e9
    True
    """
    import torch

    sizes: list[int] = []

    def hook(module: Any, inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel() * output.element_size())

    try:
        with torch.device("meta"):
            model = build_model()
            params = sum(p.numel() for p in model.parameters()) * 4
            handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
            model.train()
            model(torch.empty(batch, 3, image_size, image_size))
            for h in handles:
                h.remove()
    except Exception:  # noqa: BLE001 - a model that needs real data to run: no estimate
        return 0
    return int(params * (2 + optimizer_states) + activation_scale * sum(sizes))


__all__ = ["check_memory", "memory_limit", "training_bytes"]
