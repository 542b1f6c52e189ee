"""The study notebooks run top to bottom (quick mode), so they cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("SPHERECODE_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("SPHERECODE_NOTEBOOK_OUT", str(tmp_path))
    nb = json.loads(path.read_text())
    namespace: dict = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)
    assert sorted(p.name for p in tmp_path.glob("*.png"))
    assert namespace.get("rows"), "the study produced no results"
