r"""Typed training configuration: dataclasses, loadable from TOML, overridable flag by flag.

A :class:`TrainConfig` has one section per concern (``[data]``, ``[model]``, ``[optim]``,
``[run]``); every field carries a help text and maps one-to-one onto a command-line flag
(``--batch-size`` sets ``data.batch_size``; a few fields have a short flag: ``--data`` for
``data.spec``). Field names are unique across sections, so a flag names exactly one field.
TOML has no null: leave a key out to keep its default (``None`` where that means "off/auto").

Examples:
    >>> cfg = from_dict({"run": {"epochs": 3}, "data": {"batch_size": 64}})
    >>> cfg.run.epochs, cfg.data.batch_size, cfg.optim.lr
    (3, 64, 0.1)
    >>> from_dict({"run": {"epoch": 3}})
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Unknown config key 'run.epoch'; valid keys in [run]: amp, channels_last, compile, device, epochs, eval_every, log_every, out, progress, seed, sync_bn, task.
"""

from __future__ import annotations

import dataclasses
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


def _f(default: Any, help: str, flag: str | None = None) -> Any:  # noqa: A002
    meta = {"help": help, "flag": flag}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    spec: str = _f("synthetic", "dataset: cifar100:PATH | imagenet:PATH | folder:PATH[,size=32,norm=auto] | digits | "
                   "mnist | synthetic[:key=value,...]", flag="--data")
    batch_size: int = _f(128, "global batch size (images per step, split across ranks)")
    eval_batch_size: int | None = _f(None, "evaluation batch size per rank (default: batch_size)")
    workers: int = _f(4, "data-loading worker processes per rank")


@dataclass
class ModelConfig:
    arch: str = _f("resnet18", "backbone: resnet10 | resnet18 | resnet34 | resnet50")
    variant: str = _f("auto", "stem: cifar (3x3, no max-pool) | imagenet (7x7 + max-pool) | auto (from the data)")
    width: int = _f(64, "channels of the first stage (64 in the papers)")
    norm: str = _f("batch", "normalisation layers: batch | group")
    head: str = _f("prototype", "classifier head: prototype | linear")
    codebook: str | None = _f(None, "codebook .npz for the prototype head (N = classes)")
    temperature: float = _f(0.1, "prototype logits <z, c_i> / temperature (0.1 measured on digits/mnist: docs/training.md)")
    relabelling: str = _f("none", "class -> prototype: none | fixed (codebook's permutation) | learned")
    relabel_penalty: float = _f(0.0, "weight of the learned relabelling's permutation penalty in the loss")
    dim: int | None = _f(None, "projection (linear + batch norm) dimension before the head (prototype: codebook d; linear: none)")


@dataclass
class OptimConfig:
    optimizer: str = _f("sgd", "sgd (momentum) | adamw")
    lr: float = _f(0.1, "peak learning rate (per global batch)")
    momentum: float = _f(0.9, "SGD momentum (AdamW beta1 stays 0.9)")
    nesterov: bool = _f(False, "Nesterov momentum for SGD")
    weight_decay: float = _f(5e-4, "weight decay (decoupled for AdamW)")
    schedule: str = _f("cosine", "learning-rate schedule after warm-up: cosine | step | constant")
    warmup_epochs: float = _f(0.0, "linear warm-up length in epochs (from lr/100... to lr)")
    min_lr: float = _f(0.0, "final learning rate of the cosine schedule")
    milestones: list[int] = _f([], "epochs at which the step schedule multiplies lr by gamma")
    gamma: float = _f(0.1, "step-schedule factor")
    loss: str = _f("ce", "supervised loss: ce (cross-entropy on logits) | mettes ((1 - cos)^2, prototype head)")
    label_smoothing: float = _f(0.0, "label smoothing of the cross-entropy")
    grad_clip: float | None = _f(None, "clip the global gradient norm to this value (off when absent)")


