r"""Run a study: each run an ordinary training run in its own folder, resumable and shardable.

For every run of the (shard of the) plan :func:`run_study`

1. skips it when its folder holds ``result.json`` (the run finished and was measured);
2. resumes it from ``checkpoint.pt`` when a previous attempt was killed after an epoch, or starts
   it afresh (clearing the folder) when it was killed before its first checkpoint;
3. otherwise builds the run's codebook (generated once per study into ``OUT/codebooks/``, then
   relabelled for the run and saved as ``RUN/codebook.npz``; the head uses its stored
   permutation: ``relabelling = "fixed"``), trains it with :class:`spherecode.train.Trainer`, and
   writes ``RUN/result.json`` (one row of the results table) atomically;
4. rebuilds ``OUT/results.csv`` from every run folder after each run (:mod:`.results`).

A killed study is therefore restarted by running the same command again; disjoint shards
(``shard=(i, k)``) may run at the same time on different machines or GPUs into one folder
(:mod:`.executor` starts them as jobs), while a second process of the same shard is refused
(:func:`shard_lock`), and overlapping shards (``1/1`` beside ``1/2``) never train one run twice: each run
is locked while it is set up and trained, and a locked run is left to its process (:func:`run_lock`). Before any training the study is checked as in a dry run (:mod:`.checks`).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..codebook import Codebook
from ..errors import SpherecodeError
from ..files import atomic_write, dump_json
from .config import TRAINER_RELABELLING, StudyConfig
from .plan import Plan, Run, parse_shard, plan_study, shard_runs
from .results import RESULT, StudyResults, collect, result_row, write_results

if TYPE_CHECKING:
    from ..data.dataset import ImageDataset
    from ..train.loop import Trainer

Log = Callable[[str], None]
CODEBOOKS = "codebooks"
HIERARCHY_FILE = "hierarchy.json"


@dataclass(frozen=True)
class RunStatus:
    """A planned run and where it stands: ``done``, ``partial`` (a checkpoint to resume) or ``todo``."""

    run: Run
    status: str


def run_status(run: Run) -> RunStatus:
    if (run.folder / RESULT).is_file():
        return RunStatus(run, "done")
    if (run.folder / "checkpoint.pt").is_file():
        return RunStatus(run, "partial")
    return RunStatus(run, "todo")


@dataclass
class ClassStructure:
    """What the labellings and their measures need: class similarity and sibling pairs (or None)."""

    similarity: np.ndarray | None
    siblings: np.ndarray | None


def study_classes(config: StudyConfig) -> int:
    """N: ``study.classes`` or the size of the training set's class list."""
    if config.classes is not None:
        return config.classes
    from ..data.spec import build_dataset

    return build_dataset(config.train.data.spec, "train").num_classes


def class_structure(config: StudyConfig, train_set: ImageDataset, out: Path | None = None) -> ClassStructure:
    """The class similarity (from ``hierarchy`` or ``similarity``) and the sibling mask, if any.

    With ``hierarchy = "data"`` the dataset's own tree is also written to ``out/hierarchy.json``
    (readable by ``spherecode relabel --hierarchy``).
    """
    from ..relabel.hierarchy import hierarchy_similarity, load_hierarchy, load_similarity, sibling_mask

    names = list(train_set.class_names)
    if config.hierarchy is not None:
        if config.hierarchy == "data":
            make = getattr(train_set, "hierarchy", None)
            if make is None:
                raise SpherecodeError(f"Config key 'study.hierarchy' is \"data\" but the data '{config.train.data.spec}' "
                                      "has no class hierarchy; give a hierarchy file, or a synthetic set with superclasses=K.")
            tree = make()
            if out is not None:
                train_set.write_hierarchy(out / HIERARCHY_FILE)  # type: ignore[attr-defined]
        else:
            tree = load_hierarchy(config.hierarchy, names)
        return ClassStructure(hierarchy_similarity(tree, names), sibling_mask(tree, names))
    if config.similarity == "pixel_means":
        return ClassStructure(pixel_mean_similarity(train_set), None)
    if config.similarity is not None:
        return ClassStructure(load_similarity(config.similarity, train_set.num_classes), None)
    return ClassStructure(None, None)


