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
TINY = "synthetic:classes=4,per_class=8,image_size=8,noise=8,nuisance=0"  # an easy problem
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
    tr = Trainer(tiny_config(tmp_path, epochs=30, eval_every=0), log=lambda s: None)
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
    tr = Trainer(tiny_config(tmp_path, head="linear", epochs=12, lr=0.1, codebook=None, eval_every=0), log=lambda s: None)
    history = tr.fit()
    assert history[-1]["loss"] < history[0]["loss"] / 2, [h["loss"] for h in history]
    loader = make_loader(tr.task.eval_dataset(tr.train_set), 16, shuffle=False, pad=False)
    assert evaluate_model(tr.raw_model, loader, 4, torch.device("cpu")).top1 >= 0.9  # chance: 0.25


def test_linear_head_front_end_standardises_by_default(tmp_path):
    from torch import nn

    from spherecode.nn.heads import LinearHead
    from spherecode.train.task import SupervisedTask

    def model(**extra):
        cfg = tiny_config(tmp_path, head="linear", codebook=None, **extra)
        return Trainer(cfg, log=lambda s: None).raw_model

    default, raw, proj = model(), model(dim=0), model(dim=6)
    assert isinstance(default.head.norm, nn.BatchNorm1d) and not default.head.norm.affine
    assert isinstance(default.encoder.projection, nn.Identity)
    assert isinstance(raw.head.norm, nn.Identity) and isinstance(raw.encoder.projection, nn.Identity)
    assert isinstance(proj.head.norm, nn.Identity) and proj.head.linear.in_features == 6
    assert isinstance(model(norm="group").head.norm, nn.GroupNorm)
    # the standardised logits: W (f - mean) / std + b over the batch, against a direct formula
    head = LinearHead(5, 3, norm="batch").train()
    f = torch.randn(16, 5) * 3 + 7
    ref = ((f - f.mean(0)) / torch.sqrt(f.var(0, unbiased=False) + 1e-5)) @ head.linear.weight.t() + head.linear.bias
    assert torch.allclose(head(f), ref, atol=1e-5)
    with pytest.raises(SpherecodeError, match="'--dim' 0"):
        SupervisedTask(tiny_config(tmp_path, dim=0), Trainer(tiny_config(tmp_path), log=lambda s: None).train_set)


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
    with pytest.raises(SpherecodeError, match=r"'optim.lr' \(--lr\) must be a number"):
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
    assert code == 2 and "'run.epochs' (--epochs) must be an integer" in err


# ------------------------------------------------------------ relabelling honoured
def test_a_relabelled_codebook_is_honoured_by_default_and_said_in_the_log(tmp_path):
    import numpy as np

    from spherecode.codebook import Codebook
    from spherecode.nn.heads import PrototypeHead

    cb = generate(4, 8, method="orthoplex").with_permutation(np.array([2, 0, 3, 1]))
    cb.save(tmp_path / "relabelled.npz")
    lines: list[str] = []
    tr = Trainer(tiny_config(tmp_path, codebook=str(tmp_path / "relabelled.npz"), epochs=1, eval_every=0), log=lines.append)
    head = tr.raw_model.head
    assert head.relabelling == "fixed" and torch.equal(head.prototypes, torch.tensor(cb.prototypes, dtype=torch.float32))
    tr.fit()
    assert any("labelling the codebook's stored permutation" in s for s in lines), lines
    lines.clear()
    tr = Trainer(tiny_config(tmp_path, codebook=str(tmp_path / "relabelled.npz"), relabelling="none", epochs=1,
                             eval_every=0), log=lines.append)
    assert torch.equal(tr.raw_model.head.prototypes, torch.tensor(cb.vectors, dtype=torch.float32))
    tr.fit()
    assert any("stored permutation ignored" in s for s in lines), lines
    # a codebook without a permutation: auto is the identity
    plain = Codebook(np.eye(3))
    assert PrototypeHead(plain).relabelling == "none"
    assert PrototypeHead(cb).relabelling == "fixed"


