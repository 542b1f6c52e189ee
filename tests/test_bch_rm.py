"""BCH and Reed-Muller codebooks: code parameters against known tables and brute force, errors, CLI."""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pytest

from spherecode import SpherecodeError, generate
from spherecode.bounds.rankin import rankin_bound
from spherecode.codebook import Codebook
from spherecode.constructions import CONSTRUCTIONS, code_cache
from spherecode.constructions.bch import bch_family, bch_generator, even_weight_subcode, extend
from spherecode.constructions.binary import linear_code_distance, rank_gf2
from spherecode.constructions.reed_muller import rm_dimension, rm_generator


@pytest.fixture(scope="module", autouse=True)
def module_cache(tmp_path_factory):
    """One private code cache for this module: each galois code is built once per test run."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SPHERECODE_CACHE", str(tmp_path_factory.mktemp("codes")))
    code_cache.clear_memory()
    yield
    mp.undo()
    code_cache.clear_memory()


def words_of(cb: Codebook) -> np.ndarray:
    """Invert gamma: entries +-1/sqrt(n) back to bits."""
    assert np.allclose(np.abs(cb.vectors), 1 / np.sqrt(cb.dim))
    return (cb.vectors > 0).astype(np.uint8)


def slow_min_distance(words: np.ndarray) -> int:
    """Brute force: count differing bits of every pair (row i against the rows after it)."""
    return min(int(np.sum(words[i] != words[i + 1:], axis=1).min()) for i in range(len(words) - 1))


# --------------------------------------------------------------------- BCH
# Narrow-sense primitive binary BCH codes [n, k, d] (Lin & Costello, Table 6.1 / MacWilliams-Sloane).
KNOWN_BCH = {
    15: [(11, 3), (7, 5), (5, 7), (1, 15)],
    31: [(26, 3), (21, 5), (16, 7), (11, 11), (6, 15), (1, 31)],
    63: [(57, 3), (51, 5), (45, 7), (39, 9), (36, 11), (30, 13), (24, 15), (18, 21), (16, 23),
         (10, 27), (7, 31), (1, 63)],
}


@pytest.mark.parametrize("n", sorted(KNOWN_BCH))
def test_bch_family_matches_tables(n):
    assert sorted(bch_family(n), key=lambda t: -t[1]) == [(d, k) for k, d in KNOWN_BCH[n]]


def test_bch_family_255_has_the_plotkin_code():
    fam = dict(bch_family(255))
    assert fam[127] == 9 and fam[119] == 13 and fam[111] == 21 and fam[3] == 247


@pytest.mark.parametrize("n, delta, k, d", [
    (15, 3, 11, 3), (15, 5, 7, 5), (15, 7, 5, 7),
    pytest.param(31, 11, 11, 11, marks=pytest.mark.slow),
])
def test_bch_generator_true_parameters(n, delta, k, d):
    g = bch_generator(n, delta)
    assert g.shape == (k, n) and rank_gf2(g) == k
    assert linear_code_distance(g) == d
    # the code is cyclic: shifting a codeword stays in the code (rank does not grow)
    assert rank_gf2(np.vstack([g, np.roll(g[:1], 1, axis=1)])) == k
    ew = even_weight_subcode(g)
    assert ew.shape == (k - 1, n) and np.all(ew.sum(axis=1) % 2 == 0)
    assert linear_code_distance(ew) == d + 1
    assert linear_code_distance(extend(g)) == d + 1


@pytest.mark.slow
@pytest.mark.parametrize("n, delta, k, d", [(63, 31, 7, 31), (255, 127, 9, 127)])
def test_bch_generator_known_low_rate(n, delta, k, d):
    g = bch_generator(n, delta)
    assert g.shape == (k, n) and linear_code_distance(g) == d


@pytest.mark.parametrize("n, dim, code, d_min", [
    (100, 15, "BCH(15, delta=5)", 5),
    (16, 15, "BCH(15, delta=7) even-weight subcode", 8),   # the simplex code: regular simplex
    (1000, 15, "BCH(15, delta=3) even-weight subcode", 4),
    (2048, 15, "BCH(15, delta=3)", 3),                      # the whole Hamming code
    (1500, 16, "extended BCH(15, delta=3)", 4),
    (100, 16, "extended BCH(15, delta=5)", 6),
    (20, 16, "extended BCH(15, delta=7)", 8),              # RM(1, 4)
    pytest.param(100, 31, "BCH(31, delta=11) even-weight subcode", 12, marks=pytest.mark.slow),
])
def test_bch_codebook_distance_brute_force(n, dim, code, d_min):
    cb = generate(n, dim, method="bch")
    words = words_of(cb)
    assert len({tuple(w) for w in words}) == n
    assert cb.params["code"] == code and cb.params["d_min"] == d_min == slow_min_distance(words)
    assert cb.params["code_d"] <= d_min and 2 ** cb.params["code_k"] >= n
    assert cb.max_cosine == pytest.approx(1 - 2 * d_min / dim, abs=1e-12)


@pytest.mark.slow
def test_bch_n255_reaches_plotkin():
    cb = generate(100, 255, method="bch")
    assert cb.params["d_min"] == 128 and cb.params["code_k"] == 8
    assert cb.max_cosine == pytest.approx(-1 / 255, abs=1e-12)


def test_bch_greedy_selection_never_worse():
    a = generate(100, 16, method="bch")
    b = generate(100, 16, method="bch", selection="greedy")
    assert b.params["d_min"] >= a.params["d_min"] == slow_min_distance(words_of(a))
    assert b.params["d_min"] == slow_min_distance(words_of(b))


def test_bch_errors():
    with pytest.raises(SpherecodeError, match="nearest valid lengths: 32 and 63"):
        generate(100, 50, method="bch")
    with pytest.raises(SpherecodeError, match="2\\^11 = 2048"):
        generate(3000, 15, method="bch")
    with pytest.raises(SpherecodeError, match="selection"):
        generate(10, 15, method="bch", selection="best")


# ---------------------------------------------------------------------- RM
def slow_rm(r: int, m: int) -> np.ndarray:
    """RM(r, m) by definition: all Boolean polynomials of degree <= r evaluated on {0,1}^m."""
    points = list(itertools.product((0, 1), repeat=m))
    monomials = [s for deg in range(r + 1) for s in itertools.combinations(range(m), deg)]
    words = set()
    for coeffs in itertools.product((0, 1), repeat=len(monomials)):
        words.add(tuple(sum(c * all(p[i] for i in s) for c, s in zip(coeffs, monomials)) % 2 for p in points))
    return np.array(sorted(words), dtype=np.uint8)


@pytest.mark.parametrize("r, m", [(0, 3), (1, 3), (2, 3), (1, 4), (2, 4), (1, 5), (2, 5), (3, 4)])
def test_rm_parameters_brute_force(r, m):
    g = rm_generator(r, m)
    k = sum(comb(m, i) for i in range(r + 1))
    assert g.shape == (k, 2**m) == (rm_dimension(r, m), 2**m) and rank_gf2(g) == k
    assert linear_code_distance(g) == 2 ** (m - r)
    if k <= 11:
        span = slow_rm(r, m)
        assert len(span) == 2**k
        assert int(span[span.any(axis=1)].sum(axis=1).min()) == 2 ** (m - r)


@pytest.mark.parametrize("m", [3, 4, 5, 6, 7])
def test_rm1_is_biorthogonal(m):
    n = 2**m
    cb = generate(2 * n, n, method="rm")
    assert cb.params["r"] == 1 and cb.params["d_min"] == n // 2
    assert cb.max_cosine == pytest.approx(0.0, abs=1e-12) and cb.antipodal_pairs == n
    assert set(np.unique(np.round(cb.gram(), 12))) == {-1.0, 0.0, 1.0}


def test_rm_consecutive_prototypes_can_be_antipodal():
    """The caveat of docs/background.md, section 2.4: message order puts antipodes next to each other."""
    cb = generate(100, 64, method="rm")
    assert cb.params["code"] == "RM(1, 6)" and cb.max_cosine == pytest.approx(0.0, abs=1e-12)
    g = cb.gram()
    consecutive = np.array([g[i, i + 1] for i in range(99)])
    assert np.allclose(consecutive[0::2], -1.0)  # c_{2j} and c_{2j+1} are antipodal
    assert cb.antipodal_pairs == 50


@pytest.mark.parametrize("n, dim", [(100, 32), (1000, 64), (3, 2)])
def test_rm_codebook_distance_brute_force(n, dim):
    cb = generate(n, dim, method="rm")
    words = words_of(cb)
    m = dim.bit_length() - 1
    assert cb.params["d_min"] == slow_min_distance(words) >= 2 ** (m - cb.params["r"])
    assert 2 ** cb.params["code_k"] >= n > 2 ** rm_dimension(cb.params["r"] - 1, m)


def test_rm_explicit_order_and_errors():
    cb = generate(10, 16, method="rm", r=2)
    assert cb.params["r"] == 2 and cb.params["d_min"] >= 4
    with pytest.raises(SpherecodeError, match="Argument 'r' = 0 is too small"):
        generate(10, 16, method="rm", r=0)
    with pytest.raises(SpherecodeError, match="Argument 'r' must be at most 4"):
        generate(10, 16, method="rm", r=5)
    with pytest.raises(SpherecodeError, match="nearest valid lengths: 32 and 64"):
        generate(100, 50, method="rm")
    with pytest.raises(SpherecodeError, match="more than the 2\\^4 words"):
        generate(17, 4, method="rm")


# --------------------------------------------------------------- optimality
@pytest.mark.parametrize("method, cases", [
    ("rm", [(2, 8), (10, 8), (16, 8), (18, 16), (32, 16), (9, 8), (17, 8), (5, 4)]),
    ("bch", [(2, 15), (16, 15), (18, 16), (32, 16), (15, 15), (17, 16), (33, 16), (100, 15)]),
])
def test_optimal_flag_is_honest(method, cases):
    c = CONSTRUCTIONS[method]
    for n, dim in cases:
        cb = generate(n, dim, method=method)
        attains = abs(cb.max_cosine - rankin_bound(n, dim)) < 1e-12
        assert attains == c.optimal(n, dim), (n, dim, cb.max_cosine)
    assert c.optimal(20, 16) and not c.optimal(100, 50)
    assert c.optimal(16, 15) == (method == "bch")


# ---------------------------------------------------------------------- CLI
def test_cli_generate_rm_and_bch(cli, tmp_path):
    out = tmp_path / "rm.npz"
    code, stdout, err = cli("generate", "-n", "100", "-d", "64", "-m", "rm", "-o", str(out))
    assert code == 0, err
    cb = Codebook.load(out)
    assert cb.method == "rm" and cb.params["code"] == "RM(1, 6)" and abs(cb.max_cosine) < 1e-12
    code, stdout, err = cli("generate", "-n", "20", "-d", "16", "-m", "bch", "-o", str(tmp_path / "b.npz"))
    assert code == 0, err


@pytest.mark.parametrize("argv, message", [
    (["-n", "100", "-d", "50", "-m", "bch"], "nearest valid lengths: 32 and 63"),
    (["-n", "100", "-d", "100", "-m", "rm"], "nearest valid lengths: 64 and 128"),
    (["-n", "5000", "-d", "15", "-m", "bch"], "N = 5000 is more than"),
    (["-n", "100", "-d", "64", "-m", "rm", "-p", "r=0"], "Argument 'r'"),
])
def test_cli_errors_are_one_line(cli, tmp_path, argv, message):
    out = tmp_path / "x.npz"
    code, stdout, err = cli("generate", *argv, "-o", str(out))
    assert code != 0 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_cli_methods_lists_binary_codes(cli):
    code, out, err = cli("methods", "-n", "20", "-d", "16")
    assert code == 0
    assert any(line.startswith("rm") and "[optimal]" in line for line in out.splitlines())
    assert any(line.startswith("bch") and "[optimal]" in line for line in out.splitlines())


def _poison_bch(n: int, delta: int, g: np.ndarray) -> None:
    """Write a wrong generator into the disk cache with a *valid* checksum (as an attacker would)."""
    key = f"bch-n{n}-d{delta}"
    np.savez(code_cache.cache_path(key), generator=g, sha256=np.array(code_cache.checksum(key, g)))
    code_cache.clear_memory()


def test_poisoned_bch_cache_is_rebuilt_not_trusted():
    """A well-formed wrong matrix (full rank, distance 1) in the cache is detected by the
    Bose-distance check and rebuilt: the codebook equals the clean one."""
    clean = generate(5, 15, "bch")  # BCH(15, 5, 7)
    wrong = np.hstack([np.eye(5, dtype=np.uint8), np.zeros((5, 10), dtype=np.uint8)])
    _poison_bch(15, 7, wrong)
    with pytest.warns(UserWarning, match="below the Bose distance 7"):
        again = generate(5, 15, "bch")
    np.testing.assert_array_equal(again.vectors, clean.vectors)
    assert again.params == clean.params


def test_poisoned_bch_cache_too_large_to_enumerate_fails_on_the_result(monkeypatch):
    """When the code is too large for the Bose check (enumeration off here), the exact minimum distance
    of the chosen codewords is checked against the BCH bound: one clear error, and the cache is cleared."""
    clean = generate(5, 15, "bch")
    wrong = np.hstack([np.eye(5, dtype=np.uint8), np.zeros((5, 10), dtype=np.uint8)])
    _poison_bch(15, 7, wrong)
    monkeypatch.setattr("spherecode.constructions.bch.linear_code_distance", lambda g, max_k=0: None)
    with pytest.raises(SpherecodeError, match="below the BCH bound"):
        generate(5, 15, "bch")
    assert not code_cache.cache_path("bch-n15-d7").exists()
    monkeypatch.undo()
    np.testing.assert_array_equal(generate(5, 15, "bch").vectors, clean.vectors)  # rebuilt
