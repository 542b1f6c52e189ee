"""``spherecode bounds`` and ``spherecode plot separation | histogram | gram | study``."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from ..bounds import bounds_report
from ..constructions import EFFORTS, check_size, construction_table
from ..errors import SpherecodeError, check_int
from ..files import atomic_write, read_text
from .common import output_path, parse_param, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bounds", help="every bound on the best worst-case cosine of N points in R^d",
                       description="Every bound on the optimum of (P) at (N, d), the interval that holds it, "
                                   "and the constructions that are provably optimal there.")
    p.add_argument("-n", type=int, required=True, help="number of points N (classes)")
    p.add_argument("-d", "--dim", type=int, required=True, help="dimension d")
    p.add_argument("--no-lp", action="store_true", help="skip the spherical LP bound (seconds in low dimension)")
    p.add_argument("--lp-degree", type=int, default=None, help="polynomial degree of the spherical LP (default: automatic)")
    sdp = p.add_mutually_exclusive_group()
    sdp.add_argument("--sdp", dest="sdp", action="store_true", default=False,
                     help="also run the three-point SDP bound for 3 <= d <= 8 (about a minute of CPU)")
    sdp.add_argument("--no-sdp", dest="sdp", action="store_false", help="skip the three-point SDP bound (the default)")
    p.add_argument("--sdp-degree", type=int, default=None, help="degree of the three-point SDP (default 6, 7 in d = 4, 5; larger is tighter and slower)")
    p.add_argument("--no-build", action="store_true", help="do not build and measure the deterministic constructions")
    p.add_argument("--json", action="store_true", help="print one JSON object (keys lower, upper, ...)")
    p.set_defaults(run=run_bounds)

    plot = sub.add_parser("plot", help="figures: separation versus dimension, cosine histogram, Gram matrix, study results")
    psub = plot.add_subparsers(dest="figure", metavar="FIGURE", parser_class=sub._parser_class)
    psub.required = True

    p = psub.add_parser("separation", help="worst-case cosine versus dimension for fixed N: constructions and bounds")
    p.add_argument("-n", type=int, required=True, help="number of prototypes N")
    p.add_argument("--dims", default="geom:3:128:16",
                   help="dimensions: 3:128 (all), 3:128:5 (step), geom:3:128:16 (log-spaced) or 10,25,64 (default geom:3:128:16)")
    p.add_argument("--methods", default=None,
                   help="comma-separated constructions (default: every registered one except auto)")
    p.add_argument("-p", "--param", type=parse_param, action="append", default=[], metavar="KEY=VALUE",
                   help="construction parameter passed to every method that has it, e.g. -p steps=500")
    p.add_argument("--seed", type=int, default=0, help="seed of the randomised constructions")
    p.add_argument("--effort", default="fast", choices=EFFORTS,
                   help="search budget of every construction (default fast: a sweep builds many codebooks)")
    p.add_argument("--no-lp", action="store_true", help="skip the spherical LP curve")
    p.add_argument("--csv", default=None, help="also write the numbers to this CSV file")
    p.add_argument("-o", "--output", required=True, help="figure file (.png or .pdf)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(run=run_plot_separation)

    for name, helptext in (("histogram", "histogram of a codebook's pairwise cosines"),
                           ("gram", "heatmap of a codebook's Gram matrix (class order)")):
        p = psub.add_parser(name, help=helptext)
        p.add_argument("path", help="codebook file (.npz from spherecode, or a .npy matrix)")
        p.add_argument("-o", "--output", required=True, help="figure file (.png or .pdf)")
        p.add_argument("--force", action="store_true", help="overwrite an existing output file")
        if name == "histogram":
            p.add_argument("--bins", type=int, default=60, help="number of bins (default 60)")
        p.set_defaults(run=run_plot_codebook)

    p = psub.add_parser("study", help="accuracy versus s_max from a study's results.csv, one series per labelling")
    p.add_argument("path", nargs="+", help="results CSV written by `spherecode study` (STUDY_OUT/results.csv); several: "
                   "a study and its follow-ups on the same data and recipe, pooled")
    p.add_argument("--metric", default="best_top1", help="column to plot: best_top1 (default), final_top1, best_top5, ...")
    p.add_argument("-o", "--output", required=True, help="figure file (.png or .pdf)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(run=run_plot_study)


#: `spherecode bounds` answers in well under a second up to this dimension (benchmark: bench_bounds.py).
MAX_BOUNDS_DIM = 10**9


def run_bounds(args: argparse.Namespace) -> int:
    from ..bounds import MAX_N

    n, dim = check_size(args.n, args.dim)
    if n > MAX_N:
        raise SpherecodeError(f"Argument '-n' must be at most 2^53 = {MAX_N} (the bounds are computed in double "
                              f"precision), not {n}.")
    check_int("--dim", dim, maximum=MAX_BOUNDS_DIM)
    if args.lp_degree is not None:
        check_int("--lp-degree", args.lp_degree, minimum=1, maximum=200)
    if args.sdp_degree is not None:
        from ..bounds import SDP_MAX_DEGREE

        check_int("--sdp-degree", args.sdp_degree, minimum=1, maximum=SDP_MAX_DEGREE)
    table = construction_table(n, dim, build=not args.no_build)
    report = bounds_report(n, dim, lp=not args.no_lp, lp_degree=args.lp_degree, sdp=args.sdp, sdp_degree=args.sdp_degree,
                           progress=args.sdp,  # one line per solve on stderr
                           achieved={k: v["max_cosine"] for k, v in table.items() if v["max_cosine"] is not None},
                           optimal=[k for k, v in table.items() if v["optimal"]])
    not_built = {k: v["not_built"] for k, v in table.items() if v.get("not_built")}
    if args.json:
        print_json({**report.to_dict(), "not_built": not_built})
    else:
        print(report.format())
        for name, why in not_built.items():
            print(f"not built: {name} ({why}; its value is not shown)")
    return 0


def _figure_path(path: str, force: bool) -> Path:
    from ..plots import FIGURE_SUFFIXES

    return output_path(path, force, suffixes=FIGURE_SUFFIXES)


def run_plot_separation(args: argparse.Namespace) -> int:
    from ..analysis import parse_dims, separation_vs_dimension
    from ..plots import plot_separation, save_figure

    check_int("n", args.n, minimum=2)
    out = _figure_path(args.output, args.force)
    csv_out = None if args.csv is None else output_path(args.csv, args.force, "--csv")
    if csv_out is not None and csv_out.resolve() == out.resolve():
        raise SpherecodeError(f"Arguments '--csv' and '--output' name the same file '{out}'; give two different files.")
    dims = parse_dims(args.dims)
    methods = None if args.methods is None else [m.strip() for m in args.methods.split(",") if m.strip()]
    curves = separation_vs_dimension(args.n, dims, methods, seed=args.seed, lp=not args.no_lp,
                                     params=dict(args.param), effort=args.effort, progress=True)
    save_figure(plot_separation(curves), out, overwrite=args.force)
    print(f"wrote {out}")
    if csv_out is not None:
        write_csv(curves.rows(), csv_out)
        print(f"wrote {csv_out}")
    return 0


def run_plot_codebook(args: argparse.Namespace) -> int:
    from ..codebook import Codebook
    from ..plots import plot_gram, plot_histogram, save_figure

    out = _figure_path(args.output, args.force)
    cb = Codebook.load(args.path)
    if args.figure == "histogram":
        from ..plots import MAX_BINS

        fig = plot_histogram(cb, bins=check_int("--bins", args.bins, minimum=1, maximum=MAX_BINS))
    else:
        fig = plot_gram(cb)
    save_figure(fig, out, overwrite=args.force)
    print(f"wrote {out}")
    return 0


def run_plot_study(args: argparse.Namespace) -> int:
    from ..plots import plot_study, save_figure
    from ..study.results import COLUMNS, read_results

    out = _figure_path(args.output, args.force)
    metrics = [c for c in COLUMNS if c.endswith(("_top1", "_top5"))]
    if args.metric not in metrics:
        raise SpherecodeError(f"Argument '--metric' must be one of {', '.join(metrics)}; got {args.metric!r}.")
    for path in args.path:
        read_text(path, "path", what="results file")  # a regular UTF-8 text file, before the CSV reader opens it
    try:
        rows = read_results(args.path)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise SpherecodeError(f"Argument 'path': {' '.join(args.path)} is not readable as CSV ({exc}).") from None
    save_figure(plot_study(rows, metric=args.metric), out, overwrite=args.force)
    print(f"wrote {out}")
    return 0


def write_csv(rows: list[dict], path: Path) -> None:
    """Write records with a header (empty cells for ``None``)."""
    with atomic_write(path, "w", option="--csv", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([{k: "" if v is None else v for k, v in r.items()} for r in rows])
