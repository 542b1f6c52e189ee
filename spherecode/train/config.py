r"""Typed training configuration: dataclasses, loadable from TOML, overridable flag by flag.

A :class:`TrainConfig` has one section per concern (``[data]``, ``[model]``, ``[optim]``,
``[run]``); every field carries a help text and maps one-to-one onto a command-line flag
(``--batch-size`` sets ``data.batch_size``; a few fields have a short flag: ``--data`` for
``data.spec``). Field names are unique across sections, so a flag names exactly one field; a section
marked ``QUALIFIED`` (the per-loss sections of pretraining) prefixes its fields with its name
(``[hydes] alpha`` is ``--hydes-alpha``). Each field declares its valid range; a value outside it
is refused in one line naming the key and its flag.
TOML has no null: leave a key out to keep its default (``None`` where that means "off/auto").

Examples:
    >>> cfg = from_dict({"run": {"epochs": 3}, "data": {"batch_size": 64}})
    >>> cfg.run.epochs, cfg.data.batch_size, cfg.optim.lr
    (3, 64, 0.1)
    >>> from_dict({"run": {"epoch": 3}})
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Unknown config key 'run.epoch'; valid keys in [run]: amp, channels_last, checkpoint_every, compile, device, epochs, eval_every, keep_best, log_every, out, progress, seed, sync_bn, task, tensorboard.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SpherecodeError

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def _f(default: Any, help: str, flag: str | None = None, *, min: float | None = None,  # noqa: A002
       max: float | None = None, positive: bool = False, choices: tuple[str, ...] | None = None,
       increasing: bool = False) -> Any:
    """A config field: its default, help text, optional short flag and the range of valid values
    (``min``/``max`` inclusive, ``positive`` for > 0, ``choices`` for strings; for a list, each value's
    range and ``increasing``); checked by :func:`coerce`."""
    meta = {"help": help, "flag": flag, "min": min, "max": max, "positive": positive, "choices": choices,
            "increasing": increasing}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


#: Upper bounds of the counts a user gives (beyond them a run cannot be meant: it would never end,
#: or the machine would run out of processes).
MAX_EPOCHS, MAX_WORKERS = 100_000, 256


def default_workers() -> int:
    """Loader worker processes per rank when ``workers`` is left out: ``min(4, CPUs - 1)`` (0 on one core)."""
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(4, cpus - 1))


@dataclass
class DataConfig:
    spec: str = _f("synthetic", "dataset: cifar100:PATH | imagenet:PATH | folder:PATH[,size=32,norm=auto] | digits | "
                   "mnist | glyphs[:key=value,...] | synthetic[:key=value,...]", flag="--data")
    batch_size: int = _f(128, "global batch size (images per step, split across ranks)", min=1)
    eval_batch_size: int | None = _f(None, "evaluation batch size per rank (default: batch_size)", min=1)
    workers: int | None = _f(None, "data-loading worker processes per rank (default: min(4, CPUs - 1))", min=0,
                             max=MAX_WORKERS)
    pipeline: str = _f("auto", "input pipeline: device (whole dataset as one uint8 tensor on the training device, "
                       "CPU or GPU, batched crop/flip there; also the faster path on a CPU) | workers (per-sample "
                       "loader) | auto (device for CIFAR-style in-memory data with the standard crop/flip, else "
                       "workers)", choices=("auto", "device", "workers"))


@dataclass
class EncoderConfig:
    """The backbone (what pretraining trains; the supervised :class:`ModelConfig` adds the head)."""

    arch: str = _f("resnet18", "backbone: resnet10 | resnet18 | resnet34 | resnet50")
    variant: str = _f("auto", "stem: cifar (3x3, no max-pool) | imagenet (7x7 + max-pool) | auto (from the data)",
                      choices=("auto", "cifar", "imagenet"))
    width: int = _f(64, "channels of the first stage (64 in the papers)", min=1)
    norm: str = _f("batch", "normalisation layers: batch | group", choices=("batch", "group"))


@dataclass
class ModelConfig(EncoderConfig):
    """The backbone and the classifier head."""

    head: str = _f("prototype", "classifier head: prototype | linear", choices=("prototype", "linear"))
    codebook: str | None = _f(None, "codebook .npz for the prototype head (N = classes)")
    temperature: float = _f(0.1, "prototype logits <z, c_i> / temperature (0.1 measured on digits/mnist: "
                               "docs/training.md)", positive=True)
    relabelling: str = _f("auto", "class -> prototype: auto (the codebook's stored permutation when it has one, "
                          "else identity) | none (raw rows, ignoring a stored permutation) | fixed (the stored "
                          "permutation, required) | learned | dynamic (reassigned during training from each class's "
                          "mean feature direction: DL2PA; docs/relabelling.md)",
                          choices=("auto", "none", "fixed", "learned", "dynamic"))
    relabel_penalty: float = _f(0.0, "weight of the learned relabelling's permutation penalty in the loss", min=0.0)
    relabel_init_mass: float = _f(0.5, "learned relabelling: the start permutation's weight in the initial soft "
                                  "matrix (near 1 saturates Sinkhorn and it never moves; docs/relabelling.md)",
                                  min=1e-6, max=0.999999)
    relabel_final_temperature: float | None = _f(0.001, "learned relabelling: anneal the Sinkhorn temperature "
                                                 "geometrically from 0.1 to this over the run, so the soft matrix "
                                                 "ends at the rounded permutation (0.1: no annealing)", positive=True)
    relabel_lr_scale: float = _f(0.1, "learning-rate multiplier of the learned relabelling's logits (follows the "
                                 "shared schedule; docs/relabelling.md)", positive=True)
    dynamic_momentum: float = _f(0.9, "dynamic relabelling: momentum of each class's feature memory (DL2PA: 0.9)",
                                 min=0.0, max=0.999999)
    assign_every: int | None = _f(None, "dynamic relabelling: reassign classes to prototypes every this many steps "
                                  "(default: once per epoch, after its evaluation)", min=1)
    dynamic_warmup: int = _f(1, "dynamic relabelling: epochs trained before the first reassignment (1: after the "
                                "first epoch, as DL2PA)", min=1)
    dim: int | None = _f(None, "projection (linear + batch norm) dimension before the head (prototype: codebook d; "
                               "linear: none, the head standardises the pooled features; 0: the raw pooled features)", min=0)


@dataclass
class CommonOptimConfig:
    """Optimiser, schedule and regularisation settings shared by every task."""

    optimizer: str = _f("sgd", "sgd (momentum) | adamw | lars (SGD momentum with a per-layer trust ratio, large batches)",
                        choices=("sgd", "adamw", "lars"))
    lr: float = _f(0.1, "peak learning rate (per global batch)", positive=True)
    momentum: float = _f(0.9, "SGD momentum (AdamW beta1)", min=0.0, max=0.999999)
    nesterov: bool = _f(False, "Nesterov momentum for SGD")
    weight_decay: float = _f(5e-4, "weight decay (decoupled for AdamW)", min=0.0)
    decay_norm_bias: bool = _f(True, "apply weight decay to normalisation and bias parameters too "
                               "(--no-decay-norm-bias excludes them, as timm does)")
    schedule: str = _f("cosine", "learning-rate schedule after warm-up: cosine | step | constant",
                       choices=("cosine", "step", "constant"))
    warmup_epochs: float = _f(0.0, "linear warm-up length in epochs: step t of W uses lr * (t + 1) / W "
                              "(must not exceed the run)", min=0.0)
    min_lr: float = _f(0.0, "final learning rate of the cosine schedule", min=0.0)
    milestones: list[int] = _f([], "epochs at which the step schedule multiplies lr by gamma (increasing)", min=1,
                               increasing=True)
    gamma: float = _f(0.1, "step-schedule factor", positive=True)
    grad_clip: float | None = _f(None, "clip the global gradient norm to this value (off when absent)", positive=True)
    ema_decay: float | None = _f(None, "keep an exponential moving average of the weights with this decay "
                                 "(e.g. 0.999; evaluation and the checkpoint's 'ema' use it; off when absent)",
                                 min=0.0, max=0.999999999)


@dataclass
class OptimConfig(CommonOptimConfig):
    """The shared settings and the supervised loss."""

    loss: str = _f("ce", "supervised loss: ce (cross-entropy on logits) | mettes ((1 - cos)^2, prototype head)",
                   choices=("ce", "mettes"))
    label_smoothing: float = _f(0.0, "label smoothing of the cross-entropy", min=0.0, max=1.0)
    mixup: float = _f(0.0, "mixup: Beta(a, a) parameter a of the mixing weight (0: off; e.g. 0.8)", min=0.0)
    cutmix: float = _f(0.0, "CutMix: Beta(a, a) parameter a (0: off; e.g. 1.0; with mixup, one of the two per batch)",
                       min=0.0)
    randaugment_n: int = _f(0, "RandAugment: operations per training image, drawn from the 14 of Cubuk et al. "
                            "(0: off; e.g. 2)", min=0, max=14)
    randaugment_m: int = _f(9, "RandAugment magnitude on timm's scale 0-30 (10: the full standard ranges)", min=0, max=30)
    randaugment_p: float = _f(0.5, "RandAugment: probability that each drawn operation is applied (timm: 0.5)",
                              min=0.0, max=1.0)


@dataclass
class RunConfig:
    task: str = _f("supervised", "what to train: supervised (classification with a head; `spherecode pretrain` "
                   "for self-supervised runs)", choices=("supervised",))
    epochs: int = _f(200, "training epochs", min=1, max=MAX_EPOCHS)
    device: str = _f("auto", "cpu | cuda | cuda:N | auto (cuda when available)")
    amp: str = _f("auto", "mixed precision: off | bf16 | fp16 | auto (bf16 on CUDA, off on CPU)",
                  choices=("off", "bf16", "fp16", "auto"))
    compile: bool = _f(False, "torch.compile the model")
    channels_last: bool = _f(True, "channels_last memory format on CUDA")
    sync_bn: bool = _f(True, "SyncBatchNorm under multi-GPU DDP (CUDA only)")
    seed: int = _f(0, "seed of initialisation, sampling and augmentation", min=0, max=2**63 - 1)
    out: str | None = _f(None, "run directory for metrics.jsonl and checkpoints")
    eval_every: int = _f(1, "evaluate on the test/val split every this many epochs and at the end (0: never)", min=0)
    checkpoint_every: int = _f(1, "write the checkpoint every this many epochs and at the end", min=1)
    keep_best: bool = _f(False, "also keep best.pt: the checkpoint of the epoch with the best val_top1")
    log_every: int = _f(20, "update the progress bar every this many steps", min=1)
    tensorboard: bool = _f(False, "also write the epoch metrics as TensorBoard scalars to RUN_DIR/tensorboard "
                           "(needs the 'tensorboard' extra; metrics.jsonl stays the record)")
    progress: bool = _f(True, "show progress on stderr (rank 0): a bar on a terminal, else a line every 30 s")


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def sections(cfg_type: type = TrainConfig) -> dict[str, type]:
    """Section name -> section dataclass of a config type."""
    hints = typing.get_type_hints(cfg_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(cfg_type)}


def _base_type(tp: Any) -> tuple[Any, bool]:
    """(underlying type, optional?) of a field annotation."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def field_key(section: str, section_type: type, name: str) -> str:
    """The flag/override key of a field: its name, or ``section_name`` in a section whose fields are
    qualified (``QUALIFIED = True``: the per-loss sections, whose argument names repeat, e.g. ``hydes_alpha``)."""
    return f"{section}_{name}" if getattr(section_type, "QUALIFIED", False) else name


