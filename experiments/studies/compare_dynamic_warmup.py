"""Dynamic assignment with a two-epoch warm-up against DL2PA's schedule (reassign after every epoch
from the first), on the glyphs study's recipe: best top-1 per codebook and the paired differences
(by seed) with 95 % t intervals, each arm also against the identity labelling of the first study.

    PYTHONPATH=. python experiments/studies/compare_dynamic_warmup.py [WARMUP_RESULTS.csv]

Reads experiments/studies/results/cpu-glyphs.csv (warm-up 1 and identity) and the warm-up study's
results (default: experiments/studies/results/cpu-glyphs-dynamic-warmup.csv).
"""

from __future__ import annotations

import sys
from pathlib import Path

from spherecode.study import read_csv
from spherecode.study.effects import paired_difference

RESULTS = Path(__file__).resolve().parent / "results"


def by_seed(rows: list[dict], codebook: str, labelling: str) -> dict[int, float]:
    return {r["seed"]: 100 * r["best_top1"] for r in rows if r["codebook"] == codebook and r["labelling"] == labelling}


def fmt(d) -> str:
    mark = " *" if d.excludes_zero else ""
    return f"{d.mean:+.1f} [{d.low:+.1f}, {d.high:+.1f}]{mark}"


def main() -> None:
    first = read_csv(RESULTS / "cpu-glyphs.csv")
    warm = read_csv(sys.argv[1] if len(sys.argv) > 1 else RESULTS / "cpu-glyphs-dynamic-warmup.csv")
    print("best top-1 %, 3 seeds; differences paired by seed, 95 % t interval (* excludes 0)\n")
    print("| codebook | identity | dynamic (warm-up 1, DL2PA) | dynamic (warm-up 2) | warm-up 2 - warm-up 1 | "
          "warm-up 1 - identity | warm-up 2 - identity |")
    print("|---|---|---|---|---|---|---|")
    for codebook in sorted({r["codebook"] for r in warm}):
        ident, dyn1, dyn2 = (by_seed(first, codebook, "identity"), by_seed(first, codebook, "dynamic"),
                             by_seed(warm, codebook, "dynamic"))
        mean = lambda x: sum(x.values()) / len(x)  # noqa: E731
        print(f"| {codebook} | {mean(ident):.1f} | {mean(dyn1):.1f} | {mean(dyn2):.1f} | "
              f"{fmt(paired_difference(dyn2, dyn1))} | {fmt(paired_difference(dyn1, ident))} | "
              f"{fmt(paired_difference(dyn2, ident))} |")


if __name__ == "__main__":
    main()
