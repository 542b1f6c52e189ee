r"""The runs of a study: the sweep expanded in a fixed order, and disjoint shards of it.

Every prototype run is one (codebook, labelling, seed) (a codebook's own ``labellings`` and
``seeds`` replace the study's); the linear baseline has one run per study seed
(it uses no codebook). Runs are listed seed by seed (within a seed: codebook, then labelling,
then the linear run), so a study stopped early has every cell with fewer seeds, and the order
(and so every shard) depends on the config alone. Codebooks that a
construction cannot make at (N, d) are left out and reported as skipped.

Shard ``i/k`` (``1 <= i <= k``) is runs ``i-1, i-1+k, i-1+2k, ...``: the k shards are disjoint,
cover the study, and interleave, so each gets a share of every codebook.

Examples:
    >>> shard_runs(list("abcdefg"), parse_shard("2/3"))
    ['b', 'e']
    >>> parse_shard("4/3")
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Argument '--shard' must be i/k with 1 <= i <= k, not '4/3'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..errors import SpherecodeError
from .config import CodebookSpec, StudyConfig

T = TypeVar("T")
#: Sub-folder of the study folder that holds one folder per run.
RUNS = "runs"


@dataclass(frozen=True)
class Run:
    """One training run of a study; ``folder`` is its run directory."""

    name: str
    head: str
    seed: int
    folder: Path
    codebook: CodebookSpec | None = None
    labelling: str | None = None


@dataclass(frozen=True)
class Plan:
    """The expanded study: its runs in order, and the codebooks left out (name, reason)."""

    runs: list[Run]
    skipped: list[tuple[str, str]]
    classes: int | None


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/k"`` -> ``(i, k)``; ``None`` is the whole study, ``(1, 1)``."""
    if text is None:
        return 1, 1
    i, sep, k = str(text).partition("/")
    try:
        shard = int(i), int(k)
    except ValueError:
        shard = (0, 0)
    if not sep or not 1 <= shard[0] <= shard[1]:
        raise SpherecodeError(f"Argument '--shard' must be i/k with 1 <= i <= k, not {text!r}.")
    return shard


def shard_runs(runs: Sequence[T], shard: tuple[int, int]) -> list[T]:
    """The runs of shard ``(i, k)``: every k-th run starting at the i-th."""
    i, k = shard
    return list(runs[i - 1::k])


def codebook_problem(spec: CodebookSpec, classes: int | None) -> str | None:
    """Why ``spec`` cannot be made for ``classes`` classes (``None``: it can, or N is unknown)."""
    if spec.file is not None or classes is None:
        return None
    from ..constructions import CONSTRUCTIONS, get_construction

    if spec.method not in CONSTRUCTIONS:
        get_construction(str(spec.method))  # raises, listing the valid names
    assert spec.dim is not None
    return CONSTRUCTIONS[str(spec.method)].check(classes, spec.dim)


def plan_study(config: StudyConfig, classes: int | None = None) -> Plan:
    """Expand ``config`` into its runs (``classes``: N, to leave out codebooks invalid at N)."""
    n = config.classes if classes is None else classes
    root = config.out_dir / RUNS
    runs: list[Run] = []
    skipped: list[tuple[str, str]] = []
    specs = []
    if "prototype" in config.heads:
        for spec in config.codebooks:
            problem = codebook_problem(spec, n)
            if problem is None:
                specs.append(spec)
            else:
                skipped.append((spec.name, problem))
    for seed in config.all_seeds:
        for spec in specs:
            if seed not in config.seeds_of(spec):
                continue
            for labelling in config.labellings_of(spec):
                name = f"{spec.name}__{labelling}__seed{seed}"
                runs.append(Run(name, "prototype", seed, root / name, spec, labelling))
        if "linear" in config.heads and seed in config.seeds:
            name = f"linear__seed{seed}"
            runs.append(Run(name, "linear", seed, root / name))
    names = [r.name for r in runs]
    twice = sorted({x for x in names if names.count(x) > 1})
    if twice:
        raise SpherecodeError(f"Run {twice[0]} is listed twice: two [[codebooks]] tables give codebook, labelling and "
                              "seed alike; give each table other labellings or seeds.")
    return Plan(runs, skipped, n)
