"""Throughput of the prototype head against the linear head on the same backbone, in one run.

Both models are what `spherecode train` builds (SupervisedTask.build_model): backbone -> linear
layer -> head. Prototype: projection to d (linear + batch norm), normalise, logits <z, c_i>/tau against a fixed (N, d)
buffer. Linear: a learned (N x features) layer. Timed: a full SGD training step (forward,
cross-entropy, backward, step) and an inference forward. Repeats alternate between the heads and
the median is reported, so machine load hits both alike. Target: prototype costs <= 3% throughput.

    PYTHONPATH=. python experiments/bench_heads.py            # ~1-2 minutes on 2 CPU cores
    PYTHONPATH=. python experiments/bench_heads.py --repeats 3 --steps 2 --width 8   # quick check
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
import torch.nn.functional as F

from spherecode.constructions import generate
from spherecode.nn import Classifier, Encoder, LinearHead, PrototypeHead, resnet


def build(head: str, args: argparse.Namespace, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    backbone = resnet(args.arch, variant="cifar", width=args.width)
    if head == "prototype":
        cb = generate(args.classes, args.dim, method="random", seed=0)
        model = Classifier(Encoder(backbone, dim=args.dim), PrototypeHead(cb, temperature=0.1))
    else:
        enc = Encoder(backbone)
        model = Classifier(enc, LinearHead(enc.out_dim, args.classes))
    return model.to(device)


def time_train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if x.is_cuda:
        torch.cuda.synchronize()
    return steps * x.shape[0] / (time.perf_counter() - start)


def time_infer(model: torch.nn.Module, x: torch.Tensor, steps: int) -> float:
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(steps):
            model(x)
    if x.is_cuda:
        torch.cuda.synchronize()
    return steps * x.shape[0] / (time.perf_counter() - start)


def time_head(model: torch.nn.Module, feats: torch.Tensor, y: torch.Tensor, iters: int) -> float:
    """Seconds per forward+backward of the part after the backbone (projection and head) alone."""
    after = torch.nn.Sequential(model.encoder.projection, model.head)
    f = feats.clone().requires_grad_(True)
    start = time.perf_counter()
    for _ in range(iters):
        F.cross_entropy(after(f), y).backward()
    if f.is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--width", type=int, default=8, help="first-stage channels (64 in the paper; small for CPU)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--classes", type=int, default=100)
    p.add_argument("--dim", type=int, default=64, help="codebook dimension d")
    p.add_argument("--steps", type=int, default=3, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, generator=g).to(device)
    y = torch.randint(0, args.classes, (args.batch_size,), generator=g).to(device)
    heads = ("linear", "prototype")
    models = {h: build(h, args, device) for h in heads}
    for h in heads:  # warm-up
        time_train(models[h], x, y, 2)
        time_infer(models[h], x, 2)
    train = {h: [] for h in heads}
    infer = {h: [] for h in heads}
    for r in range(args.repeats):
        for h in heads if r % 2 == 0 else heads[::-1]:
            train[h].append(time_train(models[h], x, y, args.steps))
            infer[h].append(time_infer(models[h], x, args.steps))
    med = {h: (statistics.median(train[h]), statistics.median(infer[h])) for h in heads}
    feats = torch.randn(args.batch_size, models["linear"].encoder.backbone.out_dim, generator=g).to(device)
    head_s = {h: statistics.median(time_head(models[h], feats, y, 200) for _ in range(5)) for h in heads}
    params = {h: sum(p.numel() for p in models[h].parameters()) for h in heads}
    print(f"# bench_heads: {args.arch} width {args.width}, {args.image_size}x{args.image_size}, batch {args.batch_size}, "
          f"N={args.classes}, d={args.dim}; {args.repeats} repeats x {args.steps} steps, median")
    print(f"# machine: {platform.machine()} {platform.processor() or ''} torch {torch.__version__} device {device} "
          f"threads {torch.get_num_threads()}")
    print("| head      | params    | train img/s | infer img/s | train vs linear | infer vs linear |")
    print("|-----------|-----------|-------------|-------------|-----------------|-----------------|")
    for h in heads:
        tr, inf = med[h]
        print(f"| {h:<9} | {params[h]:>9,} | {tr:>11.1f} | {inf:>11.1f} | {100 * tr / med['linear'][0]:>14.1f}% "
              f"| {100 * inf / med['linear'][1]:>14.1f}% |")
    cost = 100 * (1 - med["prototype"][0] / med["linear"][0])
    step_s = args.batch_size / med["linear"][0]
    extra = head_s["prototype"] - head_s["linear"]
    print(f"head alone (after the backbone), forward+backward per batch: linear {1e6 * head_s['linear']:.1f} us, "
          f"prototype {1e6 * head_s['prototype']:.1f} us; difference = {100 * extra / step_s:+.3f}% of a training step")
    spread = {h: (min(train[h]), max(train[h])) for h in heads}
    print(f"prototype head training-throughput cost: {cost:+.2f}% (target <= 3%); "
          f"train img/s range linear {spread['linear'][0]:.1f}-{spread['linear'][1]:.1f}, "
          f"prototype {spread['prototype'][0]:.1f}-{spread['prototype'][1]:.1f}")


if __name__ == "__main__":
    main()
