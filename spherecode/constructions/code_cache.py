"""A two-level cache for generator matrices that are slow to build (galois BCH codes).

Level one is in memory (a dict per process); level two is one ``.npy`` file per code in the
user cache folder: ``$SPHERECODE_CACHE`` if set, else ``$XDG_CACHE_HOME/spherecode``, else
``~/.cache/spherecode``. Files are written atomically (a temporary file in the same folder, then
``os.replace``), so a crash never leaves half a file under the final name. A file that cannot be
read, or holds the wrong shape or values other than 0/1, is rebuilt and overwritten; a folder
that cannot be written only costs the disk level.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: Bumped when the stored format or the way codes are built changes.
CACHE_FORMAT = 1

_MEMORY: dict[str, np.ndarray] = {}


def cache_dir() -> Path:
    """The disk cache folder (not created here)."""
    env = os.environ.get("SPHERECODE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "spherecode"


def cache_path(key: str) -> Path:
    """The file that holds ``key``'s matrix."""
    return cache_dir() / f"{key}.v{CACHE_FORMAT}.npy"


def clear_memory() -> None:
    """Forget the in-memory level (the disk files stay)."""
    _MEMORY.clear()


def _valid(g: object, shape: tuple[int, int]) -> bool:
    return (isinstance(g, np.ndarray) and g.shape == shape and g.dtype == np.uint8
            and bool(np.all(g <= 1)))


def _read(path: Path, shape: tuple[int, int]) -> np.ndarray | None:
    try:
        g = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        return None
    except Exception:  # corrupt, truncated or foreign: rebuild
        return None
    return g if _valid(g, shape) else None


def _write(path: Path, g: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, g, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        warnings.warn(f"spherecode: cannot write the code cache {path}: {exc}", stacklevel=3)


def cached_generator(key: str, build: Callable[[], np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The matrix for ``key``: from memory, else from disk, else ``build()`` (then stored in both).

    The returned array is read-only (it is shared between callers).

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
    g = _read(path, shape)
    if g is None:
        g = np.ascontiguousarray(build(), dtype=np.uint8)
        if not _valid(g, shape):
            raise RuntimeError(f"building {key} gave shape {g.shape}, expected {shape}")
        _write(path, g)
    g.setflags(write=False)
    _MEMORY[memo_key] = g
    return g
