"""Benchmark the effort levels of ``generate``: s_max and CPU seconds, beside a fixed reference run.

Every budget is counted in iterations, so s_max is the same on any machine; the cost is reported in
CPU seconds of this process (``time.process_time``), never wall seconds (a shared machine's load
inflates those), and as a ratio to a fixed reference workload measured in the same process
(``lse_vectors(1000, 128, steps=100)``, one thread): "x ref" compares across machines and loads.

Rows (effort, N, d, s_max, CPU seconds, x ref, chosen) are printed and appended to a CSV.

Usage::

    PYTHONPATH=$PWD python experiments/bench_effort.py                       # fast and default, N=1000, d in {128, 256}
    PYTHONPATH=$PWD python experiments/bench_effort.py --effort best -d 128  # minutes of CPU
    PYTHONPATH=$PWD python experiments/bench_effort.py --plot               # plot separation -n 100 --dims 3:128 (fast)
    PYTHONPATH=$PWD python experiments/bench_effort.py --lse                # lse alone at N=1000, d=512
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from pathlib import Path

from spherecode.constructions import EFFORTS, generate
from spherecode.constructions.lse import lse_vectors

RESULTS = Path(__file__).resolve().parent / "results"


def reference_seconds() -> float:
    """CPU seconds of the fixed reference workload (100 lse steps at N = 1000, d = 128)."""
    start = time.process_time()
    lse_vectors(1000, 128, steps=100)
    return time.process_time() - start


def machine() -> str:
    import torch

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), load average {os.getloadavg()[0]:.1f}")


def row(label: str, n: int, dim: int, s: float, cpu: float, ref: float, chosen: str) -> dict:
    print(f"| {label:<12} | {n:>5} | {dim:>4} | {s:>10.6f} | {cpu:>8.1f} | {cpu / ref:>7.1f} | {chosen}", flush=True)
    return {"effort": label, "n": n, "dim": dim, "s_max": s, "cpu_seconds": cpu, "ref_seconds": ref,
            "ratio": cpu / ref, "chosen": chosen}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--effort", nargs="+", default=["fast", "default"], choices=EFFORTS)
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("-d", "--dims", type=int, nargs="+", default=[128, 256])
    p.add_argument("--method", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", action="store_true", help="the separation sweep N=100, d=3..128 at effort fast")
    p.add_argument("--lse", action="store_true", help="lse alone at N=1000, d=512, default effort")
    p.add_argument("--no-grid", action="store_true", help="skip the effort x (N, d) grid")
    p.add_argument("--csv", type=Path, default=RESULTS / "bench_effort.csv")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    ref = reference_seconds()
    print(f"# bench_effort: {machine()}; reference run {ref:.2f} CPU s")
    print(f"| {'effort':<12} | {'N':>5} | {'d':>4} | {'s_max':>10} | {'CPU s':>8} | {'x ref':>7} | chosen")
    rows = []
    if not args.no_grid:
        for effort in args.effort:
            for dim in args.dims:
                start = time.process_time()
                cb = generate(args.n, dim, args.method, seed=args.seed, effort=effort, progress=True)
                rows.append(row(effort, args.n, dim, cb.max_cosine, time.process_time() - start, ref,
                                str(cb.params.get("chosen", args.method))))
    if args.lse:
        start = time.process_time()
        cb = generate(1000, 512, "lse", seed=args.seed)
        rows.append(row("lse default", 1000, 512, cb.max_cosine, time.process_time() - start, ref,
                        f"{cb.params['steps']} steps"))
    if args.plot:
        from spherecode.analysis import parse_dims, separation_vs_dimension

        start = time.process_time()
        curves = separation_vs_dimension(100, parse_dims("3:128"), effort="fast", progress=True)
        best = min(v for vals in curves.methods.values() for v in vals if v is not None)
        rows.append(row("plot fast", 100, 128, best, time.process_time() - start, ref, "d = 3..128, every method"))
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    new = not args.csv.exists()
    with open(args.csv, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["effort", "n", "dim", "s_max", "cpu_seconds", "ref_seconds", "ratio", "chosen"])
        if new:
            w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
