"""``spherecode study``: run (or list) a separation-versus-accuracy study from a TOML config;
``spherecode study report RESULTS.csv``: its paired effects with confidence intervals."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "study", help="sweep training runs over codebooks, labellings, heads and seeds (resumable)",
        description="Run a study: one training run per (codebook, labelling, head, seed), each in its own "
                    "folder. Finished runs are skipped and killed ones resumed, so rerunning the same command "
                    "continues a study; OUT/results.csv is rebuilt from the run folders (docs/study.md). "
                    "`spherecode study report RESULTS.csv` prints the effects with confidence intervals.")
    p.add_argument("--config", default=None, help="study TOML file (see experiments/studies/)")
    p.add_argument("--shard", default=None, metavar="I/K",
                   help="run only shard I of K (1 <= I <= K): disjoint, deterministic parts of the study")
    p.add_argument("--dry-run", action="store_true",
                   help="check the config, codebooks and data; list the runs, their status and folders; train nothing")
    p.add_argument("--out", default=None, help="study folder (default: study.out from the config)")
    ex = p.add_argument_group("executors (docs/study.md): run the shards as separate jobs")
    ex.add_argument("--executor", default="inline", choices=("inline", "local", "slurm"),
                    help="inline (default): this process runs the runs one after the other; local: SHARDS local "
                         "processes, waiting for them; slurm: a Slurm array job of SHARDS tasks (needs submitit: "
                         "pip install 'spherecode[slurm]')")
    ex.add_argument("--shards", type=int, default=None, metavar="K",
                    help="with --executor local/slurm: split the study into K shards, one job each (default 2 "
                         "for local, required for slurm)")
    ex.add_argument("--partition", default=None, help="slurm: partition (queue)")
    ex.add_argument("--time", type=int, default=None, metavar="MINUTES", help="slurm: time limit per task in minutes")
    ex.add_argument("--gpus", type=int, default=None, help="slurm: GPUs per task")
    ex.add_argument("--cpus", type=int, default=None, help="slurm/local: CPU cores per task")
    ex.add_argument("--mem", type=int, default=None, metavar="GB", help="slurm: memory per task in GB")
    ex.add_argument("--array-parallelism", type=int, default=None, metavar="J",
                    help="slurm: at most J tasks of the array at once")
    ex.add_argument("--no-wait", action="store_true", help="slurm: submit and return (print the job id)")
    ex.add_argument("--logs", default=None, help="folder of the jobs' logs (default: OUT/jobs)")
    p.set_defaults(run=run_study_command)

    ssub = p.add_subparsers(dest="study_action", metavar="{report}")
    r = ssub.add_parser(
        "report", help="paired effects with 95 %% confidence intervals from a study's results.csv",
        description="Per cell the mean and Student t interval over seeds; paired by seed: each labelling minus "
                    "identity, each codebook minus the worst-separated one of its dimension, prototype minus "
                    "linear head; Spearman's rho of s_max with accuracy within one dimension (bootstrap interval, "
                    "fixed seed). '*' marks an interval that excludes 0.")
    r.add_argument("path", nargs="+", help="results CSV written by `spherecode study` (STUDY_OUT/results.csv); "
                   "several: a study and its follow-ups on the same data and recipe, pooled")
    r.add_argument("--metric", default="best_top1", help="best_top1 (default), final_top1, best_top5 or final_top5")
    r.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (default 0.95)")
    r.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    r.set_defaults(run=run_report_command)


def run_report_command(args: argparse.Namespace) -> int:
    from ..study import report

    rep = report(args.path, metric=args.metric, level=args.level)
    sys.stdout.write(rep.to_json() if args.json else rep.format() + "\n")
    return 0


def run_study_command(args: argparse.Namespace) -> int:
    from ..errors import SpherecodeError
    from ..study import format_summary, load_study, run_study

    if args.config is None:
        raise SpherecodeError("Argument '--config' is required (a study TOML file), or use "
                              "`spherecode study report RESULTS.csv`.")
    config = load_study(args.config)
    if args.out is not None:
        config.out = args.out
    log = (lambda s: print(s, flush=True))
    if args.executor != "inline" and not args.dry_run:
        from ..study.executor import ExecutorOptions, run_with_executor

        options = ExecutorOptions(kind=args.executor, shards=args.shards, partition=args.partition,
                                  time_min=args.time, gpus=args.gpus, cpus=args.cpus, mem_gb=args.mem,
                                  array_parallelism=args.array_parallelism, wait=not args.no_wait,
                                  folder=args.logs)
        if args.shard is not None:
            raise SpherecodeError("Argument '--shard' runs one shard in this process; with --executor "
                                  f"{args.executor} use --shards K instead.")
        result = run_with_executor(config, options, log=log)
        if result is None:
            return 0
    else:
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
