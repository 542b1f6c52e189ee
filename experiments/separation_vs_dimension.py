"""Separation versus dimension for N = 100 (CIFAR-100) and N = 1000 (ImageNet): every construction in
the registry beside every bound. Writes experiments/results/separation_N{N}.{png,pdf,csv}.

    PYTHONPATH=. python experiments/separation_vs_dimension.py            # the full figures
    PYTHONPATH=. python experiments/separation_vs_dimension.py --quick    # a fast look (few dims, no search)

The figure shows: the shaded grey region is impossible (below the best proven lower bound: Rankin,
Levenshtein, spherical LP); the light band is where the optimum lies (up to the best achievable value:
a Rankin-optimal construction, Gilbert-Varshamov, or a known code); markers are the constructions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from spherecode.analysis import default_methods, parse_dims, separation_vs_dimension
from spherecode.cli.bounds import write_csv
from spherecode.plots import plot_separation, save_figure

RESULTS = Path(__file__).resolve().parent / "results"

#: Default dimensions per N: every d where the curves bend, log-spaced above.
DEFAULT_DIMS = {
    100: "3:20,24,28,32,36,40,45,49,50,51,55,64,80,98,99,100,128",
    1000: "geom:3:1024:28,15,16,31,32,63,64,127,128,255,256,499,500,511,512,1023,1024",
}


def dims_for(n: int, text: str | None) -> list[int]:
    text = text or DEFAULT_DIMS.get(n, "geom:3:1024:24")
    if "," in text and ":" in text:  # a mix of ranges and single values (BCH/RM lengths 2^m - 1, 2^m)
        out: set[int] = set()
        for part in text.split(","):
            out.update(parse_dims(part) if ":" in part else [int(part)])
        return sorted(out)
    return parse_dims(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000], help="class counts (default 100 1000)")
    ap.add_argument("--dims", default=None, help="dimensions for every N (default: per-N, see DEFAULT_DIMS)")
    ap.add_argument("--methods", default=None, help="comma-separated constructions (default: all but auto)")
    ap.add_argument("--steps", type=int, default=None, help="optimisation steps for the search constructions")
    ap.add_argument("--no-lp", action="store_true", help="skip the spherical LP bound")
    ap.add_argument("--lp-max-dim", type=int, default=128, help="largest d for the spherical LP (default 128)")
    ap.add_argument("--quick", action="store_true", help="few dimensions, closed-form methods and random only")
    ap.add_argument("--out", default=str(RESULTS), help="output folder (default experiments/results)")
    args = ap.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    methods = args.methods.split(",") if args.methods else default_methods()
    if args.quick and not args.methods:
        methods = [m for m in methods if m in ("simplex", "orthoplex", "random", "bch", "rm")]
    params = {} if args.steps is None else {"steps": args.steps}
    for n in args.n:
        dims = dims_for(n, "geom:3:%d:10" % (2 * n) if args.quick and not args.dims else args.dims)
        t0 = time.perf_counter()
        curves = separation_vs_dimension(n, dims, methods, lp=not args.no_lp, lp_max_dim=args.lp_max_dim,
                                         params=params, progress=sys.stderr.isatty())
        elapsed = time.perf_counter() - t0
        stem = out / f"separation_N{n}"
        fig = plot_separation(curves)
        save_figure(fig, stem.with_suffix(".png"), overwrite=True)
        save_figure(plot_separation(curves), stem.with_suffix(".pdf"), overwrite=True)
        write_csv(curves.rows(), stem.with_suffix(".csv"))
        print(f"N = {n}: {len(dims)} dimensions x {len(methods)} methods in {elapsed:.1f} s -> {stem}.{{png,pdf,csv}}")
        print(f"{'d':>5} {'lower':>9} {'upper':>9} " + " ".join(f"{m:>10}" for m in methods))
        for row in curves.rows():
            cells = [row["bound_lower"], row["bound_upper"]] + [row[f"method_{m}"] for m in methods]
            print(f"{row['dim']:>5} " + " ".join(f"{'-':>9}" if v is None else f"{v:>9.4f}" for v in cells[:2]) + " "
                  + " ".join(f"{'-':>10}" if v is None else f"{v:>10.4f}" for v in cells[2:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
