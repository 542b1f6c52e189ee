from __future__ import annotations

from pathlib import Path

import pytest

#: ../shared beside the checkout (genuine CIFAR-100 meta file and docs).
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def cli(capsys):
    """Run the command line in-process: returns (exit code, stdout, stderr)."""
    from spherecode.cli.main import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors and --help
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
