r"""What the loop trains: the :class:`Task` protocol and the supervised classification task.

The loop (:mod:`spherecode.train.loop`) knows nothing about labels or heads. A task

1. builds the model from the config and the training set (:meth:`Task.build_model`);
2. wraps the raw datasets with its augmentations (:meth:`Task.train_dataset`, :meth:`Task.eval_dataset`;
   a multi-crop task returns several views per image here);
3. computes, for one batch already on the device and under autocast, the loss and a dict of
   metric *sums* (:meth:`Task.training_step`); the loop adds them up over the epoch and over ranks
   and :meth:`Task.summarise` turns them into the epoch's metrics;
4. evaluates (:meth:`Task.evaluate`) through an :class:`EvalContext`: the device, precision, eval
   loader and loader settings, not the whole trainer (the default runs :meth:`Task.eval_step`
   over the eval loader);
5. stores what it needs to be rebuilt from a checkpoint alone (:meth:`Task.state_dict`, e.g. the
   codebook), received back as ``state`` in the constructor.

Each task names its config type (:attr:`Task.config_type`). The registry of tasks, which imports
every task, is :mod:`spherecode.train.registry`; ``[run] task = "name"`` selects one. This module
imports nothing else of the training layer at run time (no cycle: the loop and the tasks import it).
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset

from ..codebook import Codebook
from ..errors import SpherecodeError, check_choice
from ..nn.backbones import ARCHS, Encoder, resnet
from ..nn.heads import Classifier, LinearHead, PrototypeHead, build_dynamic_relabelling, build_learned_relabelling
from ..nn.losses import SUPERVISED_LOSSES, mettes_loss, prototype_cross_entropy
from . import distributed
from .config import TrainConfig

if TYPE_CHECKING:
    from ..data.dataset import ImageDataset


@dataclass
class StepOutput:
    """A batch's loss (scalar, with gradient) and metric sums over its samples (detached tensors).

    ``sums`` must contain ``"count"`` (samples in the batch); every other entry is a sum that
    :meth:`Task.summarise` divides by the epoch's total count (or uses as it likes). Values are
    device tensors or plain numbers (a Python number avoids a host-to-device copy per step).
    """

    loss: torch.Tensor
    sums: dict[str, torch.Tensor | float] = field(default_factory=dict)


@dataclass
class EvalContext:
    """What a task's evaluation may use: the device, the precision, the eval loader (this rank's
    shard of ``task.eval_dataset(eval_set)``, batches already on the device), the held-out split,
    the per-rank batch size and worker count for extra loaders, and the process group.

    :meth:`run` sums a task's per-batch metric sums over the loader and over ranks.
    """

    device: torch.device
    amp_dtype: torch.dtype | None = None
    loader: Any = None
    eval_set: ImageDataset | None = None
    batch_size: int = 256
    workers: int = 0
    dist: distributed.DistInfo = field(default_factory=distributed.DistInfo)
    #: This rank's shard of another split (e.g. the training set as a k-NN memory) with the task's
    #: evaluation transform, batches on the device like ``loader``'s.
    make_loader: Callable[[ImageDataset], Any] | None = None
    #: Show progress of long evaluation passes (a k-NN memory's features) on stderr (rank 0 only).
    progress: bool = False

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def run(self, step: Callable[[nn.Module, Any], dict[str, Any]], model: nn.Module) -> dict[str, float]:
        """Sum ``step(model, batch)`` over the eval loader (all ranks' shards) in eval mode, without grad."""
        if self.loader is None:
            return {}
        was_training = model.training
        model.eval()
        sums: dict[str, Any] = {}
        with torch.no_grad(), self.autocast():
            for batch in self.loader:
                for k, v in step(model, batch).items():
                    sums[k] = sums[k] + v if k in sums else v
        model.train(was_training)
        return distributed.all_reduce_sums(sums, self.dist, self.device)


class Task(abc.ABC):
    """An objective the generic loop can train (supervised, self-supervised, ...)."""

    name: ClassVar[str] = ""
    #: The config dataclass of runs of this task (how a checkpoint's stored config is read back).
    config_type: ClassVar[type] = TrainConfig

    def __init__(self, config: Any, train_set: ImageDataset, state: dict[str, Any] | None = None) -> None:
        self.config, self.train_set = config, train_set

    def describe(self) -> str:
        """A few words for the run's log (e.g. which labelling the head uses); default: nothing."""
        return ""

    # -------------------------------------------------------------- building
    @abc.abstractmethod
    def build_model(self) -> nn.Module:
        """The model on CPU (the loop moves, wraps and compiles it)."""

    def train_dataset(self, base: ImageDataset) -> Dataset:
        """The augmented training set (items: ``(input, target)``)."""
        from ..data.dataset import AugmentedDataset

        return AugmentedDataset(base, base.train_transform(), seed=self.config.run.seed)

    def eval_dataset(self, base: ImageDataset) -> Dataset:
        """The evaluation set with deterministic transforms."""
        from ..data.dataset import AugmentedDataset

        return AugmentedDataset(base, base.eval_transform(), seed=self.config.run.seed)

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """Optimiser parameter groups (default: all trainable parameters, one group)."""
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]

    # ------------------------------------------------------------- one batch
    @abc.abstractmethod
    def training_step(self, model: nn.Module, batch: Any) -> StepOutput:
        """Loss and metric sums for one training batch (on the device, inside autocast)."""

    def on_epoch_start(self, epoch: int) -> None:
        """Called before each training epoch (e.g. to anneal a temperature); default: nothing."""

    def epoch_metrics(self) -> dict[str, float]:
        """Extra entries for the epoch's training record (e.g. classes reassigned); default: none."""
        return {}

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor | float]:
        """Metric sums for one evaluation batch (model in eval mode, no grad)."""
        return self.training_step(model, batch).sums

    def summarise(self, sums: dict[str, float]) -> dict[str, float]:
        """Epoch metrics from summed batch metrics: every sum divided by ``count``."""
        n = max(sums.get("count", 0.0), 1.0)
        return {k: v / n for k, v in sums.items() if k != "count"}

    # ------------------------------------------------------------ evaluation
    def evaluate(self, model: nn.Module, ctx: EvalContext) -> dict[str, float]:
        """Metrics on the held-out split (keys get a ``val_`` prefix in metrics.jsonl)."""
        return self.summarise(ctx.run(self.eval_step, model))

    # ----------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Extra state for the checkpoint (plain types and tensors only)."""
        return {}


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside torch.compile and DDP wrappers."""
    model = getattr(model, "_orig_mod", model)
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


# ------------------------------------------------------------------ supervised
def codebook_to_bytes(cb: Codebook) -> torch.Tensor:
    """The codebook's own ``.npz`` serialisation (:meth:`Codebook.save`) as a uint8 tensor, for a checkpoint."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="spherecode-codebook-") as tmp:
        path = cb.save(Path(tmp) / "codebook.npz")
        return torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)


