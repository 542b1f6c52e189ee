"""Relabelling: assignment, semantic QAP, learned permutation, hierarchies, metrics."""

from __future__ import annotations

import itertools
import json
import pickle

import networkx as nx
import numpy as np
import pytest
from scipy.linalg import expm, hadamard

from spherecode import Codebook, SpherecodeError
from spherecode.relabel import (
    STRATEGIES,
    assignment_permutation,
    cifar100_hierarchy,
    hierarchy_similarity,
    labelling_report,
    load_hierarchy,
    load_similarity,
    qap_objective,
    random_hierarchy,
    relabel,
    semantic_permutation,
    sibling_mask,
    spearman_similarity_cosine,
)
from spherecode.relabel.hierarchy import lca_depth
from spherecode.relabel.semantic import swap_gains, swap_local_search

from pathlib import Path

#: The genuine CIFAR-100 meta file in a shared/ folder beside (or above) the checkout.
META = next((p / "shared" / "data" / "cifar-100-meta" for p in Path(__file__).resolve().parents
             if (p / "shared" / "data" / "cifar-100-meta").exists()), Path("shared/data/cifar-100-meta"))

#: The official fine -> coarse map of CIFAR-100 (coarse label of each fine label), as read from the
#: dataset's train file and published e.g. in ryanchankh/cifar100coarse (sparse2coarse.py).
CIFAR100_COARSE_OF_FINE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def rm1_like(n: int = 100, m: int = 6) -> Codebook:
    """The gamma image of RM(1, m) (Hadamard rows and their negatives), first n words in label
    order: word i and word i + 2^m are antipodal."""
    h = hadamard(2**m).astype(float)
    return Codebook(np.vstack([h, -h])[:n] / np.sqrt(2**m), method="rm1-like")


def rm1_interleaved(n: int = 100, m: int = 6) -> Codebook:
    """Same words, consecutive pairs antipodal (h_0, -h_0, h_1, -h_1, ...)."""
    h = hadamard(2**m).astype(float)
    rows = np.empty((2 ** (m + 1), 2**m))
    rows[0::2], rows[1::2] = h, -h
    return Codebook(rows[:n] / np.sqrt(2**m), method="rm1-interleaved")


# ----------------------------------------------------------------------------- assignment
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assignment_recovers_planted_permutation(seed):
    rng = np.random.default_rng(seed)
    n, d = 60, 32
    cb = Codebook(unit(rng.normal(size=(n, d))))
    planted = rng.permutation(n)
    means = 3.0 * cb.vectors[planted] + 0.05 * rng.normal(size=(n, d))
    assert np.array_equal(assignment_permutation(means, cb), planted)
    # embeddings of a network: a rotated (small rotation exp(K), K skew), rescaled, noisy copy
    k = rng.normal(size=(d, d))
    rotation = expm(0.1 * (k - k.T))
    assert np.allclose(rotation @ rotation.T, np.eye(d))
    means2 = (cb.vectors[planted] @ rotation.T) * rng.uniform(0.5, 2.0, size=(n, 1)) + 0.02 * rng.normal(size=(n, d))
    assert np.array_equal(assignment_permutation(means2, cb, normalize=True), planted)


def test_assignment_is_optimal_by_brute_force():
    rng = np.random.default_rng(3)
    c = unit(rng.normal(size=(6, 4)))
    m = rng.normal(size=(6, 4))
    best = max(itertools.permutations(range(6)), key=lambda p: np.sum(m * c[list(p)]))
    assert np.array_equal(assignment_permutation(m, c), best)


def test_assignment_size_mismatch():
    with pytest.raises(SpherecodeError, match="means"):
        assignment_permutation(np.zeros((5, 3)), np.eye(4))


# ------------------------------------------------------------------------------ semantic
def test_swap_gains_match_brute_force():
    rng = np.random.default_rng(0)
    n = 9
    s = rng.random((n, n))
    s = (s + s.T) / 2
    np.fill_diagonal(s, 0)
    g = (lambda c: c @ c.T)(unit(rng.normal(size=(n, 4))))
    perm = rng.permutation(n)
    p = g[np.ix_(perm, perm)]
    gains = swap_gains(s, p, s @ p)
    base = qap_objective(s, g, perm)
    for a, b in itertools.combinations(range(n), 2):
        q = perm.copy()
        q[[a, b]] = q[[b, a]]
        assert gains[a, b] == pytest.approx(qap_objective(s, g, q) - base, abs=1e-10)


