"""Pieces shared by the subcommands: argument types and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SpherecodeError


def parse_param(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` (the value as JSON when it parses, else a string)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


def output_path(path: str, force: bool, option: str = "--output") -> Path:
    """Check an output path before any work: its folder exists, and it is new unless ``force``."""
    p = Path(path)
    if p.is_dir():
        raise SpherecodeError(f"Argument '{option}' is a directory ('{p}'); give a file name.")
    if p.exists() and not force:
        raise SpherecodeError(f"Argument '{option}': '{p}' already exists; pass --force to overwrite it.")
    if not p.parent.exists():
        raise SpherecodeError(f"Argument '{option}': directory '{p.parent}' does not exist.")
    return p


def print_json(obj: Any) -> None:
    """Print one JSON object (numpy scalars and arrays converted)."""
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(type(o).__name__)

    json.dump(obj, sys.stdout, default=default)
    sys.stdout.write("\n")


def wants_progress() -> bool:
    """Show progress bars when a person is watching stderr."""
    return sys.stderr.isatty()
