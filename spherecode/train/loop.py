r"""The training loop, shared by every :class:`~spherecode.train.task.Task`.

:func:`fit` (or :class:`Trainer`) runs: set up DDP from the environment, load the data, build the
task (which checks the codebook against the data before anything trains), build model, optimiser
(SGD with momentum or AdamW), warm-up + cosine schedule and mixed precision, then for each epoch
train, evaluate, append a line to ``RUN_DIR/metrics.jsonl`` and write ``RUN_DIR/checkpoint.pt``
(rank 0 only). Per-step work stays on the device: metric sums are tensors, reduced once per epoch.

Reproducibility: the model is initialised from ``seed``; the sampler permutes with ``seed + epoch``;
each sample's augmentation is seeded by ``(seed, epoch, index)``. A resumed run therefore repeats
the uninterrupted run exactly, and a DDP run sees the same global batches as one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.dataset import ImageDataset
from ..data.loader import make_loader
from ..data.spec import build_dataset
from ..errors import SpherecodeError, check_choice
from . import distributed
from .checkpoint import CHECKPOINT, METRICS, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig, from_dict, override, to_toml
from .schedule import Schedule
from .task import Task, build_task

AMP_MODES = ("off", "bf16", "fp16", "auto")
OPTIMIZERS = ("sgd", "adamw", "lars")
#: Fields that may change when resuming (they do not change the maths of the run).
RESUMABLE_OVERRIDES = ("epochs", "device", "workers", "progress", "log_every", "eval_every", "eval_batch_size",
                       "compile", "out")

Log = Callable[[str], None]


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``mode`` on ``device`` (``None``: full precision)."""
    check_choice("amp", mode, AMP_MODES)
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None
    if device.type != "cuda":
        raise SpherecodeError(f"Argument '--amp' {mode!r} needs a CUDA device (this run is on {device}); use --amp off or auto.")
    return torch.float16 if mode == "fp16" else torch.bfloat16


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """One training run; see the module docstring. ``resume`` is a run directory or checkpoint file.

    Everything that can be wrong with the user's input (data path, codebook size or dimension,
    device, precision, run directory) raises :class:`SpherecodeError` from the constructor, before
    any training step.
    """

    def __init__(self, config: TrainConfig, resume: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, log: Log | None = None) -> None:
        self.checkpoint: dict[str, Any] | None = None
        self.resume_dir = None
        if resume is not None:
            self.checkpoint = load_checkpoint(resume)
            config = from_dict(self.checkpoint["config"], type(config))  # TrainConfig, PretrainConfig, ...
            bad = sorted(set(overrides or {}) - set(RESUMABLE_OVERRIDES))
            if bad:
                raise SpherecodeError(f"Cannot change {', '.join(bad)} when resuming (the run would no longer be the same); "
                                      f"allowed: {', '.join(RESUMABLE_OVERRIDES)}.")
            resume_dir = Path(resume) if Path(resume).is_dir() else Path(resume).parent
            config = override(config, {"out": str(resume_dir), **(overrides or {})})
            self.resume_dir: Path | None = resume_dir
        elif overrides:
            config = override(config, overrides)
        self.config = cfg = config
        self.dist, self.device = distributed.setup(cfg.run.device)
        self.log: Log = log if log is not None else (print if self.dist.is_main else (lambda s: None))
        try:
            self._build()
        except BaseException:
            distributed.teardown(self.dist)
            raise

    # ---------------------------------------------------------------- set-up
    def _build(self) -> None:
        cfg, dist = self.config, self.dist
        self.amp_dtype = resolve_amp(cfg.run.amp, self.device)
        check_choice("optimizer", cfg.optim.optimizer, OPTIMIZERS)
        if cfg.data.batch_size % dist.world_size:
            raise SpherecodeError(f"Argument '--batch-size' {cfg.data.batch_size} must be divisible by the number of "
                                  f"processes ({dist.world_size}).")
        self.batch_per_rank = cfg.data.batch_size // dist.world_size
        self.run_dir = Path(cfg.run.out) if cfg.run.out else None
        same_dir = (self.resume_dir is not None and self.run_dir is not None
                    and self.run_dir.resolve() == self.resume_dir.resolve())
        if self.run_dir is not None and not same_dir:  # every rank checks, so all of them stop together
            if self.run_dir.is_file():
                raise SpherecodeError(f"Argument '--out': '{self.run_dir}' is a file; give a run directory.")
            taken = [f for f in (CHECKPOINT, METRICS) if (self.run_dir / f).exists()]
            if taken:
                raise SpherecodeError(f"Argument '--out': '{self.run_dir}' already holds a run ({', '.join(taken)}); "
                                      "pass --resume to continue it, or choose a new directory.")
        distributed.barrier(dist)  # no rank writes into the run directory before all have checked it
        self.train_set: ImageDataset = build_dataset(cfg.data.spec, "train")
        self.eval_set: ImageDataset | None = build_dataset(cfg.data.spec, "test") if cfg.run.eval_every else None
        if self.eval_set is not None and self.eval_set.num_classes != self.train_set.num_classes:
            raise SpherecodeError(f"Data '{cfg.data.spec}': train has {self.train_set.num_classes} classes, test "
                                  f"{self.eval_set.num_classes}.")
        ck = self.checkpoint
        self.task: Task = build_task(cfg, self.train_set, ck["task_state"] if ck else None)

        seed_everything(cfg.run.seed)
        raw = self.task.build_model()
        if ck is not None:
            raw.load_state_dict(ck["model"])
        raw.to(self.device)
        self.channels_last = cfg.run.channels_last and self.device.type == "cuda"
        if self.channels_last:
            raw.to(memory_format=torch.channels_last)
        if dist.enabled and cfg.run.sync_bn and self.device.type == "cuda":
            raw = nn.SyncBatchNorm.convert_sync_batchnorm(raw)
        self.raw_model = raw
        model: nn.Module = raw
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(raw, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if cfg.run.compile:
            model = torch.compile(model)  # type: ignore[assignment]
        self.model = model

        o = cfg.optim
        groups = self.task.param_groups(raw)
        if o.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay)
        elif o.optimizer == "lars":  # large batches (the CLAMP recipe): SGD momentum with a per-layer trust ratio
            from .lars import LARS

            self.optimizer = LARS(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(o.momentum, 0.999), weight_decay=o.weight_decay)
        pin = self.device.type == "cuda"
        self.train_loader = make_loader(self.task.train_dataset(self.train_set), self.batch_per_rank, shuffle=True,
                                        seed=cfg.run.seed, rank=dist.rank, world_size=dist.world_size,
                                        workers=cfg.data.workers, pin_memory=pin, drop_last=True)
        self.steps_per_epoch = len(self.train_loader)
        if self.steps_per_epoch == 0:
            raise SpherecodeError(f"Argument '--batch-size' {cfg.data.batch_size} exceeds the training set "
                                  f"({len(self.train_set)} images): no full batch to train on.")
        self.eval_loader = None
        if self.eval_set is not None:
            self.eval_loader = make_loader(self.task.eval_dataset(self.eval_set), cfg.data.eval_batch_size or self.batch_per_rank,
                                           shuffle=False, rank=dist.rank, world_size=dist.world_size,
                                           workers=cfg.data.workers, pin_memory=pin, drop_last=False, pad=False)
        self.schedule = Schedule(o.lr, cfg.run.epochs * self.steps_per_epoch, round(o.warmup_epochs * self.steps_per_epoch),
                                 o.schedule, o.min_lr, o.milestones, o.gamma, self.steps_per_epoch, self.optimizer)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        if ck is not None:
            self.optimizer.load_state_dict(ck["optimizer"])
            self.schedule.load_state_dict(ck["schedule"])
            if self.scaler is not None and ck.get("scaler"):
                self.scaler.load_state_dict(ck["scaler"])
            self.epoch = int(ck["epoch"])
            self.history = list(ck.get("history", []))
            set_rng_state(ck["rng"])
        if self.run_dir is not None and dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.toml").write_text(to_toml(cfg))
            self._write_metrics_file()

    # ------------------------------------------------------------- utilities
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def to_device(self, batch: Any) -> Any:
        """Move a batch (tensors, nested in tuples/lists/dicts) to the device; images to channels_last."""
        if isinstance(batch, torch.Tensor):
            t = batch.to(self.device, non_blocking=True)
            if self.channels_last and t.ndim == 4 and t.is_floating_point():
                t = t.contiguous(memory_format=torch.channels_last)
            return t
        if isinstance(batch, (list, tuple)):
            return type(batch)(self.to_device(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self.to_device(v) for k, v in batch.items()}
        return batch

    def run_eval(self, step: Callable[[nn.Module, Any], dict[str, Any]], model: nn.Module | None = None,
                 loader: Any = None) -> dict[str, float]:
        """Sum ``step(model, batch)`` over the eval loader (all ranks' shards) in eval mode, without grad."""
        model = self.raw_model if model is None else model
        loader = self.eval_loader if loader is None else loader
        if loader is None:
            return {}
        was_training = model.training
        model.eval()
        sums: dict[str, Any] = {}
        with torch.no_grad(), self.autocast():
            for batch in loader:
                for k, v in step(model, self.to_device(batch)).items():
                    sums[k] = sums[k] + v if k in sums else v
        model.train(was_training)
        return distributed.all_reduce_sums(sums, self.dist, self.device)

    def _write_metrics_file(self) -> None:
        assert self.run_dir is not None
        tmp = self.run_dir / f".{METRICS}.tmp"
        tmp.write_text("".join(json.dumps(r) + "\n" for r in self.history))
        os.replace(tmp, self.run_dir / METRICS)

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch, "config": self.config.to_dict(), "data": {
                **self.train_set.describe(), "class_names": list(self.train_set.class_names)},
            "task": self.config.run.task, "task_state": self.task.state_dict(),
            "model": self.raw_model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng_state(), "history": self.history,
        }

    # ------------------------------------------------------------------ loop
    def _progress(self, epoch: int) -> Any:
        show = self.config.run.progress and self.dist.is_main and sys.stderr.isatty()
        if not show:
            return None
        from tqdm import tqdm

        return tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch + 1}/{self.config.run.epochs}", leave=False,
                    dynamic_ncols=True)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training set; returns the epoch's training metrics and throughput."""
        cfg, model, opt = self.config, self.model, self.optimizer
        self.train_loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        self.task.on_epoch_start(self, epoch)
        model.train()
        sums: dict[str, torch.Tensor | float] = {}
        bar = self._progress(epoch)
        clip = cfg.optim.grad_clip
        start = time.perf_counter()
        for step, batch in enumerate(self.train_loader):
            batch = self.to_device(batch)
            with self.autocast():
                out = self.task.training_step(model, batch)
            opt.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(out.loss).backward()
                if clip:
                    self.scaler.unscale_(opt)
                    nn.utils.clip_grad_norm_(self.raw_model.parameters(), clip)
                self.scaler.step(opt)
                self.scaler.update()
            else:
                out.loss.backward()
                if clip:
                    nn.utils.clip_grad_norm_(self.raw_model.parameters(), clip)
                opt.step()
            self.schedule.step()
            for k, v in out.sums.items():
                sums[k] = sums[k] + v if k in sums else v
            if bar is not None:
                bar.update(1)
                if step % max(1, cfg.run.log_every) == 0:
                    bar.set_postfix(loss=f"{float(out.loss):.4f}", lr=f"{self.schedule.current:.3g}")
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        if bar is not None:
            bar.close()
        reduced = distributed.all_reduce_sums(sums, self.dist, self.device)
        metrics = self.task.summarise(reduced)
        if not all(np.isfinite(v) for v in metrics.values()):
            raise SpherecodeError(f"Training diverged in epoch {epoch + 1} (metrics {metrics}); lower --lr or enable --grad-clip.")
        metrics["lr"] = self.optimizer.param_groups[0]["lr"]
        metrics["images_per_s"] = reduced.get("count", 0.0) / max(elapsed, 1e-9)
        metrics["epoch_time_s"] = elapsed
        return metrics

    def fit(self) -> list[dict[str, Any]]:
        """Train from the current epoch to ``run.epochs``; returns the metrics of every epoch."""
        cfg = self.config
        try:
            if self.epoch == 0:
                self.log(f"training {cfg.model.arch} ({self.task.name}) on {cfg.data.spec}: {len(self.train_set)} images, "
                         f"{self.train_set.num_classes} classes, {cfg.run.epochs} epochs, batch {cfg.data.batch_size} "
                         f"on {self.dist.world_size} x {self.device}" + (f", amp {self.amp_dtype}" if self.amp_dtype else ""))
            else:
                self.log(f"resuming at epoch {self.epoch + 1}/{cfg.run.epochs}")
            while self.epoch < cfg.run.epochs:
                epoch = self.epoch
                record: dict[str, Any] = {"epoch": epoch + 1, **self.train_epoch(epoch)}
                every = cfg.run.eval_every
                if every and ((epoch + 1) % every == 0 or epoch + 1 == cfg.run.epochs):
                    record.update({f"val_{k}": v for k, v in self.task.evaluate(self.raw_model, self).items()})
                self.epoch = epoch + 1
                self.history.append(record)
                if self.dist.is_main:
                    if self.run_dir is not None:
                        save_checkpoint(self.state(), self.run_dir / CHECKPOINT)
                        with open(self.run_dir / METRICS, "a") as fh:
                            fh.write(json.dumps(record) + "\n")
                    self.log(format_record(record))
                distributed.barrier(self.dist)
        finally:
            distributed.teardown(self.dist)
        return self.history


