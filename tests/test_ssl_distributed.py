"""Two gloo processes with gathering give the single-process gradients on the full batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from ddp_helpers import spawn_ranks

from spherecode.nn.distributed import gather_rows
from spherecode.nn.losses import ClampLoss, HydesLoss, HypersolidLoss
from spherecode.train.knn import knn_accuracy, knn_predict

B, V, DIN, D = 8, 3, 6, 5


def _losses(gather: bool) -> dict[str, torch.nn.Module]:
    return {
        "hypersolid": HypersolidLoss(alpha=0.2, norm_weight=0.1, block_size=5, gather_distributed=gather),
        "hypersolid_dense": HypersolidLoss(alpha=0.2, norm_weight=0.1, gather_distributed=gather),
        "hydes": HydesLoss(kappa=3.0, alpha=1.0, beta=0.7, block_size=4, gather_distributed=gather),
        "clamp": ClampLoss(scale=8.0, gather_distributed=gather),
    }


def _data() -> tuple[torch.Tensor, torch.nn.Linear]:
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(B, 1, DIN, generator=g, dtype=torch.float64)
    x = centres + 0.4 * torch.randn(B, V, DIN, generator=g, dtype=torch.float64)
    torch.manual_seed(1)
    model = torch.nn.Linear(DIN, D).double()
    return x, model


def _knn_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    centres = torch.randn(6, 5, generator=g)
    ytr, yte = torch.arange(37) % 6, torch.arange(13) % 6
    return (centres[ytr] + 0.8 * torch.randn(37, 5, generator=g), ytr,
            centres[yte] + 0.8 * torch.randn(13, 5, generator=g), yte)


def _grads(model: torch.nn.Module, loss: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.zero_grad()
    loss(model(x)).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        x, model = _data()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        share = B // world
        local = x[rank * share:(rank + 1) * share]
        result = {}
        for name, loss in _losses(True).items():
            result[name] = _grads(ddp, loss, local)
        result["hydes_local_only"] = _grads(ddp, _losses(False)["hydes"], local)
        for name, loss in _losses(True).items():  # equal batches: no row-count exchange (no host sync)
            loss.equal_batches = True
            result[name + "_equal"] = _grads(ddp, loss, local)
        e = torch.full((2, 3), float(rank), dtype=torch.float64, requires_grad=True)
        full_e, offset_e = gather_rows(e, equal_sizes=True)
        (full_e * torch.arange(4, dtype=torch.float64)[:, None]).sum().backward()
        result["gather_equal"] = (full_e.detach(), offset_e, e.grad)
        # the gather itself: forward concatenates, backward sums over ranks and slices
        t = torch.full((rank + 1, 2), float(rank + 1), dtype=torch.float64, requires_grad=True)
        full, offset = gather_rows(t)
        (full.sum(dim=1) * torch.arange(full.shape[0], dtype=torch.float64)).sum().backward()
        result["gather"] = (full.detach(), offset, t.grad)
        # sharded k-NN: uneven shards of the memory (20 / 17) and the queries (7 / 6)
        xtr, ytr, xte, yte = _knn_data()
        tr = slice(0, 20) if rank == 0 else slice(20, 37)
        te = slice(0, 7) if rank == 0 else slice(7, 13)
        for k in (10, 25):  # 25 > the second shard: padded candidates
            result[f"knn{k}"] = knn_predict(xtr[tr], ytr[tr], xte[te], k=k, temperature=0.2, chunk_size=4,
                                            train_chunk_size=8, sharded=True)
        result["knn_acc"] = knn_accuracy(xtr[tr], ytr[tr], xte[te], yte[te], k=10, chunk_size=4, sharded=True)
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> list[dict]:
    """One 2-process gloo run (spawned once for the module)."""
    tmp_path = tmp_path_factory.mktemp("ddp")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    spawn_ranks(_worker, 2, str(tmp_path / "init"), str(tmp_path))
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]


def test_two_process_gather_matches_single_process(results):
    x, model = _data()
    for name, loss in _losses(gather=False).items():
        single = _grads(model, loss, x)
        for r in range(2):
            assert torch.allclose(results[r][name], single, atol=1e-12, rtol=1e-9), (name, r)
            assert torch.allclose(results[r][name + "_equal"], single, atol=1e-12, rtol=1e-9), (name, r)
    # gather: rank 0 has 1 row, rank 1 has 2 rows (unequal sizes)
    full0, off0, g0 = results[0]["gather"]
    full1, off1, g1 = results[1]["gather"]
    assert full0.tolist() == [[1.0, 1.0], [2.0, 2.0], [2.0, 2.0]] and torch.equal(full0, full1)
    assert (off0, off1) == (0, 1)
    # each rank's loss sends arange(3) to the rows; summed over 2 ranks, sliced
    assert g0.tolist() == [[0.0, 0.0]] and g1.tolist() == [[2.0, 2.0], [4.0, 4.0]]
    # equal_sizes: the same result without exchanging the counts (2 rows each)
    for r in range(2):
        full, off, g = results[r]["gather_equal"]
        assert full[:, 0].tolist() == [0.0, 0.0, 1.0, 1.0] and off == 2 * r
        assert g.tolist() == [[4.0 * r + 0.0] * 3, [4.0 * r + 2.0] * 3]  # 2 ranks x arange slice


def test_without_gathering_the_gradients_differ(results):
    """The test above can fail: local-only pairs miss the cross-rank terms."""
    x, model = _data()
    single = _grads(model, _losses(False)["hydes"], x)
    assert not torch.allclose(results[0]["hydes_local_only"], single, atol=1e-6)


def test_sharded_knn_equals_one_process(results):
    """Each rank holds a shard of the memory and of the queries; its scores are those of its queries
    against the whole memory, exactly as one process computes them."""
    xtr, ytr, xte, yte = _knn_data()
    for k in (10, 25):
        single = knn_predict(xtr, ytr, xte, k=k, temperature=0.2)
        both = torch.cat([results[0][f"knn{k}"], results[1][f"knn{k}"]])
        assert torch.allclose(both, single, rtol=1e-5, atol=1e-6), k
    expected = knn_accuracy(xtr, ytr, xte, yte, k=10)
    assert results[0]["knn_acc"] == results[1]["knn_acc"] == pytest.approx(expected)
    # the test can fail: the shard's own memory alone gives other scores
    full = knn_predict(xtr, ytr, xte, k=10, temperature=0.2)
    assert not torch.allclose(knn_predict(xtr[:20], ytr[:20], xte[:7], k=10, temperature=0.2), full[:7])
