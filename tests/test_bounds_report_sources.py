"""The bounds report names, for each end of the interval, the row that holds that value; gaps at rounding
noise print as 0; the spherical LP row is computed wherever it is sound."""

from __future__ import annotations

import pytest

from spherecode.bounds import LP_MAX_DIM, bounds_report, clip_gap


def _row_value(report, label: str) -> str:
    for line in report.format().splitlines():
        if line.startswith(label + " ") or line == label:
            return line[len(label):].strip()
    raise AssertionError(f"no row {label!r} in\n{report.format()}")


@pytest.mark.parametrize("n, dim", [(100, 10), (240, 8), (100, 64), (7, 2), (3, 1), (13, 3), (1000, 64),
                                    (100, 600), (56, 7), (24, 4)])
def test_every_source_names_the_row_that_holds_its_value(n, dim):
    report = bounds_report(n, dim, lp=dim <= 16, achieved={"toy": 0.99} if n == 13 else None)
    for source, value in ((report.lower_source, report.lower), (report.upper_source, report.upper)):
        label = source.split(": ")[0]
        shown = _row_value(report, label)
        assert f"{value:+.6f}" in shown, (source, shown)


def test_gilbert_varshamov_row_shows_the_zero_padded_value_it_is_named_for():
    """N = 100, d = 10: GV at length 10 gives 0.6, at length 8 (zero-padded) 0.5; the E8 roots give 0.5 too."""
    r = bounds_report(100, 10)
    assert r.gv_upper == pytest.approx(0.6) and r.gv_padded == pytest.approx(0.5) and r.gv_padded_length == 8
    assert "+0.500000 at length 8, zero-padded" in _row_value(r, "Gilbert-Varshamov (upper)")
    assert r.upper == pytest.approx(0.5)
    assert r.upper_source.startswith("best known code (upper)")  # a tie goes to the actual configuration


def test_the_spherical_lp_row_is_computed_where_the_interval_is_already_closed():
    r = bounds_report(100, 64)  # Rankin's orthoplex bound closes the interval
    assert r.exact and r.spherical_lp is not None
    assert "n/a" not in _row_value(r, "spherical LP (lower)")
    assert "not computed: lp=False" in _row_value(bounds_report(100, 64, lp=False), "spherical LP (lower)")
    assert f"above d = {LP_MAX_DIM}" in _row_value(bounds_report(100, LP_MAX_DIM + 1), "spherical LP (lower)")
    assert "(d = 1)" in _row_value(bounds_report(3, 1), "spherical LP (lower)")


def test_rounding_noise_is_a_zero_gap(cli, tmp_path):
    from spherecode import generate

    assert clip_gap(-5.55e-17) == 0.0 and clip_gap(1e-11) == 1e-11
    assert bounds_report(240, 8).width == 0.0
    path = tmp_path / "e8.npz"
    generate(240, 8).save(path)
    code, out, _ = cli("analyze", str(path))
    assert code == 0
    gap = [line for line in out.splitlines() if line.startswith("gap to best lower bound")][0]
    assert gap.split()[5] == "0" and "e-17" not in out


def test_methods_says_why_known_is_invalid_without_pointing_at_itself(cli):
    code, out, _ = cli("methods", "-n", "1000", "-d", "128")
    assert code == 0
    line = [x for x in out.splitlines() if x.startswith("known")][0]
    assert "invalid: no known code for this N, d" in line and "spherecode methods" not in line