def pixel_mean_similarity(dataset: ImageDataset) -> np.ndarray:
    r"""Cosine similarity of the centred class-mean images: :math:`S_{yy'} = \cos(\bar x_y - \bar x, \bar x_{y'} - \bar x)`."""
    n = dataset.num_classes
    sums: np.ndarray | None = None
    counts = np.zeros(n)
    for i in range(len(dataset)):
        x = dataset.image(i).numpy().astype(np.float64).ravel()
        if sums is None:
            sums = np.zeros((n, x.size))
        y = dataset.label(i)
        sums[y] += x
        counts[y] += 1
    assert sums is not None
    means = sums / np.maximum(counts, 1)[:, None]
    means -= means.mean(axis=0)
    unit = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    s = unit @ unit.T
    return (s + s.T) / 2


# ---------------------------------------------------------------------------- codebooks
def base_codebook(config: StudyConfig, run: Run, classes: int) -> Codebook:
    """The run's codebook before relabelling: loaded from its file, or generated once per study."""
    spec = run.codebook
    assert spec is not None
    if spec.file is not None:
        from .checks import check_codebook_file

        check_codebook_file(spec.file, classes)
        return Codebook.load(spec.file).with_permutation(None)
    path = config.out_dir / CODEBOOKS / f"{spec.name}.npz"
    if path.is_file():
        return Codebook.load(path)
    from ..constructions import generate, get_construction

    known = get_construction(str(spec.method)).parameters()
    params = {k: v for k, v in spec.params.items() if k in known}
    assert spec.dim is not None
    cb = generate(classes, spec.dim, str(spec.method), seed=spec.seed, **params)
    return _cache(cb, path)


