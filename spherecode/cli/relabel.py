"""``spherecode relabel``: choose which class gets which prototype, print the measures before and after."""

from __future__ import annotations

import argparse
import math
from typing import Any


from ..codebook import Codebook
from ..errors import SpherecodeError, check_int
from ..files import load_matrix
from .common import output_path, print_json

# spherecode.relabel (scipy.optimize, scipy.stats, networkx) is imported when the command runs,
# so that the other subcommands start fast.


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "relabel", help="choose which class gets which prototype (semantic, assignment, random, identity)",
        description="Attach a class permutation to a codebook: class y uses row permutation[y]. "
                    "Prints the labelling measures before and after.")
    p.add_argument("path", help="codebook .npz file")
    p.add_argument("-o", "--output", required=True, help="output .npz file (the same vectors with the permutation)")
    p.add_argument("-s", "--strategy", default=None,
                   help="semantic, assignment, random or identity (default: semantic with --hierarchy/--similarity, "
                        "assignment with --means)")
    p.add_argument("--hierarchy", metavar="NAME|FILE",
                   help="class hierarchy: cifar100 or glyphs (built in), an edge list or JSON (docs/relabelling.md)")
    p.add_argument("--similarity", metavar="FILE", help="class similarity matrix, N x N (.npy or .csv)")
    p.add_argument("--means", metavar="FILE", help="class-mean embeddings, N x d (.npy or .csv), for --strategy assignment")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--restarts", type=int, default=2, help="semantic: random starts besides the two deterministic ones (the given labelling and "
                        "FAQ's barycentre); 0 keeps only those (default 2)")
    p.add_argument("--kicks", type=int, default=None,
                   help="semantic: iterated-local-search rounds (default 100 for N <= 400, else 10)")
    p.add_argument("--time-limit", type=float, default=None, metavar="SECONDS", help="semantic: stop searching after this long")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_relabel)


def run_relabel(args: argparse.Namespace) -> int:
    from ..errors import check_choice
    from ..relabel import STRATEGIES, assignment_score, labelling_report, relabel, similarity_for
    from ..relabel.hierarchy import classes_of, load_hierarchy, load_similarity, sibling_mask

    if args.strategy is not None:
        check_choice("--strategy", args.strategy, STRATEGIES)
    check_int("--restarts", args.restarts, minimum=0)
    if args.kicks is not None:
        check_int("--kicks", args.kicks, minimum=0)
    if args.time_limit is not None and not (math.isfinite(args.time_limit) and args.time_limit > 0):
        raise SpherecodeError(f"Argument '--time-limit' must be a positive number of seconds, not {args.time_limit}.")
    out = output_path(args.output, args.force, suffixes=(".npz",))
    cb = Codebook.load(args.path)
    if cb.n < 2:
        raise SpherecodeError(f"Codebook file '{args.path}' has one prototype: there is nothing to relabel.")
    if args.hierarchy and args.similarity:
        raise SpherecodeError("Give either --hierarchy or --similarity, not both.")
    tree = load_hierarchy(args.hierarchy) if args.hierarchy else None
    if tree is not None and len(classes_of(tree)) != cb.n:
        raise SpherecodeError(f"Argument '--hierarchy': {args.hierarchy} has {len(classes_of(tree))} classes "
                              f"but the codebook '{args.path}' has N = {cb.n} prototypes.")
    sim = load_similarity(args.similarity, cb.n) if args.similarity else None
    means = load_matrix(args.means, "--means", what="matrix of class means") if args.means else None
    strategy = args.strategy or ("assignment" if means is not None and tree is None and sim is None else "semantic")
    options: dict[str, Any] = {}
    if strategy == "semantic":
        options = {"restarts": args.restarts, "kicks": args.kicks, "time_limit": args.time_limit}
    new = relabel(cb, strategy, similarity=sim, hierarchy=tree, means=means, seed=args.seed, **options)
    new.save(out, overwrite=args.force)

    result: dict[str, Any] = {"path": str(out), "strategy": strategy, "n": cb.n}
    if tree is not None or sim is not None:
        s = similarity_for(cb.n, tree, sim)
        siblings = sibling_mask(tree) if tree is not None else None
        result["before"] = labelling_report(cb.prototypes, s, siblings).to_dict()
        result["after"] = labelling_report(new.prototypes, s, siblings).to_dict()
    if means is not None:
        result["assignment_score_before"] = assignment_score(means, cb, cb.permutation)
        result["assignment_score_after"] = assignment_score(means, new, new.permutation)
    if args.json:
        print_json({**result, "permutation": new.permutation})
        return 0
    print(f"saved {out} (strategy {strategy}, N = {cb.n}; separation unchanged: max cosine {new.max_cosine:.6f})")
    if "before" in result:
        rows = [("QAP objective", "objective", "{:.4f}"), ("Spearman(similarity, cosine)", "spearman", "{:.4f}"),
                ("sibling pairs", "sibling_pairs", "{}"), ("  with negative cosine", "negative_sibling_pairs", "{}"),
                ("  antipodal", "antipodal_sibling_pairs", "{}"), ("mean sibling cosine", "mean_sibling_cosine", "{:.4f}")]
        print(f"{'measure':<30}{'before':>12}{'after':>12}")
        for label, key, fmt in rows:
            print(f"{label:<30}{_cell(fmt, result['before'][key]):>12}{_cell(fmt, result['after'][key]):>12}")
    if means is not None:
        print(f"{'sum <m_y, c_pi(y)>':<30}{result['assignment_score_before']:>12.4f}{result['assignment_score_after']:>12.4f}")
    return 0


def _cell(fmt: str, value: Any) -> str:
    """One table cell; an undefined measure (NaN: e.g. Spearman's rho of constant values) reads n/a."""
    return "n/a" if isinstance(value, float) and not math.isfinite(value) else fmt.format(value)
