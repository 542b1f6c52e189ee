"""Reliability of training and pretraining: run folders (lock, partial runs, foreign files), a full disk,
strict configs, data validation and progress. Each case ends in one clear line (or a correct result)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from spherecode.errors import SpherecodeError
from spherecode.files import LOCK_NAME, RunLock
from spherecode.train.checkpoint import CONFIG_HEADER, is_partial_run, load_checkpoint
from spherecode.train.config import TrainConfig, override
from spherecode.train.loop import Trainer, fit

torch.set_num_threads(1)
TINY = "synthetic:classes=4,per_class=8,image_size=8,noise=8"
ROOT = Path(__file__).resolve().parents[1]


def tiny(tmp_path: Path, **extra) -> TrainConfig:
    values = {"spec": TINY, "head": "linear", "codebook": None, "relabelling": "none", "arch": "resnet10", "width": 4,
              "epochs": 1, "batch_size": 8, "workers": 0, "eval_every": 0, "progress": False}
    return override(TrainConfig(), {**values, **extra})


def tiny_args(run: Path) -> list[str]:
    return ["train", "--data", TINY, "--head", "linear", "--arch", "resnet10", "--width", "4", "--epochs", "1",
            "--batch-size", "8", "--workers", "0", "--eval-every", "0", "--out", str(run)]


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    return lines[0]


# ------------------------------------------------------------------ the lock
def test_run_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(SpherecodeError, match=rf"in use by spherecode process {os.getpid()} on "):
            RunLock(tmp_path, "--out").acquire()
    with RunLock(tmp_path) as lock:  # released: free again
        assert lock.held


def test_a_killed_holder_does_not_leave_a_stale_lock(tmp_path):
    code = (f"import sys, time; sys.path.insert(0, {str(ROOT)!r}); from spherecode.files import RunLock; "
            f"lock = RunLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(SpherecodeError, match=f"process {proc.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        proc.kill()
        proc.wait()
    assert (tmp_path / LOCK_NAME).exists()  # the file stays; the kernel dropped the lock with the process
    RunLock(tmp_path).acquire().release()


def test_two_trainers_on_one_folder_the_second_is_refused(tmp_path, cli):
    run = tmp_path / "run"
    first = Trainer(tiny(tmp_path, out=str(run)), log=lambda s: None)
    code, _, err = cli(*tiny_args(run))
    assert "is in use by spherecode process" in one_error_line(code, err)
    first.fit()
    code, _, err = cli("train", "--resume", str(run), "--epochs", "2")
    assert code == 0, err
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]


# ------------------------------------------------------- partial and foreign folders
def test_a_run_interrupted_before_its_first_checkpoint_restarts_in_place(tmp_path, cli):
    run = tmp_path / "run"

    class Interrupt(KeyboardInterrupt):
        pass

    def stop(line: str) -> None:
        if line.startswith("training"):
            raise Interrupt
    with pytest.raises(Interrupt):
        fit(tiny(tmp_path, out=str(run)), log=stop)
    assert is_partial_run(run) and not (run / "checkpoint.pt").exists()
    code, _, err = cli("train", "--resume", str(run))
    assert "stopped before its first checkpoint" in one_error_line(code, err)
    code, out, err = cli(*tiny_args(run))
    assert code == 0, err
    assert "starting it again" in out and load_checkpoint(run)["epoch"] == 1


@pytest.mark.parametrize("name", ["config.resolved.toml", "best.pt", "metrics.jsonl"])
def test_files_the_trainer_did_not_write_are_not_overwritten_without_force(tmp_path, cli, name):
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_text("mine\n")
    (run / "config.toml").write_text("# the user's recipe\n")  # the run's config then goes to config.resolved.toml
    code, _, err = cli(*tiny_args(run), "--keep-best", "--eval-every", "1")
    assert name in one_error_line(code, err) and "--force" in err
    assert (run / name).read_text() == "mine\n" and not (run / "checkpoint.pt").exists()
    code, _, err = cli(*tiny_args(run), "--keep-best", "--eval-every", "1", "--force")
    assert code == 0, err
    assert (run / name).read_bytes() != b"mine\n"


def test_force_starts_a_finished_run_over(tmp_path, cli):
    run = tmp_path / "run"
    assert cli(*tiny_args(run))[0] == 0
    code, _, err = cli(*tiny_args(run))
    assert "--resume" in one_error_line(code, err) and "--force" in err
    code, out, err = cli(*tiny_args(run), "--force")
    assert code == 0 and "replaced" in out, err
    code, _, err = cli("train", "--resume", str(run), "--force")
    assert "exclude each other" in one_error_line(code, err)


def test_the_trainers_own_config_header_marks_its_files(tmp_path):
    run = tmp_path / "run"
    fit(tiny(tmp_path, out=str(run)), log=lambda s: None)
    assert (run / "config.toml").read_text().startswith(CONFIG_HEADER)


# ----------------------------------------------------------------- full disk
def test_a_full_disk_while_saving_the_checkpoint_says_so(tmp_path, cli, monkeypatch):
    import spherecode.files as files

    real = files._move_into_place

    def full(tmp, final, overwrite, option):
        if final.name == "checkpoint.pt":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(tmp, final, overwrite, option)
    monkeypatch.setattr(files, "_move_into_place", full)
    code, _, err = cli(*tiny_args(tmp_path / "run"))
    line = one_error_line(code, err)
    assert "the disk is full" in line and "checkpoint.pt" in line


# ------------------------------------------------------------------- configs
@pytest.mark.parametrize("section, line, message", [
    ("optim", 'lr = "0.1"', r"'optim.lr' \(--lr\) must be a number, not '0.1'"),
    ("run", "seed = 1.5", "must be an integer, not 1.5"),
    ("run", "epochs = 1e12", "must be an integer"),
    ("run", "epochs = 1000000000000", "must be at most 100000"),
    ("optim", 'milestones = "5"', "must be a list of integers"),
    ("optim", "milestones = [5, 2]", "strictly increasing"),
    ("optim", "lr = 1e400", "must be a finite number"),
    ("optim", "nesterov = 1", "must be true or false"),
    ("run", 'task = "pretrain"', "must be one of supervised"),
])
def test_config_values_are_typed_strictly(tmp_path, cli, section, line, message):
    import re

    (tmp_path / "c.toml").write_text(f"[{section}]\n{line}\n")
    code, _, err = cli("train", "--config", str(tmp_path / "c.toml"))
    assert re.search(message, one_error_line(code, err)), err


def test_pretrain_config_with_the_supervised_task_is_refused(tmp_path, cli):
    (tmp_path / "c.toml").write_text('[run]\ntask = "supervised"\n')
    code, _, err = cli("pretrain", "--config", str(tmp_path / "c.toml"))
    assert "must be one of pretrain" in one_error_line(code, err)


def test_flags_are_parsed_from_text_and_checked():
    cfg = override(TrainConfig(), {"lr": "0.5", "milestones": "2,5", "seed": "3"})
    assert (cfg.optim.lr, cfg.optim.milestones, cfg.run.seed) == (0.5, [2, 5], 3)


@pytest.mark.parametrize("flags, message", [
    (["--workers", "100000"], "must be at most 256"),
    (["--milestones", "5,2"], "strictly increasing"),
    (["--milestones", "-1"], "must be at least 1"),
    (["--lr", "1e400"], "finite"),
    (["--data", "synthetic:noise=nan"], "noise must be a finite number"),
    (["--data", "synthetic:noise=-5"], "noise must be at least 0"),
    (["--data", "synthetic:seed=-1"], "seed must be at least 0"),
    (["--data", "mnist:seed=-1"], "seed must be at least 0"),
    (["--data", "synthetic:classes=100000"], "at most 10000 classes"),
    (["--data", "synthetic:image_size=100000"], "needs about .* TB"),
    (["--data", "folder:nowhere,size=100000"], "size must be at most 1024 pixels, not 100000"),
    (["--width", "100000"], "--width': training resnet10 of width 100000 .* needs about .* TB"),
])
def test_impossible_settings_are_one_line_within_seconds(tmp_path, cli, flags, message):
    import re

    start = time.perf_counter()
    code, _, err = cli("train", "--data", "synthetic:classes=4,per_class=8,image_size=8", "--arch", "resnet10",
                       "--head", "linear", "--epochs", "1", "--workers", "0", "--out", str(tmp_path / "run"), *flags)
    assert re.search(message, one_error_line(code, err)), err
    assert time.perf_counter() - start < 10 and not (tmp_path / "run").exists()


# ---------------------------------------------------------------------- data
def _cifar(tmp_path: Path, labels=None, names=None) -> Path:
    import pickle

    from fixtures_data import cifar_meta, write_cifar_folder

    write_cifar_folder(tmp_path, cifar_meta())
    folder = tmp_path / "cifar-100-python"
    if labels is not None:
        d = pickle.loads((folder / "train").read_bytes(), encoding="latin1")
        d["fine_labels"] = labels + d["fine_labels"][len(labels):]
        (folder / "train").write_bytes(pickle.dumps(d, protocol=2))
    if names is not None:
        (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": names, "coarse_label_names": []}, protocol=2))
    return tmp_path


@pytest.mark.parametrize("labels, names, message", [
    ([-1], None, "negative label -1"),
    (["cat"], None, "must be a list of integer labels"),
    ([1.5], None, "must be a list of integer labels"),
    (None, "abc", "must be a list of class names"),
])
def test_malformed_cifar_files_are_refused_in_one_line(tmp_path, labels, names, message):
    from spherecode.data.cifar import CIFAR100

    root = _cifar(tmp_path, labels, names)
    with pytest.raises(SpherecodeError, match=message):
        CIFAR100(root, "train")


def test_an_image_over_the_pixel_limit_is_refused_with_its_size(tmp_path, cli):
    from fixtures_data import write_image_folder
    from PIL import Image

    write_image_folder(tmp_path / "img", classes=("a", "b"), per_class=1)
    Image.new("1", (10_000, 9_000)).save(tmp_path / "img" / "train" / "a" / "huge.png")
    code, _, err = cli("train", "--data", f"folder:{tmp_path / 'img'}", "--arch", "resnet10", "--width", "4",
                       "--head", "linear", "--epochs", "1", "--workers", "0")
    assert "10000 x 9000 pixels" in one_error_line(code, err)


def test_class_folders_without_images_give_the_error_alone(tmp_path, cli):
    for split in ("train", "val"):
        for cls in ("a", "b"):
            (tmp_path / "img" / split / cls).mkdir(parents=True)
    code, _, err = cli("train", "--data", f"folder:{tmp_path / 'img'}", "--workers", "0")
    assert "holds no images" in one_error_line(code, err)


def test_an_empty_class_folder_is_one_warning_line_said_once(tmp_path, cli):
    from PIL import Image

    for split in ("train", "val"):
        for cls in ("a", "b"):
            (tmp_path / "img" / split / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (12, 12), (90 * i, 0, 0)).save(tmp_path / "img" / split / "a" / f"{i}.png")
    code, _, err = cli("train", "--data", f"folder:{tmp_path / 'img'},size=8", "--head", "linear", "--arch",
                       "resnet10", "--width", "4", "--epochs", "1", "--batch-size", "2", "--workers", "0", "--no-progress")
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("spherecode: class folder ") for line in lines), err


# ------------------------------------------------------------ wrong kind of run
def test_resume_and_evaluate_refuse_the_wrong_kind_of_run(tmp_path, cli):
    run = tmp_path / "run"
    code, _, err = cli("pretrain", "--data", "synthetic:classes=4,per_class=8,image_size=8", "--arch", "resnet10",
                       "--width", "4", "--proj-hidden", "16", "--proj-dim", "8", "--n-local", "0", "--batch-size", "8",
                       "--epochs", "1", "--eval-every", "0", "--workers", "0", "--out", str(run), "--no-progress")
    assert code == 0, err
    code, _, err = cli("train", "--resume", str(run), "--epochs", "2")
    assert "spherecode pretrain --resume" in one_error_line(code, err)
    sup = tmp_path / "sup"
    assert cli(*tiny_args(sup))[0] == 0
    code, _, err = cli("pretrain", "--resume", str(sup), "--epochs", "2")
    assert "spherecode train --resume" in one_error_line(code, err)
    state = load_checkpoint(sup)
    state["model"] = {k: v[..., :1] if v.ndim else v for k, v in state["model"].items()}
    torch.save(state, sup / "checkpoint.pt")
    code, _, err = cli("evaluate", str(sup), "--device", "cpu")
    assert "weights do not fit the model" in one_error_line(code, err)


# ------------------------------------------------------------------ progress
def test_progress_without_a_terminal_is_a_line_every_interval(tmp_path, monkeypatch, capsys):
    import spherecode.train.progress as progress

    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    history = fit(tiny(tmp_path, progress=True, log_every=1), log=print)
    out, err = capsys.readouterr()
    steps = [line for line in err.splitlines() if line.startswith("epoch 1/1: step ")]
    assert len(steps) == 4 and "loss" in steps[-1] and "left" in steps[-1]  # 32 images, batch 8
    assert out.splitlines()[-1].startswith("epoch 1 ") and out.splitlines()[-1].endswith(" s")
    assert len(history) == 1


# -------------------------------------------------------------- config fuzz
def _fields(cfg_type):
    from spherecode.train.config import field_table

    return [(sec, f.name, tp) for _, (sec, f, tp) in field_table(cfg_type).items()]


def _toml_values():
    from hypothesis import strategies as st

    scalar = st.one_of(st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
                       st.text(max_size=8), st.sampled_from(["0.1", "5", "auto", "cosine", "1e400", "-1", ""]))
    return st.one_of(scalar, st.lists(scalar, max_size=3), st.dictionaries(st.text(max_size=3), scalar, max_size=2))


@pytest.mark.parametrize("kind", ["train", "pretrain"])
def test_fuzz_config_values_are_typed_or_refused_naming_the_key(kind):
    """Any value of any TOML type for any key: a config whose every field has its declared type, or one
    SpherecodeError line naming that key and its flag."""
    import dataclasses
    import typing

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from spherecode.train.config import _base_type, from_dict
    from spherecode.train.pretrain_config import PretrainConfig

    cfg_type = TrainConfig if kind == "train" else PretrainConfig
    fields = _fields(cfg_type)

    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(fields), _toml_values())
    def check(field, value):
        sec, name, tp = field
        try:
            cfg = from_dict({sec: {name: value}}, cfg_type)
        except SpherecodeError as exc:
            msg = str(exc)
            assert f"'{sec}.{name}'" in msg and "\n" not in msg, msg
            return
        got = getattr(getattr(cfg, sec), name)
        base, optional = _base_type(tp)
        if typing.get_origin(base) is list:
            assert isinstance(got, list) and all(type(v) is int for v in got)
        elif base in (bool, int, float, str):
            assert type(got) is base, (sec, name, value, got)
        if isinstance(got, float):
            assert got == got and abs(got) != float("inf")
        assert dataclasses.is_dataclass(cfg)

    check()
