"""Benchmark the codebook constructions: separation, time and the gap to Rankin's bound.

Sections (all printed as tables, rows also written to experiments/results/bench_codebooks.csv):

* grid: every method valid at each (N, d) of N in {100, 1000}, d in {10, 25, 50, 64, 99, 128, 256, 512},
  with the s_max that Mettes et al.'s public code reached on this machine beside it;
* speed: N=1000, d=512: lse's time to s_max <= 1e-3 and to the Mettes result's quality, versus the
  Mettes reimplementation's time to reach its own final quality, in the same run;
* scale (``--scale``): lse at N=21841 (ImageNet-21k), d=1024: time and peak memory (a child process);
* known (``--known``): ``auto`` at the proven Tammes optima in R^3 (N = 4..14) and at every configuration of
  the library (:mod:`spherecode.constructions.library`, Leech aside: measuring 196560 points costs minutes)
  beside the best known value, and beside ``auto`` of an earlier commit (``--before REV``, run from a
  ``git archive`` copy in a child process, same machine, same run);
* auto grid (``--auto-grid``): ``auto`` at N=1000, d in {64, 128, 256} and at N=21841, d=1024, after and
  before, with the load average beside every timing (2 shared cores: timings are noisy).

Usage::

    PYTHONPATH=$PWD python experiments/bench_codebooks.py            # grid + speed
    PYTHONPATH=$PWD python experiments/bench_codebooks.py --quick    # two small points + speed
    PYTHONPATH=$PWD python experiments/bench_codebooks.py --scale --no-grid --no-speed
    PYTHONPATH=$PWD python experiments/bench_codebooks.py --no-grid --no-speed --known --auto-grid --before e1f09d6
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from spherecode.bounds.rankin import rankin_bound
from spherecode.codebook import Codebook
from spherecode.constructions import CONSTRUCTIONS, generate
from spherecode.constructions.lse import lse_vectors
from spherecode.constructions.mettes import mettes_vectors
from spherecode.separation import cosine_to_degrees, max_cosine

GRID_N = (100, 1000)
GRID_D = (10, 25, 50, 64, 99, 128, 256, 512)
METHODS = ("lse", "mettes", "random", "simplex", "orthoplex", "auto")
#: s_max of Mettes et al.'s public code measured on this machine; N=1000 after 10,000 steps.
METTES_PUBLISHED = {(100, 10): 0.376, (100, 25): 0.134, (100, 50): 0.0438, (100, 64): 0.0234,
                    (1000, 64): 0.212, (1000, 128): 0.132, (1000, 256): 0.082, (1000, 512): 0.049}
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    import torch

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} " \
           f"({torch.get_num_threads()} threads), load average {os.getloadavg()[0]:.1f}"


def _auto_is_plain_lse(n: int, dim: int) -> bool:
    """Whether ``auto`` at (N, d) would run exactly ``lse`` with its defaults (no closed form, no code, no init)."""
    from spherecode.constructions.auto import CODE_METHODS, INIT_METHODS

    others = [m for m in CODE_METHODS + INIT_METHODS if m in CONSTRUCTIONS and CONSTRUCTIONS[m].check(n, dim) is None]
    return dim < n - 1 and n > 2 * dim and not others


def run_grid(ns: list[int], dims: list[int], methods: list[str], seed: int) -> list[dict]:
    rows = []
    done: dict[tuple[str, int, int], tuple[Codebook, float]] = {}
    print(f"\n## Grid (seed {seed}; mettes = our reimplementation, 1000 steps; 'published' = their code)")
    head = f"{'method':<10} {'N':>5} {'d':>4} {'seconds':>8} {'s_max':>10} {'angle':>8} {'gap':>10} {'published':>9}"
    print(head)
    print("-" * len(head))
    for n in ns:
        for dim in dims:
            bound = rankin_bound(n, dim)
            for method in methods:
                if CONSTRUCTIONS[method].check(n, dim) is not None:
                    continue
                if method == "auto" and _auto_is_plain_lse(n, dim) and ("lse", n, dim) in done:
                    cb, seconds = done["lse", n, dim]  # identical computation (same seed, same defaults)
                    cb = type(cb)(cb.vectors, method="auto", params={"chosen": "lse"}, seed=seed)
                else:
                    start = time.perf_counter()
                    cb = generate(n, dim, method, seed=seed)
                    seconds = time.perf_counter() - start
                    done[method, n, dim] = cb, seconds
                s = cb.max_cosine
                ref = METTES_PUBLISHED.get((n, dim))
                row = {"section": "grid", "method": method, "n": n, "dim": dim, "seconds": seconds, "s_max": s,
                       "min_angle_deg": cosine_to_degrees(s), "rankin": bound, "gap": s - bound,
                       "mettes_published": ref, "chosen": cb.params.get("chosen", "")}
                rows.append(row)
                label = method if not row["chosen"] else f"auto:{row['chosen'].replace('lse from ', '')}"
                print(f"{label:<10} {n:>5} {dim:>4} {seconds:>8.2f} {s:>10.6f} {row['min_angle_deg']:>8.3f} "
                      f"{s - bound:>10.2e} {'' if ref is None else f'{ref:.4f}':>9}", flush=True)
    return rows


def first_time_at_most(history: list[tuple[int, float, float]], level: float) -> float | None:
    """Seconds at which the recorded s_max first reached ``level`` (None if never)."""
    return next((sec for _, sec, s in history if s <= level), None)


def run_speed(seed: int, mettes_steps: int) -> list[dict]:
    n, dim = 1000, 512
    print(f"\n## Speed: N={n}, d={dim} (same run, same machine; timings noisy on a shared CPU)")
    mh: list[tuple[int, float, float]] = []
    start = time.perf_counter()
    final = mettes_vectors(n, dim, seed=seed, steps=mettes_steps, history=mh)
    mettes_total = time.perf_counter() - start
    mettes_final = max_cosine(final)
    best_so_far = np.minimum.accumulate([s for _, _, s in mh] + [mettes_final])
    mettes_reach = next((mh[i][1] if i < len(mh) else mettes_total)
                        for i, s in enumerate(best_so_far) if s <= mettes_final)
    lh: list[tuple[int, float, float]] = []
    start = time.perf_counter()
    ours = lse_vectors(n, dim, seed=seed, target=1e-3, history=lh)
    lse_total = time.perf_counter() - start
    lse_final = max_cosine(ours)
    lse_to_mettes = first_time_at_most(lh, mettes_final)
    lse_to_target = first_time_at_most(lh, 1e-3)
    print(f"mettes ({mettes_steps} steps): final s_max {mettes_final:.4f}, reached after {mettes_reach:.1f} s "
          f"(run {mettes_total:.1f} s)")
    print(f"lse (target 1e-3): final s_max {lse_final:.2e} in {lse_total:.1f} s; "
          f"reached Mettes' final quality after {lse_to_mettes:.2f} s, s_max <= 1e-3 after {lse_to_target:.1f} s")
    if lse_to_target:
        print(f"speed-up to Mettes' quality: {mettes_reach / lse_to_mettes:.0f}x; "
              f"lse to 1e-3 vs Mettes to its own final quality: {mettes_reach / lse_to_target:.1f}x")
    return [{"section": "speed", "method": "mettes", "n": n, "dim": dim, "seconds": mettes_reach, "s_max": mettes_final,
             "steps": mettes_steps, "total_seconds": mettes_total},
            {"section": "speed", "method": "lse", "n": n, "dim": dim, "seconds": lse_to_target, "s_max": lse_final,
             "to_mettes_quality_seconds": lse_to_mettes, "total_seconds": lse_total}]


def scale_worker(n: int, dim: int, seed: int) -> None:
    """Run in a child process: one lse run, then print time, s_max and peak RSS as JSON."""
    history: list[tuple[int, float, float]] = []
    start = time.perf_counter()
    lse_vectors(n, dim, seed=seed, history=history, progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB
    print(json.dumps({"seconds": seconds, "s_max": history[-1][2], "start_s_max": history[0][2],
                      "peak_rss_gb": peak_gb}))


def run_scale(seed: int, n: int = 21841, dim: int = 1024) -> list[dict]:
    print(f"\n## Scale: lse at N={n}, d={dim} (defaults; child process, peak RSS)")
    out = subprocess.run([sys.executable, __file__, "--scale-worker", str(n), str(dim), "--seed", str(seed)],
                         check=True, capture_output=True, text=True, env=os.environ)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"seconds {res['seconds']:.0f}, s_max {res['s_max']:.4f} (first scan {res['start_s_max']:.4f}), "
          f"min angle {cosine_to_degrees(res['s_max']):.2f} deg, peak RSS {res['peak_rss_gb']:.2f} GB")
    return [{"section": "scale", "method": "lse", "n": n, "dim": dim, "seconds": res["seconds"], "s_max": res["s_max"],
             "min_angle_deg": cosine_to_degrees(res["s_max"]), "peak_rss_gb": res["peak_rss_gb"]}]


def known_points() -> list[tuple[str, int, int, float]]:
    """(name, N, d, best known s_max) for the Tammes optima and every library configuration but Leech; the
    value from the independent table ``bounds/known_codes.json`` (10 digits) where it has one."""
    from spherecode.bounds import known_code
    from spherecode.constructions.library import library

    def best(e):
        table = known_code(e.n, e.dim)
        return e.max_cosine if table is None else table.max_cosine

    return [(e.key, e.n, e.dim, best(e)) for e in library() if e.key != "leech"]


BEFORE_CODE = """
import json, sys, time
from spherecode import generate
n, d = int(sys.argv[1]), int(sys.argv[2])
t = time.perf_counter(); cb = generate(n, d, "auto"); sec = time.perf_counter() - t
print(json.dumps({"s_max": cb.max_cosine, "seconds": sec, "chosen": cb.params.get("chosen", "")}))
"""


def checkout(rev: str) -> Path:
    """``git archive`` of ``rev``'s package into a temporary folder (the "before" code)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="bench_before_"))
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(repo), "archive", rev, "spherecode"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


