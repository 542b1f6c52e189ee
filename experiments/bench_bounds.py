"""Benchmark of the bounds: every bound's time over a grid up to N = 10^12 (and 10^29), d = 10^6, beside
the code before the size checks (commit BASELINE, run in a subprocess with a per-call time limit); each
bound's time at N = 1000, d = 512 (target: `spherecode bounds` < 5 s), the spherical LP bound for
d <= 128 (target < 30 s per (N, d)) beside Levenshtein's bound (its closed-form baseline), and the exact
Delsarte LP beside a floating-point HiGHS solve of the same program.

    PYTHONPATH=. python experiments/bench_bounds.py            # everything
    PYTHONPATH=. python experiments/bench_bounds.py --grid     # only the size grid (about a minute)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from math import comb
from pathlib import Path

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


#: The code before the size checks ("nothing hangs"): the baseline of the size grid.
BASELINE = "e1f09d6"
#: Seconds each baseline call may run before it is stopped and reported as "> LIMIT".
BASELINE_LIMIT = 3.0
GRID_N = (10, 1000, 10**6, 10**12, 10**29)
GRID_D = (3, 8, 64, 512, 20000, 10**6)
#: (name, expression over n and d, applies to (n, d)): the same text runs against the old and new code.
GRID_BOUNDS = (
    ("Rankin", "b.rankin_bound(n, d)", lambda n, d: True),
    ("Levenshtein", "b.levenshtein_lower_bound(n, d)", lambda n, d: True),
    ("GV distance", "b.varshamov_distance(d, n)", lambda n, d: True),
    ("GV best length", "b.gv_best_upper_bound(n, d)", lambda n, d: True),
    ("known codes", "getattr(b.best_known_upper(n, d), 'max_cosine', None)", lambda n, d: True),
    ("spherical LP", "b.spherical_lp_lower_bound(n, d)", lambda n, d: d <= 512 and n <= 10**12),
    ("Delsarte limit", "b.binary_distance_limit(d, n)", lambda n, d: d <= 32),
)

_GRID_RUNNER = """
import json, signal, sys, time
import spherecode.bounds as b
print(json.dumps({"package": b.__file__}), file=sys.stderr)
import scipy.optimize, scipy.linalg  # imported up front: the times are the computations'
class Late(Exception):
    pass
def alarm(*_):
    raise Late()
signal.signal(signal.SIGALRM, alarm)
for line in sys.stdin:
    name, expr, n, d = json.loads(line)
    signal.setitimer(signal.ITIMER_REAL, float(sys.argv[1]))
    t0 = time.perf_counter()
    try:
        value = eval(expr, {"b": b, "n": n, "d": d, "getattr": getattr})
        out = {"seconds": time.perf_counter() - t0, "value": repr(value)[:40]}
    except Late:
        out = {"seconds": None, "value": "timeout"}
    except Exception as exc:
        out = {"seconds": time.perf_counter() - t0, "value": type(exc).__name__ + ": " + str(exc)[:80]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    print(json.dumps(out), flush=True)
"""


def _run_grid(pythonpath: str, cells: list[tuple[str, str, int, int]], limit: float) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1"}
    stdin = "".join(json.dumps(c) + "\n" for c in cells)
    proc = subprocess.run([sys.executable, "-c", _GRID_RUNNER, str(limit)], input=stdin, capture_output=True,
                          text=True, env=env, cwd=pythonpath, timeout=limit * len(cells) + 120)  # cwd: '' is first on sys.path
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if len(rows) != len(cells):
        raise RuntimeError(f"grid runner failed: {proc.stderr[-2000:]}")
    return rows


def _baseline_tree() -> str | None:
    """The package at BASELINE, extracted to a temporary folder (None without git or the commit)."""
    root = Path(__file__).resolve().parents[1]
    folder = tempfile.mkdtemp(prefix="spherecode-baseline-")
    archive = Path(folder) / "old.tar"
    try:
        subprocess.run(["git", "-C", str(root), "archive", "-o", str(archive), BASELINE, "spherecode"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def table_grid() -> None:
    """Each bound over the size grid: the new code beside the baseline (same machine, same run)."""
    cells = [(name, expr, n, d) for name, expr, applies in GRID_BOUNDS for n in GRID_N for d in GRID_D if applies(n, d)]
    new = _run_grid(os.getcwd(), cells, 60.0)
    old_tree = _baseline_tree()
    old: list[dict | None] = [None] * len(cells)
    if old_tree is not None:
        old = _run_grid(old_tree, cells, BASELINE_LIMIT)
    print(f"\n## Every bound over the size grid (seconds in process, imports excluded); baseline = commit {BASELINE}, "
          f"stopped after {BASELINE_LIMIT:g} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"| {'bound':<15} | {'N':>6} | {'d':>7} | {'value (new)':<26} | {'new s':>7} | {'baseline s':>12} | {'baseline value':<24} |")
    print(f"|{'-' * 17}|{'-' * 8}|{'-' * 9}|{'-' * 28}|{'-' * 9}|{'-' * 14}|{'-' * 26}|")
    worst = 0.0
    for (name, _, n, d), a, b in zip(cells, new, old):
        worst = max(worst, a["seconds"] or float("inf"))
        bs = "-" if b is None else (f"> {BASELINE_LIMIT:g}" if b["seconds"] is None else f"{b['seconds']:.4f}")
        bv = "-" if b is None else ("" if b["seconds"] is None else b["value"])
        sn = f"1e{len(str(n)) - 1}" if n >= 10**6 else str(n)
        print(f"| {name:<15} | {sn:>6} | {d:>7} | {a['value'][:26]:<26} | {a['seconds']:>7.4f} | {bs:>12} | {bv[:24]:<24} |")
    print(f"\nslowest new cell: {worst:.3f} s")


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
          f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    table_grid()
    if "--grid" in sys.argv:
        return 0
    table_bounds_at(1000, 512)
    table_bounds_at(100, 64)
    table_spherical_lp()
    table_delsarte()
    return 0


if __name__ == "__main__":
    sys.exit(main())