# ------------------------------------------------------------ one way to load a run
def test_load_run_rebuilds_supervised_and_pretraining_runs(tmp_path, cli):
    from spherecode.train.checkpoint import load_run
    from spherecode.train.pretrain_config import PretrainConfig

    history = fit(tiny_config(tmp_path, epochs=1, out=str(tmp_path / "sup")), log=lambda s: None)
    run = load_run(tmp_path / "sup")
    assert run.task_name == "supervised" and type(run.config) is TrainConfig and run.data.num_classes == 4
    assert run.epoch == 1 and run.task.codebook.n == 4
    x = torch.randn(2, 3, 8, 8)
    run.model.eval()
    assert run.model(x).shape == (2, 4)
    ssl = override(PretrainConfig(), {"spec": "synthetic:classes=4,per_class=8,test_per_class=4,image_size=8",
                                      "arch": "resnet10", "width": 4, "batch_size": 16, "workers": 0, "n_local": 2,
                                      "proj_hidden": 16, "proj_dim": 8, "proj_layers": 2, "knn_k": 5, "epochs": 1,
                                      "eval_every": 0, "progress": False, "out": str(tmp_path / "ssl")})
    fit(ssl, log=lambda s: None)
    run = load_run(tmp_path / "ssl")
    assert run.task_name == "pretrain" and type(run.config) is PretrainConfig and run.config.ssl.proj_dim == 8
    assert "pretrain run (hypersolid) at epoch 1/1" in run.describe()
    # evaluate on a pretraining run: k-NN and linear probe of its features
    code, out, err = cli("evaluate", str(tmp_path / "ssl"), "--device", "cpu", "--probe-epochs", "3", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["task"] == "pretrain" and 0 <= report["knn_top1"] <= 1 and "probe_top1" in report
    with pytest.raises(SpherecodeError, match="pretrain run .* has no classifier"):
        evaluate_checkpoint(tmp_path / "ssl", device="cpu")
    # a checkpoint without config: one line
    ck = load_checkpoint(tmp_path / "sup")
    del ck["config"]
    from spherecode.train.checkpoint import save_checkpoint

    save_checkpoint({k: v for k, v in ck.items() if k != "format"}, tmp_path / "noconfig.pt")
    code, out, err = cli("evaluate", str(tmp_path / "noconfig.pt"), "--device", "cpu")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "has no config" in err, err
    assert history[0]["epoch"] == 1


def test_no_import_cycle_in_the_training_layer():
    """task.py, loop.py, pretrain.py (and the rest of spherecode.train) import each other without a cycle,
    counting imports inside functions too."""
    import ast

    root = Path(__file__).resolve().parents[1] / "spherecode" / "train"
    graph: dict[str, set[str]] = {}
    for f in root.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
        graph[f.stem] = {d for d in deps if (root / f"{d}.py").exists()} - {f.stem}

    def visit(node: str, stack: list[str]) -> None:
        assert node not in stack, " -> ".join([*stack, node])
        for d in graph[node]:
            visit(d, [*stack, node])

    for name in graph:
        visit(name, [])
    assert "loop" not in graph["task"] and "loop" not in graph["pretrain"] and "pretrain" not in graph["task"]


def test_each_loss_has_a_config_section_of_exactly_its_arguments():
    import dataclasses
    import inspect

    from spherecode.nn.losses import SSL_LOSSES
    from spherecode.train.pretrain import build_loss
    from spherecode.train.pretrain_config import LOSS_SECTIONS, PretrainConfig

    assert set(LOSS_SECTIONS) == set(SSL_LOSSES)
    for name, section in LOSS_SECTIONS.items():
        params = set(inspect.signature(SSL_LOSSES[name].__init__).parameters) - {"self", "gather_distributed", "dim"}
        assert {f.name for f in dataclasses.fields(section)} == params, name
    cfg = override(PretrainConfig(), {"loss": "hydes", "hydes_alpha": 0.25, "hydes_beta": 2.0, "hydes_kappa": 3.0,
                                      "hypersolid_alpha": 0.5})
    loss = build_loss(cfg)
    assert (loss.alpha, loss.beta, loss.kappa) == (0.25, 2.0, 3.0)
    with pytest.raises(SpherecodeError, match="Unknown config field 'global_weight'"):
        override(PretrainConfig(), {"global_weight": 1.0})


def test_fit_accepts_a_codebook_object_stored_through_its_own_serialisation(tmp_path):
    import numpy as np

    from spherecode.train.task import codebook_from_bytes

    cb = generate(4, 8, method="orthoplex").with_permutation(np.array([1, 0, 3, 2]))
    cfg = tiny_config(tmp_path, codebook=None, epochs=1, out=str(tmp_path / "run"))
    fit(cfg, codebook=cb, log=lambda s: None)
    stored = load_checkpoint(tmp_path / "run")["task_state"]["codebook"]
    assert stored.dtype == torch.uint8
    back = codebook_from_bytes(stored)
    assert np.array_equal(back.vectors, cb.vectors) and np.array_equal(back.permutation, cb.permutation)
    assert back.method == cb.method
    old = {"vectors": torch.tensor(cb.vectors), "metadata": json.dumps(cb.metadata()), "permutation": [1, 0, 3, 2]}
    assert np.array_equal(codebook_from_bytes(old).prototypes, cb.prototypes)  # checkpoints written before
    assert evaluate_checkpoint(tmp_path / "run", device="cpu").count == 4
    with pytest.raises(SpherecodeError, match="must be a spherecode Codebook"):
        Trainer(tiny_config(tmp_path, codebook=None), codebook=np.eye(4))


# ------------------------------------------------------------ device-resident CIFAR pipeline
def test_batched_crop_flip_equals_the_per_sample_transforms():
    from spherecode.data.resident import crop_flip
    from spherecode.data.transforms import RandomCrop

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (6, 3, 10, 10), dtype=torch.uint8, generator=g)
    top = torch.randint(0, 7, (6,), generator=g)
    left = torch.randint(0, 7, (6,), generator=g)
    flip = torch.rand(6, generator=g) < 0.5
    out = crop_flip(x, top, left, flip, size=10, padding=3)
    for b in range(6):
        padded = torch.nn.functional.pad(x[b], (3,) * 4)
        ref = padded[:, top[b]:top[b] + 10, left[b]:left[b] + 10]
        ref = ref.flip(-1) if flip[b] else ref
        assert torch.equal(out[b], ref), b
    # RandomCrop's window at the same offsets (its generator draws top, then left)
    class Fixed:
        pass
    crop = RandomCrop(10, 3)
    assert crop(x[0], torch.Generator().manual_seed(1)).shape == out[0].shape


