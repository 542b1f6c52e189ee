"""Benchmark: does the learned relabelling (Sinkhorn permutation trained with the network) move?

The hierarchical synthetic set of the CPU study (20 classes in 5 superclasses, 16 px, ResNet-10
width 8, the recipe of experiments/studies/cpu_synthetic.toml) with a poorly separated random
codebook (N = 20, d = 10). Per labelling and seed: val top-1 (final epoch), the Spearman
correlation between class similarity (the data's tree) and prototype cosine of the final hard
permutation (spherecode.relabel.metrics), and the fraction of classes whose prototype differs
from the identity start. Rows: identity, semantic (QAP to the tree: the reference), and the learned
relabelling (a) with the old defaults (start margin 1 at tau 0.1 = ``relabel_init_mass`` 0.99914,
no annealing, the network's learning rate), (b) with only the soft start (mass 1/2), (c) with the
new defaults (soft start, temperature annealed 0.1 -> 0.001, logit lr x 0.1); and the dynamic
assignment (DL2PA: class memory, linear assignment once per epoch, from the identity). Mean +- std over seeds.

Run:  OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/bench_learned_relabel.py [--epochs 10] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tomllib
import torch

from spherecode.data.spec import build_dataset
from spherecode.relabel.metrics import labelling_report
from spherecode.study.config import CodebookSpec, study_from_dict
from spherecode.study.plan import Run
from spherecode.study.runner import base_codebook, class_structure, labelled_codebook, trainer_config
from spherecode.train.config import override
from spherecode.train.loop import Trainer

RECIPE = Path(__file__).parent / "studies" / "cpu_synthetic.toml"
OLD_MASS = float(np.exp(10.0) / (np.exp(10.0) + 19.0))  # margin 1 at tau 0.1, N = 20: the old start


def variants(penalty: float) -> list[tuple[str, str, dict[str, Any]]]:
    """(row label, study labelling, trainer overrides)."""
    return [("identity", "identity", {}),
            ("semantic (reference)", "semantic", {}),
            ("learned, old defaults", "learned", {"relabel_init_mass": OLD_MASS, "relabel_final_temperature": None,
                                                  "relabel_lr_scale": 1.0, "relabel_penalty": penalty}),
            ("learned, soft start only", "learned", {"relabel_final_temperature": None, "relabel_lr_scale": 1.0,
                                                     "relabel_penalty": penalty}),
            ("learned, new defaults", "learned", {"relabel_penalty": penalty}),
            ("dynamic (DL2PA)", "identity", {"relabelling": "dynamic"})]


def one_run(out: Path, label: str, labelling: str, updates: dict[str, Any], seed: int, epochs: int) -> dict[str, Any]:
    """Train one run of the study's recipe with ``labelling`` (and trainer ``updates``); its measures."""
    torch.set_num_threads(1)
    data = tomllib.loads(RECIPE.read_text(encoding="utf-8"))
    data["study"] = {"name": "bench-learned", "out": str(out), "seeds": [seed], "heads": ["prototype"],
                     "labellings": [labelling], "hierarchy": "data"}
    data["codebooks"] = [{"method": "random", "dim": 10}]
    data["train"]["run"]["epochs"] = epochs
    config = study_from_dict(data)
    spec = CodebookSpec(name="random-d10", method="random", dim=10)
    folder = out / f"{label.replace(' ', '_').replace(',', '').replace('(', '').replace(')', '')}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    run = Run(name=folder.name, head="prototype", seed=seed, folder=folder, codebook=spec, labelling=labelling)
    structure = class_structure(config, build_dataset(config.train.data.spec, "train"))
    cb = base_codebook(config, run, 20)
    cfg = trainer_config(config, run, folder / "codebook.npz")
    cb = labelled_codebook(config, run, cb, structure, cfg, lambda s: None)
    path = cb.save(folder / "codebook.npz", overwrite=True)
    cfg = override(trainer_config(config, run, path), updates)
    start = time.perf_counter()
    trainer = Trainer(cfg, log=lambda s: None)
    history = trainer.fit()
    seconds = time.perf_counter() - start
    final = trainer.raw_model.head.current_codebook()
    perm = np.arange(final.n) if final.permutation is None else np.asarray(final.permutation)
    rep = labelling_report(final.prototypes, structure.similarity, structure.siblings)
    evals = [r for r in history if "val_top1" in r]
    return {"top1": 100 * evals[-1]["val_top1"], "spearman": rep.spearman,
            "changed": float(np.mean(perm != np.arange(final.n))), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--penalty", type=float, default=0.01, help="relabel_penalty (the CPU study's learned_penalty)")
    parser.add_argument("--only", nargs="*", default=None, help="row labels to run (default all)")
    args = parser.parse_args()
    rows = [v for v in variants(args.penalty) if args.only is None or v[0] in args.only]
    print(f"hierarchical synthetic set (20 classes / 5 superclasses), random codebook N=20 d=10, ResNet-10 w8, "
          f"{args.epochs} epochs, seeds {args.seeds}, penalty {args.penalty}; load {os.getloadavg()}")
    print(f"{'labelling':<24}{'val top-1 %':>16}{'spearman':>16}{'changed':>14}{'s/run':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, labelling, updates in rows:
            res = [one_run(Path(tmp), label, labelling, updates, s, args.epochs) for s in args.seeds]
            col = {k: np.array([r[k] for r in res]) for k in res[0]}
            print(f"{label:<24}{col['top1'].mean():>9.1f} +- {col['top1'].std():<4.1f}"
                  f"{col['spearman'].mean():>9.3f} +- {col['spearman'].std():<5.3f}"
                  f"{col['changed'].mean():>7.2f} +- {col['changed'].std():<4.2f}{col['seconds'].mean():>8.0f}",
                  flush=True)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
