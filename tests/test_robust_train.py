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
