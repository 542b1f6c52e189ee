"""Self-supervised input pipeline and evaluation: multi-crop per sample vs batched on the device,
and the k-NN evaluation at CIFAR scale, in the same run.

1. Multi-crop throughput (the CIFAR recipe: 2 global + 6 local 32 px crops): images/s from the
   loader to the views on the device, (a) per sample: `multicrop_transform` in the loader
   (`--workers` processes, or the main process with 0), views collated and moved to the device;
   (b) batched: the loader hands over the uint8 images and `BatchedMultiCrop` makes every view
   on the device. Repeats alternate; medians. Target: batched >= 3x per sample on the CPU.
   Ops per batch: the operators one batch of the batched path dispatches (top-level ``aten`` ops
   in the profiler), for both strategies (``select``: the CPU default; ``masked``: the accelerator
   default); on CUDA also the kernels launched. On an accelerator each is a launch (~5-10 us), so
   this count, not the batch size, bounds the batched path's speed at CIFAR sizes.
2. k-NN evaluation (k = 200, T = 0.1): 50,000 x 512 training features against 10,000 queries,
   chunked with a running top-k on the device: time, the chunk working set against the dense
   similarity matrix, and the measured peak (CUDA: max allocated; CPU: peak RSS growth).

The machine is shared: the load average is printed beside the timings.

    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/bench_ssl_pipeline.py                 # CPU
    PYTHONPATH=. python experiments/bench_ssl_pipeline.py --device cuda --workers 8 --threads 8   # GPU (< 1 min)
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import torch

from spherecode.data.dataset import AugmentedDataset
from spherecode.data.loader import make_loader
from spherecode.data.multicrop import multicrop_transform
from spherecode.data.multicrop_batched import BatchedMultiCrop, KeyedImages
from spherecode.data.spec import build_dataset
from spherecode.train.knn import knn_accuracy

try:
    from torch.autograd import DeviceType
except ImportError:  # pragma: no cover - older torch
    DeviceType = None


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def per_sample_loader(ds, batch: int, workers: int, device: torch.device):
    return make_loader(AugmentedDataset(ds, multicrop_transform("cifar"), seed=0), batch, shuffle=True,
                       workers=workers, pin_memory=device.type == "cuda", drop_last=True)


def batched_loader(ds, batch: int, workers: int, device: torch.device):
    return make_loader(KeyedImages(ds), batch, shuffle=True, workers=workers, pin_memory=device.type == "cuda",
                       drop_last=True)


def per_sample(loader, epoch: int, device: torch.device) -> float:
    """Images/s of one pass: views made in the loader, moved to the device."""
    loader.sampler.set_epoch(epoch)
    start = time.perf_counter()
    n = 0
    for views, _ in loader:
        views = [v.to(device, non_blocking=True) for v in views]
        n += views[0].shape[0]
    sync(device)
    return n / (time.perf_counter() - start)


def batched(loader, epoch: int, device: torch.device, aug: BatchedMultiCrop) -> float:
    """Images/s of one pass: uint8 images moved to the device, views made there."""
    loader.sampler.set_epoch(epoch)
    start = time.perf_counter()
    n = 0
    for images, keys in loader:
        images, keys = images.to(device, non_blocking=True), keys.to(device, non_blocking=True)
        views = aug(images, keys[:, 0], keys[:, 1])
        n += views[0].shape[0]
    sync(device)
    return n / (time.perf_counter() - start)


def ops_per_batch(aug: BatchedMultiCrop, images: torch.Tensor, keys: torch.Tensor) -> tuple[int, int | None]:
    """Top-level ``aten`` operators of one batch, and the CUDA kernels launched (None off CUDA)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if images.is_cuda else [])
    aug(images, keys[:, 0], keys[:, 1])      # warm-up: caches of constants filled
    with profile(activities=activities) as prof:
        aug(images, keys[:, 0], keys[:, 1])
        sync(images.device)
    events = prof.events()
    ops = sum(1 for e in events if e.cpu_parent is None and e.name.startswith("aten::"))
    if not images.is_cuda or DeviceType is None:
        return ops, None
    return ops, sum(1 for e in events if getattr(e, "device_type", None) == DeviceType.CUDA)


