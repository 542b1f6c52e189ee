"""``spherecode generate | analyze | methods | export``."""

from __future__ import annotations

import argparse

from ..analysis import analyze
from ..codebook import Codebook
from ..constructions import CONSTRUCTIONS, EFFORTS, check_size, generate
from ..constructions.known import describe_library
from .common import output_path, parse_param, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="make a codebook of N unit vectors in R^d",
                       description="Make a codebook and save it as .npz (vectors + metadata).")
    p.add_argument("-n", type=int, required=True, help="number of prototypes N (classes)")
    p.add_argument("-d", "--dim", type=int, required=True, help="dimension d")
    p.add_argument("-m", "--method", default="auto", help=f"construction ({', '.join(CONSTRUCTIONS)}; default auto)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--effort", default="default", choices=EFFORTS,
                   help="search budget: fast (sweeps), default, best (minutes); the same arguments give the "
                        "same codebook on any machine")
    p.add_argument("-p", "--param", type=parse_param, action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of the method, e.g. -p steps=2000 (see `spherecode methods`)")
    p.add_argument("-o", "--output", required=True, help="output .npz file")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(run=run_generate)

    p = sub.add_parser("analyze", help="separation report of a codebook file")
    p.add_argument("path", help="codebook file (.npz from spherecode, or a .npy matrix)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_analyze)

    p = sub.add_parser("methods", help="list the constructions and where each is valid or optimal")
    p.add_argument("-n", type=int, help="show validity and optimality for this N (with -d)")
    p.add_argument("-d", "--dim", type=int, help="dimension for the check")
    p.set_defaults(run=run_methods)

    p = sub.add_parser("export", help="write a codebook's prototypes (class order) as .npy, .pt or .csv")
    p.add_argument("path", help="codebook .npz file")
    p.add_argument("output", help="output file: .npy, .pt, .csv or .npz")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(run=run_export)


def run_generate(args: argparse.Namespace) -> int:
    check_size(args.n, args.dim)
    out = output_path(args.output, args.force)
    if out.suffix != ".npz":
        from ..errors import SpherecodeError

        raise SpherecodeError(f"Argument '--output' must end in .npz, not {out.name!r} (use `spherecode export` for other formats).")
    cb = generate(args.n, args.dim, args.method, seed=args.seed, effort=args.effort, progress=True,
                  **dict(args.param))
    report = analyze(cb, progress=True)  # before saving: the report is printed right after the file is confirmed in place
    cb.save(out, overwrite=args.force)
    if args.json:
        print_json({**report.to_dict(), "path": str(out)})
    else:
        print(f"saved {out}")
        print(report.format())
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    report = analyze(Codebook.load(args.path), progress=True)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.format())
    return 0


def run_methods(args: argparse.Namespace) -> int:
    check = args.n is not None or args.dim is not None
    if check:
        check_size(args.n, args.dim)
    width = max(map(len, CONSTRUCTIONS))
    for name, c in CONSTRUCTIONS.items():
        line = f"{name:<{width}}  {c.summary}"
        if check:
            reason = c.check(args.n, args.dim)
            status = "optimal" if reason is None and c.optimal(args.n, args.dim) else ("valid" if reason is None else f"invalid: {reason}")
            line = f"{name:<{width}}  [{status}]  {c.summary}"
        print(line)
        print(f"{'':<{width}}  needs: {c.requires}; parameters:" + ("" if c.params else " none"))
        for p in c.params:
            print(f"{'':<{width}}    -p {p.describe()}")
    searching = ", ".join(name for name, c in CONSTRUCTIONS.items() if c.effort)
    print(f"\n--effort {'|'.join(EFFORTS)} sets the search budgets (in iterations) of {searching}.")
    print("\nknown codes (method 'known', and 'auto' where they win):")
    for text in describe_library():
        print(f"  {text}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    cb = Codebook.load(args.path)
    out = output_path(args.output, args.force)
    cb.export(out, overwrite=args.force)
    print(f"wrote {out} ({cb.n} x {cb.dim}, class order)")
    return 0