def _cache(cb: Codebook, path: Path) -> Codebook:
    """Save ``cb`` as the study's copy at ``path``, unless another shard was first: then use its copy.

    A new file is put in place with a hard link (:func:`spherecode.files.atomic_write`), so of two
    shards making the same codebook exactly one writes it and every run uses the same one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        cb.save(path, overwrite=False)
    except SpherecodeError:
        if not path.is_file():
            raise
        return Codebook.load(path)
    return cb


def labelled_codebook(config: StudyConfig, run: Run, cb: Codebook, structure: ClassStructure,
                      trainer_config: Any, log: Log) -> Codebook:
    """``cb`` with the run's labelling as its stored permutation (``learned``, ``dynamic``: none, the
    identity start that the trainer changes)."""
    from ..relabel import relabel

    labelling = run.labelling
    if TRAINER_RELABELLING[str(labelling)] != "fixed":
        return cb.with_permutation(None)
    if labelling == "identity":
        return cb.with_permutation(np.arange(cb.n))
    if labelling == "random":
        return relabel(cb, "random", seed=run.seed)
    if labelling == "semantic":
        assert run.codebook is not None
        path = config.out_dir / CODEBOOKS / f"{run.codebook.name}.semantic.npz"
        if path.is_file():
            return Codebook.load(path)
        if structure.similarity is None:
            raise SpherecodeError("Labelling 'semantic' needs study.hierarchy or study.similarity.")
        out = relabel(cb, "semantic", similarity=structure.similarity, seed=0, **config.semantic)
        return _cache(out, path)
    if labelling == "assignment":
        return relabel(cb, "assignment", means=warmup_class_means(config, run, cb, trainer_config, log))
    raise AssertionError(labelling)


def warmup_class_means(config: StudyConfig, run: Run, cb: Codebook, trainer_config: Any, log: Log) -> np.ndarray:
    """Class means of the unit embeddings after ``assignment_warmup`` epochs with the identity labelling.

    The warm-up is a short run of the same recipe in ``RUN/warmup`` (its own schedule); the main
    run then trains from scratch with the assigned labelling.
    """
    from ..train.config import override
    from ..train.loop import Trainer

    folder = run.folder / "warmup"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    path = cb.with_permutation(None).save(folder / "codebook.npz", overwrite=True)
    cfg = override(trainer_config, {"codebook": str(path), "relabelling": "none", "epochs": config.assignment_warmup,
                                    "out": str(folder), "eval_every": 0})
    trainer = Trainer(cfg, log=lambda s: None)
    trainer.fit()
    log(f"  warm-up of {config.assignment_warmup} epoch(s) done; assigning class means to prototypes")
    return class_mean_embeddings(trainer)


def class_mean_embeddings(trainer: Trainer) -> np.ndarray:
    """(N, d) means of the unit embeddings :math:`z = f/\\lVert f\\rVert` of the training set (eval transforms)."""
    import torch
    import torch.nn.functional as F

    encoder = trainer.raw_model.encoder
    loader = trainer.eval_context.make_loader(trainer.train_set)  # eval transform, batches on the device
    n = trainer.train_set.num_classes
    sums: torch.Tensor | None = None
    counts = torch.zeros(n, dtype=torch.float64)
    was = encoder.training
    encoder.eval()
    with torch.no_grad():
        for x, y in loader:
            z = F.normalize(encoder(x).float(), dim=-1).double().cpu()
            y = torch.as_tensor(y).cpu()
            if sums is None:
                sums = torch.zeros(n, z.shape[1], dtype=torch.float64)
            sums.index_add_(0, y, z)
            counts += torch.bincount(y, minlength=n).double()
    encoder.train(was)
    assert sums is not None
    return (sums / counts.clamp_min(1)[:, None]).numpy()


# --------------------------------------------------------------------------------- runs
def trainer_config(config: StudyConfig, run: Run, codebook_path: Path | None) -> Any:
    """The study's recipe with this run's head, codebook, labelling, seed and folder."""
    from ..train.config import override

    updates: dict[str, Any] = {"head": run.head, "seed": run.seed, "out": str(run.folder), "progress": False}
    if run.head == "prototype":
        updates.update({"codebook": str(codebook_path), "dim": None,
                        "relabelling": TRAINER_RELABELLING[str(run.labelling)],
                        "relabel_penalty": config.learned_penalty if run.labelling == "learned" else 0.0})
    else:
        updates.update({"codebook": None, "relabelling": "none"})
    return override(config.train, updates)


def execute_run(config: StudyConfig, run: Run, classes: int, structure: ClassStructure, log: Log) -> dict[str, Any]:
    """Train (or resume) one run and write its ``result.json``; returns the result row."""
    from ..train.loop import Trainer

    start = time.perf_counter()
    if (run.folder / "checkpoint.pt").is_file():
        log(f"  resuming {run.name} from its checkpoint")
        trainer = Trainer(config.train, resume=run.folder, overrides={"progress": False}, log=lambda s: None)
    else:
        if run.folder.exists():  # killed before its first checkpoint: start again
            shutil.rmtree(run.folder)
        run.folder.mkdir(parents=True)
        path = None
        if run.head == "prototype":
            cb = base_codebook(config, run, classes)
            base_cfg = trainer_config(config, run, run.folder / "codebook.npz")
            cb = labelled_codebook(config, run, cb, structure, base_cfg, log)
            path = cb.save(run.folder / "codebook.npz", overwrite=True)
        trainer = Trainer(trainer_config(config, run, path), log=lambda s: None)
    history = trainer.fit()
    current = None
    if run.head == "prototype":
        current = trainer.raw_model.head.current_codebook()  # learned: its rounded permutation
    row = result_row(config, run, history, current, structure.similarity, structure.siblings,
                     wall_time_s=time.perf_counter() - start)
    with atomic_write(run.folder / RESULT, "w", encoding="utf-8") as fh:
        fh.write(dump_json(row, indent=1) + "\n")
    return row


def run_study(config: StudyConfig, *, shard: str | tuple[int, int] | None = None, dry_run: bool = False,
              log: Log | None = print) -> StudyResults:
    """Run (or with ``dry_run`` only list) the study's runs of ``shard`` (``"i/k"``; default all).

    Finished runs are skipped, killed ones resumed; ``OUT/results.csv`` is rebuilt from all run
    folders after each run. Returns the plan's statuses and the rows of the finished runs.
    """
    say: Log = log if log is not None else (lambda s: None)
    part = shard if isinstance(shard, tuple) else parse_shard(shard)
    from ..data.spec import build_dataset
    from .checks import check_study

    train_set = None
    if dry_run:
        try:
            train_set = build_dataset(config.train.data.spec, "train")
        except SpherecodeError:
            pass  # e.g. the data is on another machine: list and check what can be checked without it
        classes: int | None = config.classes if config.classes is not None else (
            train_set.num_classes if train_set is not None else None)
    else:
        train_set = build_dataset(config.train.data.spec, "train")
        classes = config.classes if config.classes is not None else train_set.num_classes
    plan: Plan = plan_study(config, classes)
    notes = check_study(config, plan, train_set)
    mine = shard_runs(plan.runs, part)
    statuses = [run_status(r) for r in mine]
    for name, reason in plan.skipped:
        say(f"skipping codebook {name}: {reason}")
    for note in notes:
        say(f"not checked: {note}")
    if dry_run:
        return StudyResults(config, plan, statuses, collect(config.out_dir, plan) if config.out_dir.is_dir() else [])
    assert classes is not None and train_set is not None
    config.out_dir.mkdir(parents=True, exist_ok=True)
    with shard_lock(config.out_dir, part):
        structure = class_structure(config, train_set, config.out_dir)
        todo = [s for s in (run_status(r) for r in mine) if s.status != "done"]
        say(f"study {config.name}: {len(plan.runs)} runs, shard {part[0]}/{part[1]} has {len(mine)}, "
            f"{len(mine) - len(todo)} already done")
        for k, st in enumerate(todo, 1):
            with run_lock(config.out_dir, st.run) as free:
                if not free:  # an overlapping shard (1/1 beside 1/2) is on it: leave it to that process
                    say(f"[{k}/{len(todo)}] {st.run.name}: skipped, another process is training it")
                    continue
                if run_status(st.run).status == "done":  # finished by that process while this one waited
                    continue
                say(f"[{k}/{len(todo)}] {st.run.name}")
                row = execute_run(config, st.run, classes, structure, say)
            say(f"  top-1 final {100 * row['final_top1']:.2f}%  best {100 * row['best_top1']:.2f}%  "
                f"({row['wall_time_s']:.0f} s)")
            write_results(config.out_dir, plan)
        rows = write_results(config.out_dir, plan)
    return StudyResults(config, plan, [run_status(r) for r in mine], rows)


#: Sub-folder of the study folder with one lock folder per running shard.
SHARDS = "shards"


def shard_lock(out: Path, shard: tuple[int, int]) -> Any:
    """An exclusive lock on shard ``i/k`` of the study in ``out`` (:class:`spherecode.files.RunLock`).

    A second process of the same shard is refused with one line naming the first; the kernel frees
    the lock when its process ends (even by ``SIGKILL``), so a stale lock never blocks. Disjoint
    shards run at the same time; overlapping ones (``1/1`` and ``1/2``) are kept apart run by run
    (:func:`run_lock`).
    """
    from ..files import RunLock

    folder = out / SHARDS / f"{shard[0]}-of-{shard[1]}"
    folder.mkdir(parents=True, exist_ok=True)
    return RunLock(folder, option="--shard" if shard != (1, 1) else "--out")


@contextlib.contextmanager
def run_lock(out: Path, run: Run) -> Iterator[bool]:
    """Hold the lock of one run (``OUT/shards/runs/NAME``, outside the run folder, which a fresh start
    deletes) while it is set up and trained; yields False, holding nothing, when another process has it."""
    from ..files import RunLock

    folder = out / SHARDS / "runs" / run.name
    folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder, option="--shard")
    try:
        lock.acquire()
    except SpherecodeError:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
