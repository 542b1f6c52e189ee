"""The minimax polish: never worse, reaches known optima, and its KKT certificate checks out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spherecode.constructions import library as lib
from spherecode.constructions.lse import lse_vectors
from spherecode.constructions.polish import certificate, kkt_residual, polish
from spherecode.errors import SpherecodeError
from spherecode.separation import max_cosine


def slow_residual(v, pairs, lam):
    """Stationarity of the minimax on the spheres, written out pair by pair."""
    lam = np.asarray(lam) / np.sum(lam)
    worst = 0.0
    for i in set(np.asarray(pairs).ravel().tolist()):
        force = np.zeros(v.shape[1])
        for (a, b), w in zip(pairs, lam):
            if a == i:
                force += w * (v[b] - (v[b] @ v[i]) * v[i])
            elif b == i:
                force += w * (v[a] - (v[a] @ v[i]) * v[i])
        worst = max(worst, float(np.linalg.norm(force)))
    return worst


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 9), dim=st.integers(2, 4), seed=st.integers(0, 10_000))
def test_polish_never_increases_s_max(n, dim, seed):
    v = np.random.default_rng(seed).standard_normal((n, dim))
    out, cert = polish(v, max_iter=15)
    before = max_cosine(v / np.linalg.norm(v, axis=1, keepdims=True))
    assert max_cosine(out) <= before
    assert cert.s_max == pytest.approx(max_cosine(out), abs=1e-15) and cert.s_max_before == pytest.approx(before)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-14)


@pytest.mark.parametrize("build, value", [(lib.icosahedron, 1 / 5**0.5), (lib.gosset, 1 / 3), (lib.cell24, 0.5)])
def test_certificate_at_a_known_optimum(build, value):
    v = build()
    out, cert = polish(v)
    assert cert.s_max == pytest.approx(value, abs=1e-14) and max_cosine(out) <= max_cosine(v)
    lam = cert.multipliers
    assert np.all(lam >= 0) and lam.sum() == pytest.approx(1.0)
    g = out @ out.T
    assert all(abs(g[a, b] - cert.s_max) <= 1e-9 for a, b in cert.pairs)  # the pairs are active
    assert cert.residual < 1e-9
    assert slow_residual(out, cert.pairs, lam) == pytest.approx(cert.residual, abs=1e-12)


def test_certificate_fails_away_from_an_optimum():
    v = np.random.default_rng(1).standard_normal((12, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    pairs, lam, residual = certificate(v)
    assert len(pairs) == 1 and residual > 0.1  # one worst pair can always be pulled apart
    assert kkt_residual(v, pairs, lam) == pytest.approx(slow_residual(v, pairs, lam))


@pytest.mark.parametrize("n, degrees", [(8, 74.8584922), (12, 63.4349488), (14, 55.6705700)])
def test_polish_reaches_the_tammes_optimum_from_lse(n, degrees):
    start = lse_vectors(n, 3, seed=0, steps=300)
    out, cert = polish(start)
    assert math.degrees(math.acos(cert.s_max)) == pytest.approx(degrees, abs=1e-7)
    assert cert.residual < 1e-8


def test_polish_rejects_bad_input():
    with pytest.raises(SpherecodeError, match="'vectors'"):
        polish(np.zeros((4, 3)))
    with pytest.raises(SpherecodeError, match="'vectors'"):
        polish(np.array([[1.0, np.nan]]))


@pytest.mark.parametrize("method", ["lse", "mettes"])
def test_search_constructions_end_with_the_polish_when_asked(method):
    from spherecode import generate

    plain = generate(20, 3, method, steps=60)
    polished = generate(20, 3, method, steps=60, polish=True)
    cert = polished.params["certificate"]
    assert polished.max_cosine <= plain.max_cosine and cert["s_max"] == pytest.approx(polished.max_cosine)
    assert cert["s_max_before"] == pytest.approx(plain.max_cosine) and "certificate" not in plain.params
