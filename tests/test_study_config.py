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