def test_qap_objective_vs_loop():
    rng = np.random.default_rng(1)
    n = 7
    s = rng.random((n, n))
    g = rng.random((n, n))
    perm = rng.permutation(n)
    ref = sum(s[y, z] * g[perm[y], perm[z]] for y in range(n) for z in range(n) if y != z)
    assert qap_objective(s, g, perm) == pytest.approx(ref)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_local_search_never_worse_and_ends_at_local_optimum(seed):
    rng = np.random.default_rng(seed)
    n = 40
    tree = random_hierarchy(n, 3, seed=seed)
    s = hierarchy_similarity(tree)
    np.fill_diagonal(s, 0)
    g = (lambda c: c @ c.T)(unit(rng.normal(size=(n, 8))))
    start = rng.permutation(n)
    before = qap_objective(s, g, start)
    objs = [before]
    perm = start
    for _ in range(30):  # a few exchanges at a time: the objective never drops
        perm, swaps = swap_local_search(s, g, perm, max_swaps=3)
        objs.append(qap_objective(s, g, perm))
        if swaps == 0:
            break
    assert all(b >= a - 1e-9 for a, b in zip(objs, objs[1:]))
    perm, _ = swap_local_search(s, g, perm)
    p = g[np.ix_(perm, perm)]
    assert swap_gains(s, p, s @ p).max() <= 1e-8  # no exchange improves: a true local optimum
    assert sorted(perm) == list(range(n))


def test_semantic_beats_identity_on_planted_instance():
    # classes in 10 groups of 4; the codebook has 10 tight clusters of 4 vectors; labels scrambled
    rng = np.random.default_rng(0)
    centres = unit(rng.normal(size=(10, 16)))
    c = unit(np.repeat(centres, 4, axis=0) + 0.15 * rng.normal(size=(40, 16)))
    groups = rng.permutation(np.repeat(np.arange(10), 4))
    s = (groups[:, None] == groups[None, :]).astype(float)
    res = semantic_permutation(s, c, seed=0)
    assert res.objective_before == pytest.approx(qap_objective(s - np.diag(np.diag(s)), c @ c.T))
    assert res.objective_after > res.objective_before + 50
    # the planted optimum puts every group on one cluster; the search must find that structure
    cluster_of_row = np.repeat(np.arange(10), 4)
    for k in range(10):
        assert len(set(cluster_of_row[res.permutation[groups == k]])) == 1


def test_semantic_brute_force_small():
    rng = np.random.default_rng(5)
    n = 7
    s = rng.random((n, n))
    s = (s + s.T) / 2
    c = unit(rng.normal(size=(n, 3)))
    g = c @ c.T
    s0 = s - np.diag(np.diag(s))
    best = max(qap_objective(s0, g, np.array(p)) for p in itertools.permutations(range(n)))
    res = semantic_permutation(s, c, seed=0, antipodal_penalty=0.0)
    assert res.objective_after == pytest.approx(best, rel=1e-9)


def test_semantic_starts_from_the_codebooks_permutation():
    rng = np.random.default_rng(2)
    tree = random_hierarchy(60, 3, seed=1)
    s = hierarchy_similarity(tree)
    cb = Codebook(unit(rng.normal(size=(60, 10))))
    good = semantic_permutation(s, cb, seed=0).permutation
    again = relabel(cb.with_permutation(good), "semantic", similarity=s, seed=9, restarts=0, kicks=0)
    s0 = s - np.diag(np.diag(s))
    assert qap_objective(s0, cb.gram(), again.permutation) >= qap_objective(s0, cb.gram(), good) - 1e-9


def test_semantic_is_deterministic():
    tree = random_hierarchy(30, 2, seed=2)
    c = unit(np.random.default_rng(0).normal(size=(30, 6)))
    s = hierarchy_similarity(tree)
    a = semantic_permutation(s, c, seed=4)
    b = semantic_permutation(s, c, seed=4)
    assert np.array_equal(a.permutation, b.permutation)


