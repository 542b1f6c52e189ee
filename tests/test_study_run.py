"""Running a study: executors (local processes, a Slurm array job), the dry run's checks, one process per shard."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from spherecode import Codebook
from spherecode.cli.main import main
from spherecode.errors import SpherecodeError
from spherecode.study import read_csv, run_study, study_from_dict
from spherecode.train.config import ModelConfig

pytest.importorskip("submitit")

TINY = "synthetic:classes=8,per_class=6,test_per_class=3,image_size=8,superclasses=2"


def tiny(out: Path, codebooks: list | None = None, **study: object) -> dict:
    return {"study": {"name": "tiny", "out": str(out), "seeds": [0, 1], "heads": ["prototype", "linear"],
                      "labellings": ["identity"], **study},
            "codebooks": codebooks if codebooks is not None else [{"methods": ["orthoplex"], "dims": [4]}],
            "train": {"data": {"spec": TINY, "batch_size": 8, "workers": 0},
                      "model": {"arch": "resnet10", "width": 4}, "run": {"epochs": 1, "device": "cpu"}}}


@contextlib.contextmanager
def lock_held_elsewhere(folder: Path) -> Iterator[None]:
    """Another process holds the RunLock of ``folder`` until the block ends (then it is killed)."""
    folder.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; from spherecode.files import RunLock; "
                               f"lock = RunLock({str(folder)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


def write_toml(path: Path, out: Path, extra: str = "") -> Path:
    path.write_text(textwrap.dedent(f"""\
        [study]
        name = "tiny"
        out = "{out}"
        seeds = [0, 1]
        heads = ["prototype", "linear"]
        {extra}
        [[codebooks]]
        method = "orthoplex"
        dim = 4
        [train.data]
        spec = "{TINY}"
        batch_size = 8
        workers = 0
        [train.model]
        arch = "resnet10"
        width = 4
        [train.run]
        epochs = 1
        device = "cpu"
        """))
    return path


# ---------------------------------------------------------------------------------- executors
def test_local_executor_runs_shards_as_processes_and_collects_them(tmp_path, monkeypatch):
    from spherecode.study.executor import ExecutorOptions, run_with_executor

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[1]),
                                                                  os.environ.get("PYTHONPATH")) if p))
    cfg = study_from_dict(tiny(tmp_path / "s"))
    lines: list[str] = []
    result = run_with_executor(cfg, ExecutorOptions("local", shards=2, poll_s=0.2), log=lines.append)
    assert result is not None and [st.status for st in result.statuses] == ["done"] * 4
    assert sorted(r["run"] for r in result.rows) == sorted(r.name for r in result.plan.runs)
    assert [r["run"] for r in read_csv(cfg.out_dir / "results.csv")] == [r.name for r in result.plan.runs]
    assert "submitted 2 shard(s) to local" in lines[0] and any("runs finished" in s for s in lines)
    logs = list((cfg.out_dir / "jobs").glob("*_log.out"))
    assert len(logs) == 2 and all("study tiny" in p.read_text() for p in logs)  # each shard logged its runs
    assert sorted(p.name for p in (cfg.out_dir / "shards").iterdir()) == ["1-of-2", "2-of-2", "runs"]  # + run locks


def test_slurm_executor_submits_one_array_job(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ncp \"$1\" {tmp_path}/submitted.sh\necho 'Submitted batch job 4242'\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = write_toml(tmp_path / "s.toml", tmp_path / "out")
    assert main(["study", "--config", str(config), "--executor", "slurm", "--shards", "3", "--partition", "gpu",
                 "--time", "90", "--gpus", "1", "--cpus", "8", "--mem", "32", "--array-parallelism", "2",
                 "--no-wait"]) == 0
    assert "submitted 3 shard(s) to slurm (job 4242)" in capsys.readouterr().out
    sbatch = (tmp_path / "submitted.sh").read_text()
    for flag in ("--array=0-2%2", "--partition=gpu", "--time=90", "--gpus-per-node=1", "--cpus-per-task=8",
                 "--mem=32GB", "--job-name=study-tiny"):
        assert f"#SBATCH {flag}" in sbatch
    assert not (tmp_path / "out" / "runs").exists()  # nothing ran here


def test_executor_mistakes_are_one_line(tmp_path, capsys, monkeypatch):
    config = write_toml(tmp_path / "s.toml", tmp_path / "out")
    base = ["study", "--config", str(config)]
    assert main(base + ["--executor", "slurm"]) == 2  # no --shards
    assert main(base + ["--executor", "local", "--partition", "gpu"]) == 2
    assert main(base + ["--executor", "local", "--shard", "1/2"]) == 2
    assert main(base + ["--executor", "local", "--shards", "0"]) == 2
    monkeypatch.setenv("PATH", str(tmp_path))  # no srun: not a Slurm cluster
    assert main(base + ["--executor", "slurm", "--shards", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(line.startswith("spherecode study: error: Argument '--") for line in err)
    assert "--shards" in err[0] and "Slurm option" in err[1] and "--shards K" in err[2]
    assert "could not submit to slurm" in err[4] and "srun" in err[4]
    import torch

    if not torch.cuda.is_available():
        assert main(base + ["--executor", "local", "--gpus", "1"]) == 2  # no GPU here
        assert "--gpus' asks for 1 GPU(s) per shard but this machine has 0" in capsys.readouterr().err


# ------------------------------------------------------------------------------- dry-run checks
@pytest.mark.parametrize("case, match", [
    ("missing file", "does not exist"),
    ("fifo", "not a regular file"),
    ("wrong N", "N = 5 prototypes but the data has 8"),
    ("huge dim", "more than this machine's memory"),
    ("unknown param", "params.step' is not a parameter of random, mettes"),
    ("bad param", "Argument 'steps'"),
    ("negative seed", "study.seeds"),
    ("out is a file", "is a file"),
    ("no tree", "has no class hierarchy"),
    ("classes", "study.classes' is 9"),
])
def test_dry_run_finds_what_would_fail_later(tmp_path, case, match):
    book = tmp_path / "book.npz"
    cbs = None
    study: dict = {}
    data = tiny(tmp_path / "s")
    if case == "missing file":
        cbs = [{"file": str(tmp_path / "none.npz")}]
    elif case == "fifo":
        os.mkfifo(tmp_path / "pipe.npz")
        cbs = [{"file": str(tmp_path / "pipe.npz")}]
    elif case == "wrong N":
        Codebook(np.eye(5), method="imported").save(book)
        cbs = [{"file": str(book)}]
    elif case == "huge dim":
        cbs = [{"methods": ["random"], "dims": [100_000_000_000]}]
    elif case == "unknown param":
        cbs = [{"methods": ["random", "mettes"], "dims": [4], "params": {"step": 3}}]
    elif case == "bad param":
        cbs = [{"methods": ["mettes"], "dims": [4], "params": {"steps": -3}}]
    elif case == "negative seed":
        study = {"seeds": [0, -1]}
    elif case == "out is a file":
        (tmp_path / "s").write_text("not a folder")
    elif case == "no tree":
        study = {"labellings": ["identity", "semantic"], "hierarchy": "data"}
        data["train"]["data"]["spec"] = "synthetic:classes=8,per_class=2,image_size=8"
    elif case == "classes":
        study = {"classes": 9}
    if cbs is not None:
        data["codebooks"] = cbs
    data["study"].update(study)
    with pytest.raises(SpherecodeError, match=match):
        run_study(study_from_dict(data), dry_run=True, log=None)


def test_dry_run_checks_the_dynamic_labelling_against_the_trainer(tmp_path):
    data = tiny(tmp_path / "s", labellings=["identity", "dynamic"])
    choices = ModelConfig.__dataclass_fields__["relabelling"].metadata.get("choices") or ()
    if "dynamic" in choices:
        result = run_study(study_from_dict(data), dry_run=True, log=None)
        assert {r.labelling for r in result.plan.runs} == {"identity", "dynamic", None}
    else:
        with pytest.raises(SpherecodeError, match="relabelling"):
            run_study(study_from_dict(data), dry_run=True, log=None)


def test_dry_run_passes_a_good_study_and_writes_nothing(tmp_path, capsys):
    config = write_toml(tmp_path / "s.toml", tmp_path / "out")
    assert main(["study", "--config", str(config), "--dry-run"]) == 0
    assert "4 runs in this shard" in capsys.readouterr().out and not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------- locks
def test_a_second_process_of_the_same_shard_is_refused_and_a_killed_one_does_not_block(tmp_path, capsys):
    with lock_held_elsewhere(tmp_path / "out" / "shards" / "1-of-1"):
        config = write_toml(tmp_path / "s.toml", tmp_path / "out")
        assert main(["study", "--config", str(config)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "in use by spherecode process" in err[0]
    from spherecode.study.runner import shard_lock

    with shard_lock(tmp_path / "out", (1, 1)):  # the killed holder's lock is gone
        pass


def test_overlapping_shards_leave_a_run_to_the_process_training_it(tmp_path, capsys):
    cfg = study_from_dict(tiny(tmp_path / "out", seeds=[0]))
    from spherecode.study.runner import SHARDS

    with lock_held_elsewhere(tmp_path / "out" / SHARDS / "runs" / "orthoplex-d4__identity__seed0"):
        res = run_study(cfg, log=print)  # shard 1/1 beside the "other process" holding one run
        out = capsys.readouterr().out
        assert "orthoplex-d4__identity__seed0: skipped, another process is training it" in out
        assert {s.run.name: s.status for s in res.statuses} == {"orthoplex-d4__identity__seed0": "todo",
                                                                "linear__seed0": "done"}
        assert not (tmp_path / "out" / "runs" / "orthoplex-d4__identity__seed0").exists()  # untouched
    res = run_study(cfg, log=lambda s: None)  # the holder is gone: the run trains now
    assert {s.status for s in res.statuses} == {"done"}
