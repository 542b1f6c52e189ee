"""Pretraining through the shared loop on tiny synthetic data: every loss decreases, k-NN beats chance."""

from __future__ import annotations

import json

import pytest

from spherecode.train.config import override
from spherecode.train.pretrain import PretrainConfig

SPEC = "synthetic:classes=4,per_class=16,test_per_class=8,image_size=8,nuisance=0"  # an easy problem
TINY = {"spec": SPEC, "arch": "resnet10", "width": 4, "batch_size": 32, "workers": 0, "n_local": 2,
        "proj_hidden": 32, "proj_dim": 16, "proj_layers": 2, "knn_k": 10, "lr": 3e-3, "progress": False,
        "hypersolid_block_size": 16, "hydes_block_size": 16}


@pytest.mark.parametrize("loss,extra", [("hypersolid", {"hypersolid_alpha": 0.5}), ("clamp", {}),
                                       ("hydes", {"hydes_kappa": 5.0})])
def test_pretraining_decreases_every_loss_and_knn_beats_chance(loss, extra, tmp_path):
    from spherecode.train.loop import fit

    cfg = override(PretrainConfig(), {**TINY, **extra, "loss": loss, "epochs": 4, "eval_every": 4, "out": str(tmp_path / loss)})
    history = fit(cfg, log=lambda s: None)
    losses = [h["loss"] for h in history]
    assert losses[-1] < losses[0], losses
    assert history[-1]["val_top1"] > 0.25 + 0.2, history[-1]   # 4 classes: chance 0.25
    lines = (tmp_path / loss / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4 and "val_top5" in json.loads(lines[-1])


def test_pretrain_cli_resume_and_geometry(cli, tmp_path):
    out = tmp_path / "run"
    args = ["pretrain", "--data", SPEC, "--arch", "resnet10", "--width", "4", "--batch-size", "32", "--workers", "0",
            "--n-local", "2", "--proj-hidden", "32", "--proj-dim", "16", "--proj-layers", "2", "--knn-k", "10",
            "--loss", "hypersolid", "--out", str(out)]
    code, _, err = cli(*args, "--epochs", "1")
    assert code == 0, err
    code, _, err = cli("pretrain", "--resume", str(out), "--epochs", "2")
    assert code == 0, err
    history = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    code, text, err = cli("geometry", str(out), "--knn-k", "10", "--probe-epochs", "5", "--plot", str(tmp_path / "h.png"),
                          "--json")
    assert code == 0, err
    report = json.loads(text)
    assert {"anisotropy", "effective_rank", "d_prime", "knn_top1", "probe_top1"} <= set(report)
    # the probe's optimiser settings: another lr, decay and batch give another probe
    code, text, err = cli("geometry", str(out), "--knn-k", "10", "--probe-epochs", "5", "--probe-lr", "0.05",
                          "--probe-weight-decay", "0.01", "--probe-batch-size", "16", "--json")
    assert code == 0, err
    assert json.loads(text)["probe_train_top1"] != report["probe_train_top1"] or \
        json.loads(text)["probe_top1"] != report["probe_top1"]
    code, _, err = cli("geometry", str(out), "--probe-lr", "-1")
    assert code == 2 and "'lr'" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "h.png").stat().st_size > 0
    # errors: one line, exit 2
    code, _, err = cli("pretrain", "--data", SPEC, "--loss", "simclr", "--epochs", "1", "--out", str(tmp_path / "x"))
    assert code == 2 and "hypersolid, clamp, hydes" in err
    code, _, err = cli("geometry", str(tmp_path / "missing"))
    assert code == 2


def test_geometry_of_a_codebook_file(cli, tmp_path):
    path = tmp_path / "cb.npz"
    assert cli("generate", "-n", "10", "-d", "9", "-m", "simplex", "-o", str(path))[0] == 0
    code, text, err = cli("geometry", str(path), "--json")
    assert code == 0, err
    assert json.loads(text)["anisotropy"] == pytest.approx(-1 / 9)


def _ddp_worker(rank: int, world: int, port: int, cfg_dict: dict, out: str) -> None:
    import os

    import torch

    from spherecode.train.config import from_dict
    from spherecode.train.loop import fit

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    fit(override(from_dict(cfg_dict, PretrainConfig), {"out": out}), log=lambda s: None)


def test_two_process_pretraining_matches_one_process(tmp_path):
    """Gathered pairwise terms under the loop's DDP: the same run as one process on the global batch
    (fails with --no-gather; the other losses' gathering is checked in test_ssl_distributed.py), and
    the sharded k-NN evaluation gives the single-process val_top1 / val_top5."""
    loss = "hypersolid"
    import torch
    from ddp_helpers import free_port, spawn_ranks

    from spherecode.train.checkpoint import load_checkpoint
    from spherecode.train.loop import fit

    # GroupNorm backbone and a projector without BatchNorm: no per-rank batch statistics
    cfg = override(PretrainConfig(), {**TINY, "spec": "synthetic:classes=4,per_class=8,image_size=16,noise=8",
                                      "norm": "group", "proj_layers": 1, "epochs": 2, "eval_every": 2,
                                      "batch_size": 16, "loss": loss, "hypersolid_alpha": 0.3, "hydes_kappa": 5.0})
    single = fit(override(cfg, {"out": str(tmp_path / "one")}), log=lambda s: None)
    spawn_ranks(_ddp_worker, 2, free_port(), cfg.to_dict(), str(tmp_path / "two"))
    ddp = load_checkpoint(tmp_path / "two")
    assert "val_top1" in single[-1] and "val_top5" in ddp["history"][-1]
    for r1, r2 in zip(single, ddp["history"], strict=True):
        for k in r1:
            if k not in ("images_per_s", "epoch_time_s"):
                assert r1[k] == pytest.approx(r2[k], rel=1e-4, abs=1e-5), k
    one = load_checkpoint(tmp_path / "one")["model"]
    for k, v in ddp["model"].items():
        assert torch.allclose(v, one[k], rtol=1e-4, atol=1e-5), k


def test_augment_modes_and_the_evaluation_default(tmp_path):
    """Per-sample views (loader workers) train too; by default the k-NN runs every 5 epochs and
    after the last; batched views need images of one size."""
    from types import SimpleNamespace

    from spherecode.data.multicrop_batched import KeyedImages
    from spherecode.errors import SpherecodeError
    from spherecode.train.loop import Trainer
    from spherecode.train.pretrain import batched_augmentation

    assert PretrainConfig().run.eval_every == 5 and PretrainConfig().ssl.augment == "auto"
    cfg = override(PretrainConfig(), {**TINY, "augment": "per-sample", "epochs": 2, "out": str(tmp_path / "ps")})
    trainer = Trainer(cfg, log=lambda s: None)
    assert not trainer.task.batched and not isinstance(trainer.train_loader.dataset, KeyedImages)
    history = trainer.fit()
    assert "val_top1" not in history[0] and "val_top1" in history[1]      # only after the last epoch
    auto = Trainer(override(cfg, {"augment": "auto", "out": str(tmp_path / "auto")}), log=lambda s: None)
    assert auto.task.batched and isinstance(auto.train_loader.dataset, KeyedImages)
    folder = SimpleNamespace(kind="imagenet", source="/data/imagenet")
    assert batched_augmentation("auto", folder) is False
    with pytest.raises(SpherecodeError, match="'--augment' batched.*per-sample"):
        batched_augmentation("batched", folder)
    with pytest.raises(SpherecodeError, match="augment"):
        batched_augmentation("gpu", folder)
