"""Study configs: a codebook table's own labellings, the labelling -> trainer mapping, the glyphs study."""

from __future__ import annotations

from pathlib import Path

import pytest

from spherecode.errors import SpherecodeError
from spherecode.study import LABELLINGS, load_study, plan_study, study_from_dict
from spherecode.study.config import TRAINER_RELABELLING
from spherecode.study.runner import trainer_config
from spherecode.train.config import ModelConfig

STUDIES = Path(__file__).resolve().parents[1] / "experiments" / "studies"


def blocks(out: Path, **extra: object) -> dict:
    return {"study": {"name": "b", "out": str(out), "seeds": [0, 1], "labellings": ["identity"], "hierarchy": "data"},
            "codebooks": [{"methods": ["random", "mettes"], "dims": [4], "labellings": ["identity", "semantic", "random"]},
                          {"method": "random", "dim": 6, **extra}],
            "train": {"data": {"spec": "synthetic:classes=8"}}}


def test_a_codebook_table_can_carry_its_own_labellings(tmp_path):
    cfg = study_from_dict(blocks(tmp_path))
    plan = plan_study(cfg, classes=8)
    per = {}
    for r in plan.runs:
        per.setdefault(r.codebook.name, set()).add(r.labelling)
    assert per == {"random-d4": {"identity", "semantic", "random"}, "mettes-d4": {"identity", "semantic", "random"},
                   "random-d6": {"identity"}}
    assert len(plan.runs) == 2 * (3 + 3 + 1)
    assert cfg.all_labellings == ["identity", "semantic", "random"]
    with pytest.raises(SpherecodeError, match="codebooks.random-d6.labellings"):
        study_from_dict(blocks(tmp_path, labellings=["alphabetical"]))
    with pytest.raises(SpherecodeError, match="codebooks.random-d6.labellings' is empty"):
        study_from_dict(blocks(tmp_path, labellings=[]))
    data = blocks(tmp_path)
    del data["study"]["hierarchy"]  # a table's semantic labelling needs the class similarity too
    with pytest.raises(SpherecodeError, match="needs a class similarity"):
        study_from_dict(data)


def test_every_labelling_maps_to_a_trainer_relabelling(tmp_path):
    assert set(LABELLINGS) == set(TRAINER_RELABELLING) and "dynamic" in LABELLINGS
    choices = ModelConfig.__dataclass_fields__["relabelling"].metadata.get("choices") or ()
    for trainer in set(TRAINER_RELABELLING.values()) - {"dynamic"}:
        assert trainer in choices
    if "dynamic" not in choices:
        pytest.skip("the trainer does not accept relabelling = 'dynamic' yet")
    data = blocks(tmp_path)
    data["codebooks"] = [{"method": "random", "dim": 4, "labellings": ["dynamic", "learned", "semantic"]}]
    cfg = study_from_dict(data)
    got = {r.labelling: trainer_config(cfg, r, tmp_path / "cb.npz").model.relabelling
           for r in plan_study(cfg, classes=8).runs}
    assert got == {"dynamic": "dynamic", "learned": "learned", "semantic": "fixed"}


def test_glyphs_study_config_expresses_labellings_per_dimension():
    cfg = load_study(STUDIES / "cpu_glyphs.toml")
    plan = plan_study(cfg, classes=100)
    assert not plan.skipped and cfg.seeds == [0, 1, 2] and cfg.train.data.spec.startswith("glyphs")
    labs: dict[int, set] = {}
    for r in plan.runs:
        if r.head == "prototype":
            labs.setdefault(r.codebook.dim, set()).add(r.labelling)
    everything = {"identity", "random", "semantic", "assignment", "dynamic", "learned"}
    pair = {"identity", "semantic"}
    assert labs == {50: everything, 10: {"identity", "semantic", "dynamic"}, 25: pair, 100: pair, 99: pair,
                    64: pair, 128: pair, 63: pair, 127: pair}
    methods = {(c.method, c.dim) for c in cfg.codebooks}
    assert {("orthoplex", 100), ("simplex", 99), ("rm", 64), ("rm", 128), ("bch", 63), ("bch", 127),
            ("mettes", 10), ("auto", 50)} <= methods and ("orthoplex", 25) not in methods
    assert sum(r.head == "linear" for r in plan.runs) == 3