def flag_of(key: str, f: dataclasses.Field) -> str:
    """The command-line flag of a field (``--batch-size``; ``--data`` for ``data.spec``)."""
    return f.metadata.get("flag") or "--" + key.replace("_", "-")


def field_table(cfg_type: type = TrainConfig) -> dict[str, tuple[str, dataclasses.Field, Any]]:
    """Key (see :func:`field_key`) -> (section, field, type) over all sections; keys are unique."""
    table: dict[str, tuple[str, dataclasses.Field, Any]] = {}
    for sec, sec_type in sections(cfg_type).items():
        hints = typing.get_type_hints(sec_type)
        for f in dataclasses.fields(sec_type):
            key = field_key(sec, sec_type, f.name)
            if key in table:
                raise AssertionError(f"config key {key!r} appears in two sections")
            table[key] = (sec, f, hints[f.name])
    return table


def _check_range(name: str, value: Any, f: dataclasses.Field | None) -> Any:
    if f is None or value is None:
        return value
    meta = f.metadata
    choices = meta.get("choices")
    if choices and value not in choices:
        raise SpherecodeError(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    if isinstance(value, list):
        for v in value:
            _check_number(name, v, meta, f" (each value; got {value!r})")
        if meta.get("increasing") and any(b <= a for a, b in zip(value, value[1:])):
            raise SpherecodeError(f"{name} must be strictly increasing, not {value!r}.")
    else:
        _check_number(name, value, meta)
    return value


def _check_number(name: str, value: Any, meta: Any, what: str = "") -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpherecodeError(f"{name} must be a finite number, not {value!r}{what}.")
    if meta.get("positive") and not value > 0:
        raise SpherecodeError(f"{name} must be positive, not {value!r}{what}.")
    if lo is not None and value < lo:
        raise SpherecodeError(f"{name} must be at least {lo}, not {value!r}{what}.")
    if hi is not None and value > hi:
        raise SpherecodeError(f"{name} must be at most {hi}, not {value!r}{what}.")


#: The words for a field's type in error messages.
_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _scalar(value: Any, base: Any, text: bool) -> Any:
    """``value`` as ``base`` (bool, int, float or str), or ``ValueError``. Typed values (TOML, Python)
    must already have the type (an int is also a float); text (a command-line flag) is parsed."""
    if text and isinstance(value, str) and base is not str:
        if base is bool:
            if value.lower() not in ("true", "1", "yes", "on", "false", "0", "no", "off"):
                raise ValueError
            return value.lower() in ("true", "1", "yes", "on")
        if base is int:
            return int(value.strip())
        return float(value)  # OverflowError-free: "1e400" is inf, refused as not finite
    if base is bool:
        if not isinstance(value, bool):
            raise ValueError
        return value
    if isinstance(value, bool) or isinstance(value, str) != (base is str):
        raise ValueError
    if base is int:
        if isinstance(value, float) or not isinstance(value, int) and not _integral(value):
            raise ValueError
        return int(value)
    if base is float:
        if not isinstance(value, (int, float)) and not _integral(value) and not _floating(value):
            raise ValueError
        return float(value)
    return value


def _integral(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.integer)


def _floating(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.floating)


def coerce(name: str, value: Any, tp: Any, f: dataclasses.Field | None = None, text: bool = False) -> Any:
    """Check/convert ``value`` for a field of annotation ``tp`` (and the range declared on ``f``);
    raise naming the field (``name`` is e.g. "Config key 'data.batch_size' (--batch-size)").

    Types are strict: ``lr = "0.1"`` or ``epochs = 3.5`` in a TOML file is refused, as is a bool
    for a number. With ``text`` (a command-line flag, where every value is a string) a string is
    parsed: ``"0.1"``, ``"true"``, ``"5,10"`` for a list."""
    base, optional = _base_type(tp)
    if value is None:
        if optional:
            return None
        raise SpherecodeError(f"{name} cannot be empty.")
    is_list = typing.get_origin(base) is list
    item = typing.get_args(base)[0] if is_list else base
    try:
        if is_list:
            if text and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            elif not isinstance(value, (list, tuple)):
                raise ValueError
            out: Any = [_scalar(v, item, text) for v in value]
        elif base in _TYPE_WORDS:
            out = _scalar(value, base, text)
        else:
            return value
    except (TypeError, ValueError, OverflowError):
        word = _TYPE_WORDS.get(item, getattr(item, "__name__", str(item)))
        if is_list:
            word = f"a list of {word.replace('an ', '').replace('a ', '')}s (e.g. [5, 10]{', or 5,10 as a flag' if text else ''})"
        raise SpherecodeError(f"{name} must be {word}, not {value!r}.") from None
    return _check_range(name, out, f)


def _label(sec: str, sec_type: type, f: dataclasses.Field) -> str:
    return f"Config key '{sec}.{f.name}' ({flag_of(field_key(sec, sec_type, f.name), f)})"


def from_dict(data: dict[str, Any], cfg_type: type = TrainConfig) -> Any:
    """Build a config from nested dicts (as parsed from TOML); unknown keys and out-of-range values are errors."""
    if not isinstance(data, dict):
        raise SpherecodeError(f"Argument 'data' must be a dict of config sections, not {type(data).__name__}.")
    secs = sections(cfg_type)
    kwargs = {}
    for sec, values in data.items():
        if sec not in secs:
            raise SpherecodeError(f"Unknown config section '[{sec}]'; valid sections: {', '.join(secs)}.")
        if not isinstance(values, dict):
            raise SpherecodeError(f"Config section '[{sec}]' must be a table.")
        hints = typing.get_type_hints(secs[sec])
        fields = {f.name: f for f in dataclasses.fields(secs[sec])}
        for key in values:
            if key not in fields:
                raise SpherecodeError(f"Unknown config key '{sec}.{key}'; valid keys in [{sec}]: {', '.join(sorted(fields))}.")
        kwargs[sec] = secs[sec](**{k: coerce(_label(sec, secs[sec], fields[k]), v, hints[k], fields[k])
                                   for k, v in values.items()})
    return cfg_type(**kwargs)


def load_toml(path: str | Path, cfg_type: type = TrainConfig) -> Any:
    """Read a TOML recipe into a config."""
    p = Path(path)
    if not p.is_file():
        raise SpherecodeError(f"Argument '--config': file '{p}' does not exist.")
    try:
        data = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpherecodeError(f"Argument '--config': '{p}' is not valid TOML ({exc}).") from None
    return from_dict(data, cfg_type)


def override(cfg: Any, updates: dict[str, Any]) -> Any:
    """A copy of ``cfg`` with ``{key: value}`` applied (keys as in :func:`field_table`: unique across sections)."""
    table = field_table(type(cfg))
    secs = sections(type(cfg))
    new = dataclasses.replace(cfg, **{s: dataclasses.replace(getattr(cfg, s)) for s in secs})
    for key, value in updates.items():
        if key not in table:
            raise SpherecodeError(f"Unknown config field '{key}'; valid: {', '.join(sorted(table))}.")
        sec, f, tp = table[key]
        setattr(getattr(new, sec), f.name, coerce(_label(sec, secs[sec], f), value, tp, f,
                                                              text=isinstance(value, str)))
    return new


def to_toml(cfg: Any) -> str:
    """Write a config as TOML (fields that are ``None`` are left out)."""
    lines: list[str] = []
    for sec, values in cfg.to_dict().items():
        lines.append(f"[{sec}]")
        for k, v in values.items():
            if v is None:
                continue
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, str):
                lines.append(f"{k} = {_toml_str(v)}")
            else:
                lines.append(f"{k} = {v!r}")
        lines.append("")
    return "\n".join(lines)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
