r"""Run a study's shards as separate jobs through submitit: local processes or a Slurm array job.

``spherecode study --executor local --shards K`` starts K local processes (submitit's
``LocalExecutor``), one per shard ``i/K`` (:func:`~spherecode.study.plan.shard_runs`), waits for
them with a progress line, then rebuilds ``OUT/results.csv``. ``--executor slurm --shards K``
submits one Slurm array job of K tasks (``sbatch --array``); each task is
``run_study(config, shard=(i, K))`` on its node, so a task that hits its time limit is requeued by
submitit and resumes its runs from their checkpoints. ``--executor inline`` (the default) is no
executor: the calling process runs the runs.

The shards write into one study folder safely: each run has its own folder, generated codebooks
and semantic labellings are created once (the first writer wins, the others read its file),
and ``results.csv`` is rebuilt under a lock from the run folders. Two processes of the same shard
are refused (:func:`~spherecode.study.runner.run_study` locks ``OUT/shards/I-of-K``).

Flags map onto submitit's parameters (:func:`submitit_parameters`): ``--time`` to ``timeout_min``,
``--cpus`` to ``cpus_per_task``, ``--gpus`` to ``gpus_per_node`` (one task per node), ``--mem``
to ``mem_gb``, ``--partition`` to ``slurm_partition`` and ``--array-parallelism`` to
``slurm_array_parallelism``. Local shards with ``--gpus G`` get their own G devices each
(``CUDA_VISIBLE_DEVICES``, :func:`local_gpus`).

Examples:
    >>> submitit_parameters(ExecutorOptions("slurm", shards=8, partition="gpu", time_min=600, gpus=1, cpus=8),
    ...                     "cpu-glyphs")  # doctest: +NORMALIZE_WHITESPACE
    {'name': 'study-cpu-glyphs', 'timeout_min': 600, 'cpus_per_task': 8, 'gpus_per_node': 1,
     'slurm_partition': 'gpu'}
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SpherecodeError, check_choice, check_int
from .config import StudyConfig
from .results import RESULT, StudyResults

try:
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # submitit is optional (pip install 'spherecode[slurm]'); _submitit() says so when needed
    _Checkpointable = object  # type: ignore[assignment,misc]

#: Executors of ``spherecode study --executor`` (``inline``: no executor, this process).
EXECUTORS = ("inline", "local", "slurm")
#: Sub-folder of the study folder with the jobs' submission files and logs.
JOBS = "jobs"
#: Time limit of a local job when ``--time`` is not given (submitit's own default is 2 minutes).
LOCAL_TIMEOUT_MIN = 7 * 24 * 60
#: Shards of ``--executor local`` when ``--shards`` is not given.
LOCAL_SHARDS = 2


@dataclass
class ExecutorOptions:
    """How to run the shards: ``kind`` (``local`` or ``slurm``), ``shards`` K and the job resources."""

    kind: str
    shards: int | None = None
    partition: str | None = None
    time_min: int | None = None
    gpus: int | None = None
    cpus: int | None = None
    mem_gb: int | None = None
    array_parallelism: int | None = None
    wait: bool = True
    folder: str | None = None
    #: Seconds between two looks at the jobs while waiting.
    poll_s: float = 5.0

    def __post_init__(self) -> None:
        check_choice("--executor", self.kind, EXECUTORS[1:])
        if self.shards is None:
            if self.kind == "slurm":
                raise SpherecodeError("Argument '--shards' is required with --executor slurm (the array's size).")
            self.shards = LOCAL_SHARDS
        check_int("--shards", self.shards, minimum=1)
        for option, value in (("--time", self.time_min), ("--cpus", self.cpus), ("--mem", self.mem_gb),
                              ("--array-parallelism", self.array_parallelism)):
            if value is not None:
                check_int(option, value, minimum=1)
        if self.gpus is not None:
            check_int("--gpus", self.gpus, minimum=0)
        if self.kind == "local":
            for option, value in (("--partition", self.partition), ("--mem", self.mem_gb),
                                  ("--array-parallelism", self.array_parallelism)):
                if value is not None:
                    raise SpherecodeError(f"Argument '{option}' is a Slurm option; it has no effect with --executor local.")
            if not self.wait:
                raise SpherecodeError("Argument '--no-wait' is for --executor slurm: local jobs end with this process.")


def submitit_parameters(options: ExecutorOptions, name: str) -> dict[str, Any]:
    """submitit ``AutoExecutor.update_parameters`` keywords for ``options`` (unset ones left out)."""
    params: dict[str, Any] = {
        "name": f"study-{name}",
        "timeout_min": options.time_min if options.time_min is not None
        else (LOCAL_TIMEOUT_MIN if options.kind == "local" else None),
        "cpus_per_task": options.cpus, "gpus_per_node": options.gpus, "mem_gb": options.mem_gb,
        "slurm_partition": options.partition, "slurm_array_parallelism": options.array_parallelism,
    }
    return {k: v for k, v in params.items() if v is not None}


def local_gpus(shards: int, per_shard: int, available: int) -> list[tuple[int, ...]]:
    """The GPUs of each local shard: ``per_shard`` devices each, in turn over the ``available`` ones.

    With more shards than GPU groups, shards share devices (round robin).

    >>> local_gpus(4, 1, 4), local_gpus(3, 2, 4)
    ([(0,), (1,), (2,), (3,)], [(0, 1), (2, 3), (0, 1)])
    """
    if per_shard > available:
        raise SpherecodeError(f"Argument '--gpus' asks for {per_shard} GPU(s) per shard but this machine has "
                              f"{available}.")
    groups = available // per_shard
    return [tuple((i % groups) * per_shard + j for j in range(per_shard)) for i in range(shards)]


def _cuda_devices() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise SpherecodeError("Argument '--executor' local/slurm needs submitit: pip install 'spherecode[slurm]' "
                              "(or submitit), or use --executor inline.") from None
    return submitit


class ShardJob(_Checkpointable):  # type: ignore[misc,valid-type]
    """One shard of a study as a job: ``run_study(config, shard=shard)``; returns its finished runs.

    A submitit ``Checkpointable``: on a time-out Slurm requeues the same call, and the shard resumes
    its runs from their checkpoints.
    """

    def __call__(self, config: StudyConfig, shard: tuple[int, int]) -> int:
        from .runner import run_study

        result = run_study(config, shard=shard, log=lambda s: print(s, flush=True))
        return sum(st.status == "done" for st in result.statuses)


def run_with_executor(config: StudyConfig, options: ExecutorOptions,
                      log: Callable[[str], None] | None = print) -> StudyResults | None:
    """Run the study as ``options.shards`` jobs; wait and return the results (``None`` with ``wait=False``).

    The study is first checked as a dry run (:func:`~spherecode.study.runner.run_study`), so a
    mistake is reported before anything is submitted.
    """
    from .plan import plan_study, shard_runs
    from .results import write_results
    from .runner import run_status, run_study

    say = log if log is not None else (lambda s: None)
    submitit = _submitit()
    run_study(config, dry_run=True, log=None)  # every check of a dry run, before submitting
    assert options.shards is not None
    k = options.shards
    folder = Path(options.folder) if options.folder is not None else config.out_dir / JOBS
    config.out_dir.mkdir(parents=True, exist_ok=True)
    shards = [(i, k) for i in range(1, k + 1)]
    params = submitit_parameters(options, config.name)
    try:
        if options.kind == "local":
            executor = submitit.LocalExecutor(folder=folder)
            if options.gpus:
                jobs = []
                for shard, gpus in zip(shards, local_gpus(k, options.gpus, _cuda_devices())):
                    executor.update_parameters(**params, visible_gpus=gpus)
                    jobs.append(executor.submit(ShardJob(), config, shard))
            else:
                executor.update_parameters(**params)
                jobs = executor.map_array(ShardJob(), [config] * k, shards)
        else:
            executor = submitit.AutoExecutor(folder=folder, cluster=options.kind)
            executor.update_parameters(**params)
            jobs = executor.map_array(ShardJob(), [config] * k, shards)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:  # no srun/sbatch here, sbatch refused
        detail = getattr(exc, "output", None) or str(exc)
        detail = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
        raise SpherecodeError(f"Argument '--executor': could not submit to {options.kind}: "
                              f"{' '.join(detail.split()) or type(exc).__name__}") from None
    ids = ", ".join(j.job_id for j in jobs) if options.kind == "local" else jobs[0].job_id.split("_")[0]
    say(f"study {config.name}: submitted {k} shard(s) to {options.kind} (job {ids}); logs in {folder}")
    if not options.wait:
        return None
    from .runner import study_classes

    plan = plan_study(config, study_classes(config))
    total, last = len(plan.runs), None
    try:
        while not all(j.done() for j in jobs):
            done = sum((r.folder / RESULT).is_file() for r in plan.runs)
            running = sum(j.state in ("RUNNING", "COMPLETING") for j in jobs)
            line = f"  {done}/{total} runs finished; shards: {sum(j.done() for j in jobs)} done, {running} running"
            if line != last:
                say(line)
                last = line
            time.sleep(options.poll_s)
    except (KeyboardInterrupt, SystemExit):
        if options.kind == "local":  # local jobs would outlive this process: stop them (rerun to resume)
            for j in jobs:
                j.cancel(check=False)
        else:
            say(f"stopped waiting; the array job {jobs[0].job_id.split('_')[0]} keeps running (scancel to stop it)")
        raise
    failed = []
    for (i, _), j in zip(shards, jobs):
        exc = j.exception()
        if exc is not None:
            text = str(exc).strip().splitlines()
            failed.append(f"shard {i}/{k}: {text[-1] if text else type(exc).__name__} (log: {j.paths.stdout.parent})")
    rows = write_results(config.out_dir, plan)
    if failed:
        raise SpherecodeError(f"{len(failed)} of {k} shard(s) failed; the others' results are in "
                              f"{config.out_dir / 'results.csv'}. First: {failed[0]}")
    mine = [run_status(r) for s in shards for r in shard_runs(plan.runs, s)]
    return StudyResults(config, plan, mine, rows)
