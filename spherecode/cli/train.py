"""``spherecode train`` and ``spherecode evaluate``: thin layers over :mod:`spherecode.train`.

Every config field has a flag (``--batch-size`` -> ``[data] batch_size``; ``--data`` -> ``[data] spec``);
flags override the ``--config`` TOML recipe one-to-one. torch is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from .common import print_json


def add_config_flags(p: argparse.ArgumentParser, cfg_type: type | None = None) -> None:
    """One flag per config field (default: leave the recipe's value), grouped by section."""
    from ..train.config import TrainConfig, field_table, flag_of

    table = field_table(cfg_type or TrainConfig)
    groups: dict[str, Any] = {}
    for name, (sec, f, tp) in table.items():
        group = groups.setdefault(sec, p.add_argument_group(f"[{sec}] overrides"))
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        helptext = f"{f.metadata.get('help', '')} (default {default})"
        base = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
        if base[0] is bool:
            group.add_argument(flag_of(name, f), dest=name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=helptext)
        else:
            group.add_argument(flag_of(name, f), dest=name, default=argparse.SUPPRESS, metavar=name.upper(), help=helptext)


def add_force_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="start over in an --out folder that holds a run, or overwrite files there the trainer did not write")


def collect_overrides(args: argparse.Namespace, cfg_type: type | None = None) -> dict[str, Any]:
    from ..train.config import TrainConfig, field_table

    return {name: getattr(args, name) for name in field_table(cfg_type or TrainConfig) if hasattr(args, name)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a classifier with a prototype (codebook) or linear head",
                       description="Train a ResNet with a fixed-codebook prototype head or a linear head. "
                                   "Flags override the --config recipe. Under torchrun, runs DDP.")
    p.add_argument("--config", help="TOML recipe (see experiments/configs/)")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_DIR",
                   help="continue a run from its checkpoint (RUN_DIR, a checkpoint file, or --out when given bare)")
    add_force_flag(p)
    add_config_flags(p)
    p.set_defaults(run=run_train)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint: top-1/5, per-class accuracy, confusions (a "
                       "pretraining run: k-NN and linear probe)",
                       description="Evaluate from the checkpoint alone (codebook and config are stored in it). A "
                                   "classifier run reports top-1/5, per-class accuracy and confusions; a pretraining "
                                   "run has no classifier and reports the k-NN and linear-probe accuracy of its "
                                   "features (as `spherecode geometry`).")
    p.add_argument("checkpoint", help="checkpoint.pt or a run directory")
    p.add_argument("--data", help="dataset spec (default: the one it was trained on)")
    p.add_argument("--split", default="test", help="train | test | val (test for CIFAR, val for ImageNet); default test")
    p.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | auto")
    p.add_argument("--batch-size", type=int, default=256, help="images per batch (default 256)")
    p.add_argument("--workers", type=int, default=0, help="loader worker processes (default 0)")
    p.add_argument("--amp", default="auto", help="off | bf16 | fp16 | auto (default auto)")
    p.add_argument("--top", type=int, default=10, help="how many confused pairs to list, >= 0 (default 10)")
    p.add_argument("--probe-epochs", type=int, default=100, help="pretraining runs: linear-probe epochs (default 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    from ..train.config import TrainConfig

    return fit_from_args(args, TrainConfig)


def fit_from_args(args: argparse.Namespace, cfg_type: type) -> int:
    """Build the trainer a ``train`` or ``pretrain`` command line asks for (new run or ``--resume``) and fit;
    a warning (e.g. a class folder without images) is one line on stderr, said once."""
    import warnings

    seen: set[str] = set()

    def one_line(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        text = str(message)
        if text not in seen:
            seen.add(text)
            print(text if text.startswith("spherecode:") else f"spherecode: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = one_line
        return _fit_from_args(args, cfg_type)


def _fit_from_args(args: argparse.Namespace, cfg_type: type) -> int:
    from ..errors import SpherecodeError
    from ..train.config import load_toml
    from ..train.loop import Trainer

    overrides = collect_overrides(args, cfg_type)
    resume = args.resume
    if resume is True:
        if "out" not in overrides:
            raise SpherecodeError("Argument '--resume' without a path needs --out RUN_DIR.")
        resume = overrides["out"]
    if resume is not None:
        if args.config:
            raise SpherecodeError("Arguments '--resume' and '--config' exclude each other: a resumed run uses its stored config.")
        if args.force:
            raise SpherecodeError("Arguments '--resume' and '--force' exclude each other: --force starts a run over.")
        trainer = Trainer(cfg_type(), resume=resume, overrides=overrides)
    else:
        cfg = load_toml(args.config, cfg_type) if args.config else cfg_type()
        trainer = Trainer(cfg, overrides=overrides, force=args.force)
    trainer.fit()
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from ..errors import check_int
    from ..train.checkpoint import load_run
    from ..train.evaluate import check_eval_arguments, evaluate_checkpoint

    check_eval_arguments(args.split, args.batch_size, args.workers, args.top)
    check_int("--probe-epochs", args.probe_epochs, minimum=0)
    run = load_run(args.checkpoint, build_model=False)
    if run.task_name == "pretrain":
        from ..train.representation import evaluate_representation

        rep = evaluate_representation(run, data=args.data, split=args.split, device=args.device,
                                      batch_size=args.batch_size, workers=args.workers,
                                      knn_k=run.config.ssl.knn_k, knn_temperature=run.config.ssl.knn_temperature,
                                      probe_epochs=args.probe_epochs)
        if args.json:
            print_json(rep.to_dict())
        else:
            print(f"{run.path}: {run.describe()}; features of the frozen backbone")
            print(rep.format())
        return 0
    report = evaluate_checkpoint(run, data=args.data, split=args.split, device=args.device,
                                 batch_size=args.batch_size, workers=args.workers, amp=args.amp, top_pairs=args.top)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.format())
    return 0
