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


__all__ = ["LOCK_NAME", "RunLock", "TEMP_MARKER", "atomic_save", "atomic_write", "check_output", "temp_name", "terminate_as_exit"]