def run_before(src: Path | None, n: int, dim: int) -> dict | None:
    """``auto`` of the earlier commit at (N, d) in a child process (None without ``--before``)."""
    if src is None:
        return None
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", BEFORE_CODE, str(n), str(dim)], check=True, capture_output=True, cwd=src,
                         text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_auto_points(title: str, points: list[tuple[str, int, int, float | None]], before: Path | None) -> list[dict]:
    print(f"\n## {title}: auto after (this branch) and before (--before), same run")
    head = (f"{'point':<12} {'N':>6} {'d':>5} {'best known':>12} {'before':>12} {'after':>12} {'after-best':>11} "
            f"{'s before':>8} {'s after':>8} {'load':>5}  chosen")
    print(head)
    print("-" * len(head))
    rows = []
    for name, n, dim, best in points:
        old = run_before(before, n, dim) if n * n * dim <= 10**9 else None  # not the 4-minute N=21841 run
        start = time.perf_counter()
        cb = generate(n, dim, "auto")
        seconds = time.perf_counter() - start
        s = cb.max_cosine
        load = os.getloadavg()[0]
        row = {"section": "known" if best is not None else "auto", "method": "auto", "n": n, "dim": dim,
               "point": name, "best_known": best, "s_max": s, "seconds": seconds, "load": load,
               "before_s_max": None if old is None else old["s_max"],
               "before_seconds": None if old is None else old["seconds"], "chosen": cb.params.get("chosen", "")}
        rows.append(row)
        fmt = lambda v, w=12, p=9: f"{'':>{w}}" if v is None else f"{v:>{w}.{p}f}"  # noqa: E731
        print(f"{name:<12} {n:>6} {dim:>5} {fmt(best)} {fmt(row['before_s_max'])} {fmt(s)} "
              f"{'' if best is None else f'{s - best:>11.1e}':>11} {fmt(row['before_seconds'], 8, 1)} "
              f"{seconds:>8.1f} {load:>5.1f}  {row['chosen']}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="only N=100 with d in {10, 64}")
    p.add_argument("-n", type=int, nargs="+", help=f"N values (default {GRID_N})")
    p.add_argument("-d", "--dims", type=int, nargs="+", help=f"d values (default {GRID_D})")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(CONSTRUCTIONS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-grid", action="store_true")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--mettes-steps", type=int, default=10_000,
                   help="Mettes steps in the speed section (default: the issue's reference, 10,000 steps at N=1000)")
    p.add_argument("--scale", action="store_true", help="also run N=21841, d=1024")
    p.add_argument("--known", action="store_true", help="auto at the Tammes optima and the library configurations")
    p.add_argument("--auto-grid", action="store_true", help="auto at N=1000 (d=64, 128, 256) and N=21841, d=1024")
    p.add_argument("--before", default=None, help="git revision whose auto is run beside (before column)")
    p.add_argument("--csv", type=Path, default=RESULTS / "bench_codebooks.csv")
    p.add_argument("--scale-worker", nargs=2, type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.scale_worker:
        scale_worker(*args.scale_worker, seed=args.seed)
        return
    print(f"# bench_codebooks: {machine()}")
    ns = args.n or ([100] if args.quick else list(GRID_N))
    dims = args.dims or ([10, 64] if args.quick else list(GRID_D))
    rows: list[dict] = []
    if not args.no_grid:
        rows += run_grid(ns, dims, args.methods, args.seed)
    if not args.no_speed:
        rows += run_speed(args.seed, args.mettes_steps)
    if args.scale:
        rows += run_scale(args.seed)
    before = checkout(args.before) if args.before else None
    if args.known:
        rows += run_auto_points("Known optima", known_points(), before)
    if args.auto_grid:
        pts = [(f"grid d={d}", 1000, d, None) for d in (64, 128, 256)] + [("imagenet21k", 21841, 1024, None)]
        rows += run_auto_points("auto grid", pts, before)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in rows for k in r})
    with open(args.csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    print(f"\nwrote {args.csv}")


if __name__ == "__main__":
    main()
