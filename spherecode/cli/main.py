"""Entry point of the ``spherecode`` command: builds the parser from the command modules.

A user mistake (:class:`~spherecode.errors.SpherecodeError`, or a usage error) prints one line naming
the argument and exits 2. Output piped into a program that stops reading (``| head``) ends the
command quietly, as standard Unix tools do (exit 141). Anything else is a bug: one line saying so
(``--debug`` shows the traceback) and exit 1.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..errors import SpherecodeError, check_seed
from ..files import terminate_as_exit
from . import bounds, codebooks, pretrain, relabel, study, train

#: Modules that each add their subcommands with ``register(subparsers)``.
COMMAND_MODULES = [codebooks, relabel, train, pretrain, bounds, study]
#: Exit status after a broken pipe: 128 + SIGPIPE, like a Unix tool killed by it.
EXIT_BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spherecode", description="Hyperspherical prototypes and coding theory.")
    parser.add_argument("--version", action="version", version=f"spherecode {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def _check_common(args: argparse.Namespace) -> None:
    """Checks shared by every subcommand, before any work: the seed's range."""
    seed = getattr(args, "seed", None)
    if seed is not None and not isinstance(seed, str):  # train/pretrain flags are strings: their config checks them
        check_seed("--seed", seed)


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced by an object without a descriptor
        pass


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the real command line (not a notebook or a test calling main): clean up on SIGTERM
        terminate_as_exit()
    args = build_parser().parse_args(argv)
    prefix = f"spherecode {args.command}"
    try:
        _check_common(args)
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a broken pipe shows up here rather than at interpreter exit
        return code
    except SpherecodeError as exc:
        if args.debug:
            raise
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if args.debug:
            raise
        print(f"{prefix}: error: out of memory; try a smaller problem", file=sys.stderr)
        return 1
    except OSError as exc:
        if args.debug:
            raise
        where = f" '{exc.filename}'" if exc.filename else ""
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        print(f"{prefix}: error: cannot access{where}: {reason}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line unless --debug
        if args.debug:
            raise
        print(f"{prefix}: bug: unexpected {type(exc).__name__} ({exc}); please report it with the output of "
              "--debug", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
