r"""Progress of a training epoch on stderr: a ``tqdm`` bar when a person watches a terminal, else a line
at most every :data:`INTERVAL` seconds (a log file or a batch job sees that the run is alive, how
far the epoch is and about how long it has left).

Examples:
    >>> import io
    >>> out = io.StringIO()
    >>> bar = LineProgress(4, "epoch 1/2", stream=out, interval=0.0)
    >>> bar.update(1); bar.set_postfix(loss="2.3000"); bar.update(1); bar.close()
    >>> out.getvalue().splitlines()[-1].startswith("epoch 1/2: step 2/4, loss 2.3000, ")
    True
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

#: Seconds between two progress lines when stderr is not a terminal.
INTERVAL = 30.0


class LineProgress:
    """The part of ``tqdm``'s interface the loop uses (``update``, ``set_postfix``, ``close``), writing
    one line every ``interval`` seconds to ``stream``."""

    def __init__(self, total: int, desc: str, stream: IO[str] | None = None, interval: float | None = None) -> None:
        self.total, self.desc = total, desc
        self.interval = INTERVAL if interval is None else interval
        self.stream = stream if stream is not None else sys.stderr
        self.n, self.postfix = 0, ""
        self.start = self.last = time.perf_counter()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k} {v}" for k, v in values.items())

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self.last >= self.interval:
            self.last = now
            elapsed = now - self.start
            left = elapsed / self.n * (self.total - self.n) if self.n else 0.0
            parts = [f"{self.desc}: step {self.n}/{self.total}", self.postfix, f"{elapsed:.0f} s",
                     f"about {left:.0f} s left"]
            print(", ".join(p for p in parts if p), file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to clear (the epoch's own line follows in the log)."""


def epoch_progress(total: int, desc: str, enabled: bool) -> Any:
    """A progress reporter for ``total`` steps: ``tqdm`` on a terminal, :class:`LineProgress` otherwise,
    ``None`` when not ``enabled`` (``--no-progress``, or a rank other than 0)."""
    if not enabled:
        return None
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
    return LineProgress(total, desc)


__all__ = ["INTERVAL", "LineProgress", "epoch_progress"]
