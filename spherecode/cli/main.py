"""Entry point of the ``spherecode`` command: builds the parser from the command modules.

A user mistake (:class:`~spherecode.errors.SpherecodeError`) prints one line and exits 2;
anything else prints one line too (``--debug`` shows the traceback) and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from .._version import __version__
from ..errors import SpherecodeError
from . import bounds, codebooks, pretrain, relabel, study, train

#: Modules that each add their subcommands with ``register(subparsers)``.
COMMAND_MODULES = [codebooks, relabel, train, pretrain, bounds, study]


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SpherecodeError as exc:
        if args.debug:
            raise
        print(f"spherecode {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spherecode {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: still one line unless --debug
        if args.debug:
            raise
        print(f"spherecode {args.command}: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
