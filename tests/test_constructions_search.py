"""The optimising constructions: lse (log-sum-exp descent) and mettes (Mettes et al. 2019)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spherecode.constructions import generate
from spherecode.constructions.lse import _DenseSearch, lse_vectors
from spherecode.constructions.mettes import mettes_loss, mettes_vectors
from spherecode.constructions.random import random_vectors
from spherecode.errors import SpherecodeError
from spherecode.separation import max_cosine


def slow_max_cosine(v: np.ndarray) -> float:
    return max(float(v[i] @ v[j]) for i in range(len(v)) for j in range(len(v)) if i != j)


def test_lse_reaches_the_simplex_bound_at_d_equal_n_minus_1():
    n = 20
    v = lse_vectors(n, n - 1, seed=0)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    assert abs(slow_max_cosine(v) - (-1.0 / (n - 1))) < 1e-4


def test_lse_reaches_the_orthoplex_bound_at_n_equal_2d():
    # 12 points in R^6 with s_max <= 0 must form the cross-polytope: a hard, exact target.
    v = lse_vectors(12, 6, seed=1)
    assert max_cosine(v) < 1e-4


def test_lse_beats_random_and_mettes_on_a_small_case():
    n, dim = 30, 5
    ours = max_cosine(lse_vectors(n, dim, seed=0, steps=300))
    rand = max_cosine(random_vectors(n, dim, seed=0))
    theirs = max_cosine(mettes_vectors(n, dim, seed=0, steps=300))
    assert ours < theirs < rand
    assert ours < theirs - 0.02


def test_lse_returns_the_best_iterate_by_true_s_max():
    history: list[tuple[int, float, float]] = []
    v = lse_vectors(40, 6, seed=3, steps=300, restarts=3, history=history)
    recorded = [h[2] for h in history]
    assert recorded == sorted(recorded, reverse=True) and len(recorded) > 3
    # the returned vectors are exactly the best recorded iterate (float32 rounding aside)
    assert abs(slow_max_cosine(v) - recorded[-1]) < 1e-5


def test_dense_search_tracks_minimum_over_restarts_and_calls():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 10, 4, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=-1, keepdim=True)
    search = _DenseSearch(x)
    search.gradient(x, 10.0)
    values = [slow_max_cosine(x[r].numpy()) for r in range(3)]
    assert search.best_value == pytest.approx(min(values))
    assert slow_max_cosine(search.best_x.numpy()) == pytest.approx(min(values))
    worse = x.clone()
    worse[:, 1] = worse[:, 0]  # a duplicate point: s_max = 1 in every restart
    search.gradient(worse, 10.0)
    assert not search.improved and search.best_value == pytest.approx(min(values))


def test_lse_gradient_matches_autograd():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 7, 3, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=-1, keepdim=True)
    t = 7.0
    g = _DenseSearch(x).gradient(x.clone(), t)
    y = x.clone().requires_grad_(True)
    gram = y @ y.transpose(1, 2)
    mask = ~torch.eye(7, dtype=torch.bool)
    f = torch.logsumexp(t * gram[:, mask], dim=-1) / t  # slow reference: F_t over i != j
    f.sum().backward()
    assert torch.allclose(g, y.grad, atol=1e-12)


def test_lse_is_reproducible_from_the_seed():
    a = lse_vectors(25, 4, seed=7, steps=60)
    b = lse_vectors(25, 4, seed=7, steps=60)
    c = lse_vectors(25, 4, seed=8, steps=60)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_polishing_an_init_never_makes_it_worse():
    start = random_vectors(30, 5, seed=0)
    polished = lse_vectors(30, 5, init=start, steps=100)
    assert max_cosine(polished) <= max_cosine(start)
    good = lse_vectors(30, 5, seed=2, steps=200)
    again = lse_vectors(30, 5, init=good, steps=5, lr_start=1.0, lr_end=1.0)  # wild steps cannot hurt
    assert max_cosine(again) <= max_cosine(good)


def test_lse_polish_from_a_codebook_via_generate(tmp_path):
    cb = generate(30, 5, "random", seed=0)
    path = tmp_path / "start.npz"
    cb.save(path)
    out = generate(30, 5, "lse", init=str(path), steps=100)
    assert out.max_cosine < cb.max_cosine
    assert out.params["init"] == str(path)


def test_neighbour_search_matches_dense_quality():
    n, dim = 120, 6
    dense = max_cosine(lse_vectors(n, dim, seed=0, steps=200, restarts=1))
    sparse = max_cosine(lse_vectors(n, dim, seed=0, steps=200, restarts=2, dense_limit=100, neighbours=12,
                                    refresh=10))
    rand = max_cosine(random_vectors(n, dim, seed=0))
    assert sparse < rand - 0.1
    assert sparse < dense + 0.03


def test_lse_float64_and_target_stop():
    history: list[tuple[int, float, float]] = []
    v = lse_vectors(20, 10, dtype="float64", target=0.2, history=history)
    assert max_cosine(v) <= 0.2
    assert history[-1][0] < 1000  # stopped early


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"device": "cuda:99" if torch.cuda.is_available() else "cuda"}, "device"),
        ({"device": "tpu"}, "device"),
        ({"dtype": "float16"}, "dtype"),
        ({"steps": -1}, "steps"),
        ({"t_end": 0}, "t_end"),
        ({"restarts": 0}, "restarts"),
        ({"init": np.ones((3, 3))}, "init"),
    ],
)
def test_lse_bad_arguments_name_the_argument(kwargs, word):
    with pytest.raises(SpherecodeError, match=word):
        lse_vectors(5, 4, **kwargs)


def test_mettes_bad_arguments():
    with pytest.raises(SpherecodeError, match="dtype"):
        mettes_vectors(5, 4, dtype="half")
    with pytest.raises(SpherecodeError, match="lr"):
        mettes_vectors(5, 4, lr=-1)


def test_mettes_loss_matches_a_slow_loop():
    v = random_vectors(9, 4, seed=2)
    ref = np.mean([max(v[i] @ v[j] for j in range(9) if j != i) for i in range(9)])
    assert float(mettes_loss(torch.from_numpy(v))) == pytest.approx(ref, abs=1e-12)


def _public_mettes_loop(start: np.ndarray, steps: int, rebuild: bool) -> np.ndarray:
    """The loop of Mettes et al.'s prototypes.py, with torch.optim.SGD (lr 0.1, momentum 0.9)."""
    import torch.nn as nn
    import torch.nn.functional as F

    protos = nn.Parameter(F.normalize(torch.from_numpy(start), p=2, dim=1))
    optimizer = torch.optim.SGD([protos], lr=0.1, momentum=0.9)
    for _ in range(steps):
        product = torch.matmul(protos, protos.t()) + 1
        product -= 2.0 * torch.diag(torch.diag(product))
        loss = product.max(dim=1)[0].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if rebuild:  # what the public code does
            protos = nn.Parameter(F.normalize(protos, p=2, dim=1))
            optimizer = torch.optim.SGD([protos], lr=0.1, momentum=0.9)
        else:
            with torch.no_grad():
                protos.data = F.normalize(protos.data, p=2, dim=1)
    return protos.detach().numpy()


