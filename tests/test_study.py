"""The study command: config, plan and shards, resuming a killed study, results table, plot; the
hierarchical synthetic set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from spherecode.cli.main import main
from spherecode.data.spec import build_dataset
from spherecode.data.synthetic import SyntheticImages
from spherecode.errors import SpherecodeError
from spherecode.relabel.hierarchy import load_hierarchy, sibling_mask
from spherecode.study import (
    collect,
    load_study,
    parse_shard,
    pixel_mean_similarity,
    plan_study,
    read_csv,
    run_study,
    shard_runs,
    study_from_dict,
    summarise,
    write_results,
)
from spherecode.train import loop

STUDIES = Path(__file__).resolve().parents[1] / "experiments" / "studies"
TINY_DATA = "synthetic:classes=8,per_class=6,test_per_class=3,image_size=8,superclasses=2,noise=8"


def tiny_study(out: Path, **study: object) -> dict:
    data = {
        "study": {"name": "tiny", "out": str(out), "seeds": [0, 1], "heads": ["prototype"],
                  "labellings": ["identity"], "hierarchy": "data", **study},
        "codebooks": [{"methods": ["orthoplex"], "dims": [4]}],
        "train": {"data": {"spec": TINY_DATA, "batch_size": 8, "workers": 0},
                  "model": {"arch": "resnet10", "width": 4, "temperature": 0.2},
                  "run": {"epochs": 2, "device": "cpu"}},
    }
    return data


# ------------------------------------------------------------------ the hierarchical synthetic set
def test_synthetic_superclasses_share_features_and_write_a_hierarchy(tmp_path):
    ds = SyntheticImages(num_classes=12, per_class=2, image_size=8, superclasses=3, fine=0.3, seed=4)
    assert sorted(np.bincount(ds.superclass_of).tolist()) == [4, 4, 4]
    assert ds.superclass_of.tolist() != sorted(ds.superclass_of.tolist())  # label order hides the tree
    t = ds.templates.reshape(12, -1).double()
    d = torch.cdist(t, t).numpy()
    same = ds.superclass_of[:, None] == ds.superclass_of[None, :]
    off = ~np.eye(12, dtype=bool)
    assert d[same & off].max() < d[~same].min()  # siblings are closer than any two cousins
    path = ds.write_hierarchy(tmp_path / "h.json")
    tree = load_hierarchy(path)
    assert tree.graph["classes"] == ds.class_names
    np.testing.assert_array_equal(sibling_mask(tree), same & off)


def test_synthetic_spec_takes_superclasses_and_flat_set_is_unchanged():
    ds = build_dataset("synthetic:classes=6,per_class=2,image_size=8,superclasses=2,fine=0.5", "train")
    assert ds.superclasses == 2 and ds.fine == 0.5 and len(ds.hierarchy().graph["classes"]) == 6
    flat = SyntheticImages(num_classes=3, per_class=1, image_size=4, seed=7)
    coarse = torch.rand(3, 3, 4, 4, generator=torch.Generator().manual_seed(7)) * 255.0
    torch.testing.assert_close(flat.templates, coarse)  # bilinear 4 -> 4 is the identity
    with pytest.raises(SpherecodeError, match="no class hierarchy"):
        flat.hierarchy()
    with pytest.raises(SpherecodeError, match="superclasses"):
        SyntheticImages(num_classes=6, superclasses=4)


def test_pixel_mean_similarity_matches_a_direct_computation():
    ds = SyntheticImages(num_classes=3, per_class=4, image_size=4, seed=2)
    x = np.stack([ds.image(i).numpy().ravel() for i in range(len(ds))]).astype(float)
    means = np.stack([x[ds.labels == y].mean(0) for y in range(3)])
    c = means - means.mean(0)
    ref = np.array([[np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) for b in c] for a in c])
    np.testing.assert_allclose(pixel_mean_similarity(ds), ref, atol=1e-12)


# ------------------------------------------------------------------------- config, plan, shards
def test_config_expands_codebooks_and_rejects_mistakes(tmp_path):
    cfg = study_from_dict(tiny_study(tmp_path, labellings=["identity", "semantic"]))
    assert [c.name for c in cfg.codebooks] == ["orthoplex-d4"]
    with pytest.raises(SpherecodeError, match="study.labellings"):
        study_from_dict(tiny_study(tmp_path, labellings=["alphabetical"]))
    with pytest.raises(SpherecodeError, match="needs a class similarity"):
        study_from_dict(tiny_study(tmp_path, labellings=["semantic"], hierarchy=None))
    with pytest.raises(SpherecodeError, match="study.semantic.restart'.*valid: restarts"):
        study_from_dict(tiny_study(tmp_path, semantic={"restart": 2}))
    with pytest.raises(SpherecodeError, match="study.sed"):
        study_from_dict(tiny_study(tmp_path, sed=[1]))
    bad = tiny_study(tmp_path)
    bad["codebooks"] = [{"methods": ["random"]}]
    with pytest.raises(SpherecodeError, match="'dim' or 'dims'"):
        study_from_dict(bad)


def test_plan_skips_invalid_codebooks_and_shards_are_disjoint_and_cover(tmp_path):
    data = tiny_study(tmp_path, heads=["prototype", "linear"], seeds=[0, 1, 2])
    data["codebooks"] = [{"methods": ["random", "simplex", "orthoplex"], "dims": [3, 7]}]
    plan = plan_study(study_from_dict(data), classes=8)
    assert {name for name, _ in plan.skipped} == {"simplex-d3", "orthoplex-d3"}  # simplex: d >= 7; orthoplex: 2d >= 8
    assert len(plan.runs) == 4 * 3 + 3
    names = [r.name for r in plan.runs]
    assert len(set(names)) == len(names) and all(r.folder.parent == tmp_path / "runs" for r in plan.runs)
    for k in (1, 2, 3, 4, 7):
        parts = [shard_runs(names, parse_shard(f"{i}/{k}")) for i in range(1, k + 1)]
        assert sorted(sum(parts, [])) == sorted(names)
        assert sum(map(len, parts)) == len(names)
    assert shard_runs(names, (2, 3)) == [r.name for r in plan_study(study_from_dict(data), 8).runs][1::3]
    for text in ("0/2", "3/2", "a/b", "2"):
        with pytest.raises(SpherecodeError, match="--shard"):
            parse_shard(text)


def test_gpu_study_config_dry_run_lists_runs_and_folders(tmp_path, capsys):
    cfg = load_study(STUDIES / "gpu_cifar100.toml")
    assert cfg.train.model.arch == "resnet34" and cfg.train.run.epochs == 200 and cfg.train.data.batch_size == 512
    assert (cfg.train.optim.lr, cfg.train.optim.weight_decay, cfg.train.optim.schedule) == (0.1, 5e-4, "cosine")
    assert sorted({c.dim for c in cfg.codebooks}) == [10, 25, 50, 64, 100, 128]
    assert cfg.labellings == ["identity", "random", "semantic", "learned"] and cfg.seeds == [0, 1, 2]
    out = tmp_path / "gpu"
    assert main(["study", "--config", str(STUDIES / "gpu_cifar100.toml"), "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    plan = plan_study(cfg, classes=100)
    assert len(plan.runs) > 100 and f"{len(plan.runs)} runs in this shard" in text
    assert "skipping codebook simplex-d10" in text  # the simplex needs d >= 99
    first = plan.runs[0]
    assert f"{first.name}" in text and str(out / "runs" / first.name) in text
    assert not out.exists()  # a dry run writes nothing
    assert main(["study", "--config", str(STUDIES / "gpu_cifar100.toml"), "--dry-run", "--out", str(out),
                 "--shard", "2/3"]) == 0
    assert f"{len(plan.runs[1::3])} runs in this shard ({len(plan.runs)} in the study)" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["cpu_synthetic.toml", "cpu_digits.toml"])
def test_cpu_study_configs_load(name):
    cfg = load_study(STUDIES / name)
    assert cfg.seeds == [0, 1, 2] and {"identity", "random", "semantic"} <= set(cfg.labellings)
    assert cfg.train.model.relabelling == "auto"  # the trainer default; the study sets fixed/learned per run


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["study", "--config", str(tmp_path / "missing.toml")]) == 2
    assert main(["study", "--config", str(STUDIES / "gpu_cifar100.toml"), "--dry-run", "--shard", "5/4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("spherecode study: error:") for line in err)


# ------------------------------------------------------------------------------- running, resuming
class Killer:
    """Counts training epochs; raises KeyboardInterrupt at epoch call ``at`` (a study killed mid-run)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: int | None) -> None:
        self.calls, self.at = 0, at
        original = loop.Trainer.train_epoch

        def train_epoch(trainer, epoch):
            self.calls += 1
            if self.at is not None and self.calls == self.at:
                raise KeyboardInterrupt
            return original(trainer, epoch)

        monkeypatch.setattr(loop.Trainer, "train_epoch", train_epoch)


