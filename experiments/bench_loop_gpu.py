"""Our training loop against a minimal plain-PyTorch loop: same model, same data, same run (GPU).

The CIFAR setting of the issue: ResNet-18 (CIFAR stem), 32x32 inputs, batch 512, bf16 autocast,
channels_last, SGD momentum. Both loops consume the same pre-made batches already on the GPU, so
the comparison isolates the loop (task step, autocast, schedule, metric sums, checkpoint-free epoch)
from data loading; `--with-loader` adds a row for our loop fed by its real data pipeline (synthetic
images, torch augmentations in worker processes). Repeats alternate, medians reported.
Target: ours >= 95% of the plain loop's images/s.

    PYTHONPATH=. python experiments/bench_loop_gpu.py                      # needs CUDA
    PYTHONPATH=. python experiments/bench_loop_gpu.py --device cpu --batch-size 8 --steps 3 --width 8   # code check
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from spherecode.constructions import generate
from spherecode.train.config import TrainConfig, override
from spherecode.train.loop import Trainer


class DeviceBatches:
    """``steps`` batches that already live on the device, shaped like the loader's output."""

    class _Sampler:
        def set_epoch(self, epoch: int) -> None:
            pass

    def __init__(self, x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
        self.x, self.y, self.steps, self.sampler = x, y, steps, self._Sampler()

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            yield self.x, self.y


def plain_loop(model: torch.nn.Module, opt: torch.optim.Optimizer, data: DeviceBatches, dtype: torch.dtype | None) -> float:
    """The minimal loop: autocast forward, cross-entropy, backward, SGD step."""
    model.train()
    device = data.x.device
    start = time.perf_counter()
    for x, y in data:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return data.steps * data.x.shape[0] / (time.perf_counter() - start)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--steps", type=int, default=50, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--amp", default="bf16", help="bf16 | fp16 | off (CUDA only)")
    p.add_argument("--compile", action="store_true", help="torch.compile both models")
    p.add_argument("--with-loader", action="store_true", help="also time our loop with its real data loader")
    p.add_argument("--workers", type=int, default=8)
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("bench_loop_gpu: CUDA is not available on this machine; this benchmark measures GPU throughput. "
              "For a functional check of the code on CPU run: --device cpu --batch-size 8 --steps 3 --width 8",
              file=sys.stderr)
        return 2
    amp = args.amp if device.type == "cuda" else "off"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]
    tmp = Path(tempfile.mkdtemp(prefix="bench_loop_"))
    cb = tmp / "codebook.npz"
    generate(100, 64, method="random", seed=0).save(cb)
    cfg = override(TrainConfig(), {
        "spec": f"synthetic:classes=100,per_class={max(1, args.batch_size * args.steps // 100 + 1)},image_size=32",
        "codebook": str(cb), "arch": args.arch, "width": args.width, "variant": "cifar", "epochs": 10**6,
        "batch_size": args.batch_size, "workers": args.workers if args.with_loader else 0, "device": str(device),
        "amp": amp, "channels_last": True, "compile": args.compile, "eval_every": 0, "progress": False, "lr": 0.01})
    ours = Trainer(cfg, log=lambda s: None)
    real_loader = ours.train_loader

    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch_size, 3, 32, 32, generator=g).to(device)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 100, (args.batch_size,), generator=g).to(device)
    data = DeviceBatches(x, y, args.steps)
    warm = DeviceBatches(x, y, 5 if device.type == "cuda" else 1)

    # The plain loop trains an identical copy of the same model (same class, same initialisation).
    plain_model = copy.deepcopy(ours.raw_model)
    plain_run = torch.compile(plain_model) if args.compile else plain_model
    plain_opt = torch.optim.SGD(plain_model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def run_ours(batches) -> float:
        ours.train_loader = batches
        return ours.train_epoch(0)["images_per_s"]

    run_ours(warm)
    plain_loop(plain_run, plain_opt, warm, dtype)
    results: dict[str, list[float]] = {"plain PyTorch loop": [], "spherecode loop": []}
    if args.with_loader:
        results["spherecode loop + its data loader"] = []
    for r in range(args.repeats):
        order = list(results) if r % 2 == 0 else list(results)[::-1]
        for name in order:
            if name == "plain PyTorch loop":
                results[name].append(plain_loop(plain_run, plain_opt, data, dtype))
            elif name == "spherecode loop":
                results[name].append(run_ours(data))
            else:
                results[name].append(run_ours(real_loader))
    med = {k: statistics.median(v) for k, v in results.items()}
    base = med["plain PyTorch loop"]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"# bench_loop_gpu: {args.arch} width {args.width}, 32x32, batch {args.batch_size}, amp {amp}, "
          f"channels_last {device.type == 'cuda'}, compile {args.compile}; {args.repeats} repeats x {args.steps} steps, median")
    print(f"# device: {name}; torch {torch.__version__}")
    print("| loop                              | images/s   | vs plain |")
    print("|-----------------------------------|------------|----------|")
    for k, v in med.items():
        print(f"| {k:<33} | {v:>10.1f} | {100 * v / base:>7.1f}% |")
    print(f"ours / plain = {100 * med['spherecode loop'] / base:.1f}% (target >= 95%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
