"""Entry point of the ``spherecode`` command: builds the parser from the command modules.

A user mistake (:class:`~spherecode.errors.SpherecodeError`, or a usage error) prints one line naming
the argument and exits 2, with or without ``--debug``. Output piped into a program that stops reading
(``| head``) ends the command quietly, as standard Unix tools do (exit 141). Anything else is a bug:
one line saying so (``--debug``, before or after the subcommand, shows the traceback) and exit 1.
Warnings raised by the libraries underneath (numpy, torch) never print as extra lines: after a
success each distinct one is shown once as a ``note:`` line; after an error the first is folded into
the error line.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings
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
    _debug_everywhere(sub)
    return parser


def _debug_everywhere(sub: argparse._SubParsersAction) -> None:
    """Accept ``--debug`` after any subcommand too (``spherecode analyze x.npz --debug``)."""
    for child in set(sub.choices.values()):
        if "--debug" not in child._option_string_actions:
            child.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        for action in child._actions:
            if isinstance(action, argparse._SubParsersAction):
                _debug_everywhere(action)


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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = _run(args, prefix, caught)
    if code == 0:
        for text in dict.fromkeys(_warning_text(w) for w in caught):
            print(f"{prefix}: note: {text}", file=sys.stderr)
    return code


def _warning_text(w: warnings.WarningMessage) -> str:
    return f"{w.category.__name__}: {' '.join(str(w.message).split())}"


def _with_warning(message: str, caught: list[warnings.WarningMessage]) -> str:
    return f"{message} (after {_warning_text(caught[0])})" if caught else message


def _run(args: argparse.Namespace, prefix: str, caught: list[warnings.WarningMessage]) -> int:
    try:
        _check_common(args)
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # a broken pipe shows up here rather than at interpreter exit
        return code
    except SpherecodeError as exc:
        print(f"{prefix}: error: {_with_warning(' '.join(str(exc).split()), caught)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RecursionError) as exc:
        if args.debug:
            raise
        what = "out of memory" if isinstance(exc, MemoryError) else "the input nests too deeply"
        print(f"{prefix}: error: {what}; try a smaller problem", file=sys.stderr)
        return 1
    except OSError as exc:
        if args.debug:
            raise
        where = f" '{exc.filename}'" if exc.filename else ""
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        print(f"{prefix}: error: cannot access{where}: {_with_warning(reason, caught)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: still one line unless --debug
        if args.debug:
            raise
        detail = " ".join(str(exc).split())[:300]
        print(f"{prefix}: bug: unexpected {type(exc).__name__} ({detail}); please report it with the output of "
              "--debug", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
