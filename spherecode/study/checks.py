r"""Everything a study can check without training, so that a dry run (and every real run, before
its first run) reports a mistake at once rather than at run 37 of a two-hour study.

:func:`check_study` checks

- the study folder: ``out`` must be a folder (or not exist yet), not a file;
- every codebook: a saved ``file`` is a regular file (not missing, not a folder or a FIFO), a
  readable codebook with N = the number of classes; a generated one has a known construction,
  parameters that construction has with valid values, and an (N, d) whose codebook fits in memory;
- the training recipe of every head and labelling (the trainer's own config checks, e.g. that it
  accepts the labelling's ``relabelling``);
- with the data at hand: N from the data agrees with ``study.classes``, and the class similarity
  the semantic labelling and the labelling measures need can be built (``hierarchy = "data"`` on a
  dataset without a tree, a hierarchy that misses classes, a similarity file of the wrong size).

The number of classes is ``study.classes`` or the training set's; when the data is not on this
machine the checks that need it are skipped and listed in the returned notes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import SpherecodeError
from .config import StudyConfig
from .plan import Plan

if TYPE_CHECKING:
    from ..data.dataset import ImageDataset


def check_codebook_file(path: str | Path, classes: int | None) -> None:
    """A saved codebook: a regular, readable codebook file with ``classes`` prototypes (when known)."""
    from ..codebook import Codebook

    p = Path(path)
    if not p.exists():
        raise SpherecodeError(f"Config key 'codebooks.file': codebook file '{p}' does not exist.")
    if not p.is_file():  # a folder, a FIFO or a device: np.load would fail or block
        raise SpherecodeError(f"Config key 'codebooks.file': '{p}' is not a regular file (a .npz codebook).")
    cb = Codebook.load(p)
    if classes is not None and cb.n != classes:
        raise SpherecodeError(f"Config key 'codebooks.file': codebook file '{p}' has N = {cb.n} prototypes but "
                              f"the data has {classes} classes.")


def check_generated(method: str, dim: int, params: dict[str, Any], classes: int | None) -> None:
    """A generated codebook: its construction's parameters (those it has) and, with N known, its memory."""
    from ..constructions import get_construction
    from ..constructions.base import check_memory
    from ..cost import available_memory

    construction = get_construction(method)
    own = {k: v for k, v in params.items() if k in construction.parameters()}
    checked = construction.checked_params(own)
    n = classes if classes is not None else 2  # N unknown: at least the smallest codebook must fit
    if 8 * n * dim > available_memory():
        raise SpherecodeError(f"Config key 'codebooks.dims': d = {dim} needs {8 * n * dim / 1e9:.3g} GB for the "
                              f"N x d codebook (N = {n}), more than this machine's memory.")
    if construction.check(n, dim) is None:
        check_memory(construction, n, dim, checked)


def check_study(config: StudyConfig, plan: Plan, train_set: ImageDataset | None = None) -> list[str]:
    """Check ``config`` (expanded as ``plan``) without training; returns notes on what was not checked.

    ``train_set``: the training set when the caller has it (else it is built here, if it can be).

    Raises:
        SpherecodeError: the first problem, naming the config key.
    """
    from .runner import trainer_config

    notes: list[str] = []
    out = config.out_dir
    if out.exists() and not out.is_dir():
        raise SpherecodeError(f"Config key 'study.out' (or --out): '{out}' is a file; give a folder for the study.")
    classes = plan.classes
    for spec in config.codebooks:
        if spec.file is not None:
            check_codebook_file(spec.file, classes)
        else:
            assert spec.method is not None and spec.dim is not None
            try:
                check_generated(spec.method, spec.dim, spec.params, classes)
            except SpherecodeError as exc:
                raise SpherecodeError(f"Codebook '{spec.name}': {exc}") from None
    if classes is None:
        notes.append("the number of classes is unknown (no study.classes and no data here): codebook sizes not checked")
    seen: set[tuple[str, str | None]] = set()
    for run in plan.runs:  # the recipe of every head and labelling, as its runs will use it
        key = (run.head, run.labelling)
        if key not in seen:
            seen.add(key)
            trainer_config(config, run, out / "codebook.npz" if run.head == "prototype" else None)
    notes += check_data(config, classes, train_set)
    return notes


def check_data(config: StudyConfig, classes: int | None, train_set: ImageDataset | None = None) -> list[str]:
    """With the data on this machine: its N against ``study.classes`` and the class similarity."""
    from ..data.spec import build_dataset
    from .runner import class_structure

    needs_structure = config.hierarchy is not None or (config.similarity not in (None, "pixel_means"))
    if train_set is None:
        try:
            train_set = build_dataset(config.train.data.spec, "train")
        except SpherecodeError as exc:
            return [f"the data is not here ({exc}): its classes and the class similarity were not checked"]
    if classes is not None and train_set.num_classes != classes:
        raise SpherecodeError(f"Config key 'study.classes' is {classes} but the data '{config.train.data.spec}' has "
                              f"{train_set.num_classes} classes.")
    if needs_structure:
        class_structure(config, train_set, out=None)
    return []