def test_resident_loader_matches_the_worker_path_and_is_reproducible():
    from spherecode.data import AugmentedDataset, build_dataset
    from spherecode.data.loader import DeviceLoader, split_normalize
    from spherecode.data.resident import ResidentLoader, dataset_tensors, resident_loader

    base = build_dataset("synthetic:classes=3,per_class=6,image_size=8", "train")
    # evaluation (no augmentation): identical batches to the per-sample path normalised on the device
    ev = resident_loader(base, base.eval_transform(), 5, torch.device("cpu"), shuffle=False, pad=False)
    stripped, norm = split_normalize(base.eval_transform())
    worker = DeviceLoader(make_loader(AugmentedDataset(base, stripped), 5, shuffle=False, pad=False),
                          torch.device("cpu"), norm)
    ref = DeviceLoader(make_loader(AugmentedDataset(base, base.eval_transform()), 5, shuffle=False, pad=False),
                       torch.device("cpu"))
    for (a, ya), (b, yb), (c, yc) in zip(ev, worker, ref, strict=True):
        assert torch.allclose(a, b, atol=1e-5) and torch.allclose(a, c, atol=1e-5) and torch.equal(ya, yc)
    # training: the same epoch gives the same batches; a sample's crop does not depend on the batch size
    tr = resident_loader(base, base.train_transform(), 4, torch.device("cpu"), shuffle=True, seed=1, drop_last=True)
    assert isinstance(tr, ResidentLoader) and len(tr) == 4
    tr.set_epoch(2)
    first = [(x.clone(), y.clone()) for x, y in tr]
    second = list(tr)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, second, strict=True))
    images, labels = dataset_tensors(base)
    big = ResidentLoader(images, labels, 16, torch.device("cpu"), shuffle=True, seed=1, drop_last=True, crop=8,
                         padding=1, flip=0.5, normalize=norm)
    big.set_epoch(2)
    x16, y16 = next(iter(big))
    assert torch.equal(torch.cat([f[0] for f in first]), x16) and torch.equal(torch.cat([f[1] for f in first]), y16)
    tr.set_epoch(3)
    assert not torch.equal(next(iter(tr))[0], first[0][0])
    # ImageNet-style augmentation is not reproduced: the worker path stays
    from spherecode.data.transforms import imagenet_train_transform

    assert resident_loader(base, imagenet_train_transform(8), 4, torch.device("cpu"), shuffle=True) is None

    class Mixed(type(base)):  # images of two sizes: the per-sample path serves them
        def image(self, index: int) -> torch.Tensor:
            return super().image(index)[:, : 8 - index % 2]

    mixed = Mixed(num_classes=3, per_class=2, image_size=8)
    assert resident_loader(mixed, mixed.eval_transform(), 2, torch.device("cpu"), shuffle=False) is None
    with pytest.raises(SpherecodeError, match="differ in size"):
        dataset_tensors(mixed)


