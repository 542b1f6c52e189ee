"""The gamma map, GF(2) encoding, distances, codeword selection and the generator cache."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spherecode.constructions import code_cache
from spherecode.constructions.binary import (
    DIRECT_LIMIT,
    all_ones_last,
    codewords,
    contains_all_ones,
    gamma,
    greedy_subset,
    linear_code_distance,
    minimum_distance,
    rank_gf2,
    select_codewords,
)
from spherecode.separation import BLOCK_ROWS, min_hamming_distance


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPHERECODE_CACHE", str(tmp_path / "cache"))
    code_cache.clear_memory()
    yield tmp_path / "cache"
    code_cache.clear_memory()


def slow_span(generator: np.ndarray) -> np.ndarray:
    """Every codeword of G by an obvious loop over all messages (XOR of chosen rows)."""
    k, n = generator.shape
    out = []
    for msg in itertools.product((0, 1), repeat=k):
        word = np.zeros(n, dtype=np.uint8)
        for bit, row in zip(msg, generator):
            if bit:
                word ^= row.astype(np.uint8)
        out.append(word)
    return np.array(out)


def slow_min_distance(words: np.ndarray) -> int:
    """Brute force: count differing bits of every pair (row i against the rows after it)."""
    return min(int(np.sum(words[i] != words[i + 1:], axis=1).min()) for i in range(len(words) - 1))


words_pairs = st.integers(1, 64).flatmap(
    lambda n: st.tuples(st.lists(st.integers(0, 1), min_size=n, max_size=n),
                        st.lists(st.integers(0, 1), min_size=n, max_size=n)))


@given(words_pairs)
@settings(max_examples=200, deadline=None)
def test_gamma_inner_product_is_hamming(pair):
    a, b = (np.array(w) for w in pair)
    n = len(a)
    va, vb = gamma(np.array([a, b]))
    assert np.linalg.norm(va) == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.abs(np.abs(va) - 1 / np.sqrt(n)) < 1e-15)
    assert va @ vb == pytest.approx(1 - 2 * np.sum(a != b) / n, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_codewords_match_slow_span(seed):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2, size=(5, 11)).astype(np.uint8)
    # message i has little-endian bits: codeword i = XOR of rows j with bit j of i set
    for i in range(32):
        expect = np.zeros(11, dtype=np.uint8)
        for j in range(5):
            if i >> j & 1:
                expect ^= g[j]
        np.testing.assert_array_equal(codewords(g, np.array([i]))[0], expect)
    assert {tuple(w) for w in codewords(g, 32)} == {tuple(w) for w in slow_span(g)}


@pytest.mark.parametrize("seed", range(4))
def test_linear_code_distance_and_rank_brute_force(seed):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2, size=(6, 14)).astype(np.uint8)
    span = slow_span(g)
    nonzero = span[span.any(axis=1)]
    rank = int(np.log2(len({tuple(w) for w in span})))
    assert rank_gf2(g) == rank
    if rank == 6:
        assert linear_code_distance(g) == int(nonzero.sum(axis=1).min())
    ones = tuple([1] * 14)
    assert contains_all_ones(g) == (ones in {tuple(w) for w in span})
    assert linear_code_distance(g, max_k=5) is None


def test_minimum_distance_direct_and_blocked_agree():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2, size=(2500, 24)).astype(np.uint8)
    words = np.unique(words, axis=0)
    assert len(words) ** 2 * 24 > DIRECT_LIMIT and len(words) > BLOCK_ROWS  # blocked path, 2 blocks
    assert minimum_distance(words) == min_hamming_distance(words)
    small = words[:40]
    assert minimum_distance(small) == slow_min_distance(small)


def test_greedy_subset_keeps_distance():
    pool = slow_span(np.eye(8, dtype=np.uint8))  # all 256 words of length 8
    picked = greedy_subset(pool, 16, 4)  # the [8, 4, 4] extended Hamming code is the lexicode
    assert picked is not None and slow_min_distance(pool[picked]) >= 4
    assert greedy_subset(pool, 17, 4) is None  # A(8, 4) = 16


def test_select_codewords_reports_true_distance():
    g = np.array([[1] * 7, [0, 0, 0, 1, 1, 1, 1], [0, 1, 1, 0, 0, 1, 1], [1, 0, 1, 0, 1, 0, 1]], dtype=np.uint8)
    for count in (2, 5, 9, 16):
        words, info = select_codewords(g, count)
        assert len({tuple(w) for w in words}) == count
        assert info["d_min"] == slow_min_distance(words)
    with pytest.raises(ValueError, match="selection"):
        select_codewords(g, 4, selection="best")


# ------------------------------------------------------------------ the cache
def _counting_build(value: np.ndarray):
    calls = []

    def build():
        calls.append(1)
        return value

    return build, calls


def test_cache_round_trip(private_cache):
    g = np.array([[1, 0, 1], [0, 1, 1]], dtype=np.uint8)
    build, calls = _counting_build(g)
    first = code_cache.cached_generator("t", build, (2, 3))
    np.testing.assert_array_equal(first, g)
    assert not first.flags.writeable
    assert code_cache.cached_generator("t", build, (2, 3)) is first  # memory
    code_cache.clear_memory()
    np.testing.assert_array_equal(code_cache.cached_generator("t", build, (2, 3)), g)  # disk
    assert len(calls) == 1
    path = code_cache.cache_path("t")
    assert path.parent == private_cache and path.exists()
    assert [p.name for p in private_cache.iterdir()] == [path.name]  # no temporary file left


def _poison(path, g, key, *, fix_checksum):
    """Store ``g`` under ``key``'s cache file, with a matching checksum or a stale one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = code_cache.checksum(key, g) if fix_checksum else "0" * 64
    np.savez(path, generator=g, sha256=np.array(digest))


