"""The effort dial and determinism: budgets in iterations, the same bytes under any thread count or clock."""

from __future__ import annotations

import numpy as np
import pytest

from spherecode import generate
from spherecode.constructions import CONSTRUCTIONS, EFFORT_BUDGETS, EFFORTS
from spherecode.constructions.base import MIN_LSE_STEPS, get_effort
from spherecode.constructions.polish import polish
from spherecode.errors import SpherecodeError


def test_the_levels_are_declared_once_and_grow():
    assert EFFORTS == tuple(EFFORT_BUDGETS) == ("fast", "default", "best")
    fast, default, best = (EFFORT_BUDGETS[e] for e in EFFORTS)
    for field in ("lse_steps", "lse_work", "sparse_steps", "polish_programs", "polish_rows", "mettes_steps", "rounds",
                  "start_work"):
        assert getattr(fast, field) <= getattr(default, field) <= getattr(best, field), field
    assert best.sharpen_steps > 0 and default.sharpen_steps == fast.sharpen_steps == 0


def test_lse_steps_follow_the_work_budget():
    """steps = lse_work / (R N^2 d), clamped: the default keeps 1000 steps for small problems."""
    default = EFFORT_BUDGETS["default"]
    assert default.lse_dense_steps(100, 10, 8) == 1000
    assert default.lse_dense_steps(1000, 512, 1) == int(default.lse_work // (1000 * 1000 * 512))
    assert default.lse_dense_steps(10**4, 10**4, 1) == MIN_LSE_STEPS  # never below it


def test_an_unknown_effort_names_the_valid_levels():
    with pytest.raises(SpherecodeError, match="Argument 'effort' must be one of fast, default, best; got 'max'"):
        get_effort("max")
    with pytest.raises(SpherecodeError, match="'effort'"):
        generate(10, 3, "lse", effort="max")


@pytest.mark.parametrize("method", ["lse", "auto", "mettes"])
def test_the_codebook_records_its_effort(method):
    cb = generate(12, 4, method, effort="fast", steps=30)
    assert cb.params["effort"] == "fast"
    assert "machine_dependent" not in cb.params
    assert "effort" not in generate(4, 3, "simplex").params  # closed forms have no budget


def test_effort_changes_the_budget_not_the_checks():
    fast = generate(30, 5, "lse", effort="fast")
    default = generate(30, 5, "lse")
    assert fast.params["steps"] == EFFORT_BUDGETS["fast"].lse_steps
    assert default.params["steps"] == EFFORT_BUDGETS["default"].lse_steps
    explicit = generate(30, 5, "lse", effort="fast", steps=7)
    assert explicit.params["steps"] == 7  # an explicit parameter wins over the effort's default


def _threads(n: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n)


def test_same_bytes_under_any_thread_count():
    """lse above its single-thread cutoff (R N^2 d >= 5e7: torch uses every thread) and auto with its
    polish (HiGHS, numpy BLAS) give identical bytes with 1 and 2 threads."""
    import torch

    before = torch.get_num_threads()
    out = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with _threads(threads):
                big = generate(500, 200, "lse", steps=15)
                small = generate(40, 6, "auto", effort="fast")
            out.append((big.vectors.tobytes(), small.vectors.tobytes(), small.params))
    finally:
        torch.set_num_threads(before)
    assert out[0][0] == out[1][0]
    assert out[0][1] == out[1][1]
    assert out[0][2] == out[1][2]  # the metadata too: no wall-clock seconds are recorded


def test_no_budget_reads_the_clock(monkeypatch):
    """A machine 10^6 times slower (every clock reading jumps by an hour) gives the same codebook."""
    import time

    reference = generate(40, 6, "auto", effort="fast")
    ticks = iter(range(10**9))
    monkeypatch.setattr(time, "perf_counter", lambda: 3600.0 * next(ticks))
    monkeypatch.setattr(time, "monotonic", lambda: 3600.0 * next(ticks))
    slow = generate(40, 6, "auto", effort="fast")
    assert slow.vectors.tobytes() == reference.vectors.tobytes()
    assert slow.params == reference.params


def test_an_explicit_time_limit_is_recorded_as_machine_dependent():
    cb = generate(40, 6, "auto", effort="fast", polish_seconds=30.0)
    assert cb.params["machine_dependent"] is True
    sub = generate(200, 8, "known", effort="fast", polish_seconds=30.0)
    assert sub.params["machine_dependent"] is True


def test_polish_budget_counts_rows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 5))
    _, full = polish(x, max_iter=50)
    _, cut = polish(x, max_iter=50, max_rows=1)
    assert cut.iterations == 1 and cut.rows >= 1 and cut.stopped == "iterations"
    assert full.rows >= cut.rows and full.s_max <= cut.s_max
    assert "seconds" not in full.summary()  # the recorded summary is the same on any machine


def test_progress_writes_one_line_per_stage_when_stderr_is_not_a_terminal(capsys):
    generate(40, 6, "auto", effort="fast", progress=True)
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith("lse N=40 d=6:") for line in err)
    assert any(line.startswith("auto N=40 d=6: candidate") for line in err)
    assert all("\r" not in line for line in err)


def test_cli_effort_flag(cli, tmp_path):
    from spherecode.codebook import Codebook

    out = tmp_path / "cb.npz"
    code, stdout, stderr = cli("generate", "-n", "20", "-d", "4", "-m", "lse", "--effort", "fast", "-o", str(out))
    assert code == 0, stderr
    assert Codebook.load(out).params["effort"] == "fast"
    code, _, stderr = cli("generate", "-n", "20", "-d", "4", "--effort", "max", "-o", str(tmp_path / "x.npz"))
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and "'fast', 'default', 'best'" in stderr


def test_every_construction_that_searches_follows_the_dial():
    searching = {name for name, c in CONSTRUCTIONS.items() if c.effort}
    assert {"auto", "lse", "mettes", "known"} <= searching
    assert not CONSTRUCTIONS["simplex"].effort and not CONSTRUCTIONS["bch"].effort
