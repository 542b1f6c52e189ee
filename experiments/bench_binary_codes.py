"""Binary-code codebooks (bch, rm) for N = 100 and N = 1000 over the code lengths 15..1024.

Prints one row per (method, length, N): the chosen code [n, k, d], the minimum distance of the N
selected codewords (prefix selection, and the greedy alternative), s_max measured on the vectors
beside 1 - 2 d_min / n, the Rankin lower bound and a random codebook (the baseline), and the
build time with an empty cache (galois builds the code) and with the disk cache only (memory
cleared). The one-time cost of importing galois and compiling its kernels is timed separately.

    PYTHONPATH=. python experiments/bench_binary_codes.py [--max-length 1024] [--n 100 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

from spherecode import generate
from spherecode.bounds.rankin import rankin_bound
from spherecode.constructions import CONSTRUCTIONS, code_cache
from spherecode.constructions.bch import VALID_LENGTHS as BCH_LENGTHS
from spherecode.constructions.reed_muller import VALID_LENGTHS as RM_LENGTHS


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-length", type=int, default=1024)
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000])
    args = ap.parse_args()

    os.environ["SPHERECODE_CACHE"] = tempfile.mkdtemp(prefix="spherecode-bench-")
    print(f"# machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs (shared: timings are noisy)")
    t = time.perf_counter()
    import galois

    galois.BCH(7, d=3).G  # import + numba compilation, paid once per process
    print(f"# one-time galois import + JIT warm-up: {time.perf_counter() - t:.1f} s")
    header = (f"{'method':<6} {'code':<44} {'n':>5} {'k':>3} {'d':>4} {'N':>5} {'d_min':>5} {'greedy':>6} "
              f"{'s_max':>8} {'1-2d/n':>8} {'rankin':>8} {'random':>7} {'cold_s':>7} {'disk_s':>7}")
    print(header)
    print("-" * len(header))
    for n_words in args.n:
        for method, lengths in (("bch", BCH_LENGTHS), ("rm", RM_LENGTHS)):
            for dim in lengths:
                if dim < 15 or dim > args.max_length:
                    continue
                if CONSTRUCTIONS[method].check(n_words, dim) is not None:
                    continue
                code_cache.clear_memory()
                cb, cold = timed(generate, n_words, dim, method=method)
                code_cache.clear_memory()
                _, disk = timed(generate, n_words, dim, method=method)
                greedy = "-"
                if method == "bch":
                    greedy = str(generate(n_words, dim, method="bch", selection="greedy").params["d_min"])
                p = cb.params
                rnd = generate(n_words, dim, method="random", seed=0).max_cosine
                formula = 1 - 2 * p["d_min"] / dim
                assert abs(cb.max_cosine - formula) < 1e-9
                print(f"{method:<6} {p['code']:<44} {dim:>5} {p['code_k']:>3} {p['code_d']:>4} {n_words:>5} "
                      f"{p['d_min']:>5} {greedy:>6} {cb.max_cosine:>8.5f} {formula:>8.5f} "
                      f"{rankin_bound(n_words, dim):>8.5f} {rnd:>7.3f} {cold:>7.2f} {disk:>7.3f}", flush=True)


if __name__ == "__main__":
    main()
