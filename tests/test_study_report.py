"""Effects with uncertainty: t intervals, paired differences, the bootstrapped Spearman, `study report`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from spherecode.cli.main import main
from spherecode.errors import SpherecodeError
from spherecode.study import paired_difference, report, spearman_interval, summarise, t_interval
from spherecode.study.results import write_csv


def rows_of(cells: dict[tuple[str, str, int, float], list[float]], linear: list[float] | None = None) -> list[dict]:
    """Results rows: {(codebook, labelling, dim, s_max): [metric per seed]} (+ a linear head)."""
    rows = []
    for (cb, lab, dim, smax), values in cells.items():
        for seed, v in enumerate(values):
            if v is not None:
                rows.append({"run": f"{cb}__{lab}__seed{seed}", "head": "prototype", "codebook": cb, "labelling": lab,
                             "dim": dim, "s_max": smax, "seed": seed, "best_top1": v, "final_top1": v})
    for seed, v in enumerate(linear or []):
        rows.append({"run": f"linear__seed{seed}", "head": "linear", "codebook": None, "labelling": None, "dim": None,
                     "s_max": None, "seed": seed, "best_top1": v, "final_top1": v})
    return rows


# ------------------------------------------------------------------------------------ intervals
def test_t_interval_matches_scipy_and_a_hand_computed_value():
    iv = t_interval([1.0, 2.0, 3.0])
    assert iv.low == pytest.approx(2 - 4.302652729911275 / np.sqrt(3)) and iv.high == pytest.approx(2 + 4.302652729911275 / np.sqrt(3))
    x = np.random.default_rng(3).normal(size=7)
    lo, hi = stats.t.interval(0.9, 6, loc=x.mean(), scale=stats.sem(x))
    iv = t_interval(x, level=0.9)
    assert (iv.low, iv.high, iv.n) == (pytest.approx(lo), pytest.approx(hi), 7) and iv.sd == pytest.approx(x.std(ddof=1))
    one = t_interval([0.4])
    assert (one.mean, one.low, one.high, one.excludes_zero) == (0.4, None, None, False)
    with pytest.raises(SpherecodeError, match="'level'"):
        t_interval([1.0, 2.0], level=95)


def test_paired_difference_matches_scipy_ttest_rel_and_drops_unpaired_seeds():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.6, 0.05, 6), rng.normal(0.55, 0.05, 6)
    d = paired_difference(dict(enumerate(a)), {**dict(enumerate(b)), 9: 0.1})
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert d is not None and (d.low, d.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert d.seeds == tuple(range(6)) and d.dropped == (9,)
    assert paired_difference({0: 1.0}, {1: 1.0}) is None


def test_null_effect_interval_covers_zero_at_its_nominal_rate():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(400):
        seeds = rng.normal(0.7, 0.05, 3)  # shared seed effect, then independent noise: no true difference
        d = paired_difference(dict(enumerate(seeds + rng.normal(0, 0.02, 3))), dict(enumerate(seeds + rng.normal(0, 0.02, 3))))
        covered += d.low <= 0 <= d.high
    assert 0.92 <= covered / 400 <= 0.98


# ---------------------------------------------------------------------------------- Spearman
def test_spearman_point_estimate_matches_scipy_with_ties_and_bootstrap_is_deterministic():
    x = [0.7] * 3 + [0.1] * 3 + [0.0] * 3 + [0.0] * 3  # two codebooks tie at s_max 0
    y = [0.60, 0.62, 0.58, 0.70, 0.69, 0.72, 0.75, 0.74, 0.76, 0.73, 0.75, 0.74]
    g = ["r"] * 3 + ["m"] * 3 + ["o"] * 3 + ["rm"] * 3
    c = spearman_interval(x, y, g)
    assert c.rho == pytest.approx(stats.spearmanr(x, y).statistic)
    assert c.excludes_zero and c.high < 0 and c.resamples > 1900
    assert spearman_interval(x, y, g) == c  # seeded: the same interval every time
    rng = np.random.default_rng(2)
    null = spearman_interval(x, list(0.7 + rng.normal(0, 0.03, 12)), g)
    assert null.low < 0 < null.high
    assert spearman_interval([0.5] * 4, [1, 2, 3, 4], list("aabb")).rho is None  # one s_max: undefined
    single = spearman_interval([0.1, 0.2, 0.3], [3, 2, 1], list("abc"))
    assert single.rho == pytest.approx(-1.0) and single.low is None  # one run per codebook: no interval


# ------------------------------------------------------------------------------------ report
def planted() -> list[dict]:
    rng = np.random.default_rng(5)
    seed_effect = rng.normal(0, 0.03, 5)
    cells = {}
    for cb, smax, acc in (("random-d10", 0.77, 0.70), ("mettes-d10", 0.13, 0.71), ("orthoplex-d10", 0.0, 0.70)):
        cells[(cb, "identity", 10, smax)] = list(acc + seed_effect + rng.normal(0, 0.005, 5))
        cells[(cb, "semantic", 10, smax)] = list(acc + 0.05 + seed_effect + rng.normal(0, 0.005, 5))
    cells[("simplex-d19", "identity", 19, -0.053)] = list(0.90 + seed_effect + rng.normal(0, 0.005, 5))
    return rows_of(cells, linear=list(0.72 + seed_effect))


def test_report_recovers_a_planted_labelling_effect_and_a_null_codebook_effect():
    rep = report(planted())
    lab = [e for e in rep.effects if e.kind == "labelling"]
    assert [(e.context, e.title) for e in lab] == [(cb, "semantic - identity") for cb in ("random-d10", "mettes-d10", "orthoplex-d10")]
    for e in lab:
        assert abs(e.diff.mean - 0.05) < 0.01 and e.diff.low > 0 and e.diff.excludes_zero and e.diff.n == 5
    cb = [e for e in rep.effects if e.kind == "codebook"]
    assert {e.b for e in cb} == {"random-d10"}  # the reference: largest s_max of d = 10 (the simplex is alone at 19)
    assert len(cb) == 4 and all(e.dim == 10 for e in cb)
    assert any(not e.diff.excludes_zero for e in cb)
    head = [e for e in rep.effects if e.kind == "head"]
    assert len(head) == 7 and all(e.b == "linear" for e in head)
    text = rep.format()
    assert "semantic - identity" in text and " *" in text and "Student t" in text


def test_rank_correlation_never_pools_dimensions():
    rows = planted()
    rep = report(rows)
    assert {(r.dim, r.labelling) for r in rep.correlations} == {(10, "identity"), (10, "semantic"), (10, "all")}
    both = [r for r in rows if r["dim"] == 10]
    every = next(r for r in rep.correlations if r.labelling == "all").correlation
    assert every.n == 30 and every.rho == pytest.approx(stats.spearmanr([r["s_max"] for r in both],
                                                                        [r["best_top1"] for r in both]).statistic)
    d10 = [r for r in rows if r["dim"] == 10 and r["labelling"] == "identity"]
    ref = stats.spearmanr([r["s_max"] for r in d10], [r["best_top1"] for r in d10]).statistic
    got = next(r for r in rep.correlations if r.labelling == "identity").correlation
    assert got.rho == pytest.approx(ref) and got.low < 0 < got.high  # no effect of s_max at d = 10
    pooled = [r for r in rows if r["labelling"] == "identity" and r["head"] == "prototype"]
    assert stats.spearmanr([r["s_max"] for r in pooled], [r["best_top1"] for r in pooled]).statistic < ref - 0.2


def test_report_handles_one_seed_and_missing_pairs():
    rows = rows_of({("a", "identity", 4, 0.5): [0.6, 0.7, 0.65], ("a", "random", 4, 0.5): [0.5, None, 0.55],
                    ("b", "identity", 4, 0.0): [0.8]})
    rep = report(rows)
    rnd = next(e for e in rep.effects if e.title == "random - identity")
    assert rnd.diff.seeds == (0, 2) and rnd.diff.dropped == (1,)
    b = next(e for e in rep.effects if e.title == "b - a")
    assert b.diff.n == 1 and b.diff.low is None
    text = rep.format()
    assert "seed(s) 1 measured on one side only, dropped" in text and "n = 1: no interval" in text
    only = report(rows_of({("a", "identity", 4, 0.5): [0.6]}))
    assert any("single seed" in n for n in only.notes)
    with pytest.raises(SpherecodeError, match="'metric'.*best_top1"):
        report(rows, metric="loss")
    with pytest.raises(SpherecodeError, match="two results"):
        report(rows + rows[:1])
    with pytest.raises(SpherecodeError, match="expected an integer seed and a number"):
        report([{**rows[0], "seed": None}])
    with pytest.raises(SpherecodeError, match="expected an integer seed and a number"):
        report([{**rows[0], "best_top1": "high"}])
    with pytest.raises(SpherecodeError, match="no finished run"):
        report([])


def test_plot_study_bars_are_the_t_intervals():
    from spherecode.plots import plot_study

    rows = planted()
    fig = plot_study(rows)
    cells = {(g["labelling"], round(100 * g["best_top1_low"], 6), round(100 * g["best_top1_high"], 6))
             for g in summarise(rows) if g["head"] == "prototype"}
    bars = set()
    for coll in fig.axes[0].collections:
        for seg in getattr(coll, "get_segments", lambda: [])():
            if len(seg) == 2 and seg[0][0] == seg[1][0]:  # a vertical error bar
                bars.add((round(min(seg[0][1], seg[1][1]), 6), round(max(seg[0][1], seg[1][1]), 6)))
    assert {(lo, hi) for _, lo, hi in cells} <= bars
    assert "t interval" in fig.axes[0].get_ylabel()


def test_summary_has_t_intervals():
    rows = planted()
    g = next(e for e in summarise(rows) if e["codebook"] == "mettes-d10" and e["labelling"] == "semantic")
    vals = [r["best_top1"] for r in rows if r["codebook"] == "mettes-d10" and r["labelling"] == "semantic"]
    lo, hi = stats.t.interval(0.95, len(vals) - 1, loc=np.mean(vals), scale=stats.sem(vals))
    assert (g["best_top1_low"], g["best_top1_high"]) == (pytest.approx(lo), pytest.approx(hi))


def test_study_report_command_text_and_json_same_bytes_every_run(tmp_path, capsys):
    path = write_csv(planted(), tmp_path / "results.csv")
    assert main(["study", "report", str(path)]) == 0
    text = capsys.readouterr().out
    assert "Spearman rho of s_max" in text and "semantic - identity" in text
    assert main(["study", "report", str(path), "--json"]) == 0
    first = capsys.readouterr().out
    assert main(["study", "report", str(path), "--json"]) == 0
    assert capsys.readouterr().out == first
    data = json.loads(first)
    assert data["metric"] == "best_top1" and {e["kind"] for e in data["effects"]} == {"labelling", "codebook", "head"}
    assert main(["study", "report", str(path), "--metric", "loss"]) == 2
    assert main(["study", "report", str(tmp_path / "none.csv")]) == 2
    assert main(["study", "report", str(tmp_path)]) == 2
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    assert main(["study", "report", str(tmp_path / "bin.csv")]) == 2
    assert main(["study"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 5 and all(line.startswith("spherecode study: error:") for line in err) and "--config" in err[-1]


@pytest.mark.parametrize("argv", [["study", "--help"], ["study", "report", "--help"]])
def test_study_help_renders(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0 and "usage: spherecode study" in capsys.readouterr().out


def test_a_study_and_its_follow_up_pool_into_one_report(tmp_path, capsys):
    rows = planted()
    for r in rows:
        r.update(data="synthetic:classes=8", epochs=4)
    early = [r for r in rows if r["seed"] < 3]
    late = [r for r in rows if r["seed"] >= 3]
    a, b = write_csv(early, tmp_path / "a.csv"), write_csv(late, tmp_path / "b.csv")
    assert report([a, b]).to_json() == report(rows).to_json()  # pooled = one study with every seed
    assert main(["study", "report", str(a), str(b), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(report(rows).to_json())
    with pytest.raises(SpherecodeError, match="two results for"):
        report([a, a])
    other = write_csv([{**r, "data": "glyphs"} for r in late], tmp_path / "c.csv")
    with pytest.raises(SpherecodeError, match="mix data 'glyphs' and 'synthetic:classes=8'"):
        report([a, other])
    assert main(["study", "report", str(a), str(other)]) == 2
    assert "mix data" in capsys.readouterr().err
    pytest.importorskip("matplotlib")
    assert main(["plot", "study", str(a), str(b), "-o", str(tmp_path / "pooled.png")]) == 0
    assert (tmp_path / "pooled.png").stat().st_size > 0
    assert main(["plot", "study", str(a), str(a), "-o", str(tmp_path / "twice.png")]) == 2
    assert "two results for" in capsys.readouterr().err and not (tmp_path / "twice.png").exists()