def format_record(record: dict[str, Any]) -> str:
    """One log line for an epoch's metrics."""
    parts = [f"epoch {record['epoch']}"]
    for k, v in record.items():
        if k == "epoch":
            continue
        if k in ("top1", "top5", "val_top1", "val_top5"):
            parts.append(f"{k} {100 * v:.2f}%")
        elif k == "lr":
            parts.append(f"lr {v:.4g}")
        elif k == "images_per_s":
            parts.append(f"{v:.0f} img/s")
        elif k != "epoch_time_s":
            parts.append(f"{k} {v:.4f}")
    return "  ".join(parts)


def fit(config: TrainConfig, resume: str | Path | None = None, overrides: dict[str, Any] | None = None,
        log: Log | None = None) -> list[dict[str, Any]]:
    """Train ``config`` (or resume a run) and return the per-epoch metrics.

    Examples:
        >>> cfg = TrainConfig()
        >>> cfg = override(cfg, {"spec": "synthetic:classes=3,per_class=4,image_size=8", "head": "linear",
        ...                      "arch": "resnet10", "width": 4, "epochs": 1, "batch_size": 6, "workers": 0})
        >>> history = fit(cfg, log=lambda s: None)
        >>> len(history), sorted(history[0])[:4]
        (1, ['epoch', 'epoch_time_s', 'images_per_s', 'loss'])
    """
    return Trainer(config, resume=resume, overrides=overrides, log=log).fit()


__all__ = ["Trainer", "fit", "format_record", "resolve_amp"]