@pytest.mark.parametrize("reset", [True, False])
def test_mettes_matches_the_public_code_loop(reset):
    n, dim = 8, 3
    start = mettes_vectors(n, dim, seed=4, steps=0, dtype="float64")
    ours = mettes_vectors(n, dim, seed=4, steps=6, dtype="float64", reset_momentum=reset)
    assert np.allclose(ours, _public_mettes_loop(start, 6, rebuild=reset), atol=1e-12)


def test_mettes_improves_on_its_start_and_lse_beats_it():
    n, dim = 40, 6
    start = mettes_vectors(n, dim, seed=0, steps=0)
    end = mettes_vectors(n, dim, seed=0, steps=100)
    assert float(mettes_loss(torch.from_numpy(end))) < float(mettes_loss(torch.from_numpy(start)))
    lse = lse_vectors(n, dim, seed=0, steps=100)
    assert max_cosine(lse) < max_cosine(end)  # on the quantity lse minimises: the worst pair


def test_generate_records_lse_parameters():
    cb = generate(10, 9, "lse", seed=3, steps=50)
    assert cb.method == "lse" and cb.seed == 3 and cb.params["steps"] == 50
    assert cb.params["dtype"] == "float32"


def test_cli_lse_bad_device(cli, tmp_path):
    code, out, err = cli("generate", "-n", "5", "-d", "4", "-m", "lse", "-p", "device=tpu", "-o",
                         str(tmp_path / "x.npz"))
    assert code != 0 and "device" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_cli_methods_lists_lse_and_mettes(cli):
    code, out, _ = cli("methods")
    assert code == 0 and "lse" in out and "mettes" in out and "t_end" in out


