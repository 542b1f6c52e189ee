"""Memory and time of the Hypersolid loss, forward + backward: dense vs row blocks.

Target: at B = 512, V = 8, D = 1024 the block-wise loss peaks at <= 25% of the dense
version's memory and takes <= 1.5x its time.

CPU memory: each variant runs in a fresh subprocess with MALLOC_MMAP_THRESHOLD_=65536 (so freed
buffers leave the resident set at once); the peak resident set (VmHWM, reset through
/proc/self/clear_refs just before the measured call) minus the resident set before the call is the
memory the loss's forward + backward needed (graph, intermediates and the input gradient). CUDA (when
available): torch.cuda.max_memory_allocated minus the memory allocated before the call.
Time: median of --repeats forward + backward calls after one warm-up round, all variants
round-robin in one process (the machine may be shared: load then hits every variant alike).

    PYTHONPATH=$PWD python experiments/bench_hypersolid_memory.py [--batch 512 --views 8 --dim 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def make_input(args: argparse.Namespace, device: str):
    """random: i.i.d. Gaussian (few pairs past the cutoff); views: 8 close views per image (the
    positives are active, as late in training); collapsed: every pair active (the worst case)."""
    import torch

    g = torch.Generator().manual_seed(0)
    shape = (args.batch, args.views, args.dim)
    if args.input == "random":
        z = torch.randn(*shape, generator=g)
    elif args.input == "views":
        z = torch.randn(args.batch, 1, args.dim, generator=g) + 0.2 * torch.randn(*shape, generator=g)
    else:
        z = torch.randn(1, 1, args.dim, generator=g) + 0.01 * torch.randn(*shape, generator=g)
    return z.to(device).requires_grad_(True)


def worker(args: argparse.Namespace) -> dict:
    import torch

    from spherecode.nn.losses import HypersolidLoss

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    block = None if args.block == 0 else args.block
    loss = HypersolidLoss(alpha=0.9, block_size=block)
    z = make_input(args, args.device)

    def step() -> None:
        z.grad = None
        loss(z).backward()
        if device.type == "cuda":
            torch.cuda.synchronize()

    # warm-up on a small batch (loads kernels, allocator pools) without touching the big peak
    small = torch.randn(4, args.views, args.dim, device=device, requires_grad=True)
    loss(small).backward()
    del small
    out: dict = {}
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step()
        out["peak_mib"] = (torch.cuda.max_memory_allocated() - before) / 2**20
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _status_kib("VmRSS")
        step()
        out["peak_mib"] = (_status_kib("VmHWM") - before) / 1024
    out["value"] = float(loss(z.detach()))
    return out


def interleaved_times(args: argparse.Namespace, blocks: list[int], device: str) -> dict[int, float]:
    """Median forward + backward time of each variant, variants run round-robin in one process
    (so that load from other processes on a shared machine hits them all alike)."""
    import torch

    from spherecode.nn.losses import HypersolidLoss

    torch.set_num_threads(args.threads)
    z = make_input(args, device)
    losses = {b: HypersolidLoss(alpha=0.9, block_size=b or None) for b in blocks}
    times: dict[int, list[float]] = {b: [] for b in blocks}
    for rep in range(args.repeats + 1):
        for b, loss in losses.items():
            z.grad = None
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss(z).backward()
            if device == "cuda":
                torch.cuda.synchronize()
            if rep:  # the first round is a warm-up
                times[b].append(time.perf_counter() - t0)
    return {b: statistics.median(t) for b, t in times.items()}


def run_variant(args: argparse.Namespace, block: int, device: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--block", str(block), "--device", device,
           "--batch", str(args.batch), "--views", str(args.views), "--dim", str(args.dim),
           "--repeats", str(args.repeats), "--input", args.input, "--threads", str(args.threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           # big buffers always mmapped, so a free returns them to the OS and RSS tracks live bytes
           # (glibc's dynamic threshold otherwise keeps freed heap pages resident)
           "MALLOC_MMAP_THRESHOLD_": "65536"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--views", type=int, default=8)
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--blocks", type=int, nargs="+", default=[128, 256, 512], help="row block sizes to compare")
    p.add_argument("--input", choices=["random", "views", "collapsed"], default="random",
                   help="embeddings: i.i.d. random, clustered views, or collapsed (every pair active)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--block", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    m = args.batch * args.views
    print(f"Hypersolid loss forward+backward, B={args.batch} V={args.views} D={args.dim} (M = BV = {m}), float32, {args.input} input")
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, median of {args.repeats} interleaved; memory: each variant in a fresh process")
    header = f"{'device':<6} {'variant':<14} {'peak MiB':>9} {'% dense':>8} {'time s':>8} {'x dense':>8} {'loss':>12}  target"
    print(header)
    print("-" * len(header))
    for device in devices:
        times = interleaved_times(args, [0, *args.blocks], device)
        dense = run_variant(args, 0, device)
        print(f"{device:<6} {'dense':<14} {dense['peak_mib']:>9.1f} {100.0:>7.1f}% {times[0]:>8.3f} {1.0:>8.2f} {dense['value']:>12.8f}")
        for block in args.blocks:
            r = run_variant(args, block, device)
            frac = r["peak_mib"] / dense["peak_mib"]
            slow = times[block] / times[0]
            r["time_s"] = times[block]
            ok = "PASS" if frac <= 0.25 and slow <= 1.5 else "FAIL"
            print(f"{device:<6} {f'block {block}':<14} {r['peak_mib']:>9.1f} {100 * frac:>7.1f}% {r['time_s']:>8.3f} "
                  f"{slow:>8.2f} {r['value']:>12.8f}  {ok} (<=25%, <=1.5x)")


if __name__ == "__main__":
    main()
