"""The ``glyphs`` set on a CPU: how long it takes to build, and which small recipe learns it quickly.

Builds the set (CPU seconds of the rendering, no cache), then trains each recipe with `spherecode
train`'s defaults (SGD lr 0.1, momentum 0.9, weight decay 5e-4, cosine schedule, batch 128) changing
only the architecture, width, image size, training images per class and epochs; the prototype head
uses an orthoplex codebook by default (N = 100, d = 50: every pair at 90 degrees or opposite;
``--method``/``--dim`` choose another, e.g. ``--method random --dim 10``). Everything runs
in this one process on one thread; times are CPU seconds (``time.process_time``), so a busy machine
does not inflate them. The table gives, per recipe and head, the CPU seconds per epoch and in all
(with the evaluations) and the top-1 accuracy on the training split's last epoch (augmented) and on
the test split (held-out fonts).

    PYTHONPATH=. python experiments/bench_glyphs.py                       # the recipes below
    PYTHONPATH=. python experiments/bench_glyphs.py --recipes r10w8s16 --heads linear --epochs 2   # smoke
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

#: name -> (arch, width, image size, training images per class, epochs).
RECIPES: dict[str, tuple[str, int, int, int, int]] = {
    "r10w8s16": ("resnet10", 8, 16, 150, 8),
    "r10w16s16": ("resnet10", 16, 16, 150, 5),
    "r10w8s32": ("resnet10", 8, 32, 100, 4),
}


def build_time(size: int, per_class: int) -> tuple[float, int]:
    """CPU seconds to render the set (both splits) without the cache, and the number of images."""
    from spherecode.data.glyphs import render_glyphs

    start = time.process_time()
    arrays = render_glyphs(seed=0, size=size, per_class=per_class, test_per_class=50)
    return time.process_time() - start, len(arrays["labels"])


def run(recipe: str, head: str, epochs: int | None, seed: int, extra: dict[str, Any], method: str = "orthoplex",
        dim: int = 50) -> dict[str, Any]:
    """Train one recipe and head; CPU seconds and accuracies."""
    from spherecode.constructions import generate
    from spherecode.data.spec import build_dataset
    from spherecode.train.config import TrainConfig, override
    from spherecode.train.loop import fit

    arch, width, size, per_class, default_epochs = RECIPES[recipe]
    epochs = epochs or default_epochs
    updates: dict[str, Any] = {"spec": f"glyphs:size={size},per_class={per_class}", "head": head, "arch": arch,
                               "width": width, "epochs": epochs, "workers": 0, "seed": seed, "progress": False,
                               "eval_every": epochs, **extra}
    with tempfile.TemporaryDirectory() as tmp:
        if head == "prototype":
            updates["codebook"] = str(Path(tmp) / "codebook.npz")
            generate(100, dim, method, seed=0).save(updates["codebook"])
        updates["out"] = str(Path(tmp) / "run")
        build_dataset(updates["spec"], "train")  # rendered or read from the cache outside the timing
        start = time.process_time()
        history = fit(override(TrainConfig(), updates), log=lambda s: None)
        seconds = time.process_time() - start
    return {"recipe": recipe, "head": head, "epochs": epochs, "cpu_s": seconds, "cpu_s_epoch": seconds / epochs,
            "train_top1": 100 * history[-1]["top1"], "test_top1": 100 * history[-1]["val_top1"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--heads", nargs="+", default=["linear", "prototype"], choices=["linear", "prototype"])
    p.add_argument("--epochs", type=int, default=None, help="override every recipe's epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="orthoplex", help="codebook construction of the prototype head")
    p.add_argument("--dim", type=int, default=50, help="codebook dimension d")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra training settings (numbers)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    extra = {k: float(v) if "." in v or "e" in v else int(v) for k, v in (s.split("=", 1) for s in args.set)}
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread, "
          f"load {os.getloadavg()[0]:.1f}; prototype codebook {args.method} d = {args.dim}")
    for size, per_class in sorted({(RECIPES[r][2], RECIPES[r][3]) for r in args.recipes}):
        seconds, n = build_time(size, per_class)
        print(f"build: {n:,} images of {size} px (100 classes, {per_class} + 50 per class): {seconds:.1f} CPU s",
              flush=True)
    print(f"{'recipe':<11} {'arch':<9} {'width':>5} {'size':>4} {'train/class':>11} {'head':<9} {'epochs':>6} "
          f"{'CPU s/epoch':>11} {'CPU s':>6} {'train top1':>10} {'test top1':>9}")
    for recipe in args.recipes:
        for head in args.heads:
            r = run(recipe, head, args.epochs, args.seed, extra, args.method, args.dim)
            arch, width, size, per_class, _ = RECIPES[recipe]
            print(f"{recipe:<11} {arch:<9} {width:>5} {size:>4} {per_class:>11} {head:<9} {r['epochs']:>6} "
                  f"{r['cpu_s_epoch']:>11.1f} {r['cpu_s']:>6.1f} {r['train_top1']:>9.1f}% {r['test_top1']:>8.1f}%",
                  flush=True)


if __name__ == "__main__":
    main()