def knn_bench(n_train: int, n_test: int, dim: int, classes: int, device: torch.device, chunk: int,
              train_chunk: int) -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(classes, dim, generator=g)
    ytr, yte = torch.randint(0, classes, (n_train,), generator=g), torch.randint(0, classes, (n_test,), generator=g)
    xtr = (centres[ytr] + 6.0 * torch.randn(n_train, dim, generator=g)).to(device)
    xte = (centres[yte] + 6.0 * torch.randn(n_test, dim, generator=g)).to(device)
    ytr, yte = ytr.to(device), yte.to(device)
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    acc = knn_accuracy(xtr, ytr, xte, yte, k=200, temperature=0.1, num_classes=classes, chunk_size=chunk,
                       train_chunk_size=train_chunk)
    sync(device)
    elapsed = time.perf_counter() - start
    if device.type == "cuda":
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024  # KiB -> MiB (growth only)
    work = min(chunk, n_test) * (min(train_chunk, n_train) + 2 * 200) * 4 / 2**20
    return {"seconds": elapsed, "top1": acc["top1"], "peak_mib": peak, "work_mib": work,
            "dense_mib": n_train * n_test * 4 / 2**20, "features_mib": (n_train + n_test) * dim * 4 / 2**20}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--data", default="synthetic:classes=100,per_class=20,image_size=32",
                   help="dataset spec of 32 px images (e.g. cifar100:PATH)")
    p.add_argument("--images", type=int, default=None, help="images per timed pass (default: 1024 CPU, 8192 GPU)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=0, help="loader processes for both paths (0: main process)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the main process")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--knn-train", type=int, default=50000)
    p.add_argument("--knn-test", type=int, default=10000)
    p.add_argument("--knn-dim", type=int, default=512)
    p.add_argument("--knn-chunk", type=int, default=1024, help="query rows per chunk")
    p.add_argument("--knn-train-chunk", type=int, default=65536, help="training columns per chunk")
    p.add_argument("--skip-knn", action="store_true")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    images = args.images or (8192 if device.type == "cuda" else 1024)
    full = build_dataset(args.data, "train")

    class Subset:  # `images` decoded uint8 images held in memory, as CIFAR100 holds them (repeated if fewer)
        kind, image_size = full.kind, full.image_size
        held = torch.stack([full.image(i) for i in range(min(images, len(full)))])

        def __len__(self) -> int:
            return images

        def image(self, i: int) -> torch.Tensor:
            return self.held[i % len(self.held)]

        def label(self, i: int) -> int:
            return full.label(i % len(self.held))

    ds = Subset()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"# device {device} ({name}), torch {torch.__version__}, {args.threads} thread(s), {args.workers} worker(s), "
          f"{os.cpu_count()} CPUs")
    print(f"# multi-crop 'cifar' (2 x 32 px global + 6 x 32 px local), {images} images per pass, batch {args.batch_size}")
    aug = BatchedMultiCrop("cifar", seed=0)
    loaders = (per_sample_loader(ds, args.batch_size, args.workers, device),
               batched_loader(ds, args.batch_size, args.workers, device))
    per_sample(loaders[0], 0, device)   # warm-up: workers started (they persist), CUDA kernels loaded
    batched(loaders[1], 0, device, aug)
    rates: dict[str, list[float]] = {"per-sample": [], "batched": []}
    for epoch in range(1, args.repeats + 1):
        rates["per-sample"].append(per_sample(loaders[0], epoch, device))
        rates["batched"].append(batched(loaders[1], epoch, device, aug))
    load = os.getloadavg()
    images_b, keys_b = next(iter(loaders[1]))
    images_b, keys_b = images_b.to(device), keys_b.to(device)
    counts = {masked: ops_per_batch(BatchedMultiCrop("cifar", seed=0, masked=masked), images_b, keys_b)
              for masked in (False, True)}
    default = counts[device.type != "cpu"][0]
    ref = statistics.median(rates["per-sample"])
    print("| path | images/s | views/s | speed-up | ops per batch | load avg (1/5/15 min) |")
    print("|---|---:|---:|---:|---:|---|")
    for path, r in rates.items():
        m = statistics.median(r)
        ops = f"{default:,}" if path == "batched" else "-"
        print(f"| {path} | {m:,.0f} | {8 * m:,.0f} | {m / ref:.1f}x | {ops} | "
              f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} |")
    kernels = counts[True][1]
    cuda = "" if kernels is None else f"; CUDA kernels launched: select {counts[False][1]:,}, masked {kernels:,}"
    print(f"\n# batched ops per batch of {images_b.shape[0]} (top-level aten ops): select {counts[False][0]:,} "
          f"(pieces of cache size: grows with the batch), masked {counts[True][0]:,} (any batch size){cuda}")
    if not args.skip_knn:
        r = knn_bench(args.knn_train, args.knn_test, args.knn_dim, 100, device, args.knn_chunk, args.knn_train_chunk)
        load = os.getloadavg()
        print(f"\n# k-NN (k = 200, T = 0.1): {args.knn_train:,} x {args.knn_dim} memory, {args.knn_test:,} queries, "
              f"chunks {args.knn_chunk} x {args.knn_train_chunk}, on {device}")
        print("| seconds | queries/s | top-1 | features MiB | chunk working set MiB | measured peak MiB | "
              "dense similarity MiB | load avg |")
        print("|---:|---:|---:|---:|---:|---:|---:|---|")
        print(f"| {r['seconds']:.2f} | {args.knn_test / r['seconds']:,.0f} | {100 * r['top1']:.1f}% | {r['features_mib']:.0f} | "
              f"{r['work_mib']:.0f} | {r['peak_mib']:.0f} | {r['dense_mib']:,.0f} | {load[0]:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
