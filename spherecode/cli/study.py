"""``spherecode study``: run (or list) a separation-versus-accuracy study from a TOML config."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study", help="sweep training runs over codebooks, labellings, heads and seeds (resumable)",
        description="Run a study: one training run per (codebook, labelling, head, seed), each in its own "
                    "folder. Finished runs are skipped and killed ones resumed, so rerunning the same command "
                    "continues a study; OUT/results.csv is rebuilt from the run folders (docs/study.md).")
    p.add_argument("--config", required=True, help="study TOML file (see experiments/studies/)")
    p.add_argument("--shard", default=None, metavar="I/K",
                   help="run only shard I of K (1 <= I <= K): disjoint, deterministic parts of the study")
    p.add_argument("--dry-run", action="store_true", help="list the runs, their status and folders; train nothing")
    p.add_argument("--out", default=None, help="study folder (default: study.out from the config)")
    p.set_defaults(run=run_study_command)


def run_study_command(args: argparse.Namespace) -> int:
    from ..study import format_summary, load_study, run_study

    config = load_study(args.config)
    if args.out is not None:
        config.out = args.out
    log = (lambda s: print(s, flush=True))
    result = run_study(config, shard=args.shard, dry_run=args.dry_run, log=log)
    if args.dry_run:
        counts: dict[str, int] = {}
        for st in result.statuses:
            counts[st.status] = counts.get(st.status, 0) + 1
            print(f"{st.status:<8} {st.run.name:<48} {st.run.folder}")
        print(f"{len(result.statuses)} runs in this shard ({len(result.plan.runs)} in the study): "
              + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        return 0
    print(f"wrote {result.csv_path} ({len(result.rows)} finished runs)")
    if result.rows:
        print(format_summary(result.rows))
    sys.stdout.flush()
    return 0