def test_a_dynamic_study_run_trains_with_the_trainers_dynamic_relabelling(tmp_path):
    from spherecode import Codebook
    from spherecode.study import run_study

    choices = ModelConfig.__dataclass_fields__["relabelling"].metadata.get("choices") or ()
    if "dynamic" not in choices:
        pytest.skip("the trainer does not accept relabelling = 'dynamic' yet")
    data = {"study": {"name": "dyn", "out": str(tmp_path / "s"), "seeds": [0], "labellings": ["dynamic"],
                      "hierarchy": "data"},
            "codebooks": [{"method": "orthoplex", "dim": 4}],
            "train": {"data": {"spec": "synthetic:classes=8,per_class=6,test_per_class=3,image_size=8,superclasses=2",
                               "batch_size": 8, "workers": 0},
                      "model": {"arch": "resnet10", "width": 4, "assign_every": 2},
                      "run": {"epochs": 1, "device": "cpu"}}}
    result = run_study(study_from_dict(data), log=None)
    (row,) = result.rows
    assert row["labelling"] == "dynamic" and row["epochs"] == 1 and row["spearman"] is not None
    folder = tmp_path / "s" / "runs" / "orthoplex-d4__dynamic__seed0"
    assert Codebook.load(folder / "codebook.npz").permutation is None  # the identity start
    assert 'relabelling = "dynamic"' in (folder / "config.toml").read_text()


def test_a_codebook_table_can_carry_its_own_seeds_and_repeat_a_codebook(tmp_path):
    data = blocks(tmp_path, seeds=[2, 3])
    data["codebooks"].append({"method": "random", "dim": 6, "labellings": ["semantic"], "seeds": [0]})
    cfg = study_from_dict(data)
    runs = plan_study(cfg, classes=8).runs
    got = {(r.codebook.name if r.codebook else "linear", r.labelling, r.seed) for r in runs}
    assert {(n, lab, s) for n, lab, s in got if n == "random-d6"} == {
        ("random-d6", "identity", 2), ("random-d6", "identity", 3), ("random-d6", "semantic", 0)}
    assert {s for n, _, s in got if n == "linear"} == set() and cfg.all_seeds == [0, 1, 2, 3]
    assert [r.seed for r in runs] == sorted((r.seed for r in runs), key=cfg.all_seeds.index)  # seed by seed
    data["study"]["heads"] = ["prototype", "linear"]  # the baseline runs the study's seeds only
    assert sorted(r.seed for r in plan_study(study_from_dict(data), classes=8).runs if r.head == "linear") == [0, 1]
    data["codebooks"][-1]["seeds"] = [2]  # now two tables give random-d6, identity, seed 2
    data["codebooks"][-1]["labellings"] = ["identity"]
    with pytest.raises(SpherecodeError, match="Run random-d6__identity__seed2 is listed twice"):
        plan_study(study_from_dict(data), classes=8)
    data["codebooks"][-1]["params"] = {"steps": 5}  # another codebook under the same name
    data["codebooks"][-1]["method"] = "lse"
    data["codebooks"][-1]["name"] = "random-d6"
    with pytest.raises(SpherecodeError, match="repeated for different codebooks: random-d6"):
        study_from_dict(data)
    for bad in ([], "3", [-1]):
        with pytest.raises(SpherecodeError, match=r"codebooks\[1\]\.seeds"):
            study_from_dict(blocks(tmp_path, seeds=bad))


def test_glyphs_follow_up_completes_the_grid_without_repeating_a_run():
    first = plan_study(load_study(STUDIES / "cpu_glyphs.toml"), classes=100).runs
    more_cfg = load_study(STUDIES / "cpu_glyphs_more.toml")
    more = plan_study(more_cfg, classes=100).runs
    assert more_cfg.train == load_study(STUDIES / "cpu_glyphs.toml").train  # one recipe: the rows pool
    assert not {r.name for r in first} & {r.name for r in more}
    d10 = {(r.codebook.name, r.labelling, r.seed) for r in first + more if r.codebook and r.codebook.dim == 10}
    six = {"identity", "random", "semantic", "assignment", "dynamic", "learned"}
    assert {lab for _, lab, s in d10 if s < 3} == six and len(more) == 59
