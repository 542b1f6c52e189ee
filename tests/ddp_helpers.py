"""Two-process gloo runs for the DDP tests.

A gloo rank sometimes aborts *after* its work is done, while the interpreter tears down
("terminate called without an active exception", SIGABRT with no Python frame; seen about once in
20-60 runs on a loaded 2-core machine). Each rank therefore leaves with ``os._exit(0)`` once its
worker has returned and its results are on disk; an exception inside the worker still fails the run.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable

import torch.multiprocessing as mp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_then_exit(rank: int, worker: Callable[..., None], *args) -> None:
    worker(rank, *args)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn_ranks(worker: Callable[..., None], *args, world: int = 2) -> None:
    """Run ``worker(rank, *args)`` in ``world`` fresh processes and wait for all of them."""
    mp.spawn(_run_then_exit, args=(worker, *args), nprocs=world, join=True)
