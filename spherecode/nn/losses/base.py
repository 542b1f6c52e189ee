"""Shared checks for the self-supervised packing losses: embeddings shaped (B, V, D)."""

from __future__ import annotations

import torch
from torch import nn

from ...errors import SpherecodeError, check_int
from ..distributed import gather_rows, is_distributed


class EmbeddingLoss(nn.Module):
    """Base class: ``forward(z)`` checks ``z`` and calls :meth:`compute`, which does only the maths.

    ``z`` holds B images with V views each and D features: shape ``(B, V, D)``. Subclasses return
    the loss and a dict of named terms; the detached terms of the last call are kept in
    :attr:`terms` for logging, as 0-d tensors on ``z``'s device (no host synchronisation per step:
    the training loop sums them on the device and reduces once per epoch; ``float(t)`` to read one).

    ``equal_batches`` (attribute, default ``False``): every rank's ``z`` has the same number of
    rows, as in training with ``drop_last``; the distributed gather then skips exchanging the row
    counts, which would need a host synchronisation.
    """

    #: Fewest views per image the loss is defined for.
    min_views: int = 2

    def __init__(self, gather_distributed: bool = False, dim: int | None = None) -> None:
        super().__init__()
        self.gather_distributed = bool(gather_distributed)
        self.terms: dict[str, torch.Tensor] = {}
        self.equal_batches = False
        if dim is not None:
            dim = check_int("dim", dim, minimum=1)
        #: Expected embedding dimension D (checked on every call when set).
        self.dim = dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.check(z)
        loss, terms = self.compute(z)
        self.terms = {k: v.detach() for k, v in terms.items()}
        return loss

    def compute(self, z: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def check(self, z: torch.Tensor) -> None:
        """Raise :class:`SpherecodeError` for a non-tensor, a wrong shape, a D change or non-finite values.

        Non-finite values are looked for only on the CPU: on an accelerator the check would stop
        the host every step (a diverged run is caught by the loop's per-epoch check instead).
        """
        name = type(self).__name__
        if not isinstance(z, torch.Tensor):
            raise SpherecodeError(f"{name}: argument 'z' must be a torch.Tensor, not {type(z).__name__}.")
        if z.dim() != 3:
            raise SpherecodeError(
                f"{name}: argument 'z' must have shape (B, V, D) = (images, views, features); "
                f"got {z.dim()}-D shape {tuple(z.shape)}."
                + (" Reshape it to (B, V, D), e.g. z.view(B, V, -1)." if z.dim() == 2 else ""))
        b, v, d = z.shape
        if b < 1 or d < 1:
            raise SpherecodeError(f"{name}: argument 'z' is empty: shape {tuple(z.shape)}.")
        if v < self.min_views:
            raise SpherecodeError(
                f"{name} needs at least {self.min_views} views per image (V >= {self.min_views}); "
                f"got z of shape {tuple(z.shape)} with V = {v}.")
        if self.dim is not None and d != self.dim:
            raise SpherecodeError(
                f"{name}: embedding dimension D = {d} of argument 'z' (shape {tuple(z.shape)}) "
                f"does not match the loss's dim = {self.dim} (the projector's output size).")
        if not z.is_floating_point():
            raise SpherecodeError(f"{name}: argument 'z' must be floating point, not {z.dtype}.")
        if z.device.type == "cpu" and not bool(torch.isfinite(z).all()):
            raise SpherecodeError(f"{name}: argument 'z' contains NaN or infinite values.")

    def gather(self, x: torch.Tensor, equal_sizes: bool = False) -> tuple[torch.Tensor, int]:
        """Rows of every rank (with gradient) and this rank's offset, or ``(x, 0)`` when not gathering.

        ``equal_sizes``: the caller knows every rank passes as many rows (e.g. one scalar each).
        """
        if self.gather_distributed and is_distributed():
            return gather_rows(x, equal_sizes=equal_sizes or self.equal_batches)
        return x, 0


def check_block_size(block_size: int | None) -> int | None:
    """``None`` (dense) or a positive int."""
    if block_size is None:
        return None
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise SpherecodeError(f"Argument 'block_size' must be None (dense) or a positive integer, not {block_size!r}.")
    return block_size
