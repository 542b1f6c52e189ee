"""The three-point SDP bound: its matrices against their definition and against real codes, the checked
bound against the published kissing-number values, and the report / command-line row."""

from __future__ import annotations

import os
from itertools import permutations

import numpy as np
import pytest

from spherecode.bounds import bounds_report, spherical_lp_bound
from spherecode.bounds.levenshtein import gegenbauer_all
from spherecode.bounds.sdp import MARGIN, _homogeneous_gegenbauer, sdp_bound, sdp_lower_bound, three_point_matrices
from spherecode.errors import SpherecodeError


def _y_reference(k: int, degree: int, dim: int, u: float, v: float, t: float) -> np.ndarray:
    """Y_k(u, v, t) straight from Bachoc & Vallentin's definition (square roots, no recurrence tricks)."""
    r = np.sqrt((1 - u * u) * (1 - v * v))
    q = gegenbauer_all(k, dim - 1, (t - u * v) / r)[k] * r**k
    tu = np.polynomial.chebyshev.chebvander(np.array([u]), degree - k)[0]
    tv = np.polynomial.chebyshev.chebvander(np.array([v]), degree - k)[0]
    return np.outer(tu, tv) * q


@pytest.mark.parametrize("dim", [3, 4, 7])
def test_matrices_are_the_symmetrised_definition(dim):
    u, v, t = 0.31, -0.42, 0.17
    mats = three_point_matrices(4, dim, u, v, t)
    for k in range(5):
        ref = sum(_y_reference(k, 4, dim, *p) for p in permutations((u, v, t))) / 6
        np.testing.assert_allclose(mats[k][0], ref, atol=1e-14)
        assert mats[k].shape == (1, 5 - k, 5 - k)


def test_homogeneous_gegenbauer_is_r_power_times_gegenbauer():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-0.9, 0.9, (2, 50))
    r = np.sqrt((1 - a * a) * (1 - b * b))
    c = a * b + r * rng.uniform(-1, 1, 50)
    h = _homogeneous_gegenbauer(6, 5, a, b, c)
    ref = gegenbauer_all(6, 4, (c - a * b) / r) * r ** np.arange(7)[:, None]
    np.testing.assert_allclose(h, ref, atol=1e-13)


