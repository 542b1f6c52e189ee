r"""Checkpoints: one file holding everything to resume exactly or to evaluate without any other file.

``RUN_DIR/checkpoint.pt`` (written atomically after every epoch: temporary file, then rename)::

    format        "spherecode.checkpoint/1"
    epoch         completed epochs
    config        the full TrainConfig as a dict
    data          the training set's description (kind, classes, class names, image size)
    task          task name; task_state: e.g. the codebook (its own .npz serialisation, as uint8 bytes)
    model         state_dict of the unwrapped model; ema: the EMA weights when ``ema_decay`` is set
    optimizer, schedule, scaler     their state_dicts (scaler None without fp16)
    rng           torch, CUDA, numpy and Python random states
    history       the metrics of every completed epoch (metrics.jsonl is rebuilt from it on resume)

Files are read with ``weights_only=True``: only tensors and plain Python types are stored.

:func:`load_run` is the one way to rebuild a run from its checkpoint (config of the right type,
task, model, data description); resume, ``evaluate``, ``geometry`` and the probes all use it.
:func:`check_new_run_folder` is the one rule for a folder a new run is written into (a run there,
a run stopped before its first checkpoint (:func:`is_partial_run`), files the trainer did not write).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SpherecodeError

FORMAT = "spherecode.checkpoint/1"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
BEST = "best.pt"
#: The first line of a config file the trainer wrote (a file without it is the user's, never overwritten).
CONFIG_HEADER = "# spherecode run config, written by the trainer (the checkpoint holds the same; edit a copy)"
#: The trainer's run configuration, and its name when a ``config.toml`` in the folder is the user's.
CONFIG, RESOLVED_CONFIG = "config.toml", "config.resolved.toml"


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
    """Write ``state`` to ``path`` atomically (a crash leaves the previous checkpoint intact).

    The checkpoint is serialised in memory first, so that a full disk surfaces as the operating
    system's error ("the disk is full", naming the file) rather than as the zip writer's."""
    import io

    from ..files import atomic_save

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    return atomic_save(path, lambda fh: fh.write(buffer.getbuffer()), option="--out")


def _is_trainer_config(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readline().rstrip("\n") == CONFIG_HEADER
    except OSError:
        return False


def _is_metrics_file(path: Path) -> bool:
    """Whether ``path`` reads as the trainer's ``metrics.jsonl``: only JSON objects with an ``epoch``."""
    import json

    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return all(isinstance(r := json.loads(line), dict) and "epoch" in r for line in lines)
    except (OSError, UnicodeDecodeError, ValueError):
        return False


def is_partial_run(folder: str | Path) -> bool:
    """Whether ``folder`` holds a run that stopped before its first checkpoint: the trainer's config
    or ``metrics.jsonl`` but no ``checkpoint.pt`` (started again in place by a new run)."""
    p = Path(folder)
    if not p.is_dir() or (p / CHECKPOINT).exists():
        return False
    return (_is_trainer_config(p / CONFIG) or _is_trainer_config(p / RESOLVED_CONFIG)
            or ((p / METRICS).is_file() and _is_metrics_file(p / METRICS)))


def check_new_run_folder(folder: str | Path, force: bool = False) -> list[str]:
    """Check that a new run may be written into ``folder``; returns notes for the log.

    The rule: a missing or empty folder is fine; a folder holding a run (``checkpoint.pt``) is refused
    (continue it with ``--resume``) unless ``force``, which removes that run's checkpoints; a run that
    stopped before its first checkpoint (:func:`is_partial_run`) is started again in place; a file
    the trainer would overwrite that it did not write (``best.pt`` without a run, a
    ``config.resolved.toml`` or ``metrics.jsonl`` of another origin) is refused unless ``force``.
    Other files (the user's own ``config.toml``, notes, a codebook) are left as they are.
    """
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise SpherecodeError(f"Argument '--out': '{p}' is a file; give a run directory.")
    if not p.is_dir():
        return []
    notes: list[str] = []
    if (p / CHECKPOINT).exists():
        if not force:
            raise SpherecodeError(f"Argument '--out': '{p}' already holds a run ({CHECKPOINT}); pass --resume to "
                                  "continue it, --force to start it over, or choose a new directory.")
        for name in (CHECKPOINT, BEST):
            (p / name).unlink(missing_ok=True)
        notes.append(f"--force: the run that was in '{p}' is replaced")
        return notes
    users_config = (p / CONFIG).exists() and not _is_trainer_config(p / CONFIG)  # then the run's goes to RESOLVED_CONFIG
    foreign = [name for name, ours in ((BEST, False), (METRICS, _is_metrics_file(p / METRICS)),
                                       (RESOLVED_CONFIG, not users_config or _is_trainer_config(p / RESOLVED_CONFIG)))
               if (p / name).exists() and not ours]
    if foreign and not force:
        raise SpherecodeError(f"Argument '--out': '{p}' holds {', '.join(foreign)}, which the trainer did not write and "
                              "would overwrite; pass --force to overwrite, or choose a new directory.")
    if is_partial_run(p):
        notes.append(f"'{p}' held a run that stopped before its first checkpoint: starting it again")
    return notes


def checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, or a run directory holding ``checkpoint.pt``."""
    p = Path(path)
    if p.is_dir():
        if is_partial_run(p):
            raise SpherecodeError(f"Run '{path}' stopped before its first checkpoint: there is nothing to resume or "
                                  "evaluate; run the same command without --resume to start it again in place.")
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


def load_weights(model: Any, weights: Any, path: str | Path) -> None:
    """Load a checkpoint's ``weights`` into ``model``; weights of other names or shapes (a checkpoint
    edited or written by another version) are refused in one line naming ``path``."""
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError, KeyError) as exc:
        first = str(exc).strip().splitlines()
        detail = next((line.strip() for line in first[1:] if line.strip()), first[0] if first else type(exc).__name__)
        raise SpherecodeError(f"Checkpoint '{path}': its weights do not fit the model it describes ({detail[:200]}).") from None


@dataclass
class DataInfo:
    """The training set as described in a checkpoint: enough to rebuild the model without the data."""

    kind: str
    image_size: int
    class_names: list[str]
    source: str = ""
    size: int = 0

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "size": self.size, "num_classes": self.num_classes,
                "image_size": self.image_size}


@dataclass
class Run:
    """A run rebuilt from its checkpoint: ``config`` (of the task's config type), ``task``, ``model``
    (weights loaded, on the requested device), ``data`` (the training set's description) and
    ``state`` (the whole checkpoint dict: epoch, optimiser, history, ...)."""

    path: Path
    config: Any
    task: Any
    model: Any
    data: DataInfo
    state: dict[str, Any] = field(repr=False)

    @property
    def task_name(self) -> str:
        return str(self.state.get("task", "supervised"))

    @property
    def epoch(self) -> int:
        return int(self.state.get("epoch", 0))

    def describe(self) -> str:
        """One phrase naming the run, e.g. "a pretrain run (hypersolid) at epoch 3/10"."""
        extra = f" ({self.config.ssl.loss})" if hasattr(self.config, "ssl") else ""
        return f"a {self.task_name} run{extra} at epoch {self.epoch}/{self.config.run.epochs}"


def load_run(path: str | Path, device: str | Any = "cpu", ema: bool = False, build_model: bool = True) -> Run:
    """Rebuild a run from ``path`` (checkpoint file or run directory) alone: no codebook file or data needed.

    The stored task name chooses the config type (:mod:`spherecode.train.registry`); a checkpoint
    without a config, task or data description is refused in one line. ``ema``: load the EMA
    weights (when the run kept them) instead of the trained ones.
    """
    from .config import from_dict
    from .registry import TASKS, build_task, config_type

    p = checkpoint_path(path)
    state = load_checkpoint(p)
    missing = [k for k in ("config", "data", "model") if not isinstance(state.get(k), dict)]
    if missing:
        raise SpherecodeError(f"Checkpoint '{p}' has no {', '.join(missing)}: it cannot be rebuilt "
                              "(written by another tool or truncated).")
    name = state.get("task", "supervised")
    if name not in TASKS:
        raise SpherecodeError(f"Checkpoint '{p}' is a run of task {name!r}, which this version does not know "
                              f"(known: {', '.join(TASKS)}).")
    try:
        config = from_dict(state["config"], config_type(name))
    except SpherecodeError as exc:
        raise SpherecodeError(f"Checkpoint '{p}' ({name} run): {exc}") from None
    d = state["data"]
    try:
        data = DataInfo(kind=str(d["kind"]), image_size=int(d["image_size"]), class_names=[str(c) for c in d["class_names"]],
                        source=str(d.get("source", "")), size=int(d.get("size", 0)))
    except (KeyError, TypeError, ValueError):
        raise SpherecodeError(f"Checkpoint '{p}': its data description is incomplete.") from None
    task = build_task(config, data, state.get("task_state"))
    model = None
    if build_model:
        model = task.build_model()
        weights = state["model"]
        if ema:
            if not isinstance(state.get("ema"), dict):
                raise SpherecodeError(f"Checkpoint '{p}' holds no EMA weights (the run had no --ema-decay).")
            weights = state["ema"]
        load_weights(model, weights, p)
        model.to(device)
    return Run(path=p, config=config, task=task, model=model, data=data, state=state)
