"""The library of best known codes: each configuration built from its definition has the textbook
inner products, and ``auto`` / ``known`` return it at its own (N, d)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spherecode import generate
from spherecode.bounds import known_code
from spherecode.constructions import library as lib
from spherecode.separation import max_cosine

PHI = (1 + 5**0.5) / 2


def cosines(v: np.ndarray) -> set[float]:
    g = v @ v.T
    return set(np.round(g[~np.eye(len(v), dtype=bool)], 9).tolist())


@pytest.mark.parametrize("build, n, dim, expected", [
    (lib.e8, 240, 8, {-1.0, -0.5, 0.0, 0.5}),
    (lib.e7, 126, 7, {-1.0, -0.5, 0.0, 0.5}),
    (lib.e6, 72, 6, {-1.0, -0.5, 0.0, 0.5}),
    (lib.cell24, 24, 4, {-1.0, -0.5, 0.0, 0.5}),
    (lambda: lib.d_roots(5), 40, 5, {-1.0, -0.5, 0.0, 0.5}),
    (lib.gosset, 56, 7, {-1.0, -1 / 3, 1 / 3}),
    (lib.schlafli, 27, 6, {-0.5, 0.25}),
    (lib.icosahedron, 12, 3, {-1.0, -1 / 5**0.5, 1 / 5**0.5}),
    (lib.cell600, 120, 4, {-1.0, -PHI / 2, -0.5, -1 / (2 * PHI), 0.0, 1 / (2 * PHI), 0.5, PHI / 2}),
])
def test_textbook_inner_products(build, n, dim, expected):
    v = build()
    assert v.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-14)
    assert cosines(v) == {round(c, 9) for c in expected}
    assert len(np.unique(np.round(v, 9), axis=0)) == n  # distinct points


def test_golay_code_and_leech_minimal_vectors():
    words = lib.golay_code()
    assert np.bincount(words.sum(axis=1)).tolist() == [1] + [0] * 7 + [759] + [0] * 3 + [2576] + [0] * 3 + [759] \
        + [0] * 7 + [1]
    s = lib.leech_minimal_scaled()
    assert s.shape == (196560, 24) and len(np.unique(np.ascontiguousarray(s).view(np.dtype((np.void, 24))))) == 196560
    assert set((s.astype(np.int64) ** 2).sum(axis=1).tolist()) == {32}
    # every vector of the Leech lattice (scaled by sqrt 8): coordinates all even or all odd, sum = 4 x (mod 8)
    parity = s % 2
    assert np.all((parity == 0).all(axis=1) | (parity == 1).all(axis=1))
    rows = np.random.default_rng(0).choice(len(s), 200, replace=False)
    g = s[rows].astype(np.int64) @ s.T.astype(np.int64)
    g[np.arange(len(rows)), rows] = 0
    assert set(np.unique(g).tolist()) <= {-32, -16, -8, 0, 8, 16}  # cosines 0, +-1/4, +-1/2, -1
    assert g.max() == 16


@pytest.mark.parametrize("entry", [e for e in lib.library() if e.key != "leech"], ids=lambda e: e.key)
def test_each_configuration_has_its_value_and_matches_the_bounds_table(entry):
    v = entry.build()
    assert v.shape == (entry.n, entry.dim)
    s = max_cosine(v)
    tol = 2e-9 if entry.key.startswith("tammes") and entry.n in (7, 8, 9, 10, 13, 14) else 1e-12
    assert s == pytest.approx(entry.max_cosine, abs=tol)  # literature degrees have 7 decimals
    table = known_code(entry.n, entry.dim)
    if table is not None:  # the independent table (bounds/known_codes.json) agrees
        assert s == pytest.approx(table.max_cosine, abs=1e-9)
        assert not entry.proven or table.exact


@pytest.mark.parametrize("n, degrees", [(13, 57.1367031), (14, 55.6705700), (10, 66.1468220), (7, 77.8695421)])
def test_tammes_values_from_the_literature(n, degrees):
    assert math.degrees(math.acos(max_cosine(lib.configurations_at(n, 3)[0].build()))) == pytest.approx(degrees, abs=1e-7)


@pytest.mark.parametrize("n, dim", [(n, 3) for n in range(4, 15)] + [(27, 6), (56, 7), (120, 4), (240, 8), (24, 4)])
def test_auto_reaches_the_known_code_at_its_own_size(n, dim):
    best = lib.configurations_at(n, dim)[0].max_cosine if lib.configurations_at(n, dim) else None
    cb = generate(n, dim, "auto", rounds=1, polish_seconds=2.0)
    assert cb.max_cosine <= best + 2e-9


def test_known_subset_is_polished_and_names_its_source():
    cb = generate(200, 8, "known", polish_seconds=2.0)
    assert cb.max_cosine <= 0.5 + 1e-12
    assert cb.params["code"] == "e8" and "Conway" in cb.params["source"] and cb.params["code_n"] == 240
    exact = generate(56, 7, "known")
    assert exact.params["code"] == "gosset" and exact.max_cosine == pytest.approx(1 / 3, abs=1e-12)
    poly = generate(7, 2, "known")
    assert poly.max_cosine == pytest.approx(math.cos(2 * math.pi / 7), abs=1e-12)


def test_known_errors_are_one_line(cli, tmp_path):
    code, _, err = cli("generate", "-n", "30", "-d", "5", "-m", "known", "-p", "code=e8", "-o", str(tmp_path / "a.npz"))
    assert code != 0 and "'code'" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("generate", "-n", "500", "-d", "8", "-m", "known", "-o", str(tmp_path / "a.npz"))
    assert code != 0 and "no configuration" in err and len(err.strip().splitlines()) == 1


def test_analyze_names_the_source(cli, tmp_path):
    out = tmp_path / "g.npz"
    code, stdout, _ = cli("generate", "-n", "56", "-d", "7", "-o", str(out))
    assert code == 0 and "Gosset" in stdout and "Conway & Sloane" in stdout
