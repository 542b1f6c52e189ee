"""LARS against a plain reference loop, and as ``--optimizer lars`` in the training loop."""

from __future__ import annotations

import pytest
import torch

from spherecode.errors import SpherecodeError
from spherecode.train.lars import LARS


def _reference_lars(weights, grads_per_step, lr, mu, wd, eta, nesterov=False, eps=1e-8):
    """The update written out per tensor with Python floats (1-D tensors: plain SGD momentum)."""
    ws = [w.clone().double() for w in weights]
    bufs = [None] * len(ws)
    for grads in grads_per_step:
        for i, (w, g) in enumerate(zip(ws, grads)):
            g = g.double().clone()
            if w.ndim > 1:
                wn, gn = float(w.norm()), float(g.norm())
                ratio = eta * wn / (gn + wd * wn + eps) if wn > 0 and gn > 0 else 1.0
                g = (g + wd * w) * ratio
            bufs[i] = g.clone() if bufs[i] is None else mu * bufs[i] + g
            step = g + mu * bufs[i] if nesterov else bufs[i]
            ws[i] = w - lr * step
    return ws


@pytest.mark.parametrize("nesterov", [False, True])
def test_lars_matches_the_reference_update(nesterov):
    g = torch.Generator().manual_seed(0)
    weights = [torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64),
               torch.zeros(2, 2, dtype=torch.float64)]                      # a zero weight: ratio 1
    grads = [[torch.randn(w.shape, generator=g, dtype=torch.float64) for w in weights] for _ in range(3)]
    params = [torch.nn.Parameter(w.clone()) for w in weights]
    opt = LARS(params, lr=0.5, momentum=0.9, weight_decay=1e-2, trust_coefficient=0.02, nesterov=nesterov)
    for step in grads:
        for p, gr in zip(params, step):
            p.grad = gr.clone()
        opt.step()
    expected = _reference_lars(weights, grads, 0.5, 0.9, 1e-2, 0.02, nesterov)
    for p, e in zip(params, expected):
        assert torch.allclose(p.detach(), e, atol=1e-12), p
    # the trust ratio matters: without it the 2-D weight moves differently
    plain = _reference_lars(weights, grads, 0.5, 0.9, 1e-2, eta=1e9, nesterov=nesterov)
    assert not torch.allclose(params[0].detach(), plain[0])


def test_lars_rejects_bad_arguments():
    with pytest.raises(SpherecodeError, match="'lr'"):
        LARS([torch.nn.Parameter(torch.ones(2, 2))], lr=-1.0)
    with pytest.raises(SpherecodeError, match="'trust_coefficient'"):
        LARS([torch.nn.Parameter(torch.ones(2, 2))], lr=0.1, trust_coefficient=-0.1)


def test_optimizer_lars_in_the_training_loop(tmp_path):
    from spherecode.train.config import override
    from spherecode.train.loop import Trainer
    from spherecode.train.pretrain import PretrainConfig

    cfg = override(PretrainConfig(), {"spec": "synthetic:classes=4,per_class=8,test_per_class=2,image_size=8",
                                      "arch": "resnet10", "width": 4, "batch_size": 16, "workers": 0, "n_local": 2,
                                      "proj_hidden": 16, "proj_dim": 8, "proj_layers": 2, "knn_k": 5, "progress": False,
                                      "optimizer": "lars", "lr": 0.5, "epochs": 2, "out": str(tmp_path / "run")})
    trainer = Trainer(cfg, log=lambda s: None)
    assert isinstance(trainer.optimizer, LARS)
    before = [p.detach().clone() for p in trainer.raw_model.parameters()]
    history = trainer.fit()
    assert all(h["loss"] == h["loss"] for h in history) and len(history) == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.raw_model.parameters()))
    with pytest.raises(SpherecodeError, match="lars"):
        Trainer(override(cfg, {"optimizer": "lamb", "out": str(tmp_path / "x")}), log=lambda s: None)
