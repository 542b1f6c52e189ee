from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import eval_gegenbauer

from spherecode.bounds.levenshtein import (
    _l_even,
    _l_odd,
    gegenbauer,
    levenshtein_bound,
    levenshtein_lower_bound,
    levenshtein_piece,
    t10,
    t11,
)
from spherecode.errors import SpherecodeError
from spherecode.separation import max_cosine


@pytest.mark.parametrize("dim", [2, 3, 8, 24, 129])
@pytest.mark.parametrize("k", [0, 1, 2, 5, 9])
def test_gegenbauer_recurrence_matches_scipy(dim, k):
    t = np.linspace(-1, 1, 23)
    lam = (dim - 2) / 2
    if lam == 0:  # Chebyshev limit
        ref = np.cos(k * np.arccos(t))
    else:
        ref = eval_gegenbauer(k, lam, t) / eval_gegenbauer(k, lam, 1.0)
    np.testing.assert_allclose(gegenbauer(k, dim, t), ref, atol=1e-12)


@pytest.mark.parametrize("dim", [3, 5, 10])
def test_closed_forms_of_the_first_two_pieces(dim):
    for s in np.linspace(-0.9, -1 / dim - 1e-3, 5):
        assert _l_odd(1, dim, s) == pytest.approx(1 - 1 / s)
    for s in np.linspace(-1 / dim + 1e-3, -1e-3, 5):
        assert _l_even(1, dim, s) == pytest.approx(2 * dim * (1 - s) / (1 - dim * s))
    assert t10(1, dim) == pytest.approx(-1 / dim) and t11(1, dim) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("dim", [3, 4, 8, 24, 64])
def test_pieces_join_continuously_and_interlace(dim):
    for k in range(1, 6):
        a, b, c = t11(k - 1, dim), t10(k, dim), t11(k, dim)
        assert a < b < c
        assert _l_odd(k, dim, b) == pytest.approx(_l_even(k, dim, b), rel=1e-9)
        assert _l_even(k, dim, c) == pytest.approx(_l_odd(k + 1, dim, c), rel=1e-9)


@pytest.mark.parametrize(
    "dim, s, size",
    [(8, 0.5, 240), (24, 0.5, 196560), (6, 0.25, 27), (22, 1 / 6, 275), (7, 1 / 3, 56), (23, 1 / 3, 4600)],
)
def test_tight_designs_attain_the_bound(dim, s, size):
    assert levenshtein_bound(dim, s) == pytest.approx(size, rel=1e-10)
    assert levenshtein_lower_bound(size, dim) == pytest.approx(s, abs=1e-9)


@pytest.mark.parametrize(
    "n, dim, expected",
    [(100, 10, 0.278), (100, 25, 0.069), (1000, 64, 0.092), (1000, 128, 0.037), (1000, 256, 0.0073)],
)
def test_science_reference_values(n, dim, expected):
    assert levenshtein_lower_bound(n, dim) == pytest.approx(expected, abs=6e-4 if expected > 0.01 else 1e-4)


@pytest.mark.parametrize("n, dim", [(2, 3), (4, 3), (10, 9), (11, 64)])
def test_simplex_range_gives_rankin(n, dim):
    assert levenshtein_lower_bound(n, dim) == pytest.approx(-1 / (n - 1))


def test_cross_polytope_gives_zero():
    assert levenshtein_lower_bound(6, 3) == pytest.approx(0.0, abs=1e-12)
    assert levenshtein_lower_bound(128, 64) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(dim=st.integers(2, 40), s=st.floats(-0.99, 0.95), ds=st.floats(1e-4, 0.04))
def test_bound_increases_with_s(dim, s, ds):
    assert levenshtein_bound(dim, min(s + ds, 0.99)) >= levenshtein_bound(dim, s) * (1 - 1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 300), dim=st.integers(2, 12), seed=st.integers(0, 10**6))
