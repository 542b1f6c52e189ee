r"""Evaluation of a frozen backbone: weighted k-NN and a linear probe, top-1 and top-5.

k-NN (Wu et al. 2018, the protocol of DINO and the SSL papers): with unit features, each test
point's :math:`k` most similar training points (cosine :math:`s`) vote for their class with weight
:math:`e^{s/T}`; classes are ranked by their summed votes. Defaults :math:`k = 200`, :math:`T = 0.1`.
Memory stays bounded: test rows and training columns are both processed in chunks, keeping a
running top-:math:`k`.

Linear probe: a linear layer trained with cross-entropy on the frozen, standardised features.

Examples
--------
>>> import torch
>>> train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
>>> labels = torch.tensor([0, 0, 1, 1])
>>> knn_predict(train, labels, torch.tensor([[1.0, 0.2], [0.2, 1.0]]), k=2).argmax(1).tolist()
[0, 1]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SpherecodeError, check_int


def _check_features(name: str, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] == 0:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise SpherecodeError(f"Argument '{name}' must be a non-empty (n, D) tensor; got {shape}.")
    return x


def knn_predict(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                k: int = 200, temperature: float = 0.1, num_classes: int | None = None,
                chunk_size: int = 1024, train_chunk_size: int = 65536) -> torch.Tensor:
    r"""Class scores (n_test, C): :math:`\sum_{j \in \mathrm{top}_k(i)} e^{s_{ij}/T}\,[y_j = c]`.

    ``k`` is capped at the training-set size. Memory: O(chunk_size * (train_chunk_size + k)).
    """
    train_features, test_features = _check_features("train_features", train_features), _check_features("test_features", test_features)
    if train_features.shape[1] != test_features.shape[1]:
        raise SpherecodeError(f"Feature dimensions differ: train D = {train_features.shape[1]}, test D = {test_features.shape[1]}.")
    if train_labels.shape != (train_features.shape[0],):
        raise SpherecodeError(f"Argument 'train_labels' must have one label per training feature "
                              f"({train_features.shape[0]}); got shape {tuple(train_labels.shape)}.")
    k = min(check_int("k", k, minimum=1), train_features.shape[0])
    if not temperature > 0:
        raise SpherecodeError(f"Argument 'temperature' must be > 0, not {temperature!r}.")
    num_classes = int(train_labels.max()) + 1 if num_classes is None else num_classes
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float(), dim=1)
    labels = train_labels.long().to(train.device)
    out = torch.zeros(test.shape[0], num_classes, device=test.device)
    for i0 in range(0, test.shape[0], chunk_size):
        q = test[i0:i0 + chunk_size].to(train.device)
        best_s = torch.full((q.shape[0], 0), float("-inf"), device=train.device)
        best_i = torch.zeros((q.shape[0], 0), dtype=torch.long, device=train.device)
        for j0 in range(0, train.shape[0], train_chunk_size):
            s = q @ train[j0:j0 + train_chunk_size].T
            kk = min(k, s.shape[1])
            top_s, top_i = s.topk(kk, dim=1)
            cand_s = torch.cat([best_s, top_s], dim=1)
            cand_i = torch.cat([best_i, top_i + j0], dim=1)
            keep_s, pos = cand_s.topk(min(k, cand_s.shape[1]), dim=1)
            best_s, best_i = keep_s, cand_i.gather(1, pos)
        votes = torch.zeros(q.shape[0], num_classes, device=train.device)
        votes.scatter_add_(1, labels[best_i], (best_s / temperature).exp())
        out[i0:i0 + q.shape[0]] = votes.to(out.device)
    return out


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, ks: Iterable[int] = (1, 5)) -> dict[str, float]:
    """Fraction of rows whose label is among the ``k`` highest scores, as ``{"top1": ..., "top5": ...}``."""
    labels = labels.to(scores.device).long()
    kmax = min(max(ks), scores.shape[1])
    top = scores.topk(kmax, dim=1).indices
    hit = top.eq(labels[:, None])
    return {f"top{k}": float(hit[:, : min(k, kmax)].any(dim=1).float().mean()) for k in ks}


def knn_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 test_labels: torch.Tensor, k: int = 200, temperature: float = 0.1,
                 num_classes: int | None = None, chunk_size: int = 1024) -> dict[str, float]:
    """Top-1 and top-5 accuracy of :func:`knn_predict`."""
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    scores = knn_predict(train_features, train_labels, test_features, k, temperature, num_classes, chunk_size)
    return topk_accuracy(scores, test_labels)


@dataclass(frozen=True)
class ProbeResult:
    top1: float
    top5: float
    train_top1: float
    epochs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def linear_probe(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                 test_labels: torch.Tensor, num_classes: int | None = None, epochs: int = 100, lr: float = 1e-3,
                 weight_decay: float = 0.0, batch_size: int = 256, seed: int = 0) -> ProbeResult:
    """Train ``nn.Linear(D, C)`` on frozen features (standardised with the training mean and std)
    with AdamW and a cosine schedule; report test top-1/top-5 and training top-1."""
    train_features, test_features = _check_features("train_features", train_features), _check_features("test_features", test_features)
    if train_features.shape[1] != test_features.shape[1]:
        raise SpherecodeError(f"Feature dimensions differ: train D = {train_features.shape[1]}, test D = {test_features.shape[1]}.")
    epochs = check_int("epochs", epochs, minimum=1)
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    device = train_features.device
    mean = train_features.float().mean(0)
    std = train_features.float().std(0).clamp_min(1e-6)
    xtr = (train_features.float() - mean) / std
    xte = (test_features.float().to(device) - mean) / std
    ytr = train_labels.long().to(device)
    g = torch.Generator(device="cpu").manual_seed(seed)
    layer = nn.Linear(xtr.shape[1], num_classes).to(device)
    with torch.no_grad():
        w = torch.randn(layer.weight.shape, generator=g) / xtr.shape[1] ** 0.5
        layer.weight.copy_(w.to(device))
        layer.bias.zero_()
    opt = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-xtr.shape[0] // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    with torch.enable_grad():
        for _ in range(epochs):
            perm = torch.randperm(xtr.shape[0], generator=g).to(device)
            for i0 in range(0, xtr.shape[0], batch_size):
                idx = perm[i0:i0 + batch_size]
                loss = F.cross_entropy(layer(xtr[idx]), ytr[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    with torch.no_grad():
        test = topk_accuracy(layer(xte), test_labels)
        train_top1 = topk_accuracy(layer(xtr), ytr, ks=(1,))["top1"]
    return ProbeResult(top1=test["top1"], top5=test["top5"], train_top1=train_top1, epochs=epochs)


@torch.no_grad()
def extract_features(model: nn.Module, loader: Iterable[Any], device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``model`` (in eval mode) over ``(images, labels)`` batches; return features and labels on CPU."""
    was_training = model.training
    model.eval()
    feats, labels = [], []
    for x, y in loader:
        feats.append(model(x.to(device)).float().cpu())
        labels.append(torch.as_tensor(y).cpu())
    model.train(was_training)
    if not feats:
        raise SpherecodeError("extract_features: the loader yielded no batches.")
    return torch.cat(feats), torch.cat(labels)
