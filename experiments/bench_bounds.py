"""Benchmark of the bounds: each bound's time at N = 1000, d = 512 (target: `spherecode bounds` < 5 s),
the spherical LP bound for d <= 128 (target < 30 s per (N, d)) beside Levenshtein's bound (its
closed-form baseline), and the exact Delsarte LP beside a floating-point HiGHS solve of the same program.

    PYTHONPATH=. python experiments/bench_bounds.py
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from math import comb

import numpy as np
from scipy.optimize import linprog

from spherecode.bounds import (
    best_known_upper,
    bounds_report,
    delsarte_lp,
    levenshtein_lower_bound,
    rankin_bound,
    spherical_lp_lower_bound,
    varshamov_distance,
)
from spherecode.bounds.delsarte import krawtchouk_matrix
from spherecode.bounds.spherical_lp import default_degree


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def fmt(v) -> str:
    return "-" if v is None else f"{v:+.6f}"


def table_bounds_at(n: int, dim: int) -> None:
    print(f"\n## Each bound at N = {n}, d = {dim}")
    print(f"| {'bound':<36} | {'value':>10} | {'seconds':>8} |")
    print(f"|{'-' * 38}|{'-' * 12}|{'-' * 10}|")
    rows = [
        ("Rankin", rankin_bound, (n, dim)),
        ("Levenshtein", levenshtein_lower_bound, (n, dim)),
        ("Gilbert-Varshamov d_GV", varshamov_distance, (dim, n)),
        ("best known code", lambda a, b: getattr(best_known_upper(a, b), "max_cosine", None), (n, dim)),
        ("spherical LP (forced, default degree)", spherical_lp_lower_bound, (n, dim)),
        ("bounds_report (in process, LP if needed)", lambda a, b: bounds_report(a, b).lower, (n, dim)),
    ]
    for name, fn, args in rows:
        value, sec = timed(fn, *args)
        cell = f"{value:>10}" if isinstance(value, int) else f"{fmt(value):>10}"
        print(f"| {name:<36} | {cell} | {sec:>8.4f} |")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spherecode", "bounds", "-n", str(n), "-d", str(dim), "--json"],
                   check=True, capture_output=True, env=env)
    print(f"| {'`spherecode bounds` (new process)':<36} | {'':>10} | {time.perf_counter() - t0:>8.4f} |")


def table_spherical_lp() -> None:
    print("\n## Spherical LP lower bound on s_max (bisection, tol 1e-6) beside Levenshtein's bound")
    print(f"| {'N':>5} | {'d':>4} | {'degree':>6} | {'Levenshtein':>11} | {'LP bound':>10} | {'LP s':>7} | {'Lev. s':>7} |")
    print(f"|{'-' * 7}|{'-' * 6}|{'-' * 8}|{'-' * 13}|{'-' * 12}|{'-' * 9}|{'-' * 9}|")
    for n in (100, 1000):
        for dim in (3, 4, 8, 16, 32, 64, 128):
            lev, t_lev = timed(levenshtein_lower_bound, n, dim)
            lp, t_lp = timed(spherical_lp_lower_bound, n, dim)
            deg = default_degree(dim, max(lp, -1.0))
            print(f"| {n:>5} | {dim:>4} | {deg:>6} | {lev:>+11.6f} | {lp:>+10.6f} | {t_lp:>7.2f} | {t_lev:>7.4f} |")


def float_delsarte(n: int, d: int, even: bool, scaled: bool) -> str:
    """The same LP in floating point with HiGHS (rows optionally scaled by 1/C(n, k))."""
    k = np.array(krawtchouk_matrix(n), dtype=float)
    support = [i for i in range(d, n + 1) if not (even and i % 2)]
    a = -k[1:, support]
    b = np.array([comb(n, j) for j in range(1, n + 1)], dtype=float)
    if scaled:
        a, b = a / b[:, None], np.ones_like(b)
    res = linprog(-np.ones(len(support)), A_ub=a, b_ub=b, bounds=(0, None), method="highs")
    return f"{1.0 - res.fun:.6g}" if res.status == 0 else f"failed ({res.status})"


def table_delsarte() -> None:
    print("\n## Delsarte LP bound A(n, d): exact rational simplex beside HiGHS in floating point (raw / rows scaled)")
    print(f"| {'n':>3} | {'d':>3} | {'even':>5} | {'exact value':>22} | {'exact s':>8} | {'HiGHS raw':>12} | {'HiGHS scaled':>12} | {'HiGHS s':>8} |")
    print(f"|{'-' * 5}|{'-' * 5}|{'-' * 7}|{'-' * 24}|{'-' * 10}|{'-' * 14}|{'-' * 14}|{'-' * 10}|")
    for n, d, even in ((23, 7, False), (24, 8, True), (31, 5, False), (48, 12, True), (63, 10, True), (63, 10, False)):
        delsarte_lp.cache_clear()
        res, t_ex = timed(delsarte_lp, n, d, even)
        raw, t_fl = timed(float_delsarte, n, d, even, False)
        scaled = float_delsarte(n, d, even, True)
        print(f"| {n:>3} | {d:>3} | {str(even):>5} | {float(res.value):>22.6f} | {t_ex:>8.3f} | {raw:>12} | {scaled:>12} | {t_fl:>8.3f} |")


def main() -> int:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs (shared), "
          f"Python {platform.python_version()}")
    table_bounds_at(1000, 512)
    table_bounds_at(100, 64)
    table_spherical_lp()
    table_delsarte()
    return 0


if __name__ == "__main__":
    sys.exit(main())