def test_random_codes_never_beat_the_bound(n, dim, seed):
    v = np.random.default_rng(seed).standard_normal((n, dim))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert max_cosine(v) >= levenshtein_lower_bound(n, dim) - 1e-12


def test_piece_index():
    assert levenshtein_piece(8, -0.5) == 1
    assert levenshtein_piece(8, -0.05) == 2
    assert levenshtein_piece(8, 0.5) in (5, 6, 7)


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: levenshtein_bound(8, 1.0), "'s' (a cosine) must lie in [-1, 1)"),
        (lambda: levenshtein_bound(8, "x"), "'s' must be a number"),
        (lambda: levenshtein_bound(1, 0.0), "'dim' must be at least 2"),
        (lambda: levenshtein_lower_bound(1, 8), "'n' must be at least 2"),
        (lambda: levenshtein_lower_bound(10, -3), "'dim' must be at least 2"),
        (lambda: levenshtein_lower_bound(10.5, 3), "'n' must be an integer"),
    ],
)
def test_bad_input_names_the_argument(call, needle):
    with pytest.raises(SpherecodeError) as info:
        call()
    assert needle in str(info.value)


@pytest.mark.parametrize("dim", [2, 3, 8, 24, 512])
def test_largest_jacobi_zeros_match_scipy(dim):
    from scipy.special import roots_jacobi

    from spherecode.bounds.levenshtein import _largest_zero

    a = (dim - 3) / 2
    for k in (1, 2, 5, 17, 40):
        for alpha, beta in ((a + 1, a + 1), (a + 1, a)):
            assert _largest_zero(k, alpha, beta) == pytest.approx(roots_jacobi(k, alpha, beta)[0].max(), abs=1e-11)


def test_bounds_command_path_does_not_import_scipy_optimize():
    import subprocess
    import sys

    # the LP rows (HiGHS) are what needs scipy.optimize; the closed-form bounds alone must not load it
    code = "import sys, spherecode.bounds as b; b.bounds_report(1000, 512, lp=False); print('scipy.optimize' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ any size, no hang
def _slow_lower_bound(n: int, dim: int) -> float:
    """The obvious walk over the breakpoints k = 1, 2, ... and bisection (the previous implementation)."""
    from spherecode.bounds.levenshtein import _piece_value

    lo, k = -1.0, 1
    while True:
        for m, hi in ((2 * k - 1, t10(k, dim)), (2 * k, t11(k, dim))):
            if _piece_value(m, dim, hi) >= n:
                f = lambda s, m=m: _piece_value(m, dim, s) - n  # noqa: E731
                if f(lo) >= 0:
                    return lo
                for _ in range(200):
                    mid = 0.5 * (lo + hi)
                    if mid <= lo or mid >= hi:
                        break
                    lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
                return hi
            lo = hi
        k += 1


@pytest.mark.parametrize("n, dim", [(5, 3), (13, 3), (120, 4), (500, 3), (1000, 16), (2000, 5), (10**6, 8), (10**5, 40)])
def test_search_matches_the_linear_walk(n, dim):
    assert levenshtein_lower_bound(n, dim) == pytest.approx(_slow_lower_bound(n, dim), abs=1e-13)


def test_huge_sizes_answer_or_say_not_available():
    from spherecode.bounds.levenshtein import MAX_DEGREE

    assert levenshtein_lower_bound(10**12, 3) is None  # degree ~ 10^6 needed: not available
    assert levenshtein_lower_bound(10**29, 3) is None
    assert levenshtein_bound(3, 1 - 1e-12) == float("inf") and levenshtein_piece(3, 1 - 1e-12) is None
    big = levenshtein_lower_bound(10**12, 10**6)  # d = 10^6: a low degree suffices
    assert 0 < big < 0.01
    # the largest degree still available gives a finite value in d = 3
    assert levenshtein_lower_bound(int(levenshtein_bound(3, t11(MAX_DEGREE, 3))) - 1, 3) is not None
