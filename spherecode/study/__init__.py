r"""The separation-versus-accuracy study: a sweep of training runs over codebooks, labellings,
heads and seeds, resumable and shardable, with one tidy results table.

The same as ``spherecode study --config study.toml [--shard i/k] [--dry-run]``:

>>> from spherecode.study import load_study, run_study            # doctest: +SKIP
>>> results = run_study(load_study("experiments/studies/cpu_synthetic.toml"))  # doctest: +SKIP
>>> print(format_summary(results.rows))                              # doctest: +SKIP
>>> print(report(results.rows).format())     # paired effects, 95 % CIs   # doctest: +SKIP

See :mod:`.config` for the TOML format, :mod:`.plan` for the runs and shards, :mod:`.runner` for
resuming, :mod:`.results` for the table's columns, :mod:`.reporting` for the effects with
confidence intervals (statistics in :mod:`.effects`) and :mod:`.executor` for running the shards
as local processes or a Slurm array job.
"""

from __future__ import annotations

from .config import HEADS, LABELLINGS, CodebookSpec, StudyConfig, load_study, study_from_dict
from .effects import Correlation, Interval, PairedDifference, paired_difference, spearman_interval, t_interval
from .executor import EXECUTORS, ExecutorOptions, run_with_executor
from .plan import Plan, Run, parse_shard, plan_study, shard_runs
from .reporting import METRICS, StudyReport, report
from .results import COLUMNS, StudyResults, collect, format_summary, read_csv, read_results, summarise, write_results
from .runner import class_mean_embeddings, pixel_mean_similarity, run_status, run_study

__all__ = [
    "COLUMNS",
    "EXECUTORS",
    "HEADS",
    "LABELLINGS",
    "METRICS",
    "CodebookSpec",
    "Correlation",
    "ExecutorOptions",
    "Interval",
    "PairedDifference",
    "Plan",
    "Run",
    "StudyConfig",
    "StudyReport",
    "StudyResults",
    "class_mean_embeddings",
    "collect",
    "format_summary",
    "load_study",
    "paired_difference",
    "parse_shard",
    "pixel_mean_similarity",
    "plan_study",
    "read_csv",
    "read_results",
    "report",
    "run_status",
    "run_study",
    "run_with_executor",
    "shard_runs",
    "spearman_interval",
    "study_from_dict",
    "summarise",
    "t_interval",
    "write_results",
]
