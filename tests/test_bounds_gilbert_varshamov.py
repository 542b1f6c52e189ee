from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest

from spherecode.bounds.gilbert_varshamov import (
    code_dimension,
    gilbert_size,
    gv_interval,
    gv_upper_bound,
    hamming_ball_volume,
    varshamov_condition,
    varshamov_distance,
    varshamov_parity_check,
)
from spherecode.errors import SpherecodeError
from spherecode.separation import min_hamming_distance

from bounds_reference import brute_force_a


@pytest.mark.parametrize("n, r", [(1, 0), (5, 2), (8, 3), (10, 10)])
def test_ball_volume_counts_words(n, r):
    words = np.array(list(itertools.product([0, 1], repeat=n)))
    assert hamming_ball_volume(n, r) == int((words.sum(axis=1) <= r).sum())


def test_golay_is_perfect():
    assert hamming_ball_volume(23, 3) * 2**12 == 2**23


@pytest.mark.parametrize("n", range(3, 8))
def test_gilbert_is_below_the_true_maximum(n):
    for d in range(1, n + 1):
        assert gilbert_size(n, d) <= brute_force_a(n, d)


def test_science_figures_for_100_classes():
    assert [varshamov_distance(n, 100) for n in (10, 25, 64)] == [2, 8, 24]
    assert gv_upper_bound(100, 10) == pytest.approx(0.60)
    assert gv_upper_bound(100, 25) == pytest.approx(0.36)
    assert gv_upper_bound(100, 64) == pytest.approx(0.25)
    lo, hi = gv_interval(100, 64)
    assert lo == pytest.approx(-1 / 99) and hi == pytest.approx(0.25)


@pytest.mark.parametrize("n, n_words", [(10, 100), (25, 100), (64, 100), (64, 1000), (512, 1000), (7, 128)])
def test_varshamov_distance_is_the_largest_delta(n, n_words):
    k = code_dimension(n_words)
    delta = varshamov_distance(n, n_words)
    # the slow obvious definition
    slow = max(dd for dd in range(1, n + 1) if dd == 1 or sum(comb(n - 1, i) for i in range(dd - 1)) < 2 ** (n - k))
    assert delta == slow
    assert varshamov_condition(n, k, delta)


def test_no_code_when_too_many_words():
    assert varshamov_distance(6, 65) is None
    assert gv_upper_bound(65, 6) is None
    assert varshamov_distance(6, 64) == 1  # the whole space


@pytest.mark.parametrize("n, n_words", [(7, 4), (8, 8), (10, 16), (12, 16), (15, 32), (16, 100)])
def test_varshamov_construction_meets_the_guarantee(n, n_words):
    k = code_dimension(n_words)
    delta = varshamov_distance(n, n_words)
    h = varshamov_parity_check(n, k, delta)
    # the null space of H over GF(2), by enumeration
    words = np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int64)
    code = words[((words @ h.T.astype(np.int64)) % 2 == 0).all(axis=1)]
    assert len(code) >= 2**k >= n_words
    assert min_hamming_distance(code) >= delta
    # and the spherical image meets the upper bound 1 - 2 delta / n
    vecs = (2 * code[:n_words] - 1) / np.sqrt(n)
    g = vecs @ vecs.T
    np.fill_diagonal(g, -np.inf)
    assert g.max() <= gv_upper_bound(n_words, n) + 1e-12


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: hamming_ball_volume(5, 6), "'r' must be at most"),
        (lambda: hamming_ball_volume(-1, 0), "'n' must be at least 1"),
        (lambda: gilbert_size(5, 6), "'d' (minimum distance) must be at most"),
        (lambda: gilbert_size(5, 0), "'d' must be at least 1"),
        (lambda: gilbert_size(5.5, 2), "'n' must be an integer"),
        (lambda: gv_upper_bound(1, 10), "'n' must be at least 2"),
        (lambda: gv_upper_bound(10, 0), "'dim' must be at least 1"),
        (lambda: varshamov_distance(10, "x"), "'N' must be an integer"),
        (lambda: varshamov_parity_check(7, 4, 4), "Varshamov's condition fails"),
    ],
)
def test_bad_input_names_the_argument(call, needle):
    with pytest.raises(SpherecodeError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_shorter_lengths_can_only_help():
    from spherecode.bounds.gilbert_varshamov import gv_best_upper_bound

    for n_words in (3, 100, 1000):
        prev = None
        for dim in range(code_dimension(n_words), 80):
            value, length = gv_best_upper_bound(n_words, dim)
            assert length <= dim
            assert value == pytest.approx(min(gv_upper_bound(n_words, m) for m in range(code_dimension(n_words), dim + 1)))
            assert prev is None or value <= prev  # monotone in d
            prev = value
    assert gv_best_upper_bound(100, 6) is None


# ------------------------------------------------------------------ any size, milliseconds
from spherecode.bounds.gilbert_varshamov import (  # noqa: E402
    EXACT_MAX_LENGTH,
    _exact_distance,
    _exact_distances,
    _log_distance,
    gv_best_upper_bound,
    log2_hamming_ball_volume,
)


@pytest.mark.parametrize("n, r", [(1, 0), (23, 3), (100, 30), (100, 50), (100, 70), (1000, 499), (1000, 501), (5000, 2400), (5000, 4999)])
def test_log2_ball_volume_matches_exact_sum(n, r):
    exact = sum(comb(n, i) for i in range(r + 1))
    assert log2_hamming_ball_volume(n, r) == pytest.approx(np.log2(float(exact)) if exact < 2**1000 else
                                                           exact.bit_length() - 1 + np.log2(exact / 2 ** (exact.bit_length() - 1)),
                                                           rel=1e-13, abs=1e-9)


@pytest.mark.parametrize("n, k", [(4100, 1), (4500, 7), (5000, 20), (6000, 100), (4097, 4097)])
def test_log_distance_never_exceeds_the_exact_one(n, k):
    """Above EXACT_MAX_LENGTH the logarithmic bisection agrees with the exact integer walk, or is one
    smaller at a near tie (conservative): the guarantee stays valid."""
    exact = _exact_distance(n, k)
    assert exact - 1 <= _log_distance(n, k) <= exact


@pytest.mark.parametrize("dim, k", [(15, 7), (100, 7), (300, 10), (64, 1), (50, 2), (200, 200)])
def test_exact_walk_matches_each_length(dim, k):
    assert _exact_distances(dim, k) == [_exact_distance(n, k) for n in range(k, dim + 1)]


def test_every_size_answers(monkeypatch):
    """Lengths up to 10^6 and N up to 10^29 answer (these took minutes or never returned before)."""
    assert varshamov_distance(20000, 10) == _exact_distance(20000, 4)
    assert 0 < gv_best_upper_bound(10**12, 10**6)[0] < gv_upper_bound(10**12, 1000)
    assert varshamov_distance(10**6, 10**29) > 0 and varshamov_distance(50, 10**29) is None
    assert varshamov_condition(10**6, 40, varshamov_distance(10**6, 10**12))
    with pytest.raises(SpherecodeError, match="use log2_hamming_ball_volume"):
        hamming_ball_volume(EXACT_MAX_LENGTH + 1, 3)
