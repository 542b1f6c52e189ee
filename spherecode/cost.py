r"""Estimating the cost of work before doing it: the one place sizes are checked against time and memory.

Every request whose size a user chooses (N and d, steps, restarts, bins, the number of dimensions of
a curve) is estimated here *before* any work: the seconds it would take on one busy core
(:data:`FLOPS` floating-point operations per second, a deliberately low rate: the estimate is an
order of magnitude, not a benchmark) and the bytes it would hold. Above :data:`MAX_SECONDS` or the
memory available, :func:`check_cost` refuses with one line that names the argument, the estimate
and what to change; work expected to take more than :data:`PROGRESS_SECONDS` shows progress.

>>> round(pair_scan_seconds(1000, 10), 3)
0.004
>>> format_seconds(5400.0)
'1.5 hours'
"""

from __future__ import annotations

import os
from typing import Any

from .errors import SpherecodeError

#: Floating-point operations per second assumed by the estimates (one core of a busy machine).
FLOPS = 5e9
#: The rate of dense float32 matrix products (torch's BLAS), which is most of a search step's work:
#: about half of the 6e10 per second measured on one core of a shared 2-core x86_64.
MATMUL_FLOPS = 3e10
#: Work estimated to take longer than this is refused (seconds).
MAX_SECONDS = 120.0
#: Work estimated to take longer than this shows a progress bar (seconds).
PROGRESS_SECONDS = 2.0
#: Extras a report computes unasked (e.g. building codebooks to show their values) stay under this (seconds).
QUICK_SECONDS = 2.0


def available_memory() -> int:
    """Bytes of memory available to this process now (``MemAvailable`` on Linux, else free pages)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def format_seconds(seconds: float) -> str:
    """A duration in the largest sensible unit.

    >>> format_seconds(12), format_seconds(600), format_seconds(6.3e7)
    ('12 s', '10 min', '2 years')
    """
    for unit, size in (("years", 3.15e7), ("days", 86400.0), ("hours", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.2g} s"


def format_bytes(size: float) -> str:
    """A size in decimal units, three significant digits.

    >>> format_bytes(3e9), format_bytes(2e6), format_bytes(1.92e14)
    ('3 GB', '2 MB', '192 TB')
    """
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{int(size)} B"


def pair_scan_seconds(n: int, dim: int) -> float:
    r"""Seconds to compare all pairs of N vectors in R^d by blocks of the Gram matrix
    (:math:`2 N^2 d` operations)."""
    return 2.0 * float(n) * float(n) * float(dim) / FLOPS


def check_cost(what: str, *, seconds: float = 0.0, memory: float = 0.0, option: str | None = None,
               hint: str = "", limit: float | None = None) -> None:
    """Refuse work estimated above ``limit`` seconds (default :data:`MAX_SECONDS`) or above the memory
    available, with one line naming ``option`` (the argument to change), the estimate and ``hint``.

    >>> check_cost("a tiny job", seconds=1.0)
    >>> check_cost("sorting the universe", seconds=1e12, option="n")
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Argument 'n': sorting the universe would take about 3.17e+04 years (the limit is 2 min).
    """
    limit = MAX_SECONDS if limit is None else limit
    head = f"Argument '{option}': " if option else ""
    tail = f"; {hint}" if hint else ""
    if seconds > limit:
        raise SpherecodeError(f"{head}{what} would take about {format_seconds(seconds)} "
                              f"(the limit is {format_seconds(limit)}){tail}.")
    have = available_memory() if memory else 0
    if memory > have:
        raise SpherecodeError(f"{head}{what} would need about {format_bytes(memory)} of memory but only "
                              f"{format_bytes(have)} is available{tail}.")


def progress_bar(progress: bool, total: int, desc: str, unit: str = "step") -> Any:
    """A tqdm bar on stderr when ``progress`` and stderr is a terminal, else None (see :func:`stage`)."""
    import sys

    if not progress or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)


def stage(progress: bool, text: str) -> None:
    """One line on stderr for a stage of a long build when ``progress`` and stderr is not a terminal (a
    log file or a pipe gets one line per stage instead of a redrawn bar)."""
    import sys

    if progress and not sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)


__all__ = ["FLOPS", "MATMUL_FLOPS", "MAX_SECONDS", "PROGRESS_SECONDS", "QUICK_SECONDS", "available_memory", "check_cost",
           "format_bytes", "format_seconds", "pair_scan_seconds", "progress_bar", "stage"]
