"""RandAugment's cost in the CIFAR input pipeline: crop/flip alone against crop/flip + RandAugment (n=2, m=9),
on the device-resident batched path and the per-sample path, same run.

Images are random uint8 in the CIFAR layout. Repeats alternate between the paths; the median is reported.

    PYTHONPATH=. python experiments/bench_randaugment.py --images 2048 --repeats 3           # CPU, ~1 minute
    PYTHONPATH=. python experiments/bench_randaugment.py --images 50000 --device cuda        # GPU
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import torch

from experiments.bench_cifar_pipeline import RandomCIFAR, epoch_rate
from spherecode.data.dataset import AugmentedDataset
from spherecode.data.loader import DeviceLoader, make_loader, split_normalize
from spherecode.data.randaugment import RandAugment, with_randaugment
from spherecode.data.resident import resident_loader


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=4096)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--workers", type=int, default=0, help="loader processes of the per-sample paths")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n", type=int, default=2)
    p.add_argument("--m", type=int, default=9)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    base = RandomCIFAR(args.images)
    plain = base.train_transform()
    ra = with_randaugment(plain, RandAugment(args.n, args.m))
    common = dict(shuffle=True, seed=0, drop_last=True)

    def per_sample(t):
        stripped, norm = split_normalize(t)
        return DeviceLoader(make_loader(AugmentedDataset(base, stripped), args.batch_size, workers=args.workers,
                                        **common), device, norm)

    paths = {
        "device-resident, crop/flip": resident_loader(base, plain, args.batch_size, device, **common),
        "device-resident, + RandAugment": resident_loader(base, ra, args.batch_size, device, **common),
        "per-sample, crop/flip": per_sample(plain),
        "per-sample, + RandAugment": per_sample(ra),
    }
    for loader in paths.values():
        epoch_rate(loader, device, 0)
    rates: dict[str, list[float]] = {k: [] for k in paths}
    for r in range(args.repeats):
        for name in (list(paths) if r % 2 == 0 else list(paths)[::-1]):
            rates[name].append(epoch_rate(paths[name], device, r + 1))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"# bench_randaugment: {args.images} images 3x32x32, batch {args.batch_size}, RandAugment n={args.n} "
          f"m={args.m} p=0.5; per-sample workers {args.workers}; torch threads {args.threads}; device {device}; "
          f"{args.repeats} repeats, median")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| path                           | images/s   | vs crop/flip alone |")
    print("|--------------------------------|------------|--------------------|")
    for k, v in med.items():
        ref = med["device-resident, crop/flip" if k.startswith("device") else "per-sample, crop/flip"]
        print(f"| {k:<30} | {v:>10.0f} | {v / ref:>17.2f}x |")


if __name__ == "__main__":
    main()
