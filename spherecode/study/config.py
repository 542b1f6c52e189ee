r"""The study's typed configuration, read from TOML.

A study is one dataset and one training recipe (a :class:`~spherecode.train.config.TrainConfig`,
the ``[train.*]`` tables, optionally on top of a ``recipe`` file), swept over codebooks,
labellings, heads and seeds::

    [study]
    name = "cpu-synthetic"
    out = "runs/studies/cpu-synthetic"     # one folder per run below this
    seeds = [0, 1, 2]
    heads = ["prototype", "linear"]        # linear: one baseline run per seed
    labellings = ["identity", "random", "semantic"]
    hierarchy = "data"                     # semantic labelling: the dataset's own tree,
                                           # "cifar100", or a hierarchy file
    [study.semantic]                       # options of spherecode.relabel.relabel(..., "semantic")
    restarts = 2

    [[codebooks]]                          # construction x dimension (invalid pairs skipped)
    methods = ["random", "lse"]
    dims = [5, 10]
    params = { steps = 300 }               # passed to every method that has the parameter
    [[codebooks]]
    file = "my_codebook.npz"               # or a saved codebook

    [train.data]                           # the recipe: the keys of `spherecode train`
    spec = "synthetic:classes=20,superclasses=5"
    [train.run]
    epochs = 10

Labellings (class ``y`` uses prototype ``c_{pi(y)}``; :mod:`spherecode.relabel`):
``identity``, ``random`` (a new permutation per seed), ``semantic`` (quadratic assignment to a
class similarity from ``hierarchy`` or ``similarity``), ``assignment`` (linear assignment of the
class-mean embeddings of a short warm-up run, ``assignment_warmup`` epochs, to the prototypes),
``learned`` (a Sinkhorn relaxation trained with the network) and ``dynamic`` (the trainer's
dynamic label-to-prototype assignment, Ebrahimi et al. 2024, its options in ``[train.model]``).

A ``[[codebooks]]`` table may carry its own ``labellings`` and ``seeds``: those codebooks get these
instead of ``study.labellings`` and ``study.seeds`` (e.g. every labelling at two dimensions, identity and
semantic elsewhere; more seeds where an effect's interval is still wide). The linear baseline runs
the study's seeds.

Examples:
    >>> cfg = study_from_dict({"study": {"name": "s", "out": "runs/s", "seeds": [0, 1]},
    ...                        "codebooks": [{"methods": ["random", "orthoplex"], "dims": [5]}],
    ...                        "train": {"data": {"spec": "synthetic:classes=10"}}})
    >>> [c.name for c in cfg.codebooks], cfg.labellings, cfg.train.data.spec
    (['random-d5', 'orthoplex-d5'], ['identity'], 'synthetic:classes=10')
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SpherecodeError, check_choice, check_int, check_seed
from ..train.config import TrainConfig, from_dict

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

#: How a study chooses which class gets which prototype, mapped to the trainer's ``relabelling``
#: (``model.relabelling``) its runs use: ``fixed`` trains the permutation chosen before training and
#: stored in the run's codebook; ``learned`` and ``dynamic`` start from the identity and change it
#: while training.
TRAINER_RELABELLING = {"identity": "fixed", "random": "fixed", "semantic": "fixed", "assignment": "fixed",
                       "learned": "learned", "dynamic": "dynamic"}
#: The study's labellings.
LABELLINGS = tuple(TRAINER_RELABELLING)
#: Classifier heads a study compares.
HEADS = ("prototype", "linear")
#: Class similarities computed from the data itself (``similarity = "pixel_means"``).
DATA_SIMILARITIES = ("pixel_means",)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]*$")


@dataclass(frozen=True)
class CodebookSpec:
    """One codebook of the sweep: ``generate(N, dim, method, seed, **params)`` or a saved ``file``."""

    name: str
    method: str | None = None
    dim: int | None = None
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    #: This codebook's labellings (``None``: the study's ``labellings``).
    labellings: tuple[str, ...] | None = None
    #: This codebook's seeds (``None``: the study's ``seeds``).
    seeds: tuple[int, ...] | None = None


@dataclass
class StudyConfig:
    """A study: the sweep (codebooks x labellings x heads x seeds) over one recipe ``train``."""

    name: str
    out: str
    train: TrainConfig
    codebooks: list[CodebookSpec]
    labellings: list[str] = field(default_factory=lambda: ["identity"])
    heads: list[str] = field(default_factory=lambda: ["prototype"])
    seeds: list[int] = field(default_factory=lambda: [0])
    #: Number of classes N (read from the training set when absent; give it for a dry run
    #: without the data).
    classes: int | None = None
    #: Class tree for semantic labelling and the labelling metrics: "data" (the dataset's own,
    #: e.g. the hierarchical synthetic set), a built-in name ("cifar100") or a file.
    hierarchy: str | None = None
    #: Or a class similarity: a .npy/.csv (N, N) file or "pixel_means" (cosine of class-mean images).
    similarity: str | None = None
    #: Options of the semantic (QAP) search, e.g. {"restarts": 2, "time_limit": 60}.
    semantic: dict[str, Any] = field(default_factory=dict)
    #: Weight of the learned relabelling's permutation penalty.
    learned_penalty: float = 0.0
    #: Warm-up epochs whose class-mean embeddings the ``assignment`` labelling uses.
    assignment_warmup: int = 1

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SpherecodeError(f"Config key 'study.name' must be letters, digits, '-', '_' or '.', not {self.name!r}.")
        for key, values, choices in (("study.labellings", self.labellings, LABELLINGS), ("study.heads", self.heads, HEADS),
                                     *((f"codebooks.{c.name}.labellings", c.labellings, LABELLINGS)
                                       for c in self.codebooks if c.labellings is not None)):
            if not values:
                raise SpherecodeError(f"Config key '{key}' is empty; choose from {', '.join(choices)}.")
            for v in values:
                check_choice(key, v, choices)
        if not self.seeds:
            raise SpherecodeError("Config key 'study.seeds' is empty; give at least one seed, e.g. [0, 1, 2].")
        if "prototype" in self.heads and not self.codebooks:
            raise SpherecodeError("The prototype head needs codebooks: add [[codebooks]] tables (method and dim, or file).")
        made: dict[str, tuple[Any, ...]] = {}  # a name may recur only for the same codebook (other labellings or seeds)
        dup = sorted({c.name for c in self.codebooks
                      if made.setdefault(c.name, (c.method, c.dim, c.seed, c.params, c.file)) != (c.method, c.dim, c.seed,
                                                                                               c.params, c.file)})
        if dup:
            raise SpherecodeError(f"Codebook names must be unique; repeated for different codebooks: {', '.join(dup)} "
                                  "(set 'name' in [[codebooks]]).")
        if self.hierarchy is not None and self.similarity is not None:
            raise SpherecodeError("Give either study.hierarchy or study.similarity, not both.")
        if "semantic" in self.all_labellings and self.hierarchy is None and self.similarity is None:
            raise SpherecodeError("Labelling 'semantic' needs a class similarity: set study.hierarchy "
                                  "(\"data\", \"cifar100\" or a file) or study.similarity.")
        if self.similarity is not None and self.similarity not in DATA_SIMILARITIES \
                and Path(self.similarity).suffix.lower() not in (".npy", ".csv"):
            raise SpherecodeError(f"Config key 'study.similarity' must be {', '.join(DATA_SIMILARITIES)} or a .npy/.csv "
                                  f"file, not {self.similarity!r}.")
        if self.semantic:
            import inspect

            from ..relabel.semantic import semantic_permutation

            valid = [p for p in inspect.signature(semantic_permutation).parameters
                     if p not in ("similarity", "codebook", "seed", "start")]
            bad = sorted(set(self.semantic) - set(valid))
            if bad:
                raise SpherecodeError(f"Config key 'study.semantic.{bad[0]}' is not an option of the semantic "
                                      f"labelling; valid: {', '.join(valid)}.")
        if self.classes is not None:
            check_int("study.classes", self.classes, minimum=2)
        check_int("study.assignment_warmup", self.assignment_warmup, minimum=1)

    @property
    def out_dir(self) -> Path:
        return Path(self.out)

    def labellings_of(self, spec: CodebookSpec) -> list[str]:
        """The labellings the runs of codebook ``spec`` use."""
        return list(spec.labellings) if spec.labellings is not None else list(self.labellings)

    def seeds_of(self, spec: CodebookSpec) -> list[int]:
        """The seeds the runs of codebook ``spec`` use."""
        return list(spec.seeds) if spec.seeds is not None else list(self.seeds)

    @property
    def all_seeds(self) -> list[int]:
        """Every seed some run of the study uses (the study's, then the codebooks' own)."""
        return list(dict.fromkeys([*self.seeds, *(s for c in self.codebooks for s in self.seeds_of(c))]))

    @property
    def all_labellings(self) -> list[str]:
        """Every labelling some run of the study uses (study order, then the codebooks')."""
        used = list(self.labellings) if "prototype" in self.heads else []
        for c in self.codebooks:
            used += self.labellings_of(c)
        return list(dict.fromkeys(used))


def _codebook_specs(entries: Any) -> list[CodebookSpec]:
    """Expand ``[[codebooks]]`` tables (``method``/``methods`` x ``dim``/``dims``, or ``file``)."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise SpherecodeError("Config key 'codebooks' must be an array of tables ([[codebooks]]).")
    specs: list[CodebookSpec] = []
    known = {"method", "methods", "dim", "dims", "seed", "seeds", "params", "file", "name", "labellings"}
    for i, entry in enumerate(entries):
        where = f"codebooks[{i}]"
        if not isinstance(entry, dict):
            raise SpherecodeError(f"Config key '{where}' must be a table.")
        unknown = sorted(set(entry) - known)
        if unknown:
            raise SpherecodeError(f"Unknown config key '{where}.{unknown[0]}'; valid keys: {', '.join(sorted(known))}.")
        seed = check_seed(f"{where}.seed", entry.get("seed", 0))
        params = entry.get("params", {})
        if not isinstance(params, dict):
            raise SpherecodeError(f"Config key '{where}.params' must be a table, e.g. {{ steps = 300 }}.")
        labellings = entry.get("labellings")
        if labellings is not None:
            if not isinstance(labellings, list) or not all(isinstance(v, str) for v in labellings):
                raise SpherecodeError(f"Config key '{where}.labellings' must be a list, e.g. [\"identity\", \"semantic\"].")
            labellings = tuple(labellings)
        seeds = entry.get("seeds")
        if seeds is not None:
            if not isinstance(seeds, list) or not seeds:
                raise SpherecodeError(f"Config key '{where}.seeds' must be a non-empty list of seeds, e.g. [3, 4].")
            seeds = tuple(dict.fromkeys(check_seed(f"{where}.seeds", s) for s in seeds))
        if "file" in entry:
            if set(entry) & {"method", "methods", "dim", "dims"}:
                raise SpherecodeError(f"Config key '{where}': give either 'file' or method and dim, not both.")
            name = str(entry.get("name") or Path(str(entry["file"])).stem)
            specs.append(CodebookSpec(name=name, file=str(entry["file"]), labellings=labellings, seeds=seeds))
            continue
        methods = _listed(entry, "method", "methods", where)
        dims = [check_int(f"{where}.dims", d, minimum=1) for d in _listed(entry, "dim", "dims", where)]
        _check_params(methods, params, where)
        if "name" in entry and len(methods) * len(dims) != 1:
            raise SpherecodeError(f"Config key '{where}.name' names one codebook, but the table makes "
                                  f"{len(methods) * len(dims)}; leave 'name' out.")
        for method in methods:
            for dim in dims:
                name = str(entry.get("name") or f"{method}-d{dim}" + (f"-s{seed}" if seed else ""))
                specs.append(CodebookSpec(name=name, method=str(method), dim=dim, seed=seed, params=dict(params),
                                          labellings=labellings, seeds=seeds))
    return specs


def _check_params(methods: list[Any], params: dict[str, Any], where: str) -> None:
    """Every method is known and every parameter belongs to at least one of the table's methods."""
    from ..constructions import get_construction

    known: set[str] = set()
    for method in methods:
        if not isinstance(method, str):
            raise SpherecodeError(f"Config key '{where}.methods' must list construction names, not {method!r}.")
        known |= set(get_construction(method).parameters())
    unknown = sorted(set(params) - known)
    if unknown:
        raise SpherecodeError(f"Config key '{where}.params.{unknown[0]}' is not a parameter of {', '.join(methods)}; "
                              f"valid: {', '.join(sorted(known)) or 'none'}.")


def _listed(entry: dict[str, Any], one: str, many: str, where: str) -> list[Any]:
    if (one in entry) == (many in entry):
        raise SpherecodeError(f"Config key '{where}' needs exactly one of '{one}' or '{many}' (or 'file').")
    values = [entry[one]] if one in entry else entry[many]
    if not isinstance(values, list) or not values:
        raise SpherecodeError(f"Config key '{where}.{many}' must be a non-empty list.")
    return values


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def study_from_dict(data: dict[str, Any], base_dir: str | Path | None = None) -> StudyConfig:
    """Build a :class:`StudyConfig` from parsed TOML; ``base_dir`` resolves a relative ``recipe``."""
    unknown = sorted(set(data) - {"study", "codebooks", "train"})
    if unknown:
        raise SpherecodeError(f"Unknown config section '[{unknown[0]}]'; valid sections: study, codebooks, train.")
    study = dict(data.get("study") or {})
    fields = {f.name for f in dataclasses.fields(StudyConfig)} - {"train", "codebooks"}
    bad = sorted(set(study) - fields - {"recipe"})
    if bad:
        raise SpherecodeError(f"Unknown config key 'study.{bad[0]}'; valid keys in [study]: {', '.join(sorted(fields | {'recipe'}))}.")
    for key in ("name", "out"):
        if key not in study:
            raise SpherecodeError(f"Config key 'study.{key}' is required.")
    train: dict[str, Any] = {}
    recipe = study.pop("recipe", None)
    if recipe is not None:
        path = Path(recipe)
        if not path.is_absolute() and base_dir is not None and not path.is_file():
            path = Path(base_dir) / path
        train = _read_toml(path, "study.recipe")
    train = _merge(train, data.get("train") or {})
    for key in ("seeds",):
        if key in study:
            if not isinstance(study[key], list):
                raise SpherecodeError(f"Config key 'study.{key}' must be a list, e.g. [0, 1, 2].")
            study[key] = [check_seed(f"study.{key}", s) for s in study[key]]
    for key in ("labellings", "heads"):
        if key in study and not isinstance(study[key], list):
            raise SpherecodeError(f"Config key 'study.{key}' must be a list, e.g. [\"identity\", \"random\"].")
    if "semantic" in study and not isinstance(study["semantic"], dict):
        raise SpherecodeError("Config key 'study.semantic' must be a table of options, e.g. { restarts = 2 }.")
    if "learned_penalty" in study:
        study["learned_penalty"] = float(study["learned_penalty"])
    return StudyConfig(train=from_dict(train, TrainConfig), codebooks=_codebook_specs(data.get("codebooks")), **study)


def _read_toml(path: Path, option: str) -> dict[str, Any]:
    if not path.is_file():
        raise SpherecodeError(f"Argument '{option}': file '{path}' does not exist.")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpherecodeError(f"Argument '{option}': '{path}' is not valid TOML ({exc}).") from None


def load_study(path: str | Path) -> StudyConfig:
    """Read a study TOML file (see the module docstring)."""
    p = Path(path)
    return study_from_dict(_read_toml(p, "--config"), base_dir=p.parent)
