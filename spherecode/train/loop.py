r"""The training loop, shared by every :class:`~spherecode.train.task.Task`.

:func:`fit` (or :class:`Trainer`) runs: set up DDP from the environment, load the data, build the
task (which checks the codebook against the data before anything trains), build model, optimiser
(SGD with momentum or AdamW), warm-up + cosine schedule and mixed precision, then for each epoch
train, evaluate, append a line to ``RUN_DIR/metrics.jsonl`` and write ``RUN_DIR/checkpoint.pt``
(rank 0 only; every ``checkpoint_every`` epochs and at the end). Per-step work stays on the device:
metric sums are tensors, reduced once per epoch. Batches arrive on the device: CIFAR-style data as
one resident uint8 tensor augmented in whole batches (:mod:`spherecode.data.resident`), other data
through loader workers, crossing as uint8 and normalised on the device.

Reproducibility: the model is initialised from ``seed``; the sampler permutes with ``seed + epoch``;
each sample's augmentation is seeded by ``(seed, epoch, index)``. A resumed run therefore repeats
the uninterrupted run exactly, and a DDP run sees the same global batches as one process.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..budget import check_memory, training_bytes
from ..codebook import Codebook
from ..data.dataset import ImageDataset
from ..data.loader import DeviceLoader, make_loader, split_normalize
from ..data.resident import resident_loader
from ..data.spec import build_dataset
from ..errors import SpherecodeError, check_choice
from ..files import RunLock, atomic_write, dump_json
from . import distributed
from .checkpoint import (BEST, CHECKPOINT, CONFIG_HEADER, METRICS, check_new_run_folder, checkpoint_path, load_run,
                         load_weights, rng_state, save_checkpoint, set_rng_state)
from .config import default_workers, override, to_toml
from .registry import build_task
from .schedule import Schedule
from .task import EvalContext, Task

AMP_MODES = ("off", "bf16", "fp16", "auto")
OPTIMIZERS = ("sgd", "adamw", "lars")
#: Fields that may change when resuming (they do not change the maths of the run; a new ``epochs``
#: re-plans the schedule's end and is said in the log).
RESUMABLE_OVERRIDES = ("epochs", "device", "workers", "progress", "log_every", "eval_every", "eval_batch_size",
                       "compile", "out", "checkpoint_every", "keep_best", "pipeline")

Log = Callable[[str], None]


def resolve_amp(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``mode`` on ``device`` (``None``: full precision)."""
    check_choice("amp", mode, AMP_MODES)
    if mode == "off" or (mode == "auto" and device.type != "cuda"):
        return None
    if device.type != "cuda":
        raise SpherecodeError(f"Argument '--amp' {mode!r} needs a CUDA device (this run is on {device}); use --amp off or auto.")
    return torch.float16 if mode == "fp16" else torch.bfloat16


def tensorboard_writer(path: Path) -> Any:
    """A TensorBoard ``SummaryWriter`` writing to ``path``, or a one-line error naming the missing extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise SpherecodeError("Argument '--tensorboard' needs the tensorboard package: pip install 'spherecode[tensorboard]' "
                              "(metrics.jsonl is written either way).") from None
    return SummaryWriter(log_dir=str(path))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def no_decay_groups(model: nn.Module, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Split each parameter group into decayed weights and non-decayed normalisation/bias parameters
    (every parameter with at most one dimension: norm scales and shifts, biases), as timm does."""
    small = {id(p) for p in model.parameters() if p.ndim <= 1}
    out: list[dict[str, Any]] = []
    for g in groups:
        keep = [p for p in g["params"] if id(p) not in small]
        free = [p for p in g["params"] if id(p) in small]
        if keep:
            out.append({**g, "params": keep})
        if free:
            out.append({**g, "params": free, "weight_decay": 0.0})
    return out