def test_pipeline_option_chooses_the_path(tmp_path):
    from spherecode.data.loader import DeviceLoader
    from spherecode.data.resident import ResidentLoader

    tr = Trainer(tiny_config(tmp_path, epochs=1), log=lambda s: None)
    assert isinstance(tr.train_loader, ResidentLoader) and isinstance(tr.eval_loader, ResidentLoader)
    tr = Trainer(tiny_config(tmp_path, epochs=1, pipeline="workers"), log=lambda s: None)
    assert isinstance(tr.train_loader, DeviceLoader)
    x, _ = next(iter(tr.train_loader.loader))
    assert x.dtype == torch.uint8  # crosses to the device as uint8, normalised there
    assert next(iter(tr.train_loader))[0].dtype == torch.float32
    a = fit(tiny_config(tmp_path, epochs=2, pipeline="device"), log=lambda s: None)
    b = fit(tiny_config(tmp_path, epochs=2, pipeline="workers"), log=lambda s: None)
    assert a[-1]["top1"] > 0.25 and b[-1]["top1"] > 0.25


# ------------------------------------------------------------ command-line mistakes
@pytest.mark.parametrize("flag,value,needle", [
    ("--epochs", "0", "'run.epochs' (--epochs) must be at least 1, not 0"),
    ("--batch-size", "0", "'data.batch_size' (--batch-size) must be at least 1, not 0"),
    ("--lr", "-1", "'optim.lr' (--lr) must be positive, not -1.0"),
    ("--workers", "-1", "'data.workers' (--workers) must be at least 0, not -1"),
    ("--seed", "18446744073709551616", "(--seed) must be at most"),
    ("--temperature", "nan", "(--temperature) must be a finite number"),
    ("--pipeline", "gpu", "(--pipeline) must be one of auto, device, workers"),
    ("--warmup-epochs", "5", "'--warmup-epochs' 5 is longer than the run (1 epochs)"),
])
def test_bad_training_values_are_one_line(tmp_path, cli, monkeypatch, flag, value, needle):
    _no_training(monkeypatch)
    generate(4, 8, method="orthoplex").save(tmp_path / "cb.npz")
    code, out, err = cli("train", "--data", TINY, "--codebook", str(tmp_path / "cb.npz"), "--arch", "resnet10",
                         "--width", "4", "--epochs", "1", "--workers", "0", "--out", str(tmp_path / "run"), flag, value)
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
    assert "internal error" not in err and not (tmp_path / "run").exists()


