"""Dynamic label-to-prototype assignment (DL2PA): the memory update, planted-permutation recovery,
exact resume, the moved count in the log, the permutation in the run's codebook, DDP all-reduce."""

from __future__ import annotations

import json
import os
from itertools import permutations

import numpy as np
import pytest
import torch
from ddp_helpers import free_port, spawn_ranks
from test_train import tiny_config, without_timing

from spherecode.codebook import Codebook
from spherecode.constructions import generate
from spherecode.errors import SpherecodeError
from spherecode.nn.heads import PrototypeHead
from spherecode.relabel.dynamic import DynamicAssignment
from spherecode.train.checkpoint import load_checkpoint, load_run
from spherecode.train.config import TrainConfig
from spherecode.train.evaluate import evaluate_checkpoint
from spherecode.train.loop import fit

torch.set_num_threads(1)


def reference_memory(batches, n, d, momentum):
    """A slow loop over classes and samples: q_y <- normalise(m q_y + (1 - m) mean_z), classes absent keep q_y."""
    q = np.zeros((n, d))
    for feats, labels in batches:
        z = feats / np.linalg.norm(feats, axis=1, keepdims=True)
        for y in range(n):
            rows = [z[i] for i in range(len(labels)) if labels[i] == y]
            if rows:
                v = momentum * q[y] + (1 - momentum) * np.mean(rows, axis=0)
                q[y] = v / np.linalg.norm(v)
    return q


def test_memory_update_matches_a_slow_reference():
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(12, 5)), rng.integers(0, 4, size=12)) for _ in range(6)]
    batches.append((rng.normal(size=(3, 5)), np.array([0, 0, 2])))  # classes 1 and 3 absent
    dyn = DynamicAssignment(4, 5, momentum=0.7)
    for f, y in batches:
        dyn.update(torch.tensor(f, dtype=torch.float32), torch.tensor(y))
    assert np.allclose(dyn.means.numpy(), reference_memory(batches, 4, 5, 0.7), atol=1e-6)
    assert int(dyn.steps) == len(batches)


def test_assignment_is_the_brute_force_optimum_and_ties_stay():
    rng = np.random.default_rng(1)
    c = torch.tensor(generate(5, 4, "random", seed=0).vectors, dtype=torch.float32)
    dyn = DynamicAssignment(5, 4, momentum=0.0)
    dyn.update(torch.randn(40, 4, generator=torch.Generator().manual_seed(0)), torch.tensor(rng.permutation(40) % 5))
    dyn.assign(c)
    q, cc = dyn.means.double().numpy(), c.double().numpy()
    best = max(permutations(range(5)), key=lambda p: sum(q[y] @ cc[p[y]] for y in range(5)))
    assert dyn.permutation.tolist() == list(best)
    fresh = DynamicAssignment(5, 4, init=np.array([4, 3, 2, 1, 0]))  # nothing seen: nobody moves
    assert fresh.assign(c) == 0 and fresh.permutation.tolist() == [4, 3, 2, 1, 0]


def test_recovers_a_planted_permutation_from_clustered_features():
    n, d = 10, 16
    cb = generate(n, d, "random", seed=3)
    protos = torch.tensor(cb.vectors, dtype=torch.float32)
    planted = torch.tensor(np.random.default_rng(4).permutation(n))
    g = torch.Generator().manual_seed(5)
    dyn = DynamicAssignment(n, d)  # starts at the identity, DL2PA's momentum 0.9
    for _ in range(30):
        y = torch.randint(0, n, (64,), generator=g)
        feats = protos[planted[y]] + 0.3 * torch.randn(64, d, generator=g)  # class y clusters around row planted[y]
        dyn.update(feats, y)
    moved = dyn.assign(protos)
    assert dyn.permutation.tolist() == planted.tolist()
    assert moved == int((planted != torch.arange(n)).sum())
    assert dyn.assign(protos) == 0  # stable once found


def test_head_uses_the_permutation_and_its_codebook_stores_it():
    cb = Codebook(np.eye(3))
    head = PrototypeHead(cb, temperature=1.0, relabelling="dynamic")
    head.relabeller.permutation.copy_(torch.tensor([2, 0, 1]))
    x = torch.tensor([[0.0, 0.0, 1.0]])
    for mode in (True, False):
        head.train(mode)
        assert head(x).argmax().item() == 0  # class 0 now owns row 2
    assert head.current_codebook().permutation.tolist() == [2, 0, 1]
    with pytest.raises(SpherecodeError, match="relabelling 'dynamic'"):
        PrototypeHead(cb, relabelling="none").reassign()
    with pytest.raises(SpherecodeError, match="momentum"):
        DynamicAssignment(3, 3, momentum=1.0)


def _record_moves(history):
    return [r["relabel_moved"] for r in history]


