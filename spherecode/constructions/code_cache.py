"""A two-level cache for generator matrices that are slow to build (galois BCH codes).

Level one is in memory (a dict per process); level two is one ``.npz`` file per code in the
user cache folder: ``$SPHERECODE_CACHE`` if set, else ``$XDG_CACHE_HOME/spherecode``, else
``~/.cache/spherecode``. Files are written atomically (:func:`spherecode.files.atomic_write`), so a
crash never leaves half a file under the final name.

Nothing read from disk is trusted. Each file holds the matrix and a SHA-256 checksum of the key,
shape and bytes; on reading, the checksum, the shape, the 0/1 entries, full rank over GF(2) (a
generator's rows are independent) and the caller's own ``check`` (for BCH codes: the minimum
distance is at least the designed distance, when the code is small enough to enumerate) must all
hold. A file that fails any of them is rebuilt and overwritten, with a warning naming it; a folder
that cannot be written only costs the disk level.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import SpherecodeError
from ..files import atomic_save
from .binary import rank_gf2

#: Bumped when the stored format or the way codes are built changes (2: .npz with a checksum).
CACHE_FORMAT = 2

_MEMORY: dict[str, np.ndarray] = {}

#: A check on a generator matrix: None when it is valid, else the reason it is not.
Check = Callable[[np.ndarray], "str | None"]


def cache_dir() -> Path:
    """The disk cache folder (not created here)."""
    env = os.environ.get("SPHERECODE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "spherecode"


def cache_path(key: str) -> Path:
    """The file that holds ``key``'s matrix."""
    return cache_dir() / f"{key}.v{CACHE_FORMAT}.npz"


def clear_memory() -> None:
    """Forget the in-memory level (the disk files stay)."""
    _MEMORY.clear()


def checksum(key: str, g: np.ndarray) -> str:
    """SHA-256 of the key, the shape and the matrix's bytes (hex).

    >>> checksum("k", np.eye(2, dtype=np.uint8))[:12]
    '436471a64be5'
    """
    h = hashlib.sha256(f"{key}|{g.shape[0]}x{g.shape[1]}|".encode())
    h.update(np.ascontiguousarray(g, dtype=np.uint8).tobytes())
    return h.hexdigest()


def problem(g: object, shape: tuple[int, int], check: Check | None = None) -> str | None:
    """Why ``g`` is not a valid generator matrix of ``shape`` (None when it is)."""
    if not isinstance(g, np.ndarray) or g.dtype != np.uint8 or g.shape != shape:
        got = f"{g.dtype} {g.shape}" if isinstance(g, np.ndarray) else type(g).__name__
        return f"expected a uint8 {shape} matrix, found {got}"
    if not np.all(g <= 1):
        return "entries other than 0 and 1"
    rank = rank_gf2(g)
    if rank != shape[0]:
        return f"its {shape[0]} rows have rank {rank} over GF(2), not {shape[0]}"
    return None if check is None else check(g)


def _read(path: Path, key: str, shape: tuple[int, int], check: Check | None) -> np.ndarray | None:
    """The verified matrix stored at ``path``; None (with a warning if a file was there) when it fails."""
    try:
        with np.load(path, allow_pickle=False) as data:
            g, stored = data["generator"], str(data["sha256"])
    except FileNotFoundError:
        return None
    except Exception:  # corrupt, truncated or foreign
        reason: str | None = "not a readable cache file"
    else:
        reason = "checksum mismatch" if checksum(key, g) != stored else problem(g, shape, check)
    if reason is None:
        return g
    warnings.warn(f"spherecode: ignoring the code cache file {path} ({reason}); rebuilding it", stacklevel=3)
    return None


def _write(path: Path, key: str, g: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(path, lambda fh: np.savez(fh, generator=g, sha256=np.array(checksum(key, g))))
    except (OSError, SpherecodeError) as exc:
        warnings.warn(f"spherecode: cannot write the code cache {path}: {exc}", stacklevel=3)


def forget(key: str) -> None:
    """Drop ``key`` from both levels (after its result failed a check downstream)."""
    _MEMORY.pop(f"{cache_dir()}::{key}", None)
    cache_path(key).unlink(missing_ok=True)


def cached_generator(key: str, build: Callable[[], np.ndarray], shape: tuple[int, int],
                     check: Check | None = None) -> np.ndarray:
    """The matrix for ``key``: from memory, else from disk (verified), else ``build()`` (then stored in both).

    ``check`` is an extra test of validity (returns None or the reason), applied to what is read
    and to what is built. The returned array is read-only (it is shared between callers).

    Examples:
        >>> import os, tempfile
        >>> os.environ["SPHERECODE_CACHE"] = tempfile.mkdtemp()
        >>> g = cached_generator("demo", lambda: np.eye(2, dtype=np.uint8), (2, 2))
        >>> cache_path("demo").exists(), g.flags.writeable
        (True, False)
        >>> del os.environ["SPHERECODE_CACHE"]
    """
    memo_key = f"{cache_dir()}::{key}"
    g = _MEMORY.get(memo_key)
    if g is not None:
        return g
    path = cache_path(key)
    g = _read(path, key, shape, check)
    if g is None:
        g = np.ascontiguousarray(build(), dtype=np.uint8)
        reason = problem(g, shape, check)
        if reason is not None:
            raise RuntimeError(f"building {key} gave an invalid generator matrix: {reason}")
        _write(path, key, g)
    g.setflags(write=False)
    _MEMORY[memo_key] = g
    return g
