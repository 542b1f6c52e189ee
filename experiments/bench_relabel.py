"""Benchmark of semantic relabelling (docs/relabelling.md).

(a) CIFAR-100 hierarchy (20 superclasses x 5), N = 100: for RM, BCH and other codebooks, the
    identity labelling (alphabetical, as the dataset ships), the mean of 10 random labellings and
    the semantic (QAP) relabelling: antipodal and negative sibling pairs, Spearman correlation
    between class similarity and prototype cosine, QAP objective, seconds.
(b) Scale: N = 1000 classes in a random hierarchy of depth 4: semantic relabelling time and
    objective beside the best of 10 random permutations (same run).

Run:  PYTHONPATH=. python experiments/bench_relabel.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from scipy.linalg import hadamard

from spherecode import CONSTRUCTIONS, Codebook, generate
from spherecode.relabel import (
    cifar100_hierarchy,
    hierarchy_similarity,
    labelling_report,
    qap_objective,
    random_hierarchy,
    random_permutation,
    semantic_permutation,
    sibling_mask,
)
from spherecode.relabel.metrics import spearman_upper_bound


def codebook_or_fallback(n: int, dim: int, method: str) -> tuple[Codebook, str]:
    """``generate(n, dim, method)`` if the construction is registered, else a stand-in (named)."""
    if method in CONSTRUCTIONS:
        cb = generate(n, dim, method)
        code = cb.params.get("code")
        short = code.split(" delta")[0].replace(" ", "").rstrip(",") + (")" if " delta" in code else "") if code else ""
        return cb, f"{method} d={dim} {short}".strip()
    if method == "rm":  # gamma image of RM(1, m) with the all-ones word as the lowest message bit
        h = hadamard(dim).astype(float)
        rows = np.empty((2 * dim, dim))
        rows[0::2], rows[1::2] = h, -h
        return Codebook(rows[:n] / np.sqrt(dim), method="rm1-hadamard"), f"RM(1,{int(np.log2(dim))})* d={dim}"
    return generate(n, dim, "random", seed=0), f"random d={dim} (no {method})"


def part_a(restarts: int, kicks: int) -> None:
    tree = cifar100_hierarchy()
    s = hierarchy_similarity(tree)
    sib = sibling_mask(tree)
    specs = [("rm", 32), ("rm", 64), ("bch", 31), ("bch", 63), ("bch", 127), ("lse", 64), ("orthoplex", 64),
             ("random", 64)]
    print("(a) CIFAR-100 hierarchy, N = 100 (200 sibling pairs; similarity = depth of the lowest common ancestor / 2)")
    head = f"{'codebook':<28}{'s_max':>8}  {'labelling':<14}{'antipodal sib':>14}{'negative sib':>13}{'spearman':>10}{'objective':>11}{'seconds':>9}{'rho bound':>10}"
    print(head)
    print("-" * len(head))
    for method, dim in specs:
        if method not in CONSTRUCTIONS and not (method == "rm" and dim == 64):
            print(f"{method} d={dim}: not available on this branch")
            continue
        try:
            cb, name = codebook_or_fallback(100, dim, method)
        except Exception as exc:  # a construction that cannot make this size: say so, go on
            print(f"{method} d={dim}: skipped ({exc})")
            continue
        rows = []
        bound = spearman_upper_bound(s, cb.vectors)
        rep = labelling_report(cb.vectors, s, sib)
        rows.append(("identity", rep, 0.0))
        reps = [labelling_report(cb.vectors[random_permutation(100, k)], s, sib) for k in range(10)]
        mean = {f: float(np.mean([getattr(r, f) for r in reps])) for f in
                ("antipodal_sibling_pairs", "negative_sibling_pairs", "spearman", "objective")}
        rows.append(("random (mean10)", mean, 0.0))
        t = time.perf_counter()
        res = semantic_permutation(s, cb, seed=0, restarts=restarts, kicks=kicks)
        rows.append(("semantic", labelling_report(cb.vectors[res.permutation], s, sib), time.perf_counter() - t))
        for label, r, sec in rows:
            d = r if isinstance(r, dict) else r.to_dict()
            fmt = (lambda v: f"{v:.1f}") if isinstance(r, dict) else (lambda v: f"{v}")
            print(f"{name if label == 'identity' else '':<28}{(f'{cb.max_cosine:.4f}' if label == 'identity' else ''):>8}  "
                  f"{label:<14}{fmt(d['antipodal_sibling_pairs']):>14}{fmt(d['negative_sibling_pairs']):>13}"
                  f"{d['spearman']:>10.4f}{d['objective']:>11.3f}{sec:>9.2f}"
                  f"{(f'{bound:.4f}' if label == 'identity' else ''):>10}")
    print("rho bound: the largest Spearman any labelling of that codebook can reach (co-sorted pair values);")
    print("nan: the code is equidistant (one cosine for every pair), so every labelling is equivalent")
    if "rm" not in CONSTRUCTIONS:
        print("* stand-in: the rm construction is not on this branch yet")


def part_b(n: int, restarts: int, kicks: int) -> None:
    tree = random_hierarchy(n, 4, seed=0)
    s = hierarchy_similarity(tree)
    s0 = s - np.diag(np.diag(s))
    for method, dim in [("bch", 255), ("random", 128)]:
        try:
            cb, name = codebook_or_fallback(n, dim, method)
        except Exception as exc:
            print(f"{method} d={dim}: skipped ({exc})")
            continue
        g = cb.vectors @ cb.vectors.T
        rand = [qap_objective(s0, g, random_permutation(n, k)) for k in range(10)]
        t = time.perf_counter()
        res = semantic_permutation(s, cb, seed=0, restarts=restarts, kicks=kicks)
        sec = time.perf_counter() - t
        sib = sibling_mask(tree)
        before = labelling_report(cb.vectors, s, sib)
        after = labelling_report(cb.vectors[res.permutation], s, sib)
        print(f"\n(b) scale: N = {n}, random hierarchy depth 4 ({len(tree) - n} internal nodes), codebook {name}, "
              f"s_max {cb.max_cosine:.4f}")
        print(f"{'labelling':<26}{'objective':>12}{'spearman':>10}{'antipodal sib':>15}{'negative sib':>14}{'seconds':>9}")
        print(f"{'identity (shuffled)':<26}{before.objective:>12.2f}{before.spearman:>10.4f}"
              f"{before.antipodal_sibling_pairs:>15}{before.negative_sibling_pairs:>14}{0:>9.2f}")
        print(f"{'best of 10 random':<26}{max(rand):>12.2f}{'':>10}{'':>15}{'':>14}{0:>9.2f}")
        print(f"{'semantic':<26}{after.objective:>12.2f}{after.spearman:>10.4f}"
              f"{after.antipodal_sibling_pairs:>15}{after.negative_sibling_pairs:>14}{sec:>9.2f}")
        spread = float(np.std(rand))
        print(f"margin over best random: {after.objective - max(rand):.2f} "
              f"(= {(after.objective - max(rand)) / spread:.0f} standard deviations of the random objectives; "
              f"{res.starts} local searches)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 300 for part (b)")
    ap.add_argument("--restarts", type=int, default=2)
    ap.add_argument("--kicks", type=int, default=None, help="default: semantic_permutation's (100 for N <= 400, else 10)")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores visible "
          f"(shared with other jobs: timings are noisy); numpy {np.__version__}")
    part_a(args.restarts, args.kicks)
    part_b(300 if args.quick else 1000, args.restarts, args.kicks)


if __name__ == "__main__":
    main()
