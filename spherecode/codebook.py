r"""The :class:`Codebook`: N unit prototypes in :math:`\mathbb{R}^d` and how they were made.

One type flows through the whole toolkit: constructions return it, the analysis and the bounds
read it, relabelling attaches a permutation to it, the trainer's prototype head consumes it and
the plots draw it. A codebook saves to one ``.npz`` file that any numpy user can read::

    vectors       float64 (N, d)   the unit prototypes
    permutation   int64 (N,)       optional: class y uses row permutation[y] of vectors
    metadata      JSON string      method, params, seed, spherecode version, format version
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import separation
from ._version import __version__
from .errors import CodebookFileError, SpherecodeError, check_seed
from .files import atomic_save, check_array, check_input_file, check_npy_header, check_npz_members, dump_json, parse_json

#: Rows must have unit norm within this tolerance to load.
UNIT_TOL = 1e-6
FORMAT = "spherecode.codebook/1"
EXPORT_SUFFIXES = (".npy", ".pt", ".csv", ".npz")


@dataclass(eq=False)
class Codebook:
    """N unit vectors in R^d with their provenance and an optional class permutation.

    Args:
        vectors: (N, d) array; rows are normalised to unit length on construction.
        method: name of the construction that made it.
        params: the construction's parameters (JSON-serialisable).
        seed: the random seed, if any.
        version: spherecode version that made it.
        permutation: optional length-N array; class ``y`` uses prototype ``vectors[permutation[y]]``.

    Examples:
        >>> cb = Codebook(np.eye(3), method="orthoplex")
        >>> cb.n, cb.dim, cb.max_cosine
        (3, 3, 0.0)
    """

    vectors: np.ndarray
    method: str = "custom"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    version: str = __version__
    permutation: np.ndarray | None = None
    _scan: separation.PairScan | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.vectors, Codebook):
            raise SpherecodeError("Argument 'vectors' is already a Codebook; use it directly (or its .vectors).")
        v = check_array(self.vectors, "vectors")
        if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 1:
            raise SpherecodeError(f"Argument 'vectors' must be a non-empty (N, d) matrix, not shape {v.shape}.")
        if not np.all(np.isfinite(v)):
            raise SpherecodeError("Argument 'vectors' contains NaN or infinite entries.")
        if not np.all(v.any(axis=1)):
            raise SpherecodeError("Argument 'vectors' has a zero row; prototypes must be non-zero.")
        self.vectors = separation.normalize_rows(v)  # unit rows kept bit for bit: copies keep their separation
        self.vectors.setflags(write=False)
        if self.permutation is not None:
            self.permutation = check_permutation(self.permutation, len(v))
        if self.seed is not None:
            self.seed = check_seed("seed", self.seed)
        if not isinstance(self.method, str):
            raise SpherecodeError(f"Argument 'method' must be a string, not {self.method!r}.")
        if not isinstance(self.params, dict):
            raise SpherecodeError(f"Argument 'params' must be a dict, not {type(self.params).__name__}.")

    # ----------------------------------------------------------------- shape
    @property
    def n(self) -> int:
        """Number of prototypes N."""
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        """Ambient dimension d."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        perm = ", permuted" if self.permutation is not None else ""
        cheap = self._scan is not None or separation.scan_seconds(self.n, self.dim) < 0.1  # a repr never waits
        smax = f", max_cosine={self.max_cosine:.6g}" if cheap else ""
        return f"Codebook(n={self.n}, dim={self.dim}, method={self.method!r}{smax}{perm})"

    # ------------------------------------------------------------ prototypes
    @property
    def prototypes(self) -> np.ndarray:
        """The prototypes in class order: row ``y`` is the prototype of class ``y``.

        Equals ``vectors[permutation]`` when a permutation is set, else ``vectors``.
        """
        if self.permutation is None:
            return self.vectors
        return self.vectors[self.permutation]

    def with_permutation(self, permutation: np.ndarray | None) -> Codebook:
        """A copy of this codebook whose class ``y`` uses row ``permutation[y]``."""
        out = Codebook(
            self.vectors, self.method, dict(self.params), self.seed, self.version,
            None if permutation is None else np.asarray(permutation),
        )
        out._scan = self._scan  # the same vectors: the same separation
        return out

    # ------------------------------------------------------------ separation
    def gram(self) -> np.ndarray:
        """The Gram matrix of the vectors (N x N)."""
        return separation.gram(self.vectors)

    def scan(self, progress: bool = False) -> separation.PairScan:
        """Each row's largest cosine to another row and the antipodal pairs, measured once and kept.

        A k-d tree for many rows in low dimension; the closed-form configurations (the simplex, the
        vertex-transitive codes of the library) in O(N d) (:mod:`spherecode.constructions.exact`);
        otherwise all pairs by blocks, refused with a time estimate above
        :data:`spherecode.cost.MAX_SECONDS` (``progress``: a progress bar).
        """
        if self.n < 2:
            raise SpherecodeError("A codebook with one prototype has no pairs to measure.")
        if self._scan is None:
            from .cost import PROGRESS_SECONDS, check_cost, pair_scan_seconds

            scan = None
            blocked = not (self.n > separation.KDTREE_MIN_ROWS and self.dim <= separation.KDTREE_MAX_DIM)
            seconds = pair_scan_seconds(self.n, self.dim)
            if blocked and seconds > PROGRESS_SECONDS:
                from .constructions.exact import exact_scan

                scan = exact_scan(self)
                if scan is None:
                    check_cost(f"comparing all pairs of N = {self.n} prototypes in d = {self.dim}", seconds=seconds,
                               option="codebook", hint="use a smaller codebook")
            self._scan = scan if scan is not None else separation.scan_pairs(self.vectors, progress=progress)
        return self._scan

    @property
    def max_cosine(self) -> float:
        """Worst-case cosine s_max over distinct pairs (permutation-invariant; -1 for one prototype)."""
        if self.n < 2:
            return -1.0
        return float(self.scan().row_max.max())

    @property
    def min_angle_deg(self) -> float:
        """Minimum pairwise angle in degrees."""
        return separation.cosine_to_degrees(self.max_cosine)

    @property
    def mean_max_cosine(self) -> float:
        """Mean over prototypes of the cosine to the nearest other prototype (-1 for one prototype)."""
        if self.n < 2:
            return -1.0
        return float(self.scan().row_max.mean())

    @property
    def antipodal_pairs(self) -> int:
        """Number of pairs with cosine -1 (within 1e-9)."""
        if self.n < 2:
            return 0
        return self.scan().antipodal_pairs

    # ------------------------------------------------------------------- I/O
    def metadata(self) -> dict[str, Any]:
        """The provenance stored beside the vectors."""
        return {
            "format": FORMAT,
            "method": self.method,
            "params": self.params,
            "seed": self.seed,
            "version": self.version,
            "n": self.n,
            "dim": self.dim,
        }

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Save to one ``.npz`` file (``vectors``, optional ``permutation``, ``metadata`` JSON).

        Refuses to replace an existing file unless ``overwrite`` is true.
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise SpherecodeError(f"Argument 'path' must end in .npz, not {path.name!r} (use export() for other formats).")
        _check_writable(path, overwrite)
        arrays: dict[str, np.ndarray] = {
            "vectors": self.vectors,
            "metadata": np.array(_dump_metadata(self.metadata())),
        }
        if self.permutation is not None:
            arrays["permutation"] = self.permutation
        return atomic_save(path, lambda fh: np.savez(fh, **arrays), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Codebook:
        """Load and validate a codebook saved by :meth:`save`.

        A plain ``.npy`` matrix or a ``.npz`` with a ``vectors`` array (from another tool) is
        accepted too, with method ``"imported"``. Raises :class:`CodebookFileError` naming the
        file and the problem when it is missing, corrupt or not a codebook.
        """
        try:
            path = check_input_file(path, "path", what="codebook file")
        except SpherecodeError as exc:
            raise CodebookFileError(str(exc)) from None
        corrupt = f"Codebook file '{path}' is corrupt or not a numpy .npz/.npy file."
        try:
            if zipfile.is_zipfile(path):
                check_npz_members(path, f"Codebook file '{path}'")
            else:
                with open(path, "rb") as fh:
                    check_npy_header(fh, path.stat().st_size, f"Codebook file '{path}'")
            data = np.load(path, allow_pickle=False)
            if isinstance(data, np.ndarray):  # a bare .npy matrix
                vectors, meta, perm = data, {}, None
            else:
                with data:
                    if "vectors" not in data.files:
                        raise CodebookFileError(
                            f"Codebook file '{path}' has no array named 'vectors' (found: {', '.join(data.files) or 'nothing'})."
                        )
                    vectors = data["vectors"]
                    meta = _read_metadata(data["metadata"], path) if "metadata" in data.files else {}
                    perm = data["permutation"] if "permutation" in data.files else None
        except CodebookFileError:
            raise
        except SpherecodeError as exc:
            raise CodebookFileError(str(exc)) from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError):
            raise CodebookFileError(corrupt) from None
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.dtype.names is not None or vectors.dtype.kind not in "iuf":
            raise CodebookFileError(f"Codebook file '{path}': 'vectors' must be a real numeric (N, d) matrix, not {vectors.dtype} {vectors.shape}.")
        vectors = vectors.astype(np.float64)
        if vectors.size == 0:
            raise CodebookFileError(f"Codebook file '{path}': 'vectors' is empty ({vectors.shape}).")
        if not np.all(np.isfinite(vectors)):
            raise CodebookFileError(f"Codebook file '{path}': 'vectors' contains NaN or infinite entries.")
        norms = np.linalg.norm(vectors, axis=1)
        if vectors.size and np.max(np.abs(norms - 1.0)) > UNIT_TOL:
            bad = int(np.argmax(np.abs(norms - 1.0)))
            raise CodebookFileError(
                f"Codebook file '{path}': row {bad} has norm {norms[bad]:.6g}; prototypes must be unit vectors (tolerance {UNIT_TOL})."
            )
        if not isinstance(meta, dict):
            raise CodebookFileError(f"Codebook file '{path}': 'metadata' is not a JSON object.")
        _check_metadata(meta, path)
        try:
            return cls(
                vectors,
                method=meta.get("method", "imported"),
                params=dict(meta.get("params") or {}),
                seed=meta.get("seed"),
                version=meta.get("version", __version__),
                permutation=perm,
            )
        except SpherecodeError as exc:
            raise CodebookFileError(f"Codebook file '{path}': {exc}") from None

    def export(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the prototypes in class order as ``.npy``, ``.pt`` (a torch tensor), ``.csv`` or ``.npz``.

        Other tools see one (N, d) matrix whose row ``y`` is class ``y``'s prototype.
        """
        path = Path(path)
        if path.suffix == ".npz":
            return self.save(path, overwrite=overwrite)
        if path.suffix not in EXPORT_SUFFIXES:
            raise SpherecodeError(
                f"Argument 'path' must end in one of {', '.join(EXPORT_SUFFIXES)}, not {path.name!r}."
            )
        _check_writable(path, overwrite)
        protos = np.ascontiguousarray(self.prototypes)
        if path.suffix == ".npy":
            return atomic_save(path, lambda fh: np.save(fh, protos, allow_pickle=False), overwrite=overwrite)
        if path.suffix == ".csv":
            return atomic_save(path, lambda fh: np.savetxt(fh, protos, delimiter=",", fmt="%.17g"), overwrite=overwrite)
        import torch

        return atomic_save(path, lambda fh: torch.save(torch.from_numpy(protos.copy()), fh), overwrite=overwrite)


def check_permutation(permutation: np.ndarray, n: int, name: str = "permutation") -> np.ndarray:
    """Return ``permutation`` as an int64 array if it is a permutation of ``range(n)``."""
    p = np.asarray(permutation)
    if not (np.issubdtype(p.dtype, np.integer) or np.issubdtype(p.dtype, np.floating)):
        raise SpherecodeError(f"Argument '{name}' must hold integers, not {p.dtype} values.")
    if p.shape != (n,):
        raise SpherecodeError(f"Argument '{name}' must have length {n} (one entry per class), not shape {p.shape}.")
    if not np.issubdtype(p.dtype, np.integer):
        if not np.all(np.equal(np.mod(p, 1), 0)):
            raise SpherecodeError(f"Argument '{name}' must hold integers.")
    p = p.astype(np.int64)
    if not np.array_equal(np.sort(p), np.arange(n)):
        raise SpherecodeError(f"Argument '{name}' must be a permutation of 0..{n - 1} (each row used exactly once).")
    return p


#: The metadata fields :meth:`Codebook.load` reads, with the JSON types each may hold (None: absent).
_METADATA_TYPES: dict[str, tuple[type, ...]] = {
    "method": (str,), "params": (dict,), "seed": (int,), "version": (str,), "format": (str,),
    "n": (int,), "dim": (int,),
}


def _check_metadata(meta: dict[str, Any], path: Path) -> None:
    """Each known metadata field has its JSON type (booleans are not integers)."""
    for key, types in _METADATA_TYPES.items():
        value = meta.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            kind = {"dict": "a JSON object", "int": "an integer", "str": "a string"}[types[0].__name__]
            raise CodebookFileError(f"Codebook file '{path}': metadata '{key}' must be {kind}, not {value!r}.")


def _check_writable(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise SpherecodeError(f"Output file '{path}' already exists; pass overwrite=True (--force) to replace it.")
    if not path.parent.exists():
        raise SpherecodeError(f"Output directory '{path.parent}' does not exist.")


def _dump_metadata(meta: dict[str, Any]) -> str:
    try:
        return dump_json(meta)
    except TypeError as exc:
        raise SpherecodeError(f"Argument 'params' cannot be stored in the codebook's metadata ({exc}).") from None


def _read_metadata(array: np.ndarray, path: Path) -> Any:
    """The metadata JSON of a codebook file (one string), parsed with the depth and validity checks."""
    if array.shape != () or array.dtype.kind not in "US":
        raise CodebookFileError(f"Codebook file '{path}': 'metadata' must be one JSON string, not {array.dtype} {array.shape}.")
    text = array.item()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise CodebookFileError(f"Codebook file '{path}': 'metadata' is not UTF-8 text.") from None
    return parse_json(text, f"Codebook file '{path}': metadata")


def as_codebook(codebook: Any, name: str = "codebook") -> Codebook:
    """``codebook`` as a :class:`Codebook`: itself, loaded from a file path, or made from an (N, d) array.

    >>> as_codebook(np.eye(3)).n
    3
    """
    if isinstance(codebook, Codebook):
        return codebook
    if isinstance(codebook, (str, os.PathLike)):
        return Codebook.load(codebook)
    if isinstance(codebook, (np.ndarray, list, tuple)):
        try:
            return Codebook(codebook)
        except SpherecodeError as exc:
            raise SpherecodeError(str(exc).replace("Argument 'vectors'", f"Argument '{name}'")) from None
    raise SpherecodeError(f"Argument '{name}' must be a Codebook, a codebook file path or an (N, d) array, "
                          f"not {type(codebook).__name__}.")