@dataclass
class RunConfig:
    task: str = _f("supervised", "what to train: supervised (classification with a head)")
    epochs: int = _f(200, "training epochs")
    device: str = _f("auto", "cpu | cuda | cuda:N | auto (cuda when available)")
    amp: str = _f("auto", "mixed precision: off | bf16 | fp16 | auto (bf16 on CUDA, off on CPU)")
    compile: bool = _f(False, "torch.compile the model")
    channels_last: bool = _f(True, "channels_last memory format on CUDA")
    sync_bn: bool = _f(True, "SyncBatchNorm under multi-GPU DDP (CUDA only)")
    seed: int = _f(0, "seed of initialisation, sampling and augmentation")
    out: str | None = _f(None, "run directory for metrics.jsonl and checkpoints")
    eval_every: int = _f(1, "evaluate on the test/val split every this many epochs (0: never)")
    log_every: int = _f(20, "update the progress bar every this many steps")
    progress: bool = _f(True, "show a progress bar (rank 0, when stderr is a terminal)")


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


def field_table(cfg_type: type = TrainConfig) -> dict[str, tuple[str, dataclasses.Field, Any]]:
    """Field name -> (section, field, type) over all sections; names are unique."""
    table: dict[str, tuple[str, dataclasses.Field, Any]] = {}
    for sec, sec_type in sections(cfg_type).items():
        hints = typing.get_type_hints(sec_type)
        for f in dataclasses.fields(sec_type):
            if f.name in table:
                raise AssertionError(f"config field {f.name!r} appears in two sections")
            table[f.name] = (sec, f, hints[f.name])
    return table


def coerce(name: str, value: Any, tp: Any) -> Any:
    """Check/convert ``value`` for a field of annotation ``tp``; raise naming the field."""
    base, optional = _base_type(tp)
    if value is None:
        if optional:
            return None
        raise SpherecodeError(f"Config key '{name}' cannot be empty.")
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
                return value.lower() in ("true", "1", "yes", "on")
            raise ValueError
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if base is str:
            if not isinstance(value, str):
                raise ValueError
            return value
        if typing.get_origin(base) is list:
            if isinstance(value, str):
                value = [v for v in value.split(",") if v.strip()]
            return [int(v) for v in value]
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise SpherecodeError(f"Config key '{name}' must be {getattr(base, '__name__', str(base))}, not {value!r}.")


def from_dict(data: dict[str, Any], cfg_type: type = TrainConfig) -> Any:
    """Build a config from nested dicts (as parsed from TOML); unknown keys are errors."""
    secs = sections(cfg_type)
    kwargs = {}
    for sec, values in data.items():
        if sec not in secs:
            raise SpherecodeError(f"Unknown config section '[{sec}]'; valid sections: {', '.join(secs)}.")
        if not isinstance(values, dict):
            raise SpherecodeError(f"Config section '[{sec}]' must be a table.")
        hints = typing.get_type_hints(secs[sec])
        known = {f.name for f in dataclasses.fields(secs[sec])}
        for key in values:
            if key not in known:
                raise SpherecodeError(f"Unknown config key '{sec}.{key}'; valid keys in [{sec}]: {', '.join(sorted(known))}.")
        kwargs[sec] = secs[sec](**{k: coerce(f"{sec}.{k}", v, hints[k]) for k, v in values.items()})
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
    """A copy of ``cfg`` with ``{field name: value}`` applied (field names are unique across sections)."""
    table = field_table(type(cfg))
    new = dataclasses.replace(cfg, **{s: dataclasses.replace(getattr(cfg, s)) for s in sections(type(cfg))})
    for name, value in updates.items():
        if name not in table:
            raise SpherecodeError(f"Unknown config field '{name}'; valid: {', '.join(sorted(table))}.")
        sec, _, tp = table[name]
        setattr(getattr(new, sec), name, coerce(f"{sec}.{name}", value, tp))
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
