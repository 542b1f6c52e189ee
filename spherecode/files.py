r"""Writing files so that nothing is lost: every output goes through :func:`atomic_write`.

A file is written to a unique temporary file in the target's own folder (named
``.NAME.spherecode-tmp-XXXXXXXX``, so a stray one is recognisable), flushed to disk (``fsync``) and
moved over the target with one atomic :func:`os.replace`. Readers and concurrent writers therefore
see either the old file or one complete new file, never a mixture; when two processes write the
same path, the last rename wins, and a process whose file was replaced before it could confirm it
fails instead of reporting success; without ``overwrite`` the file is put in place with a hard link,
so of two processes creating the same new file exactly one succeeds. On any exception, ``KeyboardInterrupt`` or ``SIGTERM`` (turned into
``SystemExit`` by :func:`terminate_as_exit`) the temporary file is removed. Only ``SIGKILL`` can leave
one behind; :data:`TEMP_MARKER` finds them.

:func:`check_output` checks a destination *before* long work: its folder exists and is a folder,
a file can be created there, and an existing file is replaced only with ``overwrite``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import SpherecodeError

#: Part of every temporary file's name: ``.NAME.spherecode-tmp-XXXXXXXX``.
TEMP_MARKER = ".spherecode-tmp-"


def temp_name(path: Path) -> Path:
    """A fresh temporary path beside ``path`` (random suffix: unique across processes and threads).

    >>> temp_name(Path("out/cb.npz")).name.startswith(".cb.npz.spherecode-tmp-")
    True
    """
    return path.with_name(f".{path.name}{TEMP_MARKER}{secrets.token_hex(4)}")


def _describe_os_error(exc: OSError, path: Path, option: str) -> str:
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
              errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.EROFS: "the file system is read-only"}.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return f"Argument '{option}': cannot write '{path}' ({reason})."


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, overwrite: bool = True,
                 option: str = "path", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path`` atomically.

    Args:
        path: the final file.
        mode: ``"wb"`` or ``"w"`` (text).
        overwrite: replace an existing file. Without it the file is put in place by a hard link,
            which fails if ``path`` appeared meanwhile (two processes creating the same new file:
            exactly one succeeds).
        option: the argument's name in error messages (e.g. ``"--output"``).

    Raises:
        SpherecodeError: naming ``path`` (never the temporary file) when the folder is missing,
            unwritable, read-only or full, when ``path`` exists and not ``overwrite``, or when another
            process replaced ``path`` before this one could confirm its own file is there.

    Examples:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "x.txt"
        >>> with atomic_write(target, "w") as fh:
        ...     _ = fh.write("hello")
        >>> target.read_text(), [p.name for p in target.parent.iterdir()]
        ('hello', ['x.txt'])
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes new files: mode must be 'w' or 'wb', not {mode!r}")
    final = Path(path)
    if final.exists() and not overwrite:
        raise SpherecodeError(f"Argument '{option}': '{final}' already exists; pass --force to overwrite it.")
    tmp = temp_name(final)
    try:
        fh = open(tmp, "x" + mode[1:], **open_kwargs)
    except OSError as exc:
        raise SpherecodeError(_describe_os_error(exc, final, option)) from None
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            inode = os.fstat(fh.fileno()).st_ino
        _move_into_place(tmp, final, overwrite, option)
    except OSError as exc:
        raise SpherecodeError(_describe_os_error(exc, final, option)) from None
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a rename; removed after an error or interrupt
    _fsync_dir(final.parent)
    try:
        ours = os.stat(final).st_ino == inode
    except FileNotFoundError:
        ours = False
    if not ours:
        raise SpherecodeError(f"Argument '{option}': '{final}' was replaced or removed by another process while "
                              "this one saved it; what is there now is not this run's result.")


def _move_into_place(tmp: Path, final: Path, overwrite: bool, option: str) -> None:
    if overwrite:
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)  # atomic and never clobbers
    except FileExistsError:
        raise SpherecodeError(f"Argument '{option}': '{final}' already exists (another process created it "
                              "meanwhile); pass --force to overwrite it.") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        os.replace(tmp, final)  # a file system without hard links


def atomic_save(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any], *, overwrite: bool = True,
                option: str = "path") -> Path:
    """Call ``write(fh)`` on a binary temporary file and atomically move it to ``path``.

    For writers that take an open file (``np.save``, ``torch.save``, ``fig.savefig(fh, format=...)``).
    """
    with atomic_write(path, "wb", overwrite=overwrite, option=option) as fh:
        write(fh)
    return Path(path)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_output(path: str | os.PathLike[str], overwrite: bool, *, option: str = "--output",
                 suffixes: tuple[str, ...] | None = None) -> Path:
    """Check a destination before any long work and return it as a :class:`Path`.

    Its suffix is one of ``suffixes`` (when given, case-insensitive), it is not a folder, it exists only
    if ``overwrite``, its folder exists, and a file can be created there (a probe file is created and
    removed: this catches read-only folders, missing permissions and a full disk).
    """
    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise SpherecodeError(f"Argument '{option}' must end in {', '.join(suffixes)}, not {p.name!r}.")
    if p.is_dir():
        raise SpherecodeError(f"Argument '{option}' is a directory ('{p}'); give a file name.")
    if p.exists() and not overwrite:
        raise SpherecodeError(f"Argument '{option}': '{p}' already exists; pass --force to overwrite it.")
    parent = p.parent
    if not parent.exists():
        raise SpherecodeError(f"Argument '{option}': directory '{parent}' does not exist.")
    if not parent.is_dir():
        raise SpherecodeError(f"Argument '{option}': '{parent}' is not a directory.")
    probe = temp_name(p)
    try:
        with open(probe, "xb") as fh:
            fh.write(b"\0" * 4096)  # a full disk often accepts an empty file but not a block of data
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise SpherecodeError(_describe_os_error(exc, p, option)) from None
    finally:
        probe.unlink(missing_ok=True)
    return p


def terminate_as_exit() -> None:
    """Turn SIGTERM into ``SystemExit(143)`` in the main thread, so ``finally`` blocks (and
    :func:`atomic_write`'s clean-up) run when a process is terminated. A no-op elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone (a test runner, a launcher) already handles it

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


# ----------------------------------------------------------------------------- run-folder lock
#: The lock file inside a locked folder (kept after release: deleting it would race with a waiting locker).
LOCK_NAME = ".spherecode.lock"


class RunLock:
    """An exclusive lock on a folder (a training run, a study), held by one process at a time.

    ``fcntl.flock`` on ``FOLDER/.spherecode.lock``: the kernel releases it when the process ends,
    however it ends (``SIGKILL`` included), so a stale lock never blocks the user. The holder writes
    its pid, host and start time into the file, for the refusal message of a second process. Where
    the file system has no ``flock`` (some network mounts, Windows) the lock is skipped.

    Use as a context manager, or :meth:`acquire` / :meth:`release`; ``option`` names the argument in
    the refusal (e.g. ``"--out"``). The folder must exist.

    Examples:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with RunLock(folder):
        ...     RunLock(folder).acquire()
        Traceback (most recent call last):
        ...
        spherecode.errors.SpherecodeError: Argument '--out': ...
        >>> RunLock(folder).acquire().release()  # free again
    """

    def __init__(self, folder: str | os.PathLike[str], option: str = "--out") -> None:
        self.folder, self.option = Path(folder), option
        self.path = self.folder / LOCK_NAME
        self._fh: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def acquire(self) -> RunLock:
        """Take the lock, or raise :class:`SpherecodeError` naming the process that holds it."""
        if self._fh is not None:
            return self
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        try:
            fh = open(self.path, "a+")
        except OSError as exc:
            raise SpherecodeError(_describe_os_error(exc, self.path, self.option)) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise SpherecodeError(f"Argument '{self.option}': '{self.folder}' is in use by {holder}; wait for it to "
                                  "finish (or stop it), or choose another folder.") from None
        except OSError:  # no flock on this file system: go on unlocked
            fh.close()
            return self
        import datetime
        import socket

        start = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        fh.seek(0)
        fh.truncate()
        fh.write(f"spherecode process {os.getpid()} on {socket.gethostname()} (since {start})\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        """Give the lock back (also done by the kernel when the process ends)."""
        if self._fh is None:
            return
        import fcntl

        fh, self._fh = self._fh, None
        with contextlib.suppress(OSError):
            fh.truncate(0)
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()



# ------------------------------------------------------------------------------------------ reading
# Every reader of a user's file goes through these checks first: the path is a regular file (a FIFO
# would block forever, a device or folder never ends), its size is plausible, text is valid UTF-8,
# JSON is not nested deeper than any real document, and arrays are real numbers of the right shape
# whose header agrees with the bytes present (a crafted header cannot make numpy allocate terabytes).

#: JSON documents nested deeper than this are refused (real metadata and hierarchies use a few levels).
MAX_JSON_DEPTH = 64
#: Text files (hierarchies, CSV, JSON) larger than this are refused.
MAX_TEXT_BYTES = 256 * 2**20


def check_input_file(path: str | os.PathLike[str], option: str = "path", *,
                     suffixes: tuple[str, ...] | None = None, what: str = "file") -> Path:
    """Return ``path`` if it names an existing regular file (after resolving symbolic links).

    A FIFO, a socket, a device or a folder is refused before it is opened (reading a FIFO blocks
    forever); ``suffixes`` (lower case, e.g. ``(".npy", ".csv")``) restricts the file type.

    >>> check_input_file("/dev/null", "--similarity")
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Argument '--similarity': '/dev/null' is a device, not a regular file.
    """
    import stat

    p = Path(path)
    try:
        mode = os.stat(p).st_mode  # follows symbolic links
    except FileNotFoundError:
        raise SpherecodeError(f"Argument '{option}': {what} '{p}' does not exist.") from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpherecodeError(f"Argument '{option}': cannot open {what} '{p}' ({reason}).") from None
    if not stat.S_ISREG(mode):
        kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device")
        raise SpherecodeError(f"Argument '{option}': '{p}' is {kind}, not a regular file.")
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise SpherecodeError(f"Argument '{option}': '{p.name}' must end in {' or '.join(suffixes)}.")
    return p


def read_text(path: str | os.PathLike[str], option: str = "path", *, max_bytes: int = MAX_TEXT_BYTES,
              what: str = "file") -> str:
    """The text of a UTF-8 file, after :func:`check_input_file`; a binary or Latin-1 file, or one larger
    than ``max_bytes``, raises one line naming ``option``."""
    p = check_input_file(path, option, what=what)
    size = p.stat().st_size
    if size > max_bytes:
        raise SpherecodeError(f"Argument '{option}': {what} '{p}' is {size} bytes; text files of at most "
                              f"{max_bytes} bytes are read.")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpherecodeError(f"Argument '{option}': {what} '{p}' is not UTF-8 text (byte {exc.start}); "
                              "save it as UTF-8.") from None
    if "\0" in text:
        raise SpherecodeError(f"Argument '{option}': {what} '{p}' is binary, not a text file.")
    return text.removeprefix("\ufeff")


def json_depth(text: str) -> int:
    """How deeply ``[`` and ``{`` nest in JSON text (strings skipped), without recursion.

    >>> json_depth('{"a": [1, {"b": "[[["}]}')
    3
    """
    import re

    import numpy as np

    bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    steps = np.frombuffer(bare.encode("utf-8", "replace"), dtype=np.uint8)
    delta = (steps == ord("[")).astype(np.int64) + (steps == ord("{")) - (steps == ord("]")) - (steps == ord("}"))
    return int(np.cumsum(delta).max()) if delta.size else 0


def parse_json(text: str, source: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text from ``source`` (a phrase naming it, e.g. ``"codebook file 'x.npz'"``): invalid
    JSON, non-finite numbers (``NaN``, ``Infinity``) and nesting deeper than ``max_depth`` raise one line.

    >>> parse_json('{"a": [1, 2]}', "metadata")
    {'a': [1, 2]}
    >>> parse_json("[" * 100 + "]" * 100, "metadata")
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: metadata nests JSON 100 levels deep; at most 64 are read.
    """
    import json

    depth = json_depth(text)
    if depth > max_depth:
        raise SpherecodeError(f"{source} nests JSON {depth} levels deep; at most {max_depth} are read.")

    def constant(name: str) -> Any:
        raise SpherecodeError(f"{source} holds the non-finite number {name}; JSON numbers must be finite.")

    try:
        return json.loads(text, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise SpherecodeError(f"{source} is not valid JSON: {exc.msg} (line {exc.lineno}).") from None
    except RecursionError:  # pragma: no cover - caught by the depth check
        raise SpherecodeError(f"{source} nests JSON too deeply.") from None


def check_array(array: Any, name: str, *, ndim: int | None = None, integer: bool = False) -> Any:
    """``array`` as a numpy array of real numbers (float64, or int64 with ``integer``) of ``ndim``
    dimensions; strings, objects, structured records, booleans and complex numbers raise one line.

    >>> check_array([[1, 2]], "means").dtype.name
    'float64'
    """
    import numpy as np

    try:
        a = np.asarray(array)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise SpherecodeError(f"Argument '{name}' must be a rectangular array of numbers ({exc}).") from None
    kind = a.dtype.kind
    if a.dtype.names is not None or kind not in "iuf" or (integer and kind == "f"):
        want = "integers" if integer else "real numbers"
        raise SpherecodeError(f"Argument '{name}' must hold {want}, not {a.dtype} values.")
    if ndim is not None and a.ndim != ndim:
        raise SpherecodeError(f"Argument '{name}' must be a {ndim}-dimensional array, not shape {a.shape}.")
    return a.astype(np.int64 if integer else np.float64, copy=False)


def check_npy_header(fh: IO[bytes], size: int, source: str) -> tuple[tuple[int, ...], Any]:
    """Read a ``.npy`` header from ``fh`` and check that the bytes it announces are present
    (``size`` is the member's or file's size) and fit in memory; returns ``(shape, dtype)``."""
    import numpy as np

    from .cost import available_memory, format_bytes

    try:
        version = np.lib.format.read_magic(fh)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, _, dtype = read(fh, max_header_size=100_000)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise SpherecodeError(f"{source} is corrupt or not a numpy .npz/.npy array ({exc}).") from None
    need = dtype.itemsize * int(np.prod(shape, dtype=object))
    if need > size:
        raise SpherecodeError(f"{source} claims shape {shape} ({format_bytes(need)}) but holds only {size} bytes: "
                              "the file is truncated or corrupt.")
    if need > available_memory():
        raise SpherecodeError(f"{source} holds {format_bytes(need)}, more than the memory available.")
    return tuple(shape), dtype


def check_npz_members(path: Path, source: str) -> None:
    """Check the header of every ``.npy`` member of an ``.npz`` file against its size (:func:`check_npy_header`)."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.endswith(".npy"):
                with zf.open(info) as fh:
                    check_npy_header(fh, info.file_size, f"{source}, array '{info.filename[:-4]}'")


def load_matrix(path: str | os.PathLike[str], option: str, *, what: str = "matrix") -> Any:
    """A real (rows, columns) float64 matrix from ``.npy`` or ``.csv`` (comma separated, no header),
    after every check of this block; any other content raises one line naming ``option``."""
    import warnings

    import numpy as np

    p = check_input_file(path, option, suffixes=(".npy", ".csv"))
    if p.suffix.lower() == ".npy":
        with open(p, "rb") as fh:
            check_npy_header(fh, p.stat().st_size, f"Argument '{option}': '{p}'")
        try:
            a = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise SpherecodeError(f"Argument '{option}': cannot read '{p}' as a numeric {what} ({exc}).") from None
    else:
        text = read_text(p, option)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # an empty file: refused below, not warned about
                a = np.loadtxt(text.splitlines(), delimiter=",", ndmin=2)
        except ValueError as exc:
            raise SpherecodeError(f"Argument '{option}': cannot read '{p}' as a numeric {what} "
                                  f"({str(exc).splitlines()[0] if str(exc) else 'not numbers'}).") from None
    a = check_array(a, option, ndim=2)
    if a.size == 0:
        raise SpherecodeError(f"Argument '{option}': '{p}' is empty; expected a numeric {what}.")
    if not np.all(np.isfinite(a)):
        raise SpherecodeError(f"Argument '{option}': '{p}' contains NaN or infinite entries.")
    return a


def json_safe(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays, paths and tuples turned into JSON types and every
    non-finite float (NaN, infinity: undefined measures) turned into ``None`` (JSON ``null``).

    >>> json_safe({"a": float("nan"), "b": (1.5, float("inf"))})
    {'a': None, 'b': [1.5, None]}
    """
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def dump_json(obj: Any, indent: int | None = None, ensure_ascii: bool = True) -> str:
    """Strict JSON text of ``obj`` through :func:`json_safe`: always valid JSON (``null``, never ``NaN``).

    >>> dump_json({"x": float("nan"), "n": 3})
    '{"x": null, "n": 3}'
    """
    import json

    return json.dumps(json_safe(obj), allow_nan=False, indent=indent, ensure_ascii=ensure_ascii)


__all__ = ["LOCK_NAME", "RunLock", "MAX_JSON_DEPTH", "MAX_TEXT_BYTES", "TEMP_MARKER", "atomic_save", "atomic_write", "check_array",
           "check_input_file", "check_npy_header", "check_npz_members", "check_output", "dump_json", "json_depth", "json_safe", "load_matrix",
           "parse_json", "read_text", "temp_name", "terminate_as_exit"]
