"""The training loop: fitting, DDP equivalence, exact resume, checkpoint-only evaluation, early errors."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch
from ddp_helpers import free_port, spawn_ranks

from spherecode.constructions import generate
from spherecode.data.loader import make_loader
from spherecode.errors import SpherecodeError
from spherecode.train.checkpoint import load_checkpoint
from spherecode.train.config import TrainConfig, from_dict, load_toml, override, to_toml
from spherecode.train.evaluate import evaluate_checkpoint, evaluate_model
from spherecode.train.loop import Trainer, fit

torch.set_num_threads(1)
CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"
TINY = "synthetic:classes=4,per_class=8,image_size=8,noise=8"
TIMING = ("images_per_s", "epoch_time_s")


def tiny_config(tmp_path: Path, **extra) -> TrainConfig:
    cb = tmp_path / "cb.npz"
    if not cb.exists():
        generate(4, 8, method="orthoplex").save(cb)
    values = {"spec": TINY, "codebook": str(cb), "arch": "resnet10", "width": 8, "epochs": 2, "batch_size": 8,
              "workers": 0, "lr": 0.05, "weight_decay": 0.0, "progress": False}
    return override(TrainConfig(), {**values, **extra})


def without_timing(history):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in history]


def test_prototype_head_fits_a_tiny_problem_to_100_percent(tmp_path):
    tr = Trainer(tiny_config(tmp_path, epochs=20, eval_every=0), log=lambda s: None)
    history = tr.fit()
    assert history[-1]["loss"] < history[0]["loss"] / 5
    loader = make_loader(tr.task.eval_dataset(tr.train_set), 16, shuffle=False, pad=False)
    report = evaluate_model(tr.raw_model, loader, 4, torch.device("cpu"))
    assert report.top1 == 1.0 and report.count == 32


def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path):
    full = fit(tiny_config(tmp_path, epochs=3, out=str(tmp_path / "full"), warmup_epochs=1), log=lambda s: None)

    class Interrupt(Exception):
        pass

    def stop_after_first(line: str) -> None:
        if line.startswith("epoch 1 "):
            raise Interrupt

    cut = tiny_config(tmp_path, epochs=3, out=str(tmp_path / "cut"), warmup_epochs=1)
    with pytest.raises(Interrupt):
        fit(cut, log=stop_after_first)
    assert load_checkpoint(tmp_path / "cut")["epoch"] == 1
    resumed = fit(TrainConfig(), resume=tmp_path / "cut", log=lambda s: None)
    assert without_timing(resumed) == without_timing(full)
    lines = [json.loads(s) for s in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert without_timing(lines) == without_timing(full)
    a, b = load_checkpoint(tmp_path / "full")["model"], load_checkpoint(tmp_path / "cut")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_changes_to_the_run(tmp_path):
    fit(tiny_config(tmp_path, epochs=1, out=str(tmp_path / "run"), eval_every=0), log=lambda s: None)
    with pytest.raises(SpherecodeError, match="Cannot change lr when resuming"):
        Trainer(TrainConfig(), resume=tmp_path / "run", overrides={"lr": 1.0})


def _ddp_worker(rank: int, world: int, port: int, cfg_dict: dict, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    cfg = override(from_dict(cfg_dict), {"out": out})
    fit(cfg, log=lambda s: None)


def test_two_process_ddp_matches_one_process(tmp_path):
    # GroupNorm: no per-rank batch statistics. 16 px so that no normalisation group sees a single pixel
    # (normalising ~1 value per group amplifies rounding noise and the two runs drift apart).
    cfg = tiny_config(tmp_path, epochs=2, norm="group", eval_every=1,
                      spec="synthetic:classes=4,per_class=8,image_size=16,noise=8")
    single = fit(override(cfg, {"out": str(tmp_path / "one")}), log=lambda s: None)
    spawn_ranks(_ddp_worker, 2, free_port(), cfg.to_dict(), str(tmp_path / "two"))
    ddp = load_checkpoint(tmp_path / "two")
    for r1, r2 in zip(without_timing(single), without_timing(ddp["history"]), strict=True):
        assert r1.keys() == r2.keys()
        for k in r1:
            assert r1[k] == pytest.approx(r2[k], rel=1e-4, abs=1e-5), k
    one = load_checkpoint(tmp_path / "one")["model"]
    for k, v in ddp["model"].items():
        assert torch.allclose(v, one[k], rtol=1e-4, atol=1e-5), k


def test_evaluate_needs_only_the_checkpoint(tmp_path, cli):
    history = fit(tiny_config(tmp_path, epochs=2, out=str(tmp_path / "run")), log=lambda s: None)
    (tmp_path / "cb.npz").unlink()  # the codebook lives in the checkpoint
    report = evaluate_checkpoint(tmp_path / "run", device="cpu")
    assert report.top1 == pytest.approx(history[-1]["val_top1"]) and report.count == 4 * 1
    assert report.per_class.shape == (4,) and report.confusion.sum() == 4
    code, out, err = cli("evaluate", str(tmp_path / "run" / "checkpoint.pt"), "--json", "--device", "cpu")
    assert code == 0, err
    data = json.loads(out)
    assert data["top1"] == pytest.approx(report.top1) and len(data["per_class"]) == 4
    for pair in data["most_confused"]:  # orthoplex(4, 8): every pair of prototypes orthogonal
        assert pair["cosine"] == pytest.approx(0.0, abs=1e-7)


def _no_training(monkeypatch):
    def boom(self, epoch):
        raise AssertionError("training started")

    monkeypatch.setattr(Trainer, "train_epoch", boom)


@pytest.mark.parametrize("case,message", [
    ("path", "CIFAR-100 path .* does not exist; expected the official CIFAR-100 python version"),
    ("classes", "the codebook has N = 4 prototypes but the data .* has 5 classes"),
    ("dim", "projection dimension 16 does not match the codebook dimension d = 8"),
    ("nocodebook", "needs a codebook: pass --codebook"),
    ("mettes_linear", "'mettes' needs the prototype head"),
    ("batch", "exceeds the training set"),
    ("amp", "'--amp' 'bf16' needs a CUDA device"),
])
def test_user_mistakes_fail_before_training(tmp_path, cli, monkeypatch, case, message):
    if case == "amp" and torch.cuda.is_available():
        pytest.skip("checks the CPU-only error")
    _no_training(monkeypatch)
    generate(4, 8, method="orthoplex").save(tmp_path / "cb.npz")
    args = ["train", "--data", TINY, "--codebook", str(tmp_path / "cb.npz"), "--arch", "resnet10", "--width", "4",
            "--epochs", "1", "--workers", "0", "--out", str(tmp_path / "run")]
    extra = {"path": ["--data", f"cifar100:{tmp_path / 'missing'}"],
             "classes": ["--data", "synthetic:classes=5,per_class=2,image_size=8"],
             "dim": ["--dim", "16"], "nocodebook": ["--codebook", ""],
             "mettes_linear": ["--head", "linear", "--loss", "mettes"], "batch": ["--batch-size", "64"],
             "amp": ["--amp", "bf16", "--device", "cpu"]}[case]
    if case == "nocodebook":
        args = [a for a in args if a not in ("--codebook", str(tmp_path / "cb.npz"))]
        extra = []
    code, out, err = cli(*args, *extra)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    import re
    assert re.search(message, err), err
    assert not (tmp_path / "run").exists()


def test_existing_run_dir_is_not_overwritten(tmp_path, cli):
    fit(tiny_config(tmp_path, epochs=1, out=str(tmp_path / "run"), eval_every=0), log=lambda s: None)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    code, _, err = cli("train", "--data", TINY, "--codebook", str(tmp_path / "cb.npz"), "--arch", "resnet10",
                       "--width", "4", "--epochs", "1", "--workers", "0", "--out", str(tmp_path / "run"))
    assert code == 2 and "already holds a run" in err and "--resume" in err
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


def test_cli_train_then_resume(tmp_path, cli):
    generate(4, 8, method="orthoplex").save(tmp_path / "cb.npz")
    common = ["--arch", "resnet10", "--width", "4", "--workers", "0", "--out", str(tmp_path / "run")]
    code, out, err = cli("train", "--data", TINY, "--codebook", str(tmp_path / "cb.npz"), "--epochs", "1",
                         "--batch-size", "8", "--head", "prototype", "--no-progress", *common)
    assert code == 0, err
    code, out, err = cli("train", "--resume", "--epochs", "2", "--out", str(tmp_path / "run"))
    assert code == 0, err
    assert "resuming at epoch 2/2" in out
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(s)["epoch"] for s in lines] == [1, 2]
    assert {"loss", "top1", "top5", "lr", "images_per_s"} <= set(json.loads(lines[0]))


def test_linear_head_trains(tmp_path):
    history = fit(tiny_config(tmp_path, head="linear", epochs=1, codebook=None), log=lambda s: None)
    assert history[0]["loss"] > 0


@pytest.mark.parametrize("name", ["cifar100_resnet18_prototype", "cifar100_resnet18_linear",
                                  "imagenet_resnet50_prototype", "imagenet_resnet50_linear"])
def test_recipes_load_and_roundtrip(name):
    cfg = load_toml(CONFIGS / f"{name}.toml")
    assert cfg.model.head == ("prototype" if name.endswith("prototype") else "linear")
    if name.startswith("cifar100"):
        assert (cfg.data.batch_size, cfg.optim.lr, cfg.optim.momentum, cfg.optim.weight_decay) == (512, 0.1, 0.9, 5e-4)
        assert cfg.optim.schedule == "cosine" and cfg.run.epochs == 200 and cfg.model.arch == "resnet18"
    else:
        assert cfg.model.arch == "resnet50" and cfg.data.spec.startswith("imagenet:")
    import tomllib

    assert from_dict(tomllib.loads(to_toml(cfg))) == cfg


def test_config_errors():
    with pytest.raises(SpherecodeError, match="Unknown config section"):
        from_dict({"trainer": {}})
    with pytest.raises(SpherecodeError, match="'optim.lr' must be float"):
        from_dict({"optim": {"lr": "fast"}})
    with pytest.raises(SpherecodeError, match="Unknown config field 'lrr'"):
        override(TrainConfig(), {"lrr": 1})
    assert override(TrainConfig(), {"milestones": "100,200", "compile": "true"}).optim.milestones == [100, 200]


def test_training_on_an_imagenet_jpeg_folder(tmp_path):
    from fixtures_data import write_image_folder

    write_image_folder(tmp_path / "imnet", per_class=2)
    generate(3, 4, method="simplex").save(tmp_path / "cb3.npz")
    cfg = tiny_config(tmp_path, spec=f"imagenet:{tmp_path / 'imnet'}", codebook=str(tmp_path / "cb3.npz"),
                      width=4, batch_size=3, epochs=1, eval_every=0, out=str(tmp_path / "run"))
    history = fit(cfg, log=lambda s: None)
    assert history[0]["loss"] > 0 and load_checkpoint(tmp_path / "run")["data"]["kind"] == "imagenet"
    report = evaluate_checkpoint(tmp_path / "run", split="val", device="cpu")
    assert report.count == 6 and len(report.class_names) == 3


def test_loader_batches_do_not_depend_on_the_number_of_workers(tmp_path):
    from spherecode.data import AugmentedDataset, build_dataset

    base = build_dataset("synthetic:classes=3,per_class=4,image_size=8", "train")
    ds = AugmentedDataset(base, base.train_transform(), seed=3)
    batches = []
    for workers in (0, 2):
        loader = make_loader(ds, 4, shuffle=True, seed=3, workers=workers, drop_last=True)
        loader.sampler.set_epoch(1)
        batches.append([(x.clone(), y.clone()) for x, y in loader])
    for (x0, y0), (x2, y2) in zip(*batches, strict=True):
        assert torch.equal(x0, x2) and torch.equal(y0, y2)


def test_schedules_match_their_formulas():
    import math

    from spherecode.train.schedule import Schedule

    s = Schedule(lr=0.4, total_steps=100, warmup_steps=10, kind="cosine", min_lr=0.01)
    for t in range(100):
        ref = 0.4 * (t + 1) / 10 if t < 10 else 0.01 + 0.39 * 0.5 * (1 + math.cos(math.pi * (t - 10) / 90))
        assert s.lr_at(t) == pytest.approx(ref)
    step = Schedule(lr=0.01, total_steps=250 * 4, kind="step", milestones=[100, 200], gamma=0.1, steps_per_epoch=4)
    assert [step.lr_at(e * 4) for e in (0, 99, 100, 199, 200, 249)] == pytest.approx([0.01, 0.01, 1e-3, 1e-3, 1e-4, 1e-4])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    live = Schedule(lr=0.4, total_steps=100, warmup_steps=10, optimizer=opt)
    live.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(live.lr_at(1))


def test_learned_relabelling_trains_and_evaluates_from_checkpoint(tmp_path):
    history = fit(tiny_config(tmp_path, relabelling="learned", relabel_penalty=0.01, epochs=2,
                              out=str(tmp_path / "run")), log=lambda s: None)
    ck = load_checkpoint(tmp_path / "run")
    assert any("relabeller" in k for k in ck["model"])
    report = evaluate_checkpoint(tmp_path / "run", device="cpu")
    assert report.top1 == pytest.approx(history[-1]["val_top1"])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_gpu_mixed_precision_channels_last(tmp_path, amp):
    history = fit(tiny_config(tmp_path, device="cuda", amp=amp, epochs=2, out=str(tmp_path / amp)), log=lambda s: None)
    assert all(math.isfinite(r["loss"]) for r in history)
    ck = load_checkpoint(tmp_path / amp)
    assert (ck["scaler"] is not None) == (amp == "fp16")
    assert evaluate_checkpoint(tmp_path / amp, device="cuda").count == 4


def test_command_line_parser_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, spherecode.cli.main as m; m.build_parser(); print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "False"


def test_cli_config_file_with_overrides(tmp_path, cli):
    generate(4, 8, method="orthoplex").save(tmp_path / "cb.npz")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'[data]\nspec = "{TINY}"\nbatch_size = 16\nworkers = 0\n'
                      f'[model]\narch = "resnet10"\nwidth = 4\ncodebook = "{tmp_path / "cb.npz"}"\n'
                      '[optim]\nlr = 0.05\nmilestones = [1]\nschedule = "step"\n[run]\nepochs = 5\n')
    code, out, err = cli("train", "--config", str(recipe), "--epochs", "1", "--batch-size", "8", "--no-channels-last",
                         "--out", str(tmp_path / "run"))
    assert code == 0, err
    saved = load_toml(tmp_path / "run" / "config.toml")
    assert (saved.run.epochs, saved.data.batch_size, saved.run.channels_last) == (1, 8, False)
    assert (saved.optim.schedule, saved.optim.milestones, saved.model.width) == ("step", [1], 4)
    code, out, err = cli("evaluate", str(tmp_path / "run"), "--device", "cpu", "--top", "2")
    assert code == 0 and "top-1" in out and "most confused" in out
    code, out, err = cli("train", "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and "'--config': file" in err
    recipe.write_text("[run]\nepochs = 'many'\n")
    code, out, err = cli("train", "--config", str(recipe))
    assert code == 2 and "'run.epochs' must be int" in err