def test_dynamic_run_logs_moves_resumes_exactly_and_evaluates_from_the_checkpoint(tmp_path):
    # per-step reassignment (assign_every=2) and the per-epoch default, both through an interruption
    for extra in ({"assign_every": 2}, {}):
        tag = "steps" if extra else "epoch"
        lines: list[str] = []
        full = fit(tiny_config(tmp_path, relabelling="dynamic", epochs=3, out=str(tmp_path / f"full-{tag}"), **extra),
                   log=lines.append)
        assert len(_record_moves(full)) == 3 and all(isinstance(m, int) for m in _record_moves(full))
        assert all("relabel_moved" in s for s in lines if s.startswith("epoch "))
        assert any("dynamic assignment (DL2PA" in s for s in lines)

        class Interrupt(Exception):
            pass

        def stop(line: str) -> None:
            if line.startswith("epoch 2 "):
                raise Interrupt

        with pytest.raises(Interrupt):
            fit(tiny_config(tmp_path, relabelling="dynamic", epochs=3, out=str(tmp_path / f"cut-{tag}"), **extra), log=stop)
        resumed = fit(TrainConfig(), resume=tmp_path / f"cut-{tag}", log=lambda s: None)
        assert without_timing(resumed) == without_timing(full)
        a, b = load_checkpoint(tmp_path / f"full-{tag}")["model"], load_checkpoint(tmp_path / f"cut-{tag}")["model"]
        assert a.keys() == b.keys() and "head.relabeller.permutation" in a and "head.relabeller.means" in a
        assert all(torch.equal(a[k], b[k]) for k in a)

    run = load_run(tmp_path / "full-epoch")
    perm = run.state["model"]["head.relabeller.permutation"].tolist()
    assert run.model.head.current_codebook().permutation.tolist() == perm
    report = evaluate_checkpoint(tmp_path / "full-epoch", device="cpu")
    assert report.top1 == pytest.approx(full[-1]["val_top1"])
    metrics = [json.loads(s) for s in (tmp_path / "full-epoch" / "metrics.jsonl").read_text().splitlines()]
    assert metrics[0]["relabel_moved"] == 0  # the first reassignment comes after the first epoch


def test_warm_up_holds_the_assignment_and_a_resumed_run_agrees(tmp_path, monkeypatch):
    calls: list[int] = []  # the memory's step count at each reassignment (4 steps per epoch here)
    real = DynamicAssignment.assign

    def counting(self, prototypes):
        calls.append(int(self.steps))
        return real(self, prototypes)

    monkeypatch.setattr(DynamicAssignment, "assign", counting)
    lines: list[str] = []
    fit(tiny_config(tmp_path, relabelling="dynamic", epochs=4, dynamic_warmup=2, out=str(tmp_path / "epoch")),
        log=lines.append)
    assert calls == [8, 12]  # before epochs 3 and 4 only: two warm-up epochs
    assert any("after 2 warm-up epochs" in s for s in lines)
    calls.clear()
    cfg = tiny_config(tmp_path, relabelling="dynamic", epochs=3, dynamic_warmup=2, assign_every=2, out=str(tmp_path / "full"))
    full = fit(cfg, log=lambda s: None)
    assert calls == [10, 12]  # every 2 steps, none in the first two epochs (steps 1-8)

    class Interrupt(Exception):
        pass

    def stop(line: str) -> None:
        if line.startswith("epoch 1 "):
            raise Interrupt

    with pytest.raises(Interrupt):  # stopped inside the warm-up: the resumed run must still hold, then reassign
        fit(tiny_config(tmp_path, relabelling="dynamic", epochs=3, dynamic_warmup=2, assign_every=2,
                        out=str(tmp_path / "cut")), log=stop)
    calls.clear()
    resumed = fit(TrainConfig(), resume=tmp_path / "cut", log=lambda s: None)
    assert without_timing(resumed) == without_timing(full) and calls == [10, 12]


def test_dynamic_with_mixup_and_errors(tmp_path):
    fit(tiny_config(tmp_path, relabelling="dynamic", epochs=1, mixup=0.8, eval_every=0), log=lambda s: None)
    with pytest.raises(SpherecodeError, match="needs the prototype head"):
        fit(tiny_config(tmp_path, relabelling="dynamic", head="linear", codebook=None, epochs=1), log=lambda s: None)


def _ddp_update(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    g = torch.Generator().manual_seed(0)
    feats, labels = torch.randn(16, 4, generator=g), torch.arange(16) % 3
    dyn = DynamicAssignment(3, 4, momentum=0.5)
    half = slice(rank * 8, rank * 8 + 8)  # each rank sees half of the batch
    dyn.update(feats[half], labels[half])
    if rank == 0:
        torch.save(dyn.means, out)
    torch.distributed.destroy_process_group()


def test_ddp_update_all_reduces_the_class_sums(tmp_path):
    spawn_ranks(_ddp_update, 2, free_port(), str(tmp_path / "means.pt"))
    g = torch.Generator().manual_seed(0)
    feats, labels = torch.randn(16, 4, generator=g), torch.arange(16) % 3
    one = DynamicAssignment(3, 4, momentum=0.5, distributed=False)
    one.update(feats, labels)
    assert torch.allclose(torch.load(tmp_path / "means.pt"), one.means, atol=1e-6)
