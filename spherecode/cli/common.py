"""Pieces shared by the subcommands: argument types and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..files import MAX_JSON_DEPTH, check_output, dump_json, json_depth


def parse_param(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` (the value as JSON when it parses, else a string)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if json_depth(value) > MAX_JSON_DEPTH:
        raise argparse.ArgumentTypeError(f"the value of {key!r} nests more than {MAX_JSON_DEPTH} levels")
    try:
        return key.replace("-", "_"), json.loads(value)
    except json.JSONDecodeError:
        return key.replace("-", "_"), value


def output_path(path: str, force: bool, option: str = "--output", suffixes: tuple[str, ...] | None = None) -> Path:
    """Check an output path before any work: its suffix (when ``suffixes`` is given), its folder exists
    and can be written to, and it is new unless ``force`` (see :func:`spherecode.files.check_output`)."""
    return check_output(path, force, option=option, suffixes=suffixes)


def print_json(obj: Any) -> None:
    """Print one strict JSON object (numpy values converted; NaN and infinity, undefined measures, as null)."""
    sys.stdout.write(dump_json(obj) + "\n")

