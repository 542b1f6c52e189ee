from __future__ import annotations

import math

import numpy as np
import pytest

from bounds_reference import cell24, cell600, e8_roots, icosahedron, worst_cosine
from spherecode.bounds import known_code, known_codes, levenshtein_lower_bound, rankin_bound
from spherecode.bounds.known import best_known_upper
from spherecode.constructions import generate
from spherecode.errors import SpherecodeError


@pytest.mark.parametrize(
    "n, dim, vectors",
    [(12, 3, icosahedron), (11, 3, lambda: icosahedron()[:11]), (24, 4, cell24), (240, 8, e8_roots), (120, 4, cell600)],
)
def test_table_values_are_attained_by_explicit_configurations(n, dim, vectors):
    v = vectors()
    assert v.shape == (n, dim)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0)
    assert worst_cosine(v) == pytest.approx(known_code(n, dim).max_cosine, abs=1e-12)


def test_small_exact_entries_match_the_rankin_constructions():
    for n in (4, 5, 6):
        code = known_code(n, 3)
        assert code.exact
        method = "simplex" if n <= 4 else "orthoplex"
        assert generate(n, 3, method).max_cosine == pytest.approx(code.max_cosine, abs=1e-12)
        assert rankin_bound(n, 3) == pytest.approx(code.max_cosine)


def test_no_entry_beats_a_proven_lower_bound():
    for c in known_codes():
        if c.dim >= 2:
            assert c.max_cosine >= levenshtein_lower_bound(c.n, c.dim) - 1e-9, c
        assert c.max_cosine >= rankin_bound(c.n, c.dim) - 1e-12, c


def test_levenshtein_proofs_are_reproduced():
    for c in known_codes():
        if c.proof and ("Levenshtein" in c.proof):
            assert levenshtein_lower_bound(c.n, c.dim) == pytest.approx(c.max_cosine, abs=1e-9), c


def test_science_reference_values_and_marks():
    tammes13 = known_code(13, 3)
    assert tammes13.exact and math.degrees(math.acos(tammes13.max_cosine)) == pytest.approx(57.1367, abs=1e-4)
    assert known_code(12, 3).max_cosine == pytest.approx(1 / math.sqrt(5))
    assert known_code(120, 4).max_cosine == pytest.approx(math.cos(math.radians(36)))
    assert known_code(196560, 24).exact and known_code(196560, 24).max_cosine == 0.5
    assert not known_code(100, 3).exact


def test_best_known_upper_uses_subsets_and_embeddings():
    assert best_known_upper(200, 8).n == 240
    assert best_known_upper(240, 9).max_cosine == 0.5
    assert best_known_upper(241, 8) is not None and best_known_upper(241, 8).dim < 8 or best_known_upper(241, 8) is None
    assert best_known_upper(10**6, 24) is None
    assert best_known_upper(2, 2) is None  # nothing in d <= 2


def test_bad_input():
    with pytest.raises(SpherecodeError, match="'n' must be at least 2"):
        known_code(1, 3)
