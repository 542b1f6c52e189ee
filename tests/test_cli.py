from __future__ import annotations

import json

import numpy as np
import pytest


def test_generate_then_analyze_json(cli, tmp_path):
    out = tmp_path / "p.npz"
    code, stdout, _ = cli("generate", "-n", "10", "-d", "9", "-o", str(out))
    assert code == 0 and out.exists() and "worst-case cosine" in stdout
    code, stdout, _ = cli("analyze", str(out), "--json")
    report = json.loads(stdout)
    assert code == 0
    assert report["n"] == 10 and report["dim"] == 9
    assert report["max_cosine"] == pytest.approx(-1 / 9)
    assert report["min_angle_deg"] == pytest.approx(96.37937, abs=1e-4)


def test_generate_refuses_overwrite(cli, tmp_path):
    out = tmp_path / "p.npz"
    out.write_bytes(b"user data")
    code, _, err = cli("generate", "-n", "4", "-d", "3", "-o", str(out))
    assert code != 0 and "--force" in err
    assert out.read_bytes() == b"user data"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["generate", "-n", "1", "-d", "3", "-o", "{tmp}/a.npz"], "'n' must be at least 2"),
        (["generate", "-n", "5", "-d", "0", "-o", "{tmp}/a.npz"], "'dim' must be at least 1"),
        (["generate", "-n", "5", "-d", "3", "-m", "bogus", "-o", "{tmp}/a.npz"], "must be one of"),
        (["generate", "-n", "10", "-d", "3", "-m", "simplex", "-o", "{tmp}/a.npz"], "d >= N - 1"),
        (["generate", "-n", "10", "-d", "3", "-m", "orthoplex", "-o", "{tmp}/a.npz"], "2d = 6"),
        (["generate", "-n", "5", "-d", "3", "-o", "{tmp}/missing/a.npz"], "does not exist"),
        (["generate", "-n", "5", "-d", "3", "-o", "{tmp}/a.txt"], ".npz"),
        (["generate", "-n", "x", "-d", "3", "-o", "{tmp}/a.npz"], "invalid int value"),
        (["analyze", "{tmp}/nothing.npz"], "does not exist"),
        (["analyze", "{tmp}/corrupt.npz"], "corrupt"),
        (["export", "{tmp}/nothing.npz", "{tmp}/x.csv"], "does not exist"),
        (["methods", "-n", "5"], "'dim' must be an integer"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_error_paths_print_one_line(cli, tmp_path, argv, needle):
    (tmp_path / "corrupt.npz").write_bytes(b"\x00garbage")
    code, stdout, err = cli(*[a.format(tmp=tmp_path) for a in argv])
    assert code != 0
    assert needle in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_methods_lists_every_construction(cli):
    from spherecode.constructions import CONSTRUCTIONS

    code, stdout, _ = cli("methods", "-n", "100", "-d", "64")
    assert code == 0
    for name in CONSTRUCTIONS:
        assert name in stdout
    assert "orthoplex  [optimal]" in stdout


def test_export_cli(cli, tmp_path):
    cli("generate", "-n", "4", "-d", "3", "-o", str(tmp_path / "p.npz"))
    code, stdout, _ = cli("export", str(tmp_path / "p.npz"), str(tmp_path / "p.csv"))
    assert code == 0
    from spherecode.codebook import Codebook

    rows = np.loadtxt(tmp_path / "p.csv", delimiter=",")
    assert rows.shape == (4, 3) and np.array_equal(rows, Codebook.load(tmp_path / "p.npz").prototypes)


def test_console_script_runs_as_module(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "spherecode", "analyze", str(tmp_path / "x.npz")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
