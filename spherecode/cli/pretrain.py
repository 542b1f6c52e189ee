"""``spherecode pretrain`` and ``spherecode geometry``: thin layers over :mod:`spherecode.train.pretrain`,
:mod:`spherecode.train.representation` and :mod:`spherecode.geometry`."""

from __future__ import annotations

import argparse

from ..plots_geometry import PLOT_SUFFIXES
from .common import output_path, print_json
from .train import add_config_flags, add_force_flag, fit_from_args


def _pretrain_config_type() -> type:
    from ..train.pretrain_config import PretrainConfig

    return PretrainConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="self-supervised pretraining: hypersolid | clamp | hydes",
                       description="Pretrain a ResNet + projector with a packing loss on multi-crop views, through the "
                                   "same loop as `train` (checkpoints, --resume, DDP under torchrun, metrics.jsonl). "
                                   "Flags override the --config recipe.")
    p.add_argument("--config", help="TOML recipe (see experiments/configs/)")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_DIR",
                   help="continue a run from its checkpoint (RUN_DIR, a checkpoint file, or --out when given bare)")
    add_force_flag(p)
    add_config_flags(p, _pretrain_config_type())
    p.set_defaults(run=run_pretrain)

    p = sub.add_parser("geometry", help="geometry, k-NN and linear probe of a checkpoint's features, or of a codebook",
                       description="For a (pre)training checkpoint: features of the train and test split (frozen), "
                                   "k-NN and linear-probe accuracy, and the geometry of the test features. For a "
                                   "codebook .npz/.npy: the geometry of its vectors.")
    p.add_argument("path", help="checkpoint.pt, a run directory, or a codebook .npz/.npy")
    p.add_argument("--data", help="dataset spec (default: the one it was trained on)")
    p.add_argument("--split", default="test", help="split to measure: test (CIFAR) / val (ImageNet); default test")
    p.add_argument("--device", default="auto", help="cpu | cuda | cuda:N | auto")
    p.add_argument("--batch-size", type=int, default=256, help="images per batch (default 256)")
    p.add_argument("--workers", type=int, default=0, help="loader worker processes (default 0)")
    p.add_argument("--knn-k", type=int, default=200, help="k-NN neighbours (default 200)")
    p.add_argument("--knn-temperature", type=float, default=0.1, help="k-NN vote temperature (default 0.1)")
    p.add_argument("--probe-epochs", type=int, default=100, help="linear-probe epochs, 0 to skip (default 100)")
    p.add_argument("--probe-lr", type=float, default=1e-2, help="linear-probe AdamW learning rate (default 1e-2)")
    p.add_argument("--probe-weight-decay", type=float, default=0.0, help="linear-probe weight decay (default 0)")
    p.add_argument("--probe-batch-size", type=int, default=256, help="linear-probe batch size (default 256)")
    p.add_argument("--plot", help="save the positive/negative pair-cosine histogram here (.png, .pdf, .svg)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --plot file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_geometry)


def run_pretrain(args: argparse.Namespace) -> int:
    return fit_from_args(args, _pretrain_config_type())


def run_geometry(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import SpherecodeError

    plot = output_path(args.plot, args.force, "--plot", suffixes=PLOT_SUFFIXES) if args.plot else None
    path = Path(args.path)
    if not path.exists():
        raise SpherecodeError(f"Argument 'path': '{path}' does not exist (give a checkpoint, run directory or codebook).")
    if path.suffix in (".npz", ".npy"):
        from ..codebook import Codebook
        from ..geometry import geometry_report

        if plot is not None:
            raise SpherecodeError("Argument '--plot' needs labelled features (a checkpoint), not a codebook.")
        report = geometry_report(Codebook.load(path))
        print_json(report.to_dict()) if args.json else print(report.format())
        return 0
    from ..train.representation import evaluate_representation

    rep = evaluate_representation(path, data=args.data, split=args.split, device=args.device, batch_size=args.batch_size,
                                  workers=args.workers, knn_k=args.knn_k, knn_temperature=args.knn_temperature,
                                  probe_epochs=args.probe_epochs, probe_lr=args.probe_lr,
                                  probe_weight_decay=args.probe_weight_decay, probe_batch_size=args.probe_batch_size)
    if plot is not None:
        from ..plots_geometry import plot_pair_cosines

        plot_pair_cosines(rep.histogram, plot, title=f"{path.name}: pair cosines ({args.split})")
    if args.json:
        print_json({**rep.to_dict(), **({"plot": str(plot)} if plot else {})})
    else:
        print(rep.format())
        if plot:
            print(f"saved {plot}")
    return 0