class EMA:
    r"""An exponential moving average of a model's weights: after each step
    :math:`\bar\theta \leftarrow d\,\bar\theta + (1 - d)\,\theta`; buffers (BatchNorm statistics) are copied."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        import copy

        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        ema_p = [p for p in self.model.parameters()]
        cur_p = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_p, cur_p, 1.0 - self.decay)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


class Trainer:
    """One training run; see the module docstring. ``resume`` is a run directory or checkpoint file.

    ``codebook``: a :class:`~spherecode.codebook.Codebook` object for the prototype head (instead of
    ``[model] codebook``, a file); it is stored in the checkpoint through its own serialisation.

    Everything that can be wrong with the user's input (data path, codebook size or dimension,
    device, precision, run directory, warm-up, epochs) raises :class:`SpherecodeError` from the
    constructor, before any training step.

    The run directory is locked (:class:`~spherecode.files.RunLock`) from the constructor until
    :meth:`fit` returns (or :meth:`close`): a second trainer on the same folder is refused in one
    line. ``force``: start a new run in a folder that holds one, or overwrite files the trainer did
    not write (:func:`~spherecode.train.checkpoint.check_new_run_folder`).
    """

    def __init__(self, config: Any, resume: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, log: Log | None = None,
                 codebook: Codebook | None = None, force: bool = False) -> None:
        self.checkpoint: dict[str, Any] | None = None
        self.resume_dir = None
        self.notes: list[str] = []
        self.codebook = codebook
        self.force = force
        self._lock: RunLock | None = None
        self._made_dir: Path | None = None
        try:
            self._setup(config, resume, overrides, log)
        except BaseException:
            self.close(failed=True)
            raise

    def _lock_dir(self, folder: Path) -> None:
        """Create (when new) and lock the run directory; rank 0 only (the other ranks never write there)."""
        if self._lock is not None or int(os.environ.get("RANK", "0")) != 0:
            return
        if folder.exists() and not folder.is_dir():
            raise SpherecodeError(f"Argument '--out': '{folder}' is a file; give a run directory.")
        if not folder.exists():
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise SpherecodeError(f"Argument '--out': cannot create '{folder}' ({exc.strerror}).") from None
            self._made_dir = folder
        self._lock = RunLock(folder, "--out").acquire()

    def close(self, failed: bool = False) -> None:
        """Release the run directory's lock (``failed``: also remove the directory if this trainer made it
        and nothing was written there)."""
        if self._lock is not None:
            self._lock.release()
            if failed and self._made_dir is not None:
                self._lock.path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    self._made_dir.rmdir()
            self._lock = None

    def _setup(self, config: Any, resume: str | Path | None, overrides: dict[str, Any] | None,
               log: Log | None) -> None:
        if resume is not None:
            out = (overrides or {}).get("out")
            self._lock_dir(Path(out) if out else checkpoint_path(resume).parent)
            run = load_run(resume, build_model=False)
            if config is not None and not isinstance(run.config, type(config)):
                raise SpherecodeError(f"Argument '--resume': '{resume}' is {run.describe()}, not a run of this command "
                                      f"({type(config).__name__}); continue it with `spherecode "
                                      f"{'pretrain' if run.task_name == 'pretrain' else 'train'} --resume`.")
            self.checkpoint = run.state
            stored = run.config
            bad = sorted(set(overrides or {}) - set(RESUMABLE_OVERRIDES))
            if bad:
                raise SpherecodeError(f"Cannot change {', '.join(bad)} when resuming (the run would no longer be the same); "
                                      f"allowed: {', '.join(RESUMABLE_OVERRIDES)}.")
            if self.codebook is not None:
                raise SpherecodeError("Argument 'codebook': a resumed run uses the codebook stored in its checkpoint.")
            resume_dir = run.path.parent
            config = override(stored, {"out": str(resume_dir), **(overrides or {})})
            done = run.epoch
            if "epochs" in (overrides or {}) and config.run.epochs <= done:
                rest = ("it is complete" if done >= stored.run.epochs
                        else f"leave --epochs out to finish its {stored.run.epochs}")
                raise SpherecodeError(f"Argument '--epochs' {config.run.epochs}: the run in '{resume_dir}' has already "
                                      f"completed {done} of its {stored.run.epochs} epochs; give more than {done} "
                                      f"epochs to extend it ({rest}).")
            if config.run.epochs != stored.run.epochs:
                self.notes.append(f"epochs changed {stored.run.epochs} -> {config.run.epochs}: the schedule now ends at "
                                  f"epoch {config.run.epochs} (stored in the checkpoint and config.toml)")
            self.resume_dir: Path | None = resume_dir
        elif overrides:
            config = override(config, overrides)
        self.config = cfg = config
        if cfg.run.out and resume is None:
            self._lock_dir(Path(cfg.run.out))
        self.dist, self.device = distributed.setup(cfg.run.device)
        self.log: Log = log if log is not None else (print if self.dist.is_main else (lambda s: None))
        try:
            self._build()
        except BaseException:
            distributed.teardown(self.dist)
            raise

    # ---------------------------------------------------------------- set-up
    def _loader(self, base: ImageDataset, dataset: Any, batch: int, train: bool) -> Any:
        """The loader of ``dataset`` (the task's view of ``base``) whose batches arrive on the device:
        the resident path when it applies (``[data] pipeline``), else workers with uint8 transfer."""
        cfg, dist = self.config, self.dist
        common = dict(shuffle=train, seed=cfg.run.seed, rank=dist.rank, world_size=dist.world_size,
                      drop_last=train, pad=train)
        transform = getattr(dataset, "transform", None)
        if cfg.data.pipeline != "workers" and transform is not None and getattr(dataset, "base", None) is base:
            loader = resident_loader(base, transform, batch, self.device, channels_last=self.channels_last, **common)
            if loader is not None:
                return loader
        if cfg.data.pipeline == "device" and train:
            raise SpherecodeError(f"Argument '--pipeline' device: the data '{cfg.data.spec}' with this task's augmentation "
                                  "cannot be held on the device (CIFAR-style images with crop/flip only); use "
                                  "--pipeline workers or auto.")
        norm = None
        if transform is not None and hasattr(dataset, "base"):
            stripped, norm = split_normalize(transform)
            if norm is not None:
                dataset = type(dataset)(dataset.base, stripped, seed=dataset.seed)
        loader = make_loader(dataset, batch, workers=self.workers, pin_memory=self.device.type == "cuda", **common)
        return DeviceLoader(loader, self.device, norm, self.channels_last)

    def _build(self) -> None:
        cfg, dist = self.config, self.dist
        self.amp_dtype = resolve_amp(cfg.run.amp, self.device)
        check_choice("optimizer", cfg.optim.optimizer, OPTIMIZERS)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.workers = default_workers() if cfg.data.workers is None else cfg.data.workers
        if cfg.optim.warmup_epochs > cfg.run.epochs:
            raise SpherecodeError(f"Argument '--warmup-epochs' {cfg.optim.warmup_epochs:g} is longer than the run "
                                  f"({cfg.run.epochs} epochs): the learning rate would never reach its peak; "
                                  "shorten the warm-up or train longer.")
        if cfg.data.batch_size % dist.world_size:
            raise SpherecodeError(f"Argument '--batch-size' {cfg.data.batch_size} must be divisible by the number of "
                                  f"processes ({dist.world_size}).")
        self.batch_per_rank = cfg.data.batch_size // dist.world_size
        self.run_dir = Path(cfg.run.out) if cfg.run.out else None
        same_dir = (self.resume_dir is not None and self.run_dir is not None
                    and self.run_dir.resolve() == self.resume_dir.resolve())
        if self.run_dir is not None and not same_dir:  # every rank checks, so all of them stop together
            self.notes += check_new_run_folder(self.run_dir, self.force)
        distributed.barrier(dist)  # no rank writes into the run directory before all have checked it
        self.train_set: ImageDataset = build_dataset(cfg.data.spec, "train")
        self.eval_set: ImageDataset | None = build_dataset(cfg.data.spec, "test") if cfg.run.eval_every else None
        if self.eval_set is not None and self.eval_set.num_classes != self.train_set.num_classes:
            raise SpherecodeError(f"Data '{cfg.data.spec}': train has {self.train_set.num_classes} classes, test "
                                  f"{self.eval_set.num_classes}.")
        ck = self.checkpoint
        extra = {"codebook": self.codebook} if self.codebook is not None else {}
        self.task: Task = build_task(cfg, self.train_set, ck["task_state"] if ck else None, **extra)

        check_memory(training_bytes(self.task.build_model, min(self.batch_per_rank, len(self.train_set)),
                                    self.train_set.image_size,
                                    2 + (cfg.optim.ema_decay is not None), 0.5 if self.amp_dtype else 1.0),
                     f"training {cfg.model.arch} of width {cfg.model.width} on batches of {self.batch_per_rank} images "
                     f"of side {self.train_set.image_size}", "--width", self.device,
                     "use a smaller --width, --batch-size or image size")
        seed_everything(cfg.run.seed)
        raw = self.task.build_model()
        if ck is not None:
            load_weights(raw, ck["model"], self.resume_dir or "the checkpoint")
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
        self.ema = EMA(raw, o.ema_decay) if o.ema_decay is not None else None
        if self.ema is not None and ck is not None and isinstance(ck.get("ema"), dict):
            load_weights(self.ema.model, ck["ema"], self.resume_dir or "the checkpoint")

        groups = self.task.param_groups(raw)
        if not o.decay_norm_bias:
            groups = no_decay_groups(raw, groups)
        if o.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD(
                groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay)
        elif o.optimizer == "lars":  # large batches (the CLAMP recipe): SGD momentum with a per-layer trust ratio
            from .lars import LARS

            self.optimizer = LARS(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov, weight_decay=o.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(o.momentum, 0.999), weight_decay=o.weight_decay)
        self.train_loader = self._loader(self.train_set, self.task.train_dataset(self.train_set), self.batch_per_rank, True)
        self.steps_per_epoch = len(self.train_loader)
        if self.steps_per_epoch == 0:
            raise SpherecodeError(f"Argument '--batch-size' {cfg.data.batch_size} exceeds the training set "
                                  f"({len(self.train_set)} images): no full batch to train on.")
        self.eval_batch = cfg.data.eval_batch_size or self.batch_per_rank
        self.eval_loader = None
        if self.eval_set is not None:
            self.eval_loader = self._loader(self.eval_set, self.task.eval_dataset(self.eval_set), self.eval_batch, False)
        self.eval_context = EvalContext(device=self.device, amp_dtype=self.amp_dtype, loader=self.eval_loader,
                                        eval_set=self.eval_set, batch_size=self.eval_batch, workers=self.workers,
                                        dist=dist, make_loader=lambda base: self._loader(
                                            base, self.task.eval_dataset(base), self.eval_batch, False),
                                        progress=cfg.run.progress and dist.is_main)
        self.schedule = Schedule(o.lr, cfg.run.epochs * self.steps_per_epoch, round(o.warmup_epochs * self.steps_per_epoch),
                                 o.schedule, o.min_lr, o.milestones, o.gamma, self.steps_per_epoch, self.optimizer)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best: float | None = None
        if ck is not None:
            self.optimizer.load_state_dict(ck["optimizer"])
            self.schedule.load_state_dict(ck["schedule"])
            if self.scaler is not None and ck.get("scaler"):
                self.scaler.load_state_dict(ck["scaler"])
            self.epoch = int(ck["epoch"])
            self.history = list(ck.get("history", []))
            self.best = ck.get("best")
            set_rng_state(ck["rng"])
        self.tb_writer = None
        if cfg.run.tensorboard:
            if self.run_dir is None:
                raise SpherecodeError("Argument '--tensorboard' needs --out RUN_DIR (the scalars go to RUN_DIR/tensorboard).")
            self.tb_writer = tensorboard_writer(self.run_dir / "tensorboard") if dist.is_main else None
        if self.run_dir is not None and dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._write_config()
            self._write_metrics_file()

    def _write_config(self) -> None:
        """``config.toml`` in the run directory, unless a file of that name is the user's (no trainer header):
        then ``config.resolved.toml`` beside it, and the user's file stays as it was."""
        assert self.run_dir is not None
        text = CONFIG_HEADER + "\n" + to_toml(self.config)
        target = self.run_dir / "config.toml"
        if target.exists() and not target.read_text(errors="replace").startswith(CONFIG_HEADER):
            target = self.run_dir / "config.resolved.toml"
            self.notes.append(f"'{self.run_dir / 'config.toml'}' is not the trainer's: left as it is; the run's config "
                              f"is written to '{target}'")
        with atomic_write(target, "w") as fh:
            fh.write(text)

    # ------------------------------------------------------------- utilities
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return self.eval_context.autocast()

    def _write_metrics_file(self) -> None:
        assert self.run_dir is not None
        with atomic_write(self.run_dir / METRICS, "w") as fh:
            fh.write("".join(dump_json(r) + "\n" for r in self.history))

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch, "config": self.config.to_dict(), "data": {
                **self.train_set.describe(), "class_names": list(self.train_set.class_names)},
            "task": self.config.run.task, "task_state": self.task.state_dict(),
            "model": self.raw_model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.model.state_dict() if self.ema is not None else None,
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng_state(), "history": self.history, "best": self.best,
        }

    # ------------------------------------------------------------------ loop
    def _progress(self, epoch: int) -> Any:
        from .progress import epoch_progress

        return epoch_progress(self.steps_per_epoch, f"epoch {epoch + 1}/{self.config.run.epochs}",
                              self.config.run.progress and self.dist.is_main)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training set; returns the epoch's training metrics, the mean learning rate
        of its steps (``lr``) and the throughput."""
        cfg, model, opt = self.config, self.model, self.optimizer
        self.train_loader.set_epoch(epoch)
        self.task.on_epoch_start(epoch)
        model.train()
        sums: dict[str, torch.Tensor | float] = {}
        bar = self._progress(epoch)
        clip = cfg.optim.grad_clip
        lr_sum, steps = 0.0, 0
        start = time.perf_counter()
        for step, batch in enumerate(self.train_loader):
            lr_sum += self.schedule.current
            steps += 1
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
            if self.ema is not None:
                self.ema.update(self.raw_model)
            self.schedule.step()
            for k, v in out.sums.items():
                sums[k] = sums[k] + v if k in sums else v
            if bar is not None:
                bar.update(1)
                if step % max(1, cfg.run.log_every) == 0:
                    bar.set_postfix(loss=f"{float(out.loss.detach()):.4f}", lr=f"{self.schedule.current:.3g}")
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - start
        if bar is not None:
            bar.close()
        reduced = distributed.all_reduce_sums(sums, self.dist, self.device)
        metrics = self.task.summarise(reduced)
        if not all(np.isfinite(v) for v in metrics.values()):
            raise SpherecodeError(f"Training diverged in epoch {epoch + 1} (metrics {metrics}); lower --lr or enable --grad-clip.")
        metrics.update(self.task.epoch_metrics())
        metrics["lr"] = lr_sum / max(steps, 1)
        metrics["images_per_s"] = reduced.get("count", 0.0) / max(elapsed, 1e-9)
        metrics["epoch_time_s"] = elapsed
        return metrics

    def evaluation_model(self) -> nn.Module:
        """The weights evaluated: the EMA when the run keeps one, else the trained model."""
        return self.ema.model if self.ema is not None else self.raw_model

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
            described = self.task.describe()
            for line in ([described] if described else []) + self.notes:
                self.log(line)
            while self.epoch < cfg.run.epochs:
                epoch = self.epoch
                record: dict[str, Any] = {"epoch": epoch + 1, **self.train_epoch(epoch)}
                last = epoch + 1 == cfg.run.epochs
                every = cfg.run.eval_every
                if every and ((epoch + 1) % every == 0 or last):
                    record.update({f"val_{k}": v for k, v in self.task.evaluate(self.evaluation_model(), self.eval_context).items()})
                self.epoch = epoch + 1
                self.history.append(record)
                improved = "val_top1" in record and (self.best is None or record["val_top1"] > self.best)
                if improved:
                    self.best = record["val_top1"]
                if self.dist.is_main:
                    if self.run_dir is not None:
                        if last or (epoch + 1) % cfg.run.checkpoint_every == 0 or (improved and cfg.run.keep_best):
                            save_checkpoint(self.state(), self.run_dir / CHECKPOINT)
                            if improved and cfg.run.keep_best:
                                save_checkpoint(self.state(), self.run_dir / BEST)
                        with open(self.run_dir / METRICS, "a") as fh:
                            fh.write(dump_json(record) + "\n")
                    if self.tb_writer is not None:
                        for k, v in record.items():
                            if k != "epoch":
                                self.tb_writer.add_scalar(k, v, record["epoch"])
                        self.tb_writer.flush()
                    self.log(format_record(record))
                distributed.barrier(self.dist)
        finally:
            if self.tb_writer is not None:
                self.tb_writer.close()
            distributed.teardown(self.dist)
            self.close()
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
        elif isinstance(v, int):
            parts.append(f"{k} {v}")
        elif k == "images_per_s":
            parts.append(f"{v:.0f} img/s")
        elif k == "epoch_time_s":
            parts.append(f"{v:.1f} s")
        else:
            parts.append(f"{k} {v:.4f}")
    return "  ".join(parts)


def fit(config: Any, resume: str | Path | None = None, overrides: dict[str, Any] | None = None,
        log: Log | None = None, codebook: Codebook | None = None) -> list[dict[str, Any]]:
    """Train ``config`` (or resume a run) and return the per-epoch metrics; ``codebook``: a
    :class:`~spherecode.codebook.Codebook` object for the prototype head (no file needed).

    Examples:
        >>> from spherecode.train.config import TrainConfig
        >>> cfg = override(TrainConfig(), {"spec": "synthetic:classes=3,per_class=4,image_size=8", "head": "linear",
        ...                      "arch": "resnet10", "width": 4, "epochs": 1, "batch_size": 6, "workers": 0})
        >>> history = fit(cfg, log=lambda s: None)
        >>> len(history), sorted(history[0])[:4]
        (1, ['epoch', 'epoch_time_s', 'images_per_s', 'loss'])
    """
    return Trainer(config, resume=resume, overrides=overrides, log=log, codebook=codebook).fit()


__all__ = ["Trainer", "fit", "format_record", "resolve_amp"]
