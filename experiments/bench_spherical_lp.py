"""The spherical LP search (`spherical_lp_lower_bound`) for d <= 16 and N from 3 to 10^12: CPU seconds
per (N, d) at the default grid of [-1, s] beside the former 800-point grid, in one process, and how
far apart the two values are (both are certified bounds; they differ only in the last digits of the
search). Target: every (N, d) with d <= 16 under 1 CPU second.

    OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/bench_spherical_lp.py
"""

from __future__ import annotations

import os
import platform
import statistics
import time

import spherecode.bounds.spherical_lp as lp

DIMS = (2, 3, 4, 5, 6, 8, 10, 12, 14, 16)
SIZES = (3, 10, 50, 200, 1000, 10**4, 10**5, 10**6, 10**8, 10**10, 10**12)
FORMER_GRID = 800


def sweep(grid: int) -> dict[tuple[int, int], tuple[float | None, float]]:
    """(N, d) -> (value, CPU seconds) with the constraint sampled at ``grid`` points (cache cleared per case)."""
    lp.GRID_POINTS = grid
    out = {}
    for d in DIMS:
        for n in SIZES:
            lp.spherical_lp_bound.cache_clear()
            start = time.process_time()
            value = lp.spherical_lp_lower_bound(n, d)
            out[(n, d)] = (value, time.process_time() - start)
    return out


def main() -> None:
    default = lp.GRID_POINTS
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
          f"{len(DIMS) * len(SIZES)} (N, d) cases, d <= 16, N <= 1e12", flush=True)
    runs = {grid: sweep(grid) for grid in (FORMER_GRID, default)}
    print("\n| grid of [-1, s] | total CPU s | median | max | slowest (N, d) |")
    print("|---|---|---|---|---|")
    for grid, res in runs.items():
        times = [t for _, t in res.values()]
        slow = max(res, key=lambda k: res[k][1])
        print(f"| {grid}{' (default)' if grid == default else ' (former)'} | {sum(times):.1f} | "
              f"{statistics.median(times):.3f} | {max(times):.2f} | N = {slow[0]:.0e}, d = {slow[1]} |")
    diffs = [abs(a[0] - b[0]) for a, b in zip(runs[FORMER_GRID].values(), runs[default].values())
             if a[0] is not None and b[0] is not None]
    both_none = sum(a[0] is None and b[0] is None for a, b in zip(runs[FORMER_GRID].values(), runs[default].values()))
    print(f"\nlargest |value difference| {max(diffs):.1e} over {len(diffs)} cases ({both_none} n/a in both)")


if __name__ == "__main__":
    main()
