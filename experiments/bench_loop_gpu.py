"""Our training loop against a minimal plain-PyTorch loop: same model, same data, same run (GPU).

The CIFAR setting of docs/training.md: ResNet-18 (CIFAR stem), 32x32 inputs, batch 512, bf16 autocast,
channels_last, SGD momentum, cudnn.benchmark. Rows:

- plain PyTorch loop: autocast forward, cross-entropy, backward, SGD step, on pre-made device batches;
- spherecode loop: `Trainer.train_epoch` on the same pre-made batches (isolates the loop: task step,
  autocast, schedule, metric sums on the device);
- spherecode loop + resident CIFAR pipeline: our loop fed by what `spherecode train` uses for
  CIFAR-format data (the whole set as one uint8 tensor on the GPU, crop/flip/normalise of whole
  batches there; synthetic images);
- `--with-workers N` adds our loop fed by the per-sample worker loader (the ImageNet-folder path).

Repeats alternate between the rows, medians reported. A row that fails prints its error in the
table instead of stopping the run. Target: ours >= 95% of the plain loop's images/s. Takes under
two minutes on one GPU (defaults: 5 repeats x 40 steps).

    PYTHONPATH=. python experiments/bench_loop_gpu.py                      # needs CUDA
    PYTHONPATH=. python experiments/bench_loop_gpu.py --device cpu --batch-size 8 --steps 3 --width 8 --repeats 1   # code check
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

from spherecode.constructions import generate
from spherecode.train.config import TrainConfig, override
from spherecode.train.loop import Trainer


class DeviceBatches:
    """``steps`` batches that already live on the device, shaped like the loader's output."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
        self.x, self.y, self.steps = x, y, steps

    def set_epoch(self, epoch: int) -> None:
        pass

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


class Limited:
    """The first ``steps`` batches of a loader (our real pipelines, timed over the same number of steps)."""

    def __init__(self, loader, steps: int) -> None:
        self.loader, self.steps = loader, min(steps, len(loader))

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i >= self.steps:
                break
            yield batch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--steps", type=int, default=40, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--amp", default="bf16", help="bf16 | fp16 | off (CUDA only)")
    p.add_argument("--compile", action="store_true", help="torch.compile both models")
    p.add_argument("--with-workers", type=int, default=0, metavar="N",
                   help="also time our loop fed by the per-sample loader with N workers (0: skip)")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("bench_loop_gpu: CUDA is not available on this machine; this benchmark measures GPU throughput. "
              "For a functional check of the code on CPU run: --device cpu --batch-size 8 --steps 3 --width 8 --repeats 1",
              file=sys.stderr)
        return 2
    started = time.perf_counter()
    amp = args.amp if device.type == "cuda" else "off"
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]
    tmp = Path(tempfile.mkdtemp(prefix="bench_loop_"))
    cb = tmp / "codebook.npz"
    generate(100, 64, method="random", seed=0).save(cb)
    per_class = max(1, args.batch_size * args.steps // 100 + 1)
    values = {"spec": f"synthetic:classes=100,per_class={per_class},image_size=32",
              "codebook": str(cb), "arch": args.arch, "width": args.width, "variant": "cifar", "epochs": 10**6,
              "batch_size": args.batch_size, "workers": 0, "device": str(device), "amp": amp, "channels_last": True,
              "compile": args.compile, "eval_every": 0, "progress": False, "lr": 0.01}
    ours = Trainer(override(TrainConfig(), values), log=lambda s: None)
    loaders = {"spherecode loop + resident CIFAR pipeline": Limited(ours.train_loader, args.steps)}
    if args.with_workers:
        other = Trainer(override(TrainConfig(), {**values, "pipeline": "workers", "workers": args.with_workers}),
                        log=lambda s: None)
        loaders[f"spherecode loop + {args.with_workers} loader workers"] = Limited(other.train_loader, args.steps)

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

    rows = ["plain PyTorch loop", "spherecode loop", *loaders]
    results: dict[str, list[float]] = {k: [] for k in rows}
    errors: dict[str, str] = {}

    def measure(name: str, batches=None) -> float:
        if name == "plain PyTorch loop":
            return plain_loop(plain_run, plain_opt, batches or data, dtype)
        if name == "spherecode loop":
            return run_ours(batches or data)
        return run_ours(loaders[name])

    for name in rows:  # warm-up: cudnn autotuning, allocator, (compile)
        try:
            measure(name, warm if name in ("plain PyTorch loop", "spherecode loop") else None)
        except Exception as exc:  # noqa: BLE001 - report the row, keep the others
            errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
            traceback.print_exc(file=sys.stderr)
    for r in range(args.repeats):
        order = rows if r % 2 == 0 else rows[::-1]
        for name in order:
            if name in errors:
                continue
            try:
                results[name].append(measure(name))
            except Exception as exc:  # noqa: BLE001
                errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
                traceback.print_exc(file=sys.stderr)
    med = {k: statistics.median(v) for k, v in results.items() if v}
    base = med.get("plain PyTorch loop")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"# bench_loop_gpu: {args.arch} width {args.width}, 32x32, batch {args.batch_size}, amp {amp}, "
          f"channels_last {device.type == 'cuda'}, cudnn.benchmark {torch.backends.cudnn.benchmark}, "
          f"compile {args.compile}; {args.repeats} repeats x {args.steps} steps, median")
    print(f"# device: {name}; torch {torch.__version__}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("| loop                                        | images/s   | vs plain |")
    print("|---------------------------------------------|------------|----------|")
    for k in rows:
        if k in med:
            rel = f"{100 * med[k] / base:>7.1f}%" if base else "    n/a"
            print(f"| {k:<43} | {med[k]:>10.1f} | {rel} |")
        else:
            print(f"| {k:<43} | failed: {errors.get(k, 'no measurement')}")
    if base and "spherecode loop" in med:
        print(f"ours / plain = {100 * med['spherecode loop'] / base:.1f}% (target >= 95%)")
    print(f"# total time {time.perf_counter() - started:.0f} s")
    return 0 if base and "spherecode loop" in med else 1


if __name__ == "__main__":
    sys.exit(main())