@pytest.mark.parametrize("dim, n", [(3, 7), (5, 9)])
def test_every_code_makes_the_triple_sums_positive_semidefinite(dim, n):
    # the constraint the bound rests on: sum over all triples of S_k is PSD, for any code
    rng = np.random.default_rng(dim)
    x = rng.normal(size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    g = x @ x.T
    i, j, l = np.meshgrid(range(n), range(n), range(n), indexing="ij")
    mats = three_point_matrices(5, dim, g[i, j].ravel(), g[i, l].ravel(), g[j, l].ravel())
    for m in mats:
        assert np.linalg.eigvalsh(m.sum(axis=0)).min() > -1e-9


def test_low_degree_bound_is_sound_and_checked():
    res = sdp_bound(3, 0.5, 4)
    assert res.status == "optimal" and res.reason is None
    # sound: the icosahedron's 12 points have all cosines <= 1/sqrt(5) < 1/2
    assert res.value >= 12
    assert res.objective == pytest.approx(res.sdp_value, rel=1e-6)
    assert 0 <= res.pair_excess < 1e-3 and 0 <= res.triple_excess < 1e-3
    # never worse than the LP at the degree of its linear part (2D) by more than the charged excess
    assert res.value <= spherical_lp_bound(3, 0.5, 8).value + 0.05


@pytest.mark.parametrize("dim", [3, 4, 5])
def test_never_weaker_than_the_lp(dim):
    # the linear part has the LP's default degree (not only 2D), so even at degree 4 the checked SDP
    # bound is at most the LP bound plus what the check charges for the sampled constraints
    res = sdp_bound(dim, 0.5, 4)
    n = res.value
    charged = res.pair_excess * (n - 1) + res.triple_excess * (n - 1) * (n - 2)
    assert res.status == "optimal" and res.reason is None
    # plus the sampled constraints' margin (1e-6 on each of ~(N-1)^2 units of dual mass) and the solver's gap
    assert n <= spherical_lp_bound(dim, 0.5).value + charged + MARGIN * (n - 1) ** 2 + 1e-5 * n


def test_the_24_cell_fits_under_the_bound():
    assert sdp_bound(4, 0.5, 4).value >= 24


def test_arguments_are_checked():
    with pytest.raises(SpherecodeError, match="'dim' must be at least 3"):
        sdp_bound(2, 0.5)
    with pytest.raises(SpherecodeError, match="'degree' must be at least 1"):
        sdp_bound(3, 0.5, 0)
    with pytest.raises(SpherecodeError, match="'tol'"):
        sdp_lower_bound(13, 3, tol=2.0)


def test_report_row_is_off_by_default_and_explains_itself():
    r = bounds_report(13, 3, lp=False)
    assert r.spherical_sdp is None and "--sdp" in r.spherical_sdp_note  # off by default, and says how to run it
    assert "spherical SDP (lower)" in r.format()
    assert "3 <= d <= 8" in bounds_report(100, 10, lp=False, sdp=True).spherical_sdp_note
    with pytest.raises(SpherecodeError, match="'sdp_degree'"):
        bounds_report(13, 3, sdp=True, sdp_degree=0)


@pytest.mark.parametrize("argv, needle", [
    (["bounds", "-n", "13", "-d", "3", "--sdp-degree", "0"], "'--sdp-degree' must be at least 1"),
    (["bounds", "-n", "13", "-d", "3", "--sdp", "--no-sdp"], "not allowed with argument"),
])
def test_cli_mistakes(cli, argv, needle):
    code, out, err = cli(*argv)
    assert code != 0 and needle in err and "Traceback" not in err


#: The s-searches in d = 4 and 5 cost 1.5 CPU-minutes each: run them with SPHERECODE_SDP_SEARCH=1.
SEARCH = pytest.mark.skipif(not os.environ.get("SPHERECODE_SDP_SEARCH"),
                            reason="minutes of CPU: set SPHERECODE_SDP_SEARCH=1 to run the SDP s-searches")


# The published values: Bachoc & Vallentin (2008) improve the LP bounds 13.158 (d = 3), 25.558 (d = 4) and
# 46.338 (d = 5) below 13, 25 and 46 (12.42 and 24.56 at their degree; Mittelmann & Vallentin 2010, Table 1,
# reach 12.37 and 44.998 in d = 5 at high degree). The checked solves below cost about 6 s (d = 3),
# 14 s (d = 4) and 20 s (d = 5) of CPU, at the default degrees (6, 7, 7).
@pytest.mark.slow
@pytest.mark.parametrize("dim, kissing, below", [(3, 12, 13), (4, 24, 25), (5, 40, 46)])
def test_kissing_bounds_beat_the_lp(dim, kissing, below):
    res = sdp_bound(dim, 0.5)
    assert kissing <= res.value < below
    assert res.triple_excess < 1e-5  # the cutting planes leave (almost) nothing to charge
    assert spherical_lp_bound(dim, 0.5).value > below


@pytest.mark.slow
@pytest.mark.parametrize("n, dim, optimum", [
    (13, 3, 0.5427),  # the Tammes optimum for 13 points: cos 57.1367 deg (Musin & Tarasov 2012); ~40 s
    pytest.param(25, 4, None, marks=SEARCH),  # the kissing number of R^4 is 24 (Musin 2008)
    pytest.param(46, 5, None, marks=SEARCH),  # the kissing number of R^5 is below 46 (Bachoc & Vallentin 2008)
])
def test_cli_sdp_row_excludes_the_kissing_configuration(cli, n, dim, optimum):
    # the LP's value is below 1/2 in all three: it cannot exclude N points at 60 degrees; the SDP row does
    code, out, err = cli("bounds", "-n", str(n), "-d", str(dim), "--sdp", "--no-build")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("spherical SDP (lower)"))
    value = float(row.split()[3])
    assert 0.5 < value < (optimum or 1.0)
    lower = float(next(line for line in out.splitlines() if line.startswith("interval")).split("[")[1].split(",")[0])
    assert lower >= value
