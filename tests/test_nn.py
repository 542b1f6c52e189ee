"""Backbones, heads and supervised losses against slow obvious references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from spherecode.codebook import Codebook
from spherecode.constructions import generate
from spherecode.errors import SpherecodeError
from spherecode.nn import ARCHS, Encoder, LinearHead, PrototypeHead, mettes_loss, prototype_cross_entropy, resnet

torch.set_num_threads(1)


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("variant,size", [("cifar", 16), ("imagenet", 32)])
def test_resnet_shapes(arch, variant, size):
    net = resnet(arch, variant=variant, width=4)
    expansion = 4 if arch == "resnet50" else 1
    assert net.out_dim == 4 * 8 * expansion
    assert net(torch.zeros(2, 3, size, size)).shape == (2, net.out_dim)
    assert isinstance(net.stem[0], nn.Conv2d) and net.stem[0].kernel_size == ((3, 3) if variant == "cifar" else (7, 7))
    assert any(isinstance(m, nn.MaxPool2d) for m in net.stem) == (variant == "imagenet")


def test_resnet_block_counts_match_the_paper():
    counts = {a: sum(len(s) for s in resnet(a, width=2).stages) for a in ARCHS}
    assert counts == {"resnet10": 4, "resnet18": 8, "resnet34": 16, "resnet50": 16}
    # ResNet-18 at width 64 has the published 11.2M parameters (plus/minus the 1000-way fc: 11.69M - 0.51M)
    n = sum(p.numel() for p in resnet("resnet18", variant="imagenet").parameters())
    assert abs(n - (11_689_512 - 513_000)) < 1000


def test_group_norm_option_and_projection():
    enc = Encoder(resnet("resnet10", width=4, norm="group"), dim=7)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) for m in enc.modules())
    assert enc(torch.zeros(3, 3, 8, 8)).shape == (3, 7) and enc.out_dim == 7


def test_projection_is_normalised_like_the_backbone():
    torch.manual_seed(0)
    x = torch.randn(16, 3, 8, 8)
    enc = Encoder(resnet("resnet10", width=4), dim=6)
    assert isinstance(enc.projection[-1], nn.BatchNorm1d) and enc.projection[0].bias is None
    f = enc.train()(x)  # batch statistics: every feature has mean 0 and variance 1 over the batch
    assert torch.allclose(f.mean(0), torch.zeros(6), atol=1e-5)
    assert torch.allclose(f.var(0, unbiased=False), torch.ones(6), atol=1e-3)
    g = Encoder(resnet("resnet10", width=4, norm="group"), dim=6)(x)  # one group: per-sample standardisation
    assert torch.allclose(g.mean(1), torch.zeros(16), atol=1e-5)
    plain = Encoder(resnet("resnet10", width=4), dim=6, norm="none")
    assert isinstance(plain.projection[0], nn.Linear) and len(plain.projection) == 1
    assert isinstance(Encoder(resnet("resnet10", width=4)).projection, nn.Identity)
    with pytest.raises(SpherecodeError, match="norm"):
        Encoder(resnet("resnet10", width=4), dim=6, norm="layer")


def test_prototype_cosines_are_float32_under_bf16_autocast():
    cb = generate(10, 16, method="random", seed=0)
    head = PrototypeHead(cb, temperature=0.1)
    f = torch.randn(64, 16)
    f[:, 0] += 40.0  # cosines near 1 to prototypes near e_0: where bf16 has a spacing of 2^-8
    ref = torch.nn.functional.normalize(f.double(), dim=1) @ torch.tensor(cb.vectors).t()
    lin = nn.Linear(16, 16)
    nn.init.eye_(lin.weight), nn.init.zeros_(lin.bias)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert lin(f).dtype == torch.bfloat16  # autocast is on: a plain matmul gives bf16
        cos, logits = head.cosines(lin(f)), head(lin(f))
        loss = mettes_loss(cos, torch.zeros(64, dtype=torch.long))
    assert cos.dtype == logits.dtype == loss.dtype == torch.float32
    # only the bf16 rounding of the features remains (2^-9 relative), not that of the cosines
    bf16_features = torch.nn.functional.normalize(f.bfloat16().double(), dim=1) @ torch.tensor(cb.vectors).t()
    assert torch.allclose(cos.double(), bf16_features, atol=1e-6)
    assert len(torch.unique(cos[:, 0])) > 40 and (cos.double() - ref).abs().max() < 0.01
    assert torch.allclose(logits, cos / 0.1)


def test_prototype_head_matches_a_slow_loop():
    cb = generate(6, 4, method="random", seed=1)
    head = PrototypeHead(cb, temperature=0.2)
    f = torch.randn(5, 4, dtype=torch.float64)
    logits = head.double()(f)
    for b in range(5):
        z = f[b] / math.sqrt(sum(float(v) ** 2 for v in f[b]))
        for i in range(6):
            ref = sum(float(z[k]) * cb.vectors[i, k] for k in range(4)) / 0.2
            assert abs(float(logits[b, i]) - ref) < 1e-6  # prototypes are stored in float32
    assert torch.equal(head.predict(f), logits.argmax(1))
    # nearest prototype: a feature pointing at prototype 3 (any positive scale) predicts class 3
    assert int(head.predict(torch.from_numpy(7.5 * cb.vectors[3:4]))) == 3


def test_prototypes_are_a_buffer_not_trained():
    head = PrototypeHead(generate(4, 3, method="random", seed=0))
    assert list(head.parameters()) == [] and "prototypes" in dict(head.named_buffers())
    assert "prototypes" in head.state_dict()


def test_relabelling_fixed_uses_the_codebook_permutation():
    cb = Codebook(np.eye(3), permutation=np.array([2, 0, 1]))
    fixed, none = PrototypeHead(cb, 1.0, "fixed"), PrototypeHead(cb, 1.0, None)
    f = torch.tensor([[0.0, 0.0, 1.0]])
    assert int(fixed.predict(f)) == 0  # class 0 uses row 2
    assert int(none.predict(f)) == 2
    assert np.array_equal(fixed.current_codebook().permutation, [2, 0, 1])
    with pytest.raises(SpherecodeError, match="stored permutation"):
        PrototypeHead(Codebook(np.eye(3)), 1.0, "fixed")
    with pytest.raises(SpherecodeError, match="relabelling"):
        PrototypeHead(cb, 1.0, "sometimes")
    with pytest.raises(SpherecodeError, match="temperature"):
        PrototypeHead(cb, 0.0)


class SinkhornStandIn(nn.Module):
    """The learned-relabelling API (forward(prototypes) -> soft class-ordered prototypes; hard_permutation())."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(n, n))
        with torch.no_grad():
            self.logits[torch.arange(n), torch.arange(n).roll(1)] = 10.0

    def forward(self, prototypes: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits, dim=1) @ prototypes

    def hard_permutation(self) -> np.ndarray:
        return self.logits.argmax(dim=1).numpy()