@pytest.mark.parametrize("n, dim", [(5, 4), (5, 9), (8, 4), (12, 6), (7, 5)])
def test_auto_is_exactly_optimal_where_rankin_is_attained(n, dim):
    cb = generate(n, dim, "auto")
    bound = -1.0 / (n - 1) if dim >= n - 1 else 0.0
    assert slow_max_cosine(cb.vectors) == pytest.approx(bound, abs=1e-12)
    assert cb.params["chosen"] in ("simplex", "orthoplex")


def test_auto_searches_elsewhere_and_polishes_registered_inits(monkeypatch):
    from spherecode.constructions import CONSTRUCTIONS, Construction, auto

    n, dim = 23, 4  # no known code at N = 23 in R^4; the 24-cell subset only competes when polishing
    plain = generate(n, dim, "auto", steps=150, polish=False, rounds=1)
    assert plain.params["chosen"] == "lse"
    assert plain.max_cosine == pytest.approx(max_cosine(lse_vectors(n, dim, steps=150)))
    # A registered init construction is polished too, and kept only if it ends up better.
    from spherecode.constructions.random import random_vectors as rv

    fake = Construction(name="fakeinit", build=lambda n, dim, *, seed, progress: rv(n, dim, 99), summary="test")
    monkeypatch.setitem(CONSTRUCTIONS, "fakeinit", fake)
    monkeypatch.setattr(auto, "INIT_METHODS", ("fakeinit",))
    both = generate(n, dim, "auto", steps=150, polish=False, rounds=1)
    polished = max_cosine(lse_vectors(n, dim, steps=150, init=rv(n, dim, 99)))
    assert both.max_cosine == pytest.approx(min(plain.max_cosine, polished))
    assert both.params["chosen"] == ("lse from fakeinit" if polished < plain.max_cosine else "lse")


def test_auto_keeps_a_binary_code_that_beats_the_search():
    n, dim = 40, 16  # N > 2d: no closed form; the extended BCH(15) code gives s_max = 1 - 2*6/16 = 0.25
    code = generate(n, dim, "bch")
    # one lse step: still about random, far worse than the code
    short = generate(n, dim, "auto", steps=1, polish=False, rounds=1)
    assert short.params["chosen"] == "bch" and short.params["code"] == code.params["code"]
    assert np.array_equal(short.vectors, code.vectors) and short.max_cosine == pytest.approx(0.25)
    polished = generate(n, dim, "auto", steps=1, rounds=1, polish_seconds=2.0)  # the winner is polished
    assert polished.max_cosine <= 0.25 and "certificate" in polished.params
    full = generate(n, dim, "auto", effort="fast")  # even a fast search beats the code here
    assert full.params["chosen"] != "bch" and full.max_cosine < 0.25
