from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from spherecode import Codebook
from spherecode.plots import plot_gram, plot_histogram, plot_separation, save_figure
from spherecode.analysis import separation_vs_dimension
from spherecode.errors import SpherecodeError


def test_bounds_json_has_lower_and_upper(cli):
    code, out, _ = cli("bounds", "-n", "100", "-d", "64", "--json")
    report = json.loads(out)
    assert code == 0 and report["lower"] == 0.0 and report["upper"] == 0.0
    assert "orthoplex" in report["provably_optimal"]


def test_bounds_text(cli):
    code, out, _ = cli("bounds", "-n", "1000", "-d", "64", "--no-lp")
    assert code == 0
    for needle in ("Levenshtein", "Gilbert-Varshamov", "interval for the optimum", "provably optimal"):
        assert needle in out


def test_analyze_json_keeps_old_keys_and_adds_the_interval(cli, tmp_path):
    path = tmp_path / "c.npz"
    assert cli("generate", "-n", "20", "-d", "5", "-m", "random", "-o", str(path))[0] == 0
    code, out, _ = cli("analyze", str(path), "--json")
    rep = json.loads(out)
    assert code == 0
    assert {"n", "dim", "max_cosine", "min_angle_deg", "bound_lower", "bound_upper", "gap_to_lower"} <= set(rep)


def test_plot_separation_writes_png_and_csv(cli, tmp_path):
    png, table = tmp_path / "s.png", tmp_path / "s.csv"
    code, _, err = cli("plot", "separation", "-n", "12", "--dims", "3,6,11", "--methods", "simplex,orthoplex,random",
                       "--no-lp", "-o", str(png), "--csv", str(table))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(table.open()))
    assert [r["dim"] for r in rows] == ["3", "6", "11"] and rows[0]["method_simplex"] == ""
    # refuses to overwrite without --force
    code, _, err = cli("plot", "separation", "-n", "12", "--dims", "3", "-o", str(png))
    assert code == 2 and "--force" in err


def test_plot_histogram_and_gram(cli, tmp_path):
    path = tmp_path / "c.npz"
    Codebook(np.vstack([np.eye(5), -np.eye(5)]), method="orthoplex").save(path)
    code, _, err = cli("plot", "histogram", str(path), "-o", str(tmp_path / "h.pdf"), "--bins", "20")
    assert code == 0, err
    assert (tmp_path / "h.pdf").read_bytes()[:4] == b"%PDF"
    code, _, err = cli("plot", "gram", str(path), "-o", str(tmp_path / "g.png"))
    assert code == 0, err
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["bounds", "-n", "1", "-d", "3"], "'n' must be at least 2"),
        (["bounds", "-n", "10", "-d", "0"], "'dim' must be at least 1"),
        (["bounds", "-n", "-5", "-d", "3"], "'n' must be at least 2"),
        (["bounds", "-n", "10", "-d", "3", "--lp-degree", "0"], "'--lp-degree' must be at least 1"),
        (["bounds", "-n", "2.5", "-d", "3"], "invalid int value"),
        (["plot", "separation", "-n", "10", "--dims", "3:x", "-o", "{tmp}/a.png"], "'--dims'"),
        (["plot", "separation", "-n", "10", "--methods", "bogus", "--dims", "3", "-o", "{tmp}/a.png"], "must be one of"),
        (["plot", "separation", "-n", "10", "--dims", "3", "-o", "{tmp}/a.jpg"], ".png, .pdf"),
        (["plot", "separation", "-n", "10", "--dims", "3", "-o", "{tmp}/missing/a.png"], "does not exist"),
        (["plot", "separation", "-n", "1", "--dims", "3", "-o", "{tmp}/a.png"], "'n' must be at least 2"),
        (["plot", "histogram", "{tmp}/nothing.npz", "-o", "{tmp}/h.png"], "does not exist"),
        (["plot", "histogram", "{tmp}/c.npz", "-o", "{tmp}/h.png", "--bins", "0"], "'--bins' must be at least 1"),
        (["plot", "gram", "{tmp}/c.npz", "-o", "{tmp}/exists.png"], "--force"),
        (["plot", "wobble"], "invalid choice"),
    ],
)
def test_error_paths_print_one_line(cli, tmp_path, argv, needle):
    Codebook(np.eye(3)).save(tmp_path / "c.npz")
    (tmp_path / "exists.png").write_bytes(b"user figure")
    code, _, err = cli(*[a.format(tmp=tmp_path) for a in argv])
    assert code != 0
    assert needle in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "exists.png").read_bytes() == b"user figure"


def test_python_api_returns_figures(tmp_path):
    cb = Codebook(np.eye(4), method="orthoplex")
    curves = separation_vs_dimension(6, [2, 3, 5], ["simplex", "orthoplex"], lp=False)
    for fig, name in ((plot_separation(curves), "s.png"), (plot_histogram(cb), "h.png"), (plot_gram(cb), "g.pdf")):
        assert type(fig).__name__ == "Figure"
        save_figure(fig, tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(SpherecodeError, match="already exists"):
        save_figure(plot_gram(cb), tmp_path / "g.pdf")
    with pytest.raises(SpherecodeError, match=".png or .pdf"):
        save_figure(plot_gram(cb), tmp_path / "g.svg")
