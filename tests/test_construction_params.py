"""One way to declare a construction: explicit, checked parameters and one checked build path."""

from __future__ import annotations

import inspect
import math

import pytest

from spherecode import generate
from spherecode.constructions import CONSTRUCTIONS, Param, build_vectors
from spherecode.constructions.base import check_memory
from spherecode.constructions.lse import lse_vectors
from spherecode.constructions.mettes import mettes_vectors
from spherecode.errors import SpherecodeError


def test_every_declared_default_passes_its_own_check():
    for c in CONSTRUCTIONS.values():
        assert len({p.name for p in c.params}) == len(c.params)
        for p in c.params:
            assert isinstance(p, Param) and p.help
            assert p.check(p.default) == p.default


@pytest.mark.parametrize("name, function", [("lse", lse_vectors), ("mettes", mettes_vectors)])
def test_declarations_match_the_function_they_drive(name, function):
    """The declared parameters are the function's keywords with the same defaults: they cannot drift."""
    sig = inspect.signature(function).parameters
    for p in CONSTRUCTIONS[name].params:
        if p.name == "polish":  # applied by the construction after the search
            continue
        assert p.name in sig and sig[p.name].default == p.default, p.name


@pytest.mark.parametrize("params, needle", [
    ({"t_end": math.inf}, "'t_end' must be a finite number"),
    ({"t_end": float("nan")}, "'t_end' must be a finite number"),
    ({"t_end": 0}, "'t_end' must be > 0"),
    ({"steps": -1}, "'steps' must be >= 0"),
    ({"steps": 2.5}, "'steps' must be an integer"),
    ({"restarts": True}, "'restarts' must be an integer"),
    ({"dtype": "float16"}, "'dtype' must be one of float32, float64"),
    ({"target": math.inf}, "'target' must be a finite number"),
    ({"polish": "yes"}, "'polish' must be true or false"),
    ({"bogus": 1}, "has no parameter 'bogus'"),
])
def test_bad_parameters_are_one_line_errors(params, needle):
    with pytest.raises(SpherecodeError, match=needle) as info:
        generate(10, 4, "lse", **params)
    assert "\n" not in str(info.value)


def test_auto_checks_parameters_too():
    with pytest.raises(SpherecodeError, match="'polish_seconds' must be a finite number"):
        generate(30, 5, "auto", polish_seconds=math.inf)
    with pytest.raises(SpherecodeError, match="'momentum' must be >= 0 and <= 1"):
        generate(30, 5, "mettes", momentum=2)


def test_defaults_and_resolved_values_are_recorded():
    vectors, recorded = build_vectors(CONSTRUCTIONS["lse"], 10, 4, steps=20)
    assert vectors.shape == (10, 4) and recorded["steps"] == 20 and recorded["t_end"] == 2000.0
    assert recorded["restarts"] == 8 and recorded["polish"] is False


def test_memory_is_checked_before_building():
    with pytest.raises(SpherecodeError, match="needs about .* GB .* available"):
        check_memory(CONSTRUCTIONS["random"], 1000, 1000, {}, available=10**6)
    check_memory(CONSTRUCTIONS["random"], 10, 10, {}, available=10**6)
    # the dense lse path needs its R N^2 Gram matrices on top of the codebook
    assert CONSTRUCTIONS["lse"].memory(4000, 8, {"restarts": 1}) > 3 * 4000**2 * 4
    with pytest.raises(SpherecodeError, match="N=1000000000, d=4 needs about"):
        generate(10**9, 4, "random")


@pytest.mark.parametrize("argv, needle", [
    (["-m", "lse", "-p", "t_end=Infinity"], "'t_end' must be a finite number"),
    (["-m", "lse", "-p", "t_end=-Infinity"], "'t_end' must be a finite number"),
    (["-m", "lse", "-p", "steps=-3"], "'steps' must be >= 0"),
    (["-p", "rounds=0"], "'rounds' must be >= 1"),
    (["-n", "1000000000", "-d", "4"], "GB"),
])
def test_cli_parameter_errors_are_one_line(cli, tmp_path, argv, needle):
    base = {"-n": "30", "-d": "5"}
    args = [a for k, v in base.items() if k not in argv for a in (k, v)] + argv
    code, _, err = cli("generate", *args, "-o", str(tmp_path / "a.npz"))
    assert code != 0 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_auto_skips_the_search_above_the_dense_limit_when_a_code_is_valid(monkeypatch):
    from spherecode.constructions import auto, lse

    calls = []
    monkeypatch.setattr(lse, "DENSE_LIMIT", 30)  # N = 40 is then "large"
    monkeypatch.setattr(auto, "_search", lambda *a, **k: calls.append(a) or [])
    cb = generate(40, 16, "auto")
    assert cb.params["chosen"] == "bch" and calls == [] and "certificate" not in cb.params
    monkeypatch.setattr(lse, "DENSE_LIMIT", 4096)
    generate(40, 16, "auto", polish=False)
    assert len(calls) == 1


def test_auto_rounds_default_by_size():
    from spherecode.constructions.auto import search_rounds

    assert search_rounds(13, 3) > search_rounds(56, 7) > 1 == search_rounds(1000, 64) == search_rounds(21841, 1024)
