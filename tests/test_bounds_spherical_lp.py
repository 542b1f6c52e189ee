from __future__ import annotations

import math

import numpy as np
import pytest

from spherecode.bounds.levenshtein import gegenbauer_all, levenshtein_bound, levenshtein_lower_bound
from spherecode.bounds.spherical_lp import certified_max, spherical_lp_bound, spherical_lp_lower_bound
from spherecode.errors import SpherecodeError


def test_e8_kissing_number():
    res = spherical_lp_bound(8, 0.5, 6)
    assert res.value >= 240 and math.floor(res.value) == 240
    assert res.value == pytest.approx(240, abs=1e-3)


def test_leech_kissing_number():
    res = spherical_lp_bound(24, 0.5, 10)
    assert res.value >= 196560 and math.floor(res.value) == 196560


def test_odlyzko_sloane_non_integer_values():
    # Odlyzko & Sloane (1979), Table 1: 13.158 in d = 3 and 25.56 in d = 4 (kissing numbers 12, 24)
    assert spherical_lp_bound(3, 0.5).value == pytest.approx(13.158, abs=5e-4)
    assert spherical_lp_bound(4, 0.5).value == pytest.approx(25.558, abs=5e-4)


@pytest.mark.parametrize("dim, s", [(3, 0.3), (5, 0.1), (8, 0.5), (16, 0.2), (40, 0.05)])
def test_never_weaker_than_levenshtein(dim, s):
    assert spherical_lp_bound(dim, s).value <= levenshtein_bound(dim, s) * (1 + 1e-6)


def test_certificate_really_is_feasible():
    res = spherical_lp_bound(6, 0.3)
    f = np.asarray(res.coefficients)
    assert f[0] == 1.0 and (f[1:] >= 0).all()
    t = np.linspace(-1, 0.3, 200_001)
    values = f @ gegenbauer_all(len(f) - 1, 6, t)
    assert values.max() <= 1e-9
    assert res.value == pytest.approx(f.sum(), rel=1e-12)  # f(1) / f_0
    assert res.value >= res.lp_value


def test_certified_max_bounds_the_true_maximum():
    rng = np.random.default_rng(1)
    for _ in range(5):
        c = rng.standard_normal(8)
        t = np.linspace(-1, 0.4, 400_001)
        true = (c @ gegenbauer_all(7, 5, t)).max()
        ub = certified_max(c, 5, -1.0, 0.4)
        assert true - 1e-12 <= ub <= true + 1e-9


def test_600_cell_is_optimal_by_the_lp():
    # Andreev (1999): no 120 points in R^4 beat cos 36 degrees
    s = spherical_lp_lower_bound(120, 4, tol=1e-7)
    cos36 = (1 + 5**0.5) / 4
    assert s <= cos36 and s == pytest.approx(cos36, abs=1e-6)
    assert s > levenshtein_lower_bound(120, 4) + 1e-3  # strictly better than Levenshtein here


def test_lower_bound_is_at_least_levenshtein_and_below_known_codes():
    s = spherical_lp_lower_bound(13, 3, tol=1e-5)
    assert levenshtein_lower_bound(13, 3) <= s <= 0.5426364865  # the Tammes optimum for 13 points


def test_infeasible_degree_gives_infinity():
    assert spherical_lp_bound(3, 0.9, 1).value == float("inf")


@pytest.mark.parametrize(
    "call, needle",
    [
        (lambda: spherical_lp_bound(8, 1.5), "'s' (a cosine) must lie in [-1, 1)"),
        (lambda: spherical_lp_bound(1, 0.5), "'dim' must be at least 2"),
        (lambda: spherical_lp_bound(8, 0.5, 0), "'degree' must be at least 1"),
        (lambda: spherical_lp_lower_bound(1, 8), "'n' must be at least 2"),
        (lambda: spherical_lp_lower_bound(10, 8, tol=2.0), "'tol' must lie in (0, 1)"),
    ],
)
def test_bad_input_names_the_argument(call, needle):
    with pytest.raises(SpherecodeError) as info:
        call()
    assert needle in str(info.value)
