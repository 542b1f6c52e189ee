r"""Checkpoints: one file holding everything to resume exactly or to evaluate without any other file.

``RUN_DIR/checkpoint.pt`` (written atomically after every epoch: temporary file, then rename)::

    format        "spherecode.checkpoint/1"
    epoch         completed epochs
    config        the full TrainConfig as a dict
    data          the training set's description (kind, classes, class names, image size)
    task          task name; task_state: e.g. the codebook (vectors, metadata JSON, permutation)
    model         state_dict of the unwrapped model
    optimizer, schedule, scaler     their state_dicts (scaler None without fp16)
    rng           torch, CUDA, numpy and Python random states
    history       the metrics of every completed epoch (metrics.jsonl is rebuilt from it on resume)

Files are read with ``weights_only=True``: only tensors and plain Python types are stored.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SpherecodeError

FORMAT = "spherecode.checkpoint/1"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


def rng_state() -> dict[str, Any]:
    """The random states of torch (CPU, CUDA), numpy and Python, as tensors and plain types."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": _to_lists(random.getstate()),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


def _to_lists(obj: Any) -> Any:
    return [_to_lists(o) for o in obj] if isinstance(obj, tuple) else obj


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (a crash leaves the previous checkpoint intact)."""
    from ..files import atomic_save

    return atomic_save(path, lambda fh: torch.save({"format": FORMAT, **state}, fh), option="checkpoint")


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, or a run directory holding ``checkpoint.pt``."""
    p = Path(path)
    if p.is_dir():
        p = p / CHECKPOINT
    if not p.is_file():
        raise SpherecodeError(f"Checkpoint '{path}' does not exist (give a checkpoint.pt file or a run directory holding one).")
    return p


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint written by :func:`save_checkpoint`."""
    p = checkpoint_path(path)
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle means a bad file
        raise SpherecodeError(f"Checkpoint '{p}' is corrupt or not a spherecode checkpoint ({type(exc).__name__}).") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SpherecodeError(f"Checkpoint '{p}' is not a spherecode checkpoint (expected format {FORMAT}).")
    return state