def test_users_config_file_in_the_run_dir_is_kept_and_resume_epochs_is_explicit(tmp_path, cli):
    generate(4, 8, method="orthoplex").save(tmp_path / "cb.npz")
    run = tmp_path / "run"
    run.mkdir()
    user = (f'# my recipe\n[data]\nspec = "{TINY}"\nbatch_size = 8\nworkers = 0\n'
            f'[model]\narch = "resnet10"\nwidth = 4\ncodebook = "{tmp_path / "cb.npz"}"\n[run]\nepochs = 3\n')
    (run / "config.toml").write_text(user)
    code, out, err = cli("train", "--config", str(run / "config.toml"), "--out", str(run), "--epochs", "2", "--no-progress")
    assert code == 0, err
    assert (run / "config.toml").read_text() == user
    assert load_toml(run / "config.resolved.toml").run.epochs == 2 and "left as it is" in out
    stored = load_checkpoint(run)["config"]
    # fewer epochs than done: refused in one line, nothing rewritten
    before = (run / "config.resolved.toml").read_text(), (run / "checkpoint.pt").read_bytes()
    code, out, err = cli("train", "--resume", str(run), "--epochs", "1")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "already completed 2 of its 2 epochs" in err, err
    assert ((run / "config.resolved.toml").read_text(), (run / "checkpoint.pt").read_bytes()) == before
    assert load_checkpoint(run)["config"] == stored
    # more epochs: honoured and said
    code, out, err = cli("train", "--resume", str(run), "--epochs", "3")
    assert code == 0 and "epochs changed 2 -> 3" in out, err
    assert load_checkpoint(run)["config"]["run"]["epochs"] == 3


@pytest.mark.parametrize("argv,needle", [
    (["--split", "foo"], "'--split' must be one of train, test, val; got 'foo'"),
    (["--top", "-1"], "'--top' must be at least 0, not -1"),
    (["--batch-size", "0"], "'--batch-size' must be at least 1"),
])
def test_evaluate_refuses_bad_arguments(tmp_path, cli, argv, needle):
    fit(tiny_config(tmp_path, epochs=1, out=str(tmp_path / "run"), eval_every=0), log=lambda s: None)
    code, out, err = cli("evaluate", str(tmp_path / "run"), "--device", "cpu", *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err


# ------------------------------------------------------------ schedules and recipe features
def test_warmup_longer_than_the_run_is_refused_and_logged_lr_is_the_epochs_mean(tmp_path):
    from spherecode.train.schedule import Schedule

    with pytest.raises(SpherecodeError, match="'--warmup-epochs' 3 is longer than the run"):
        Trainer(tiny_config(tmp_path, epochs=2, warmup_epochs=3), log=lambda s: None)
    history = fit(tiny_config(tmp_path, epochs=2, warmup_epochs=1, eval_every=0, lr=0.1), log=lambda s: None)
    steps = 32 // 8
    ref = Schedule(0.1, 2 * steps, steps)
    for e, rec in enumerate(history):
        assert rec["lr"] == pytest.approx(sum(ref.lr_at(t) for t in range(e * steps, (e + 1) * steps)) / steps)
    assert history[0]["lr"] == pytest.approx(0.1 * (1 + 2 + 3 + 4) / 16)  # warm-up starts at lr / W


def test_checkpoint_every_and_keep_best(tmp_path):
    saves: list[int] = []
    import spherecode.train.loop as loop

    real = loop.save_checkpoint

    def spy(state, path):
        saves.append((state["epoch"], Path(path).name))
        return real(state, path)

    loop.save_checkpoint = spy
    try:
        fit(tiny_config(tmp_path, epochs=5, checkpoint_every=2, eval_every=0, out=str(tmp_path / "a")), log=lambda s: None)
        assert saves == [(2, "checkpoint.pt"), (4, "checkpoint.pt"), (5, "checkpoint.pt")]
        saves.clear()
        h = fit(tiny_config(tmp_path, epochs=3, checkpoint_every=10, keep_best=True, out=str(tmp_path / "b")),
                log=lambda s: None)
    finally:
        loop.save_checkpoint = real
    best_epochs = [e for e, name in saves if name == "best.pt"]
    assert best_epochs and best_epochs[0] == 1
    best = load_checkpoint(tmp_path / "b" / "best.pt")
    assert best["history"][-1]["val_top1"] == max(r["val_top1"] for r in h[: best["epoch"]])


def test_weight_decay_excludes_norm_and_bias_on_a_toy_model():
    from spherecode.train.loop import no_decay_groups

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2, bias=False))
    groups = no_decay_groups(model, [{"params": list(model.parameters())}])
    decayed = {id(p) for g in groups if "weight_decay" not in g for p in g["params"]}
    free = {id(p) for g in groups if g.get("weight_decay") == 0.0 for p in g["params"]}
    assert decayed == {id(model[0].weight), id(model[2].weight)}
    assert free == {id(model[0].bias), id(model[1].weight), id(model[1].bias)}
    # one SGD step with lr 1, wd 0.5 and zero gradients: only the decayed weights shrink
    opt = torch.optim.SGD(groups, lr=1.0, weight_decay=0.5)
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for p, b in zip(model.parameters(), before):
        assert torch.allclose(p, b * 0.5 if id(p) in decayed else b)


