"""CIFAR input pipeline: the per-sample loader against the device-resident batched path, same run.

What `spherecode train` feeds the model for CIFAR-style data: random crop (4-pixel zero padding),
horizontal flip, normalisation, batches of 512.

- per-sample loader: `AugmentedDataset` + `DataLoader` (each image augmented in Python by the
  per-sample transforms, float32 batches), as before this pipeline existed;
- per-sample, uint8 transfer: the same, but the batch crosses as uint8 and is normalised on the device
  (`DeviceLoader`: the path ImageNet folders keep);
- device-resident: the whole set as one uint8 tensor on the device, crop/flip/normalise of whole
  batches at once (`spherecode.data.resident.ResidentLoader`: the path CIFAR takes).

Images are random uint8 in the CIFAR layout (the pipeline's cost does not depend on the pixels).
Repeats alternate between the paths and the median is reported, so machine load hits all alike.
Target: device-resident >= 2x the per-sample loader's images/s on this CPU.

    PYTHONPATH=. python experiments/bench_cifar_pipeline.py                 # ~1 minute on 2 CPU cores
    PYTHONPATH=. python experiments/bench_cifar_pipeline.py --images 2048 --repeats 1   # quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

from spherecode.data.dataset import AugmentedDataset, ImageDataset
from spherecode.data.loader import DeviceLoader, make_loader, split_normalize
from spherecode.data.resident import resident_loader
from spherecode.data.transforms import Transform, cifar_eval_transform, cifar_train_transform


class RandomCIFAR(ImageDataset):
    """``n`` random uint8 images of 3 x 32 x 32 held as one tensor, as :class:`~spherecode.data.cifar.CIFAR100` does."""

    kind = "cifar"
    image_size = 32
    source = "random"

    def __init__(self, n: int, classes: int = 100) -> None:
        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        self.labels = np.arange(n, dtype=np.int64) % classes
        self.class_names = [f"c{k}" for k in range(classes)]

    def image(self, index: int) -> torch.Tensor:
        return self.images[index]

    def train_transform(self) -> Transform:
        return cifar_train_transform()

    def eval_transform(self) -> Transform:
        return cifar_eval_transform()


def epoch_rate(loader, device: torch.device, epoch: int) -> float:
    loader.set_epoch(epoch) if hasattr(loader, "set_epoch") else loader.sampler.set_epoch(epoch)
    n = 0
    start = time.perf_counter()
    for x, y in loader:
        x = x.to(device, non_blocking=True)
        n += x.shape[0]
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=10000, help="images per epoch (CIFAR: 50000)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--workers", type=int, default=0, help="loader processes of the per-sample paths")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: fair on a shared machine)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    base = RandomCIFAR(args.images)
    transform = base.train_transform()
    common = dict(shuffle=True, seed=0, drop_last=True)
    stripped, norm = split_normalize(transform)
    paths = {
        "per-sample loader (float32)": DeviceLoader(
            make_loader(AugmentedDataset(base, transform), args.batch_size, workers=args.workers, **common), device),
        "per-sample loader, uint8 transfer": DeviceLoader(
            make_loader(AugmentedDataset(base, stripped), args.batch_size, workers=args.workers, **common), device, norm),
        "device-resident batched": resident_loader(base, transform, args.batch_size, device, **common),
    }
    for loader in paths.values():  # warm-up (worker start, allocator)
        epoch_rate(loader, device, 0)
    rates: dict[str, list[float]] = {k: [] for k in paths}
    for r in range(args.repeats):
        order = list(paths) if r % 2 == 0 else list(paths)[::-1]
        for name in order:
            rates[name].append(epoch_rate(paths[name], device, r + 1))
    med = {k: statistics.median(v) for k, v in rates.items()}
    base_rate = med["per-sample loader (float32)"]
    print(f"# bench_cifar_pipeline: {args.images} images 3x32x32, batch {args.batch_size}, crop 32 pad 4 + flip + "
          f"normalise; per-sample workers {args.workers}; torch threads {args.threads}; device {device}; "
          f"{args.repeats} repeats, median")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| path                              | images/s   | vs per-sample |")
    print("|-----------------------------------|------------|---------------|")
    for k, v in med.items():
        print(f"| {k:<33} | {v:>10.0f} | {v / base_rate:>12.2f}x |")
    print(f"device-resident / per-sample = {med['device-resident batched'] / base_rate:.2f}x (target >= 2x)")


if __name__ == "__main__":
    main()