# -------------------------------------------------------------------- CIFAR-100 and RM codes
def test_cifar100_names_match_the_genuine_meta_file():
    if not META.exists():
        pytest.skip(f"{META} not present")
    with open(META, "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    tree = cifar100_hierarchy()
    assert tree.graph["classes"] == meta["fine_label_names"]
    supers = sorted(tree.successors(tree.graph["root"]))
    assert supers == meta["coarse_label_names"]
    coarse = [supers.index(next(tree.predecessors(c))) for c in tree.graph["classes"]]
    assert coarse == CIFAR100_COARSE_OF_FINE
    assert all(len(list(tree.successors(g))) == 5 for g in supers)
    assert set(tree.successors("aquatic_mammals")) == {"beaver", "dolphin", "otter", "seal", "whale"}


def test_leopard_and_lion_are_siblings_and_rm_makes_them_antipodal():
    tree = cifar100_hierarchy()
    names = tree.graph["classes"]
    assert (names[42], names[43]) == ("leopard", "lion")
    sib = sibling_mask(tree)
    assert sib[42, 43] and sib.sum() == 2 * 20 * 10
    cb = rm1_interleaved()
    assert cb.prototypes[42] @ cb.prototypes[43] == pytest.approx(-1.0)
    s = hierarchy_similarity(tree)
    before = labelling_report(cb.prototypes, s, sib)
    assert before.antipodal_sibling_pairs >= 1
    out = relabel(cb, "semantic", hierarchy=tree)
    after = labelling_report(out.prototypes, s, sib)
    assert after.antipodal_sibling_pairs == 0 and after.negative_sibling_pairs == 0
    assert after.objective > before.objective
    assert out.prototypes[42] @ out.prototypes[43] > -0.5


@pytest.mark.parametrize("method, dim", [("rm", 64), ("rm", 32), ("bch", 63)])
def test_real_rm_and_bch_codebooks_lose_their_antipodal_siblings(method, dim):
    from spherecode import CONSTRUCTIONS, generate

    if method not in CONSTRUCTIONS:
        pytest.skip(f"construction {method!r} not available")
    cb = generate(100, dim, method)
    tree = cifar100_hierarchy()
    s, sib = hierarchy_similarity(tree), sibling_mask(tree)
    before = labelling_report(cb.prototypes, s, sib)
    if method == "rm":  # the documented caveat: codewords 2j, 2j + 1 are antipodal
        assert cb.prototypes[42] @ cb.prototypes[43] == pytest.approx(-1.0)
    assert before.antipodal_sibling_pairs > 0
    out = relabel(cb, "semantic", hierarchy=tree)
    after = labelling_report(out.prototypes, s, sib)
    assert after.antipodal_sibling_pairs == 0
    assert after.objective > before.objective and after.spearman > before.spearman
    assert out.max_cosine == cb.max_cosine


def test_with_permutation_keeps_vectors_bit_for_bit(tmp_path):
    cb = Codebook(np.random.default_rng(0).normal(size=(50, 7)))
    out = cb.with_permutation(np.random.default_rng(1).permutation(50))
    assert np.array_equal(out.vectors, cb.vectors) and out.max_cosine == cb.max_cosine
    back = Codebook.load(out.save(tmp_path / "p.npz"))
    assert np.array_equal(back.vectors, cb.vectors) and np.array_equal(back.permutation, out.permutation)


def test_bch63_negative_siblings_reach_the_parity_bound():
    """BCH(63) words are at distance 31, 32 or 63: cosines +1/63, -1/63, -1. Three words cannot be
    pairwise at odd distance 31 (d(a,b) + d(b,c) + d(a,c) is even), so the positive pairs form a
    triangle-free graph: at most 6 of a superclass's 10 pairs (Turan), i.e. at least 4 x 20 = 80
    negative sibling pairs for every labelling. The semantic relabelling attains that bound."""
    from spherecode import CONSTRUCTIONS, generate

    if "bch" not in CONSTRUCTIONS:
        pytest.skip("bch not available")
    cb = generate(100, 63, "bch")
    tree = cifar100_hierarchy()
    out = relabel(cb, "semantic", hierarchy=tree)
    rep = labelling_report(out.prototypes, hierarchy_similarity(tree), sibling_mask(tree))
    assert rep.negative_sibling_pairs == 80 and rep.antipodal_sibling_pairs == 0


def test_hierarchy_similarity_matches_networkx_lca():
    tree = random_hierarchy(25, 3, seed=7, shuffle=True)
    classes = tree.graph["classes"]
    root = tree.graph["root"]
    depth = nx.shortest_path_length(tree, root)
    lca = lca_depth(tree)
    for i, j in itertools.combinations(range(25), 2):
        a = nx.lowest_common_ancestor(tree, classes[i], classes[j])
        assert lca[i, j] == depth[a]
    s = hierarchy_similarity(tree, kind="path")
    dist = nx.shortest_path_length(tree.to_undirected(), classes[3], classes[11])
    assert s[3, 11] == pytest.approx(1 - dist / 6)


def test_random_hierarchy_depth_and_size():
    tree = random_hierarchy(1000, 4, seed=0)
    depth = nx.shortest_path_length(tree, tree.graph["root"])
    leaves = tree.graph["classes"]
    assert len(leaves) == 1000 and {depth[c] for c in leaves} == {4}


# ----------------------------------------------------------------------------- metrics
def test_spearman_vs_slow_reference():
    rng = np.random.default_rng(0)
    n = 15
    s = rng.integers(0, 5, size=(n, n)).astype(float)  # ties on purpose, exact values
    s = s + s.T
    p = unit(rng.normal(size=(n, 4)))
    a = [s[i, j] for i in range(n) for j in range(i + 1, n)]
    b = [p[i] @ p[j] for i in range(n) for j in range(i + 1, n)]

    def ranks(x):  # average ranks, ties shared
        x = np.asarray(x)
        order = sorted(range(len(x)), key=lambda k: x[k])
        r = np.empty(len(x))
        i = 0
        while i < len(x):
            j = i
            while j + 1 < len(x) and x[order[j + 1]] == x[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ref = np.sum((ra - ra.mean()) * (rb - rb.mean())) / np.sqrt(np.sum((ra - ra.mean()) ** 2) * np.sum((rb - rb.mean()) ** 2))
    assert spearman_similarity_cosine(s, p) == pytest.approx(ref, abs=1e-12)


def test_spearman_ignores_rounding_noise():
    # the simplex code [7, 3, 4] is equidistant: every labelling is equivalent, rho is undefined
    h = hadamard(8)[1:, 1:]  # +-1 rows of the 7 nonzero simplex codewords
    c = Codebook(h / np.sqrt(7.0))
    g = c.vectors @ c.vectors.T
    assert np.allclose(g[np.triu_indices(7, 1)], -1 / 7)
    s = np.random.default_rng(0).random((7, 7))
    assert np.isnan(spearman_similarity_cosine(s + s.T, c.vectors))


def test_labelling_report_counts():
    tree = cifar100_hierarchy()
    cb = rm1_like()
    rep = labelling_report(cb.prototypes, hierarchy_similarity(tree), sibling_mask(tree))
    g = cb.prototypes @ cb.prototypes.T
    sib = sibling_mask(tree)
    iu = np.triu_indices(100, 1)
    assert rep.antipodal_sibling_pairs == int(np.sum((g[iu] < -0.999) & sib[iu]))
    assert rep.negative_sibling_pairs == int(np.sum((g[iu] < -1e-6) & sib[iu]))


# --------------------------------------------------------------- relabelled codebook file
def test_relabelled_codebook_keeps_separation_and_saves_permutation(tmp_path):
    cb = rm1_like()
    for strategy in ["random", "semantic", "identity"]:
        out = relabel(cb, strategy, hierarchy=cifar100_hierarchy(), seed=1)
        assert out.max_cosine == cb.max_cosine
        assert out.antipodal_pairs == cb.antipodal_pairs
        assert np.array_equal(out.vectors, cb.vectors)
        assert sorted(out.permutation) == list(range(100))
        path = out.save(tmp_path / f"{strategy}.npz")
        back = Codebook.load(path)
        assert np.array_equal(back.permutation, out.permutation)
        assert np.array_equal(back.prototypes, out.vectors[out.permutation])
    means = cb.vectors[np.random.default_rng(0).permutation(100)]
    out = relabel(cb, "assignment", means=means)
    assert np.allclose(out.prototypes, means)


# ------------------------------------------------------------------------------ learned
def test_learned_module_doubly_stochastic_and_rounds_to_permutation():
    torch = pytest.importorskip("torch")
    from spherecode.relabel.learned import SinkhornPermutation

    torch.manual_seed(0)
    mod = SinkhornPermutation(12, temperature=0.5, sinkhorn_iters=50, noise=1.0)
    p = mod.matrix()
    assert torch.allclose(p.sum(0), torch.ones(12), atol=1e-5)
    assert torch.allclose(p.sum(1), torch.ones(12), atol=1e-4)
    perm = mod.hard_permutation()
    assert sorted(perm.tolist()) == list(range(12))
    # rounding is the linear assignment of P itself (Sinkhorn only adds row/column offsets to log P)
    from scipy.optimize import linear_sum_assignment

    assert np.array_equal(linear_sum_assignment(p.detach().numpy(), maximize=True)[1], perm)
    assert float(mod.penalty().detach()) > 0.1
    hard = SinkhornPermutation(5, temperature=0.01, init=np.array([3, 1, 4, 0, 2]), init_mass=1 - 1e-9)
    assert float(hard.penalty().detach()) < 1e-6


def test_learned_module_learns_a_planted_permutation():
    torch = pytest.importorskip("torch")
    from spherecode.relabel.learned import SinkhornPermutation

    torch.manual_seed(0)
    n, d = 10, 16
    c = torch.nn.functional.normalize(torch.randn(n, d), dim=1)
    planted = torch.randperm(n)
    target = c[planted]
    mod = SinkhornPermutation(n, temperature=0.3, init_scale=0.0, noise=0.01)
    opt = torch.optim.Adam(mod.parameters(), lr=0.1)
    for _ in range(150):
        loss = -(mod(c) * target).sum(dim=1).mean() + 0.05 * mod.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert np.array_equal(mod.hard_permutation(), planted.numpy())
    assert mod(c).shape == (n, d)


def test_learned_start_weight_matches_closed_form():
    torch = pytest.importorskip("torch")
    from spherecode.relabel.learned import SinkhornPermutation, init_margin

    n, tau, mass = 7, 0.2, 0.3
    init = np.array([3, 0, 6, 1, 5, 2, 4])
    p = SinkhornPermutation(n, temperature=tau, init=init, init_mass=mass, sinkhorn_iters=5).matrix().detach().double()
    expected = np.full((n, n), (1 - mass) / (n - 1))
    expected[np.arange(n), init] = mass
    assert np.allclose(p.numpy(), expected, atol=1e-6)
    # independent check of the margin: softmax weight of one logit m against n - 1 zeros
    m = init_margin(20, 0.1, 0.5)
    assert m == pytest.approx(0.1 * np.log(19))
    assert np.exp(m / 0.1) / (np.exp(m / 0.1) + 19) == pytest.approx(0.5)
    with pytest.raises(SpherecodeError, match="init_mass"):
        SinkhornPermutation(3, init_mass=1.0)
    with pytest.raises(SpherecodeError, match="final_temperature"):
        SinkhornPermutation(3, final_temperature=0.0)
    assert torch.is_tensor(p)


def test_learned_temperature_anneals_geometrically():
    pytest.importorskip("torch")
    from spherecode.relabel.learned import SinkhornPermutation

    mod = SinkhornPermutation(4, temperature=0.1, final_temperature=0.001)
    assert mod.anneal(0.0) == pytest.approx(0.1)
    assert mod.anneal(0.5) == pytest.approx(0.01)
    assert mod.anneal(1.0) == pytest.approx(0.001) and mod.temperature == pytest.approx(0.001)
    assert mod.anneal(2.0) == pytest.approx(0.001)  # clamped
    fixed = SinkhornPermutation(4, temperature=0.3)
    assert fixed.anneal(1.0) == 0.3


def _train_relabeller(mod, target_perm, lr, steps=100, penalty=0.01):
    """Fixed features z of class y near codebook row target_perm[y]; SGD (momentum 0.9) on the logits only,
    the prototype head's cross-entropy at temperature 0.1, the temperature annealed over the run."""
    import torch

    from spherecode.codebook import Codebook
    from spherecode.nn.heads import PrototypeHead

    g = torch.Generator().manual_seed(0)
    # two clusters of two prototypes each (rows 0, 1 near +e1; rows 2, 3 near -e1)
    c = np.array([[1.0, 0.4, 0.0], [1.0, -0.4, 0.0], [-1.0, 0.0, 0.4], [-1.0, 0.0, -0.4]])
    head = PrototypeHead(Codebook(c / np.linalg.norm(c, axis=1, keepdims=True)), 0.1, "learned", mod)
    y = torch.arange(4).repeat(16)
    z = head.prototypes[torch.as_tensor(target_perm)][y] + 0.1 * torch.randn(len(y), 3, generator=g)
    opt = torch.optim.SGD(mod.parameters(), lr=lr, momentum=0.9)
    for t in range(steps):
        mod.anneal(t / (steps - 1))
        loss = torch.nn.functional.cross_entropy(head(z), y) + penalty * head.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return mod.hard_permutation()


def test_learned_defaults_leave_a_wrong_identity_start():
    """Classes 1 and 2 sit in each other's cluster: identity is clearly wrong, swapping them is right.
    With the trainer's defaults (soft start, annealing, logit lr = lr * relabel_lr_scale) the learned
    relabelling finds the swap; the old start (margin 1 at tau 0.1: P = identity to 1e-3) never moves."""
    pytest.importorskip("torch")
    from spherecode.relabel.learned import SinkhornPermutation
    from spherecode.train.config import TrainConfig

    cfg = TrainConfig()
    m, lr = cfg.model, cfg.optim.lr * cfg.model.relabel_lr_scale
    target = np.array([0, 2, 1, 3])
    new = SinkhornPermutation(4, init_mass=m.relabel_init_mass, final_temperature=m.relabel_final_temperature)
    assert _train_relabeller(new, target, lr).tolist() == target.tolist()
    old = SinkhornPermutation(4, init_scale=1.0)  # the previous default start, no annealing, full lr
    assert _train_relabeller(old, target, cfg.optim.lr).tolist() == [0, 1, 2, 3]


def test_trainer_gives_the_relabelling_its_lr_scale_and_anneals_it(tmp_path):
    pytest.importorskip("torch")
    from spherecode.constructions import generate
    from spherecode.train.config import TrainConfig, override
    from spherecode.train.loop import Trainer

    cb = generate(4, 8, method="orthoplex").save(tmp_path / "cb.npz")
    cfg = override(TrainConfig(), {"spec": "synthetic:classes=4,per_class=4,image_size=8,noise=8", "codebook": str(cb),
                                   "arch": "resnet10", "width": 4, "epochs": 2, "batch_size": 8, "workers": 0,
                                   "progress": False, "relabelling": "learned", "relabel_lr_scale": 0.25,
                                   "relabel_final_temperature": 0.02, "eval_every": 0, "out": str(tmp_path / "run")})
    tr = Trainer(cfg, log=lambda s: None)
    groups = tr.optimizer.param_groups
    relabel = [g for g in groups if any(p is tr.raw_model.head.relabeller.logits for p in g["params"])]
    assert len(relabel) == 1 and relabel[0]["lr_scale"] == 0.25 and relabel[0]["weight_decay"] == 0.0
    tr.fit()
    assert tr.raw_model.head.relabeller.temperature == pytest.approx(0.02)  # last epoch at the final temperature
    assert relabel[0]["lr"] == pytest.approx(0.25 * groups[0]["lr"])


@pytest.mark.gpu
def test_learned_module_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from spherecode.relabel.learned import SinkhornPermutation

    mod = SinkhornPermutation(8, init=np.arange(8)[::-1].copy()).to("cuda")
    protos = torch.nn.functional.normalize(torch.randn(8, 5, device="cuda"), dim=1)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = mod(protos)
    assert out.device.type == "cuda" and out.shape == (8, 5)
    assert mod.hard_permutation().tolist() == list(range(8))[::-1]


# ------------------------------------------------------------------------ bad input
def test_errors():
    cb = rm1_like(20, 4)
    with pytest.raises(SpherecodeError, match="strategy"):
        relabel(cb, "nonsense")
    with pytest.raises(SpherecodeError, match="100 classes"):
        relabel(cb, "semantic", hierarchy=cifar100_hierarchy())
    with pytest.raises(SpherecodeError, match="similarity"):
        relabel(cb, "semantic", similarity=np.eye(7))
    with pytest.raises(SpherecodeError, match="needs class-mean"):
        relabel(cb, "assignment")
    with pytest.raises(SpherecodeError, match="symmetric"):
        relabel(cb, "semantic", similarity=np.triu(np.ones((20, 20))))
    with pytest.raises(SpherecodeError, match="no option 'kiks'; valid options: restarts, kicks"):
        relabel(cb, "semantic", similarity=np.eye(20), kiks=3)
    assert set(STRATEGIES) == {"identity", "random", "assignment", "semantic"}


def test_hierarchy_files(tmp_path):
    edges = tmp_path / "tree.txt"
    edges.write_text("# parent child\nanimal cat\nanimal dog\nroot animal\nroot, car\n")
    tree = load_hierarchy(edges)
    assert tree.graph["classes"] == ["cat", "dog", "car"]
    js = tmp_path / "tree.json"
    js.write_text(json.dumps({"classes": ["dog", "cat", "car"], "root": {"animal": ["cat", "dog"], "car": {}}}))
    assert load_hierarchy(js).graph["classes"] == ["dog", "cat", "car"]
    js.write_text(json.dumps({"edges": [["r", "a"], ["r", "b"]]}))
    assert load_hierarchy(js).graph["classes"] == ["a", "b"]
    with pytest.raises(SpherecodeError, match="does not cover"):
        load_hierarchy(edges, classes=["cat", "dog", "bus"])
    bad = tmp_path / "bad.txt"
    bad.write_text("a b\nc d\n")
    with pytest.raises(SpherecodeError, match="single rooted tree"):
        load_hierarchy(bad)
    with pytest.raises(SpherecodeError, match="does not exist"):
        load_hierarchy(tmp_path / "missing.txt")
    np.save(tmp_path / "s.npy", np.eye(3))
    assert load_similarity(tmp_path / "s.npy", 3).shape == (3, 3)
    with pytest.raises(SpherecodeError, match="N = 4"):
        load_similarity(tmp_path / "s.npy", 4)


# ---------------------------------------------------------------------------------- CLI
def test_cli_relabel(cli, tmp_path):
    src = tmp_path / "protos.npz"
    rm1_interleaved().save(src)
    out = tmp_path / "relabelled.npz"
    code, stdout, err = cli("relabel", str(src), "--hierarchy", "cifar100", "-o", str(out), "--json")
    assert code == 0, err
    res = json.loads(stdout)
    assert res["before"]["antipodal_sibling_pairs"] > 0 and res["after"]["antipodal_sibling_pairs"] == 0
    assert np.array_equal(Codebook.load(out).permutation, res["permutation"])
    code, _, err = cli("relabel", str(src), "--hierarchy", "cifar100", "-o", str(out))
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    code, stdout, _ = cli("relabel", str(src), "--hierarchy", "cifar100", "-o", str(out), "--force")
    assert code == 0 and "antipodal" in stdout
    np.savetxt(tmp_path / "means.csv", Codebook.load(src).vectors[::-1], delimiter=",")
    code, stdout, err = cli("relabel", str(src), "--means", str(tmp_path / "means.csv"), "-o", str(tmp_path / "a.npz"))
    assert code == 0, err
    assert np.array_equal(Codebook.load(tmp_path / "a.npz").permutation, np.arange(100)[::-1])


@pytest.mark.parametrize("argv, message", [
    (["--hierarchy", "missing.txt"], "does not exist"),
    (["--similarity", "missing.npy"], "does not exist"),
    (["--strategy", "assignment"], "needs class-mean"),
    (["--strategy", "bogus"], "identity, random, assignment, semantic"),
    (["--hierarchy", "cifar100", "--similarity", "s.npy"], "not both"),
])
def test_cli_relabel_errors(cli, tmp_path, argv, message):
    src = tmp_path / "protos.npz"
    rm1_like(20, 4).save(src)
    code, _, err = cli("relabel", str(src), "-o", str(tmp_path / "o.npz"), *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cli_relabel_size_mismatch(cli, tmp_path):
    src = tmp_path / "protos.npz"
    rm1_like(20, 4).save(src)
    code, _, err = cli("relabel", str(src), "--hierarchy", "cifar100", "-o", str(tmp_path / "o.npz"))
    assert code == 2 and "N = 20" in err
    code, _, err = cli("relabel", str(tmp_path / "nope.npz"), "--hierarchy", "cifar100", "-o", str(tmp_path / "o.npz"))
    assert code == 2 and "does not exist" in err