def test_killed_study_restarts_only_unfinished_runs(tmp_path, monkeypatch):
    cfg = study_from_dict(tiny_study(tmp_path / "s", seeds=[0, 1, 2]))
    runs = plan_study(cfg, 8).runs
    killer = Killer(monkeypatch, at=4)  # run 1: epochs 1-2; run 2: epoch 1 checkpointed, killed in epoch 2
    with pytest.raises(KeyboardInterrupt):
        run_study(cfg, log=None)
    assert (runs[0].folder / "result.json").is_file() and not (runs[1].folder / "result.json").exists()
    assert (runs[1].folder / "checkpoint.pt").is_file() and not runs[2].folder.exists()
    done_at = (runs[0].folder / "result.json").stat().st_mtime_ns

    killer.calls, killer.at = 0, 2  # restart: run 2 resumes (epoch 2); run 3 killed before its first checkpoint
    with pytest.raises(KeyboardInterrupt):
        run_study(cfg, log=None)
    assert (runs[1].folder / "result.json").is_file() and killer.calls == 2
    assert runs[2].folder.exists() and not (runs[2].folder / "checkpoint.pt").exists()

    killer.calls, killer.at = 0, None  # restart: only run 3 trains, from scratch (2 epochs)
    result = run_study(cfg, log=None)
    assert killer.calls == 2
    assert (runs[0].folder / "result.json").stat().st_mtime_ns == done_at  # never retrained
    assert [st.status for st in result.statuses] == ["done"] * 3
    assert [r["run"] for r in result.rows] == [r.name for r in runs]
    history = [json.loads(line) for line in (runs[1].folder / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]

    killer.calls = 0  # a finished study does nothing
    run_study(cfg, log=None)
    assert killer.calls == 0


def test_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch):
    cfg = study_from_dict(tiny_study(tmp_path / "a", seeds=[0]))
    killer = Killer(monkeypatch, at=2)
    with pytest.raises(KeyboardInterrupt):
        run_study(cfg, log=None)
    killer.at = None
    resumed = run_study(cfg, log=None).rows[0]
    whole = run_study(study_from_dict(tiny_study(tmp_path / "b", seeds=[0])), log=None).rows[0]
    for key in ("final_top1", "best_top1", "final_top5", "s_max", "spearman"):
        assert resumed[key] == whole[key]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    cfg = study_from_dict(tiny_study(out, heads=["prototype", "linear"], seeds=[0, 1],
                                     labellings=["identity", "random", "semantic", "assignment", "learned"],
                                     learned_penalty=0.1))
    return cfg, run_study(cfg, log=None)


