"""Benchmark of the three-point SDP bound: CPU seconds per checked solve at s = 1/2 (kissing numbers) versus
the dimension and the degree, beside the spherical LP bound (its baseline, same s, same run), with the
values, the charged excesses and the solver status.

    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/bench_sdp.py      # d = 3, 4, 5 x D = 4, 6, 7; (4, 8), (8, 6)
    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/bench_sdp.py --dims 4 --degrees 8 --pairs ""

"SDP optimum" is the sampled SDP's optimum, "SDP value" the checked bound; "vs LP" is SDP value - LP bound.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from spherecode.bounds import spherical_lp_bound
from spherecode.bounds.sdp import sdp_bound


def cpu(fn, *args):
    t0 = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t0


def fmt(v, spec):
    return format(v, spec) if v is not None else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", default="3,4,5", help="comma-separated dimensions (default 3,4,5)")
    parser.add_argument("--degrees", default="4,6,7", help="comma-separated SDP degrees (default 4,6,7)")
    parser.add_argument("--pairs", default="4:8,8:6", help="further d:D pairs (default 4:8,8:6)")
    parser.add_argument("-s", type=float, default=0.5, help="maximal cosine (default 0.5)")
    args = parser.parse_args()
    dims = [int(x) for x in args.dims.split(",")]
    degrees = [int(x) for x in args.degrees.split(",")]
    pairs = [(d, D) for d in dims for D in degrees]
    pairs += [tuple(int(y) for y in x.split(":")) for x in args.pairs.split(",") if x]
    import clarabel  # noqa: F401  imported up front: the times are the computations'

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; CPU seconds (process time); s = {args.s}")
    print(f"{'d':>3} {'D':>3} {'LP bound':>10} {'LP cpu s':>9} {'SDP value':>10} {'SDP optimum':>12} "
          f"{'M_1':>9} {'M_2':>9} {'SDP cpu s':>10} {'ratio':>7} {'vs LP':>8}  status")
    lps = {}
    for dim, degree in pairs:
        if dim not in lps:
            lps[dim] = cpu(spherical_lp_bound, dim, args.s)
        lp, lp_s = lps[dim]
        res, sdp_s = cpu(sdp_bound, dim, args.s, degree)
        gap = None if res.value is None else res.value - lp.value
        print(f"{dim:>3} {degree:>3} {lp.value:>10.4f} {lp_s:>9.2f} {fmt(res.value, '>10.4f'):>10} "
              f"{fmt(res.sdp_value, '>12.4f'):>12} {fmt(res.pair_excess, '>9.1e'):>9} "
              f"{fmt(res.triple_excess, '>9.1e'):>9} {sdp_s:>10.2f} {sdp_s / max(lp_s, 1e-9):>7.0f} "
              f"{fmt(gap, '>+8.4f'):>8}  {res.status}{'' if res.reason is None else ': ' + res.reason}", flush=True)

if __name__ == "__main__":
    main()