def test_ema_of_the_weights_on_a_toy_model(tmp_path):
    from spherecode.train.loop import EMA

    model = torch.nn.Linear(2, 1)
    ema = EMA(model, decay=0.9)
    w0 = model.weight.detach().clone()
    ref = w0.clone()
    for step in range(3):
        with torch.no_grad():
            model.weight.add_(1.0)
        ema.update(model)
        ref = 0.9 * ref + 0.1 * model.weight.detach()
    assert torch.allclose(ema.model.weight, ref) and not ema.model.weight.requires_grad
    # through the loop: the checkpoint holds the EMA and the evaluation uses it
    tr = Trainer(tiny_config(tmp_path, epochs=2, ema_decay=0.5, out=str(tmp_path / "run")), log=lambda s: None)
    tr.fit()
    ck = load_checkpoint(tmp_path / "run")
    assert ck["ema"] is not None and tr.evaluation_model() is tr.ema.model
    assert any(not torch.equal(ck["ema"][k], ck["model"][k]) for k in ck["model"] if ck["model"][k].is_floating_point())
    from spherecode.train.checkpoint import load_run

    run = load_run(tmp_path / "run", ema=True)
    assert torch.equal(run.model.state_dict()["head.prototypes"], ck["ema"]["head.prototypes"])


def test_workers_default_follows_the_cpu_count(monkeypatch):
    import os as _os

    from spherecode.train import config as config_mod

    monkeypatch.setattr(_os, "sched_getaffinity", lambda pid: set(range(2)), raising=False)
    assert config_mod.default_workers() == 1
    monkeypatch.setattr(_os, "sched_getaffinity", lambda pid: set(range(1)), raising=False)
    assert config_mod.default_workers() == 0
    monkeypatch.setattr(_os, "sched_getaffinity", lambda pid: set(range(32)), raising=False)
    assert config_mod.default_workers() == 4
    assert TrainConfig().data.workers is None