def test_results_rows_and_labelling_metrics(finished):
    cfg, result = finished
    rows = result.rows
    assert len(rows) == 5 * 2 + 2 and (cfg.out_dir / "hierarchy.json").is_file()
    by = {(r["labelling"], r["seed"]): r for r in rows if r["head"] == "prototype"}
    assert all(r["s_max"] == pytest.approx(0.0, abs=1e-12) and r["min_angle_deg"] == pytest.approx(90.0) for r in by.values())
    assert all(r["antipodal_sibling_pairs"] == 0 for (lab, _), r in by.items() if lab == "semantic")
    # the semantic labelling ranks the hierarchy's similarity best
    assert by[("semantic", 0)]["spearman"] >= max(by[("identity", 0)]["spearman"], by[("random", 0)]["spearman"])
    for r in rows:
        assert 0.0 <= r["final_top1"] <= r["best_top1"] <= 1.0 and r["epochs"] == 2 and r["wall_time_s"] > 0
    linear = [r for r in rows if r["head"] == "linear"]
    assert all(r["codebook"] is None and r["s_max"] is None for r in linear)
    from spherecode import Codebook

    ident = Codebook.load(cfg.out_dir / "runs" / "orthoplex-d4__identity__seed0" / "codebook.npz")
    assert ident.permutation.tolist() == list(range(8))
    assert Codebook.load(cfg.out_dir / "runs" / "orthoplex-d4__learned__seed0" / "codebook.npz").permutation is None


def test_csv_is_rebuilt_from_run_folders(finished):
    cfg, result = finished
    csv_path = cfg.out_dir / "results.csv"
    before = csv_path.read_text()
    csv_path.unlink()
    write_results(cfg.out_dir, result.plan)
    assert csv_path.read_text() == before and not list(cfg.out_dir.glob(".results.csv*"))
    back = read_csv(csv_path)
    assert [r["run"] for r in back] == [r["run"] for r in collect(cfg.out_dir, result.plan)]
    assert back[0]["best_top1"] == pytest.approx(result.rows[0]["best_top1"])
    groups = summarise(back)
    assert {(g["head"], g["labelling"]) for g in groups} >= {("prototype", "semantic"), ("linear", "-")}
    sem = next(g for g in groups if g["labelling"] == "semantic")
    vals = [r["best_top1"] for r in back if r["labelling"] == "semantic"]
    assert sem["best_top1_mean"] == pytest.approx(np.mean(vals)) and sem["best_top1_std"] == pytest.approx(np.std(vals, ddof=1))


def test_plot_study_draws_one_series_per_labelling(finished, tmp_path, capsys):
    from spherecode.plots import plot_study

    cfg, result = finished
    fig = plot_study(result.rows)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert set(cfg.labellings) <= set(labels) and "linear head" in labels
    out = tmp_path / "study.png"
    assert main(["plot", "study", str(cfg.out_dir / "results.csv"), "-o", str(out)]) == 0
    assert out.stat().st_size > 0
    assert main(["plot", "study", str(cfg.out_dir / "results.csv"), "-o", str(tmp_path / "x.png"),
                 "--metric", "loss"]) == 2
