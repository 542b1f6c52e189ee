"""The README's Python example runs as written (so the front page cannot drift from the API)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    assert (tmp_path / "protos.npz").exists()
    assert "worst-case cosine" in capsys.readouterr().out


def test_readme_commands_exist():
    from spherecode.cli.main import build_parser

    text = README.read_text()
    used = set(re.findall(r"^spherecode (\w+)", text, flags=re.M))
    parser = build_parser()
    known = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert used and used <= known, used - known
