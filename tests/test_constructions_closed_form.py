from __future__ import annotations

import numpy as np
import pytest

from spherecode import SpherecodeError, generate
from spherecode.bounds import rankin_simplex
from spherecode.constructions import CONSTRUCTIONS
from spherecode.constructions.simplex import simplex_vectors


@pytest.mark.parametrize("n", [2, 3, 4, 10, 100, 257])
def test_simplex_is_regular(n):
    v = simplex_vectors(n)
    g = v @ v.T
    np.testing.assert_allclose(np.diag(g), 1.0, atol=1e-12)
    off = g[~np.eye(n, dtype=bool)]
    np.testing.assert_allclose(off, -1.0 / (n - 1), atol=1e-12)


def test_simplex_padding_and_error():
    cb = generate(10, 32, method="simplex")
    assert cb.dim == 32 and np.all(cb.vectors[:, 9:] == 0)
    assert cb.max_cosine == pytest.approx(rankin_simplex(10), abs=1e-12)
    with pytest.raises(SpherecodeError, match="d >= N - 1 = 9"):
        generate(10, 8, method="simplex")


@pytest.mark.parametrize("n, dim", [(5, 3), (6, 3), (100, 50), (100, 64)])
def test_orthoplex_is_orthogonal_or_antipodal(n, dim):
    cb = generate(n, dim, method="orthoplex")
    g = np.round(cb.gram(), 12)
    assert set(np.unique(g)) <= {-1.0, 0.0, 1.0}
    assert cb.max_cosine == 0.0
    # an antipode is never the next label
    assert all(g[i, i + 1] == 0 for i in range(n - 1))


def test_random_is_reproducible():
    a, b = generate(30, 7, method="random", seed=5), generate(30, 7, method="random", seed=5)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, generate(30, 7, method="random", seed=6).vectors)


@pytest.mark.parametrize("n, dim", [(2, 0), (1, 5), (2.5, 3)])
def test_bad_sizes(n, dim):
    with pytest.raises(SpherecodeError, match="Argument"):
        generate(n, dim, method="random")


def test_unknown_method_and_parameter():
    with pytest.raises(SpherecodeError, match="must be one of .*simplex"):
        generate(5, 5, method="nope")
    with pytest.raises(SpherecodeError, match="no parameter 'steps'"):
        generate(5, 5, method="simplex", steps=3)


def test_every_construction_declares_itself():
    for name, c in CONSTRUCTIONS.items():
        assert c.name == name and c.summary and c.requires
