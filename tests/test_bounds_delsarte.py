from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from scipy.optimize import linprog

from bounds_reference import brute_force_a
from spherecode.bounds.delsarte import (
    delsarte_bound,
    delsarte_lp,
    krawtchouk,
    krawtchouk_matrix,
    verify_certificate,
)
from spherecode.bounds.rational_simplex import maximize
from spherecode.errors import SpherecodeError


def test_krawtchouk_matches_the_generating_function():
    # sum_k K_k(i) z^k = (1 - z)^i (1 + z)^(n - i)
    n = 9
    for i in range(n + 1):
        poly = np.polynomial.polynomial.polymul(
            np.polynomial.polynomial.polypow([1, -1], i), np.polynomial.polynomial.polypow([1, 1], n - i)
        )
        assert [krawtchouk(n, k, i) for k in range(n + 1)] == [int(round(c)) for c in poly]


@pytest.mark.parametrize("n", [1, 2, 7, 24, 63])
def test_krawtchouk_recurrence_equals_the_sum(n):
    mat = krawtchouk_matrix(n)
    for k in range(n + 1):
        for i in range(0, n + 1, max(1, n // 7)):
            assert mat[k][i] == krawtchouk(n, k, i)


@pytest.mark.parametrize("n, d", [(n, d) for n in range(3, 8) for d in range(1, n + 1)] + [(8, 4), (8, 5), (8, 6)])
def test_lp_bound_is_at_least_the_exhaustive_maximum(n, d):
    exact = brute_force_a(n, d)
    assert delsarte_bound(n, d, even=False) >= exact
    assert delsarte_bound(n, d) >= exact  # with the even-weight restriction for even d


def test_lp_is_tight_where_perfect_and_optimal_codes_exist():
    assert delsarte_lp(7, 3).value == 16  # Hamming code
    assert delsarte_bound(8, 4) == 16  # extended Hamming code
    assert delsarte_lp(23, 7).value == 4096  # Golay
    assert delsarte_lp(24, 8, even=False).value == 4096  # extended Golay
    assert delsarte_bound(24, 8) == 4096


def test_n63_is_exact_not_floating_point_noise():
    res = delsarte_lp(63, 10, even=True)
    assert float(res.value) == pytest.approx(7.16e12, rel=1e-3)
    assert res.bound < 1.0e13  # HiGHS and Clarabel were measured at 1.7e13 and 9.3e15
    assert verify_certificate(res)


def test_certificate_proves_the_bound_and_detects_tampering():
    res = delsarte_lp(15, 5)
    assert verify_certificate(res)
    # the dual polynomial f(x) = 1 + sum_k y_k K_k(x) is <= 0 at distances >= d and f(0) is the bound
    mat = krawtchouk_matrix(15)
    f0 = 1 + sum(res.dual[k - 1] * mat[k][0] for k in range(1, 16))
    assert f0 == res.value
    # the primal distance distribution is feasible
    dist = res.distribution
    assert dist[0] == 1 and all(v == 0 for v in dist[1:5]) and all(v >= 0 for v in dist)
    assert all(sum(dist[i] * mat[k][i] for i in range(16)) >= 0 for k in range(16))
    bad = type(res)(**{**res.__dict__, "value": res.value - 1})
    assert not verify_certificate(bad)


def test_exact_simplex_agrees_with_highs_on_small_programs():
    rng = np.random.default_rng(0)
    for _ in range(20):
        m, n = rng.integers(2, 6), rng.integers(2, 6)
        a = rng.integers(-3, 6, size=(m, n))
        a[0] = np.abs(a[0]) + 1  # keeps the program bounded
        b = rng.integers(0, 10, size=m)
        c = rng.integers(0, 5, size=n)
        ours = maximize(c.tolist(), a.tolist(), b.tolist())
        ref = linprog(-c, A_ub=a, b_ub=b, bounds=(0, None), method="highs")
        assert float(ours.value) == pytest.approx(-ref.fun, abs=1e-7)
        assert isinstance(ours.value, Fraction)


def test_exact_simplex_reports_unbounded_programs():
    with pytest.raises(ValueError, match="unbounded"):
        maximize([1, 1], [[1, -1]], [1])


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: delsarte_bound(5, 6), "'d' (minimum distance) must be at most the length n = 5, not 6"),
        (lambda: delsarte_bound(0, 1), "'n' must be at least 1"),
        (lambda: delsarte_bound(-4, 1), "'n' must be at least 1"),
        (lambda: delsarte_bound(8, 2.5), "'d' must be an integer"),
        (lambda: delsarte_bound(8, 0), "'d' must be at least 1"),
    ],
)
def test_bad_input_names_the_argument(call, needle):
    with pytest.raises(SpherecodeError) as info:
        call()
    assert needle in str(info.value)


def test_binomial_row_sum():
    # sum_k K_k(0) = 2^n is the trivial bound at d = 1
    assert delsarte_bound(10, 1) == 2**10 == sum(comb(10, k) for k in range(11))
    assert list(itertools.islice(krawtchouk_matrix(4)[2], 5)) == [6, 0, -2, 0, 6]


@pytest.mark.parametrize("n, n_words", [(5, 3), (6, 5), (7, 9), (7, 17), (8, 5), (8, 16)])
def test_binary_distance_limit_against_exhaustive_search(n, n_words):
    from spherecode.bounds.delsarte import binary_distance_limit

    limit = binary_distance_limit(n, n_words)
    true_best = next(d for d in range(n, 0, -1) if brute_force_a(n, d) >= n_words)  # large d first: fast searches
    assert limit >= true_best  # an upper bound on the best achievable distance
    assert delsarte_lp(n, limit).bound >= n_words and (limit == n or delsarte_lp(n, limit + 1).bound < n_words)


def test_binary_distance_limit_golay_and_errors():
    from spherecode.bounds.delsarte import binary_distance_limit

    assert binary_distance_limit(24, 4096) == 8
    assert binary_distance_limit(4, 17) is None
    with pytest.raises(SpherecodeError, match="'N' must be at least 2"):
        binary_distance_limit(8, 1)