def codebook_from_bytes(data: torch.Tensor) -> Codebook:
    """The codebook stored by :func:`codebook_to_bytes`, read back (and validated) by :meth:`Codebook.load`."""
    import tempfile
    from pathlib import Path

    if isinstance(data, dict) and isinstance(data.get("vectors"), torch.Tensor):  # checkpoints before the .npz bytes
        import json

        import numpy as np

        meta = json.loads(data.get("metadata") or "{}")
        perm = data.get("permutation")
        return Codebook(data["vectors"].numpy(), method=meta.get("method", "imported"), params=meta.get("params") or {},
                        seed=meta.get("seed"), version=meta.get("version", ""),
                        permutation=None if perm is None else np.asarray(perm))
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8:
        raise SpherecodeError("The checkpoint's codebook is neither a stored .npz codebook nor vectors (a foreign checkpoint).")
    with tempfile.TemporaryDirectory(prefix="spherecode-codebook-") as tmp:
        path = Path(tmp) / "codebook.npz"
        path.write_bytes(data.numpy().tobytes())
        return Codebook.load(path)


def topk_correct(logits: torch.Tensor, target: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[torch.Tensor]:
    """Number of samples whose target is among the top-k logits, for each k (k capped at N)."""
    kmax = min(max(ks), logits.shape[1])
    top = logits.topk(kmax, dim=1).indices
    hit = top.eq(target.view(-1, 1))
    return [hit[:, : min(k, kmax)].any(dim=1).sum() for k in ks]


class SupervisedTask(Task):
    """Classification with a prototype (fixed codebook) or linear head; cross-entropy or Mettes loss.

    Checks before any training: the codebook has one prototype per class, its dimension matches
    ``model.dim`` when that is given, and the loss suits the head.
    """

    name = "supervised"
    config_type = TrainConfig

    def __init__(self, config: TrainConfig, train_set: ImageDataset, state: dict[str, Any] | None = None,
                 codebook: Codebook | None = None) -> None:
        super().__init__(config, train_set, state)
        m, o = config.model, config.optim
        check_choice("head", m.head, ("prototype", "linear"))
        check_choice("arch", m.arch, ARCHS)
        check_choice("loss", o.loss, SUPERVISED_LOSSES)
        self.num_classes = train_set.num_classes
        self.codebook: Codebook | None = None
        self._mix_g: torch.Generator | None = None
        self._mix_state = state.get("mix_rng") if state else None
        if (o.mixup > 0 or o.cutmix > 0) and o.loss == "mettes":
            raise SpherecodeError("Arguments '--mixup'/'--cutmix' need --loss ce (the Mettes loss has no mixed target).")
        if m.head == "prototype":
            if state and state.get("codebook") is not None:
                self.codebook = codebook_from_bytes(state["codebook"])
            elif codebook is not None:
                if not isinstance(codebook, Codebook):
                    raise SpherecodeError(f"Argument 'codebook' must be a spherecode Codebook, not {type(codebook).__name__}.")
                self.codebook = codebook
            elif m.codebook is None:
                raise SpherecodeError("The prototype head needs a codebook: pass --codebook FILE.npz "
                                      "(make one with `spherecode generate`) or use --head linear.")
            else:
                self.codebook = Codebook.load(m.codebook)
            cb = self.codebook
            if cb.n != self.num_classes:
                raise SpherecodeError(f"Argument '--codebook': the codebook has N = {cb.n} prototypes but the data "
                                      f"'{config.data.spec}' has {self.num_classes} classes; make one with "
                                      f"`spherecode generate -n {self.num_classes} -d D`.")
            if m.dim == 0:
                raise SpherecodeError("Argument '--dim' 0 (no projection) is for the linear head; the prototype head "
                                      f"projects to the codebook dimension d = {cb.dim}: leave --dim out.")
            if m.dim is not None and m.dim != cb.dim:
                raise SpherecodeError(f"Argument '--dim': the projection dimension {m.dim} does not match the "
                                      f"codebook dimension d = {cb.dim}; leave --dim out or use a {m.dim}-dimensional codebook.")
        elif o.loss == "mettes":
            raise SpherecodeError("Argument '--loss': 'mettes' needs the prototype head (it uses the cosine to "
                                  "the class prototype); use --loss ce with --head linear.")
        elif m.relabelling not in ("none", "auto"):
            raise SpherecodeError(f"Argument '--relabelling' {m.relabelling!r} needs the prototype head.")
        elif codebook is not None:
            raise SpherecodeError("Argument 'codebook': a codebook needs the prototype head (this run uses --head linear).")

    @property
    def _mix_generator(self) -> torch.Generator:
        """The CPU generator of mixup/CutMix draws: seeded from the run's seed, its state in the checkpoint."""
        if getattr(self, "_mix_g", None) is None:
            self._mix_g = torch.Generator().manual_seed(self.config.run.seed + 7919)
            if getattr(self, "_mix_state", None) is not None:
                self._mix_g.set_state(self._mix_state)
        return self._mix_g

    def train_dataset(self, base: ImageDataset) -> Dataset:
        """The augmented training set, with RandAugment before the normalisation when ``randaugment_n > 0``."""
        dataset = super().train_dataset(base)
        o = self.config.optim
        if o.randaugment_n > 0:
            from ..data.randaugment import RandAugment, with_randaugment

            dataset.transform = with_randaugment(dataset.transform,  # type: ignore[attr-defined]
                                                 RandAugment(o.randaugment_n, o.randaugment_m, o.randaugment_p))
        return dataset

    def describe(self) -> str:
        if self.codebook is None:
            return "linear head"
        cb, how = self.codebook, self.config.model.relabelling
        if how == "auto":
            how = "fixed" if cb.permutation is not None else "none"
        labelling = {"fixed": "the codebook's stored permutation",
                     "learned": "a learned permutation" + (" (started at the stored one)" if cb.permutation is not None else ""),
                     "dynamic": "dynamic assignment (DL2PA, momentum "
                                f"{self.config.model.dynamic_momentum:g}, reassigned "
                                + ("once per epoch" if self.config.model.assign_every is None
                                   else f"every {self.config.model.assign_every} steps")
                                + (f" after {self.config.model.dynamic_warmup} warm-up epochs"
                                   if self.config.model.dynamic_warmup > 1 else "")
                                + (", started at the stored permutation)" if cb.permutation is not None else ")"),
                     "none": "identity (raw rows" + (", stored permutation ignored: relabelling none)"
                                                     if cb.permutation is not None else ")")}[how]
        return f"prototype head: codebook N={cb.n} d={cb.dim} ({cb.method}), labelling {labelling}"

    def build_model(self) -> nn.Module:
        m = self.config.model
        variant = self.train_set.kind if m.variant == "auto" else m.variant
        backbone = resnet(m.arch, variant=variant, width=m.width, norm=m.norm)
        if self.codebook is not None:
            encoder = Encoder(backbone, dim=self.codebook.dim)
            relabeller = (build_learned_relabelling(self.codebook, init_mass=m.relabel_init_mass,
                                                    final_temperature=m.relabel_final_temperature)
                          if m.relabelling == "learned" else None)
            if m.relabelling == "dynamic":
                relabeller = build_dynamic_relabelling(self.codebook, momentum=m.dynamic_momentum,
                                                       assign_every=m.assign_every)
            self._relabeller = relabeller
            head: nn.Module = PrototypeHead(self.codebook, m.temperature, m.relabelling, relabeller)
            self._head = head
        else:  # the linear head standardises its input unless a projection (dim) or raw features (dim 0) are asked
            encoder = Encoder(backbone, dim=m.dim or None)
            norm = getattr(backbone, "norm", "batch") if m.dim is None else "none"
            head = LinearHead(encoder.out_dim, self.num_classes, norm=norm)
        return Classifier(encoder, head)

    def _dynamic_head(self) -> PrototypeHead | None:
        head = getattr(self, "_head", None)
        return head if isinstance(head, PrototypeHead) and head.relabelling == "dynamic" else None

    def on_epoch_start(self, epoch: int) -> None:
        """Anneal a learned relabelling's Sinkhorn temperature (a function of the epoch: resumable); a dynamic
        relabelling reassigns once per epoch (before each epoch from ``dynamic_warmup`` on, default 1: after
        the previous one's evaluation, as DL2PA) unless it reassigns every ``assign_every`` steps (then not
        during the first ``dynamic_warmup`` epochs). Both depend only on the epoch and the model's state, so
        a resumed run repeats them exactly."""
        relabeller = getattr(self, "_relabeller", None)
        if relabeller is not None and hasattr(relabeller, "anneal"):
            relabeller.anneal(epoch / max(self.config.run.epochs - 1, 1))
        head = self._dynamic_head()
        if head is not None:
            warm = epoch < self.config.model.dynamic_warmup
            head.relabeller.hold = warm  # type: ignore[union-attr]
            if not warm and self.config.model.assign_every is None:
                head.reassign()

    def epoch_metrics(self) -> dict[str, float]:
        """Dynamic relabelling: ``relabel_moved``, the classes whose prototype changed in this epoch's
        reassignments (summed when there were several)."""
        head = self._dynamic_head()
        if head is None:
            return {}
        return {"relabel_moved": int(sum(head.relabeller.take_moved()))}  # type: ignore[union-attr]

    def param_groups(self, model: nn.Module) -> list[dict[str, Any]]:
        """Network weights with the configured weight decay; a learned relabelling without decay
        (decay would pull its logits towards the uniform, non-permutation matrix) and its own
        learning-rate multiplier ``model.relabel_lr_scale`` (the schedule's ``lr_scale``)."""
        relabel = [p for n, p in model.named_parameters() if p.requires_grad and ".relabeller." in f".{n}"]
        rest = [p for n, p in model.named_parameters() if p.requires_grad and ".relabeller." not in f".{n}"]
        scale = self.config.model.relabel_lr_scale
        return [{"params": rest}] + ([{"params": relabel, "weight_decay": 0.0, "lr_scale": scale}] if relabel else [])

    def _loss(self, model: nn.Module, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.config.optim.loss == "mettes":
            loss = mettes_loss(logits.float() * self.config.model.temperature, y)
        else:
            loss = prototype_cross_entropy(logits, y, self.config.optim.label_smoothing)
        weight = self.config.model.relabel_penalty
        if weight:
            head = getattr(unwrap_model(model), "head", None)
            penalty = head.penalty() if isinstance(head, PrototypeHead) else None
            if penalty is not None:
                loss = loss + weight * penalty.float()
        return loss

    def training_step(self, model: nn.Module, batch: Any) -> StepOutput:
        return self._step(model, batch, mix=True)

    def eval_step(self, model: nn.Module, batch: Any) -> dict[str, torch.Tensor | float]:
        return self._step(model, batch, mix=False).sums

    def _step(self, model: nn.Module, batch: Any, mix: bool) -> StepOutput:
        x, y = batch
        o = self.config.optim
        if mix and (o.mixup > 0 or o.cutmix > 0):
            from ..data.mixing import mix_batch

            x, y2, lam = mix_batch(x, y, o.mixup, o.cutmix, self._mix_generator)
            logits = model(x)
            loss = lam * self._loss(model, logits, y) + (1.0 - lam) * self._loss(model, logits, y2)
            head = self._dynamic_head()
            if head is not None:  # a mixed image counts lam for its class and 1 - lam for the other's
                w = torch.full(y.shape, float(lam), device=logits.device)
                head.observe(torch.cat([y, y2]), torch.cat([w, 1.0 - w]))
        else:
            logits = model(x)
            loss = self._loss(model, logits, y)
            head = self._dynamic_head() if mix else None
            if head is not None:
                head.observe(y)
        with torch.no_grad():
            c1, c5 = topk_correct(logits, y)
            n = float(y.shape[0])
            sums = {"loss": loss.detach().float() * n, "top1": c1.float(), "top5": c5.float(), "count": n}
        return StepOutput(loss, sums)

    def state_dict(self) -> dict[str, Any]:
        return {"codebook": None if self.codebook is None else codebook_to_bytes(self.codebook),
                "mix_rng": self._mix_g.get_state() if self._mix_g is not None else None}