def test_relabelling_learned_soft_in_training_hard_in_eval():
    cb = Codebook(np.eye(3))
    head = PrototypeHead(cb, 1.0, "learned", relabeller=SinkhornStandIn(3))
    f = torch.tensor([[0.0, 0.0, 1.0]])
    assert [p.shape for p in head.parameters()] == [(3, 3)]
    head.train()
    soft = head.class_prototypes()
    assert torch.allclose(soft, SinkhornStandIn(3)(torch.eye(3)))
    head(f).sum().backward()
    assert head.relabeller.logits.grad is not None
    head.eval()
    assert torch.equal(head.class_prototypes(), torch.eye(3)[[2, 0, 1]])
    assert np.array_equal(head.current_codebook().permutation, [2, 0, 1])


def test_linear_head():
    head = LinearHead(4, 3)
    f = torch.randn(2, 4)
    assert torch.allclose(head(f), f @ head.linear.weight.t() + head.linear.bias)


def test_cross_entropy_with_label_smoothing_matches_formula():
    logits, y, eps = torch.randn(4, 5, dtype=torch.float64), torch.tensor([0, 3, 4, 1]), 0.1
    ref = 0.0
    for b in range(4):
        logp = logits[b] - torch.logsumexp(logits[b], 0)
        q = torch.full((5,), eps / 5, dtype=torch.float64)
        q[y[b]] += 1 - eps
        ref += float(-(q * logp).sum()) / 4
    assert abs(float(prototype_cross_entropy(logits, y, eps)) - ref) < 1e-6


def test_mettes_loss_matches_formula():
    cos = torch.tensor([[0.2, 0.9], [-0.5, 0.1]])
    assert abs(float(mettes_loss(cos, torch.tensor([1, 0]))) - ((0.1**2) + (1.5**2)) / 2) < 1e-7


def test_learned_relabelling_uses_sinkhorn_permutation_started_at_the_codebook_permutation():
    from spherecode.relabel.learned import SinkhornPermutation

    cb = Codebook(np.eye(4), permutation=np.array([1, 3, 0, 2]))
    head = PrototypeHead(cb, 1.0, "learned")
    assert isinstance(head.relabeller, SinkhornPermutation)
    head.eval()
    assert torch.equal(head.class_prototypes(), torch.eye(4)[[1, 3, 0, 2]])
    assert torch.equal(head.predict(torch.eye(4)[[1, 3, 0, 2]]), torch.arange(4))
    head.train()
    soft = head.class_prototypes()  # soft, on the sphere, nearest to the started permutation
    assert torch.allclose(soft.norm(dim=1), torch.ones(4)) and soft.argmax(dim=1).tolist() == [1, 3, 0, 2]
    assert float(head.penalty().detach()) > 0
