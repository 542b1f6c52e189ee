"""k-NN, linear probe, geometry report and multi-crop views."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spherecode.errors import SpherecodeError
from spherecode.geometry import effective_rank, geometry_report, pair_cosine_histograms
from spherecode.train.knn import knn_accuracy, knn_predict, linear_probe, topk_accuracy


def knn_reference(train, labels, test, k, t, c):
    """One test point at a time, sorting every training point."""
    out = torch.zeros(test.shape[0], c, dtype=torch.float64)
    tr = [x / x.norm() for x in train.double()]
    for i, q in enumerate(test.double()):
        q = q / q.norm()
        sims = sorted(((float(q @ x), j) for j, x in enumerate(tr)), reverse=True)[:k]
        for s, j in sims:
            out[i, int(labels[j])] += math.exp(s / t)
    return out


def test_knn_toy_set_with_known_answer():
    # two tight clusters on opposite sides; each test point sits next to one of them
    train = torch.tensor([[1.0, 0.0], [0.95, 0.05], [0.9, -0.1], [-1.0, 0.0], [-0.9, 0.1], [-0.95, -0.05]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    test = torch.tensor([[2.0, 0.1], [-3.0, 0.0], [0.8, 0.3]])
    assert knn_accuracy(train, labels, test, torch.tensor([0, 1, 0]), k=3)["top1"] == 1.0
    assert knn_accuracy(train, labels, test, torch.tensor([1, 0, 1]), k=3)["top1"] == 0.0
    # k = 1: the nearest training point decides; vote = exp(cos / T)
    scores = knn_predict(train, labels, test[:1], k=1, temperature=0.5)
    cos = float(torch.nn.functional.cosine_similarity(test[:1], train[1:2]))  # (0.95, 0.05) is parallel
    assert scores[0, 0].item() == pytest.approx(math.exp(cos / 0.5), rel=1e-6) and scores[0, 1] == 0


@pytest.mark.parametrize("k,chunk,train_chunk", [(1, 3, 5), (7, 4, 6), (200, 1024, 65536)])
def test_knn_matches_reference_in_chunks(k, chunk, train_chunk):
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(40, 5, generator=g), torch.randn(11, 5, generator=g)
    labels = torch.randint(0, 4, (40,), generator=g)
    ours = knn_predict(train, labels, test, k=k, temperature=0.2, num_classes=4, chunk_size=chunk, train_chunk_size=train_chunk)
    ref = knn_reference(train, labels, test, min(k, 40), 0.2, 4)
    assert torch.allclose(ours.double(), ref, rtol=1e-4)
    acc = knn_accuracy(train, labels, test, labels[:11], k=k, temperature=0.2, num_classes=4, chunk_size=chunk,
                       train_chunk_size=train_chunk)
    assert acc == topk_accuracy(ref, labels[:11])


def test_topk_accuracy_and_errors():
    scores = torch.tensor([[0.1, 0.5, 0.2, 0.0, 0.0, 0.0], [0.9, 0.0, 0.1, 0.2, 0.3, 0.4]])
    acc = topk_accuracy(scores, torch.tensor([2, 5]))
    assert acc == {"top1": 0.0, "top5": 1.0}
    with pytest.raises(SpherecodeError, match="dimensions differ"):
        knn_predict(torch.randn(3, 2), torch.tensor([0, 1, 0]), torch.randn(2, 3))
    with pytest.raises(SpherecodeError, match="'k'"):
        knn_predict(torch.randn(3, 2), torch.tensor([0, 1, 0]), torch.randn(2, 2), k=0)
    with pytest.raises(SpherecodeError, match="'train_chunk_size'"):
        knn_predict(torch.randn(3, 2), torch.tensor([0, 1, 0]), torch.randn(2, 2), train_chunk_size=0)


def test_linear_probe_separates_linearly_separable_data():
    g = torch.Generator().manual_seed(1)
    centres = 4 * torch.randn(5, 8, generator=g)
    y = torch.arange(200) % 5
    x = centres[y] + torch.randn(200, 8, generator=g)
    res = linear_probe(x[:150], y[:150], x[150:], y[150:], epochs=30, lr=1e-2)
    assert res.top1 >= 0.95 and res.top5 == 1.0 and res.train_top1 >= 0.95
    with pytest.raises(SpherecodeError, match="'weight_decay'"):
        linear_probe(x[:150], y[:150], x[150:], y[150:], weight_decay=-1.0)
    with pytest.raises(SpherecodeError, match="'batch_size'"):
        linear_probe(x[:150], y[:150], x[150:], y[150:], batch_size=0)


def test_geometry_of_known_configurations():
    # orthonormal basis: anisotropy 0, centre norm 1/sqrt(n), angle 90, effective rank n
    r = geometry_report(np.eye(6))
    assert r.anisotropy == pytest.approx(0.0, abs=1e-12)
    assert r.center_norm == pytest.approx(1 / math.sqrt(6))
    assert r.mean_angle_deg == pytest.approx(90.0)
    assert r.effective_rank == pytest.approx(6.0)
    # collapse: anisotropy 1, effective rank 1, angle 0
    r = geometry_report(np.ones((5, 3)) * [1, 2, 3])
    assert r.anisotropy == pytest.approx(1.0) and r.effective_rank == pytest.approx(1.0)
    assert r.mean_angle_deg == pytest.approx(0.0, abs=1e-5)
    # Roy & Vetterli: singular values (3, 1) -> p = (3/4, 1/4)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert effective_rank(np.diag([3.0, 1.0])) == pytest.approx(math.exp(h))


def test_geometry_pair_statistics_match_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    r = geometry_report(x, y)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = u @ u.T
    pos = [s[i, j] for i in range(30) for j in range(30) if i != j and y[i] == y[j]]
    neg = [s[i, j] for i in range(30) for j in range(30) if y[i] != y[j]]
    dp = (np.mean(pos) - np.mean(neg)) / np.sqrt((np.var(pos) + np.var(neg)) / 2)
    assert r.d_prime == pytest.approx(dp) and r.positive_mean == pytest.approx(np.mean(pos))
    ang = [np.degrees(np.arccos(np.clip(s[i, j], -1, 1))) for i in range(30) for j in range(30) if i != j]
    assert r.mean_angle_deg == pytest.approx(np.mean(ang))
    corr = np.corrcoef(x, rowvar=False)
    assert r.mean_feature_correlation == pytest.approx(np.abs(corr[~np.eye(4, dtype=bool)]).mean())
    cents = np.stack([u[y == c].mean(0) for c in range(3)])
    assert r.centroid_effective_rank == pytest.approx(effective_rank(cents))
    assert r.structure_ratio == pytest.approx(r.effective_rank / r.centroid_effective_rank)
    h = pair_cosine_histograms(x, y, bins=10)
    assert h["positive"].sum() == len(pos) // 2 and h["negative"].sum() == len(neg) // 2


def test_geometry_of_a_codebook_and_errors():
    import spherecode as sc

    r = geometry_report(sc.generate(10, 9, method="simplex"))
    assert r.anisotropy == pytest.approx(-1 / 9) and r.num_classes is None
    with pytest.raises(SpherecodeError, match="zero row"):
        geometry_report(np.zeros((3, 2)))
    with pytest.raises(SpherecodeError, match="labels"):
        geometry_report(np.eye(3), [0, 1])


def test_multicrop_presets_and_ops():
    from spherecode.data.multicrop import (MULTICROP_PRESETS, adjust_hue, gaussian_blur, hsv_to_rgb, multicrop_transform,
                                           rgb_to_hsv)

    cifar, inet = MULTICROP_PRESETS["cifar"], MULTICROP_PRESETS["imagenet"]
    assert (cifar.global_crops[0].size, cifar.global_crops[0].scale, cifar.local_crop.scale) == (32, (0.8, 1.0), (0.08, 0.9))
    assert cifar.jitter == (0.8, 0.8, 0.4, 0.2) and all(c.blur == 0 for c in cifar.crops())
    assert (inet.global_crops[0].size, inet.local_crop.size, inet.n_local, inet.local_crop.scale) == (224, 96, 6, (0.05, 0.4))
    x = torch.rand(3, 12, 12)
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(x)), x, atol=1e-5)
    assert torch.allclose(adjust_hue(x, 1e-9), x, atol=1e-5)
    flat = torch.full((3, 9, 9), 0.25)
    assert torch.allclose(gaussian_blur(flat, 1.0), flat, atol=1e-6)  # blur keeps constants
    t = multicrop_transform("imagenet", n_local=2)
    views = t(torch.randint(0, 256, (3, 300, 260), dtype=torch.uint8), torch.Generator().manual_seed(3))
    assert [tuple(v.shape) for v in views] == [(3, 224, 224)] * 2 + [(3, 96, 96)] * 2
    with pytest.raises(SpherecodeError, match="preset"):
        multicrop_transform("mnist")