@pytest.mark.parametrize("content", [b"", b"garbage, not numpy", "wrong shape", "old .npy", "bit flipped",
                                     "zeros, checksum fixed", "dependent rows, checksum fixed"])
def test_corrupt_cache_file_is_rebuilt(private_cache, content):
    g = np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=np.uint8)
    path = code_cache.cache_path("c")
    path.parent.mkdir(parents=True)
    if content == "wrong shape":
        _poison(path, np.ones((3, 3), dtype=np.uint8), "c", fix_checksum=True)
    elif content == "old .npy":
        np.save(path.with_suffix(".npy"), g)
        path.with_suffix(".npy").rename(path)
    elif content == "bit flipped":  # written with its checksum, then one bit changed on disk
        _poison(path, g, "c", fix_checksum=True)
        with np.load(path) as data:
            stored = str(data["sha256"])
        flipped = g.copy()
        flipped[0, 2] ^= 1
        np.savez(path, generator=flipped, sha256=np.array(stored))
    elif content == "zeros, checksum fixed":
        _poison(path, np.zeros_like(g), "c", fix_checksum=True)
    elif content == "dependent rows, checksum fixed":
        _poison(path, np.array([[1, 1, 0, 0], [1, 1, 0, 0]], dtype=np.uint8), "c", fix_checksum=True)
    else:
        path.write_bytes(content)
    build, calls = _counting_build(g)
    with pytest.warns(UserWarning, match="ignoring the code cache file"):
        np.testing.assert_array_equal(code_cache.cached_generator("c", build, (2, 4)), g)
    assert len(calls) == 1
    with np.load(path) as data:  # rewritten, with the right checksum
        np.testing.assert_array_equal(data["generator"], g)
        assert str(data["sha256"]) == code_cache.checksum("c", g)


def test_cache_check_rejects_a_valid_looking_wrong_code(private_cache):
    """A full-rank matrix with the right checksum but too small a distance fails the caller's check."""
    good = np.array([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=np.uint8)  # distance 3
    bad = np.array([[1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=np.uint8)  # distance 2
    _poison(code_cache.cache_path("w"), bad, "w", fix_checksum=True)
    check = lambda m: None if linear_code_distance(m) >= 3 else "distance below 3"  # noqa: E731
    build, calls = _counting_build(good)
    with pytest.warns(UserWarning, match="distance below 3"):
        np.testing.assert_array_equal(code_cache.cached_generator("w", build, (2, 6), check=check), good)
    assert len(calls) == 1


def test_unwritable_cache_only_warns(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SPHERECODE_CACHE", str(blocker / "sub"))
    build, calls = _counting_build(np.eye(2, dtype=np.uint8))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = code_cache.cached_generator("u", build, (2, 2))
    np.testing.assert_array_equal(out, np.eye(2))
    assert any("cannot write" in str(w.message) for w in caught)


@pytest.mark.parametrize("seed", range(6))
def test_all_ones_last_keeps_span_and_minimises_antipodes(seed):
    rng = np.random.default_rng(seed)
    g = np.zeros((5, 10), dtype=np.uint8)
    while rank_gf2(g) < 5:
        g = rng.integers(0, 2, size=(5, 10)).astype(np.uint8)
        g[rng.integers(5)] = 1  # put the all-ones word in the span
        g = np.remainder(np.tril(np.ones((5, 5), dtype=int)) @ g, 2).astype(np.uint8)  # and hide it
    h = all_ones_last(g)
    assert np.all(h[-1] == 1)
    assert {tuple(w) for w in slow_span(g)} == {tuple(w) for w in slow_span(h)}
    words = codewords(h, 32)
    for count in (8, 16, 20, 32):
        w = words[:count]
        complements = sum(tuple(1 - a) in {tuple(b) for b in w} for a in w) // 2
        assert complements == max(0, count - 16)