def test_mixup_and_cutmix_match_their_formulas_and_train(tmp_path):
    import torch.nn.functional as F

    from spherecode.data.mixing import mix_batch

    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 8, 8, generator=g)
    y = torch.arange(6) % 4
    mixed, y2, lam = mix_batch(x, y, 0.8, 0.0, torch.Generator().manual_seed(1))
    assert 0 < lam < 1 and mixed.shape == x.shape
    found = [next(j for j in range(6) if torch.allclose(mixed[b], lam * x[b] + (1 - lam) * x[j], atol=1e-6))
             for b in range(6)]
    assert sorted(found) == list(range(6)) and all(int(y2[b]) == int(y[found[b]]) for b in range(6))
    cut, y2c, lamc = mix_batch(x, y, 0.0, 1.0, torch.Generator().manual_seed(2))
    changed = (cut != x).any(dim=1)  # (B, H, W): pixels taken from the partner image
    for b in range(6):
        if int(y2c[b]) == int(y[b]) and torch.equal(cut[b], x[b]):
            continue
        assert changed[b].float().mean() <= 1 - lamc + 1e-6
    assert 0 <= lamc <= 1
    # the same generator state gives the same mix (reproducible, resumable)
    a = mix_batch(x, y, 0.8, 1.0, torch.Generator().manual_seed(5))
    b = mix_batch(x, y, 0.8, 1.0, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and a[2] == b[2]
    # the task's loss is the lambda-weighted cross-entropy of the two targets
    tr = Trainer(tiny_config(tmp_path, epochs=2, mixup=0.8, cutmix=1.0, eval_every=1), log=lambda s: None)
    task = tr.task
    state = task._mix_generator.get_state()
    xb, yb = next(iter(tr.train_loader))
    out = task.training_step(tr.raw_model, (xb, yb))
    gen = torch.Generator()
    gen.set_state(state)
    xm, ym, lm = mix_batch(xb, yb, 0.8, 1.0, gen)
    with torch.no_grad():
        logits = tr.raw_model(xm)
    ref = lm * F.cross_entropy(logits, yb) + (1 - lm) * F.cross_entropy(logits, ym)
    assert float(out.loss.detach()) == pytest.approx(float(ref), rel=1e-5)
    history = tr.fit()
    assert all(math.isfinite(h["loss"]) for h in history) and "val_top1" in history[-1]
    with pytest.raises(SpherecodeError, match="need --loss ce"):
        Trainer(tiny_config(tmp_path, mixup=0.5, loss="mettes"), log=lambda s: None)


def test_tensorboard_option(tmp_path):
    try:
        import torch.utils.tensorboard  # noqa: F401
        have = True
    except ImportError:
        have = False
    cfg = tiny_config(tmp_path, epochs=1, tensorboard=True, out=str(tmp_path / "run"))
    if not have:
        with pytest.raises(SpherecodeError, match=r"'--tensorboard' needs the tensorboard package"):
            Trainer(cfg, log=lambda s: None)
        assert not (tmp_path / "run" / "checkpoint.pt").exists()
    else:
        fit(cfg, log=lambda s: None)
        assert any((tmp_path / "run" / "tensorboard").iterdir())
    with pytest.raises(SpherecodeError, match="needs --out"):
        Trainer(tiny_config(tmp_path, epochs=1, tensorboard=True), log=lambda s: None)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_resident_loader_gives_the_same_batches_on_cuda_as_on_cpu():
    from spherecode.data import build_dataset
    from spherecode.data.resident import resident_loader

    base = build_dataset("synthetic:classes=3,per_class=6,image_size=8", "train")
    batches = {}
    for dev in ("cpu", "cuda"):
        loader = resident_loader(base, base.train_transform(), 4, torch.device(dev), shuffle=True, seed=1, drop_last=True)
        loader.set_epoch(3)
        batches[dev] = [(x.cpu(), y.cpu()) for x, y in loader]
    for (a, ya), (b, yb) in zip(batches["cpu"], batches["cuda"], strict=True):
        assert torch.allclose(a, b, atol=1e-6) and torch.equal(ya, yb)
