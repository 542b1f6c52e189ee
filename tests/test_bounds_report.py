from __future__ import annotations

import json

import numpy as np
import pytest

from spherecode import Codebook, analyze, generate
from spherecode.analysis import parse_dims, separation_vs_dimension
from spherecode.bounds import bound_interval, bounds_report, gv_upper_bound
from spherecode.constructions import CONSTRUCTIONS, construction_table
from spherecode.errors import SpherecodeError


def _report(n, dim, lp=True, build=True):
    """What ``spherecode bounds`` does: build the deterministic constructions, pass the numbers in."""
    table = construction_table(n, dim, build=build)
    return bounds_report(n, dim, lp=lp, achieved={k: v["max_cosine"] for k, v in table.items()
                                                  if v["max_cosine"] is not None},
                         optimal=[k for k, v in table.items() if v["optimal"]])


def test_orthogonal_regime_is_closed_and_orthoplex_is_optimal():
    r = _report(100, 64)
    assert r.lower == 0.0 and r.upper == 0.0 and r.exact
    assert "orthoplex" in r.provably_optimal
    assert r.gv_distance == 24 and r.gv_upper == pytest.approx(0.25)
    assert r.spherical_lp is not None and r.spherical_lp <= r.lower  # computed even where the interval is closed


def test_simplex_regime():
    r = _report(10, 12)
    assert r.lower == pytest.approx(-1 / 9) and r.upper == pytest.approx(-1 / 9)
    assert "simplex" in r.provably_optimal and "orthoplex" not in r.provably_optimal


def test_open_interval_for_imagenet_in_64_dimensions():
    r = bounds_report(1000, 64)
    assert r.lower == pytest.approx(0.0916, abs=1e-3)  # Levenshtein (the LP cannot improve it here)
    assert r.gv_upper == pytest.approx(1 - 2 * 21 / 64)  # Gilbert-Varshamov at length 64 (Theorem 7)
    # ... and at length 60, zero-padded, which is better
    assert r.upper == pytest.approx(min(gv_upper_bound(1000, m) for m in range(10, 65))) == pytest.approx(1 / 3)
    assert not r.exact and r.provably_optimal == []


def test_known_optimum_closes_the_interval():
    r = bounds_report(13, 3, lp=False)
    assert r.exact and r.known["exact"]
    r = bounds_report(240, 8, lp=False)
    assert r.lower == pytest.approx(0.5) and r.upper == 0.5


def test_lp_improves_on_levenshtein_in_low_dimension():
    r = bounds_report(24, 4)
    assert r.spherical_lp is not None and r.spherical_lp > r.levenshtein
    assert r.lower == r.spherical_lp <= r.upper == 0.5


@pytest.mark.parametrize("n", [2, 3, 7, 20, 100, 300])
@pytest.mark.parametrize("dim", [2, 3, 5, 16, 40])
def test_interval_is_consistent_with_real_codebooks(n, dim):
    lo, hi = bound_interval(n, dim)
    assert hi is not None and lo <= hi + 1e-12
    for method, c in CONSTRUCTIONS.items():
        if c.check(n, dim) is None and method in ("simplex", "orthoplex", "random"):
            s = generate(n, dim, method).max_cosine
            assert s >= lo - 1e-9
            if c.optimal(n, dim):
                assert s == pytest.approx(lo, abs=1e-9)


def test_report_json_round_trip():
    d = bounds_report(50, 10, lp=False).to_dict()
    again = json.loads(json.dumps(d))
    assert {"lower", "upper", "exact", "provably_optimal", "achieved", "levenshtein", "gv_upper"} <= set(again)


def test_bounds_report_builds_nothing_and_takes_achieved_values(monkeypatch):
    r = bounds_report(50, 10, lp=False, achieved={"mine": 0.3}, optimal=["mine"])
    assert r.achieved == {"mine": 0.3} and r.provably_optimal == ["mine"]
    assert r.upper == pytest.approx(min(0.3, bounds_report(50, 10, lp=False).upper))
    with pytest.raises(SpherecodeError, match="'achieved'"):
        bounds_report(50, 10, lp=False, achieved={"bad": float("nan")})
    import spherecode.constructions.base as base

    def no_build(*args, **kwargs):
        raise AssertionError("bounds_report built a construction")

    monkeypatch.setattr(base, "check_size", no_build)  # the first step of every build
    with pytest.raises(AssertionError):
        generate(40, 16, "bch")
    assert bounds_report(40, 16, lp=False).upper == pytest.approx(1 / 3)


def test_one_dimension():
    assert bounds_report(2, 1).exact
    r = bounds_report(3, 1)
    assert r.lower == 1.0 and r.upper == 1.0


def test_analyze_adds_interval_and_gap():
    cb = generate(30, 5, "random")
    rep = analyze(cb)
    lo, hi = bound_interval(30, 5)
    assert rep.bound_lower == lo and rep.bound_upper == hi  # a random codebook is worse than the cheap upper end
    assert rep.gap_to_lower == pytest.approx(rep.max_cosine - lo)
    code = generate(40, 16, "bch")  # s_max 0.25 is below the cheap upper end 1/3: the codebook is the witness
    assert bound_interval(40, 16)[1] == pytest.approx(1 / 3) and analyze(code).bound_upper == 0.25
    assert "gap to best lower bound" in rep.format()
    opt = analyze(Codebook(np.vstack([np.eye(4), -np.eye(4)])))
    assert opt.gap_to_lower == 0.0


def test_separation_curves():
    curves = separation_vs_dimension(12, [3, 6, 11], ["simplex", "orthoplex", "random"], lp=False)
    rows = curves.rows()
    assert [r["dim"] for r in rows] == [3, 6, 11]
    assert rows[0]["method_simplex"] is None and rows[2]["method_simplex"] == pytest.approx(-1 / 11)
    assert rows[1]["method_orthoplex"] == 0.0 and rows[0]["method_orthoplex"] is None
    assert rows[0]["bound_known_upper"] == pytest.approx(1 / 5**0.5)  # icosahedron
    for r in rows:
        assert r["method_random"] >= r["bound_lower"] - 1e-12


def test_separation_curves_errors():
    with pytest.raises(SpherecodeError, match="must be one of"):
        separation_vs_dimension(12, [3], ["nope"])
    with pytest.raises(SpherecodeError, match="'dim' must be at least 1"):
        separation_vs_dimension(12, [0])
    with pytest.raises(SpherecodeError, match="'--dims'"):
        parse_dims("3:x")
    with pytest.raises(SpherecodeError, match="'--dims'"):
        parse_dims("0:4")


@pytest.mark.parametrize("n", [3, 5, 7, 300])
def test_circle_is_exact(n):
    r = bounds_report(n, 2)
    assert r.exact and r.lower == pytest.approx(np.cos(2 * np.pi / n))
    angles = 2 * np.pi * np.arange(n) / n
    polygon = Codebook(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    assert polygon.max_cosine == pytest.approx(r.upper)


def test_built_constructions_narrow_the_interval():
    r = _report(1000, 64, lp=False)
    built = list(r.achieved.values())
    for name, value in r.achieved.items():
        assert CONSTRUCTIONS[name].deterministic
        assert value == pytest.approx(generate(1000, 64, name).max_cosine)
        assert value >= r.lower - 1e-12
    assert r.upper == pytest.approx(min(built + [1 / 3]))
