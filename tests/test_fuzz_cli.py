"""A fuzz test of the command line, of the codebook file's fields, of hostile input files and of huge sizes.

Hypothesis draws command lines (subcommands, sizes, seeds, methods, parameters, output paths) and
codebook files with arbitrary metadata, permutations and vectors. Every run must end with exit 0,
or with exit 2 and exactly one line on stderr that names the argument or the file; never a
traceback, never the catch-all's "bug" line. Everything runs in-process through ``main(argv)`` on
tiny sizes, bounded to about a minute in all.

Hostile files (FIFOs and symbolic links to them, folders, devices, Latin-1 and binary text, deeply
nested JSON, string, structured and complex arrays, headers that claim more data than the file holds)
and huge counts run under an alarm, so a command that would block or run away fails instead of hanging;
a ``--json`` success must print strict JSON (``null``, never ``NaN``). The train / pretrain / evaluate
flags have their own tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from spherecode.cli.main import main
from spherecode.codebook import Codebook

#: Deterministic (derandomize) and without shrinking by default (a failure shows its command line as drawn);
#: SPHERECODE_FUZZ_EXAMPLES and SPHERECODE_FUZZ_SHRINK=1 for longer hunts.
FUZZ = settings(max_examples=int(os.environ.get("SPHERECODE_FUZZ_EXAMPLES", "25")), deadline=None, derandomize=True,
                database=None, print_blob=False,
                phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if os.environ.get("SPHERECODE_FUZZ_SHRINK") else []),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])

#: Words a one-line error must contain one of: it names what to change.
NAMES = ("rgument", "--", "file '", "Method '", "Strategy '", "Codebook file", "CIFAR-100", "Checkpoint '")

BIG = [0, 1, -1, 2, 3, 2**31, 2**63 - 1, 2**63, 2**64, 18446744073709551616, 10**12, 10**29, -(2**70)]


JUNK = ["", "x", "1.5", "1e3", "nan", "-", "0x10", "٣"]


def ints(lo: int = -3, hi: int = 40, big: bool = True) -> st.SearchStrategy[str]:
    """An integer argument as text: mostly small, sometimes huge or negative (``big``), sometimes not a number."""
    return st.one_of(st.integers(lo, hi).map(str), st.sampled_from(BIG if big else [0, 1, -1, 2]).map(str),
                     st.sampled_from(JUNK))


def floats_text() -> st.SearchStrategy[str]:
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.sampled_from(["-1", "0", "1e-9", "nan", "inf", "-inf", "abc", "1e400"]))


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def check(argv: list[str]) -> None:
    code, out, err = run(argv)
    assert "Traceback" not in err and "internal error" not in err and ": bug:" not in err, (argv, err)
    if code == 0:
        return
    lines = err.strip().splitlines()
    assert code == 2, (argv, code, err)
    assert len(lines) == 1, (argv, err)
    assert lines[0].startswith("spherecode") and "error" in lines[0], (argv, err)
    assert any(name in lines[0] for name in NAMES) or "usage" in lines[0] or "invalid choice" in lines[0] \
        or "required" in lines[0] or "unrecognized" in lines[0] or "expected" in lines[0], (argv, err)


@pytest.fixture(scope="module")
def folder() -> Path:
    """A scratch folder with one valid codebook (hypothesis reuses it across examples)."""
    from spherecode.codebook import Codebook

    root = Path(tempfile.mkdtemp(prefix="spherecode-fuzz-"))
    Codebook(np.eye(6), method="orthoplex").save(root / "cb.npz")
    return root


def outputs(root: Path) -> st.SearchStrategy[str]:
    names = st.sampled_from(["o.npz"] * 6 + ["o.png"] * 3 + ["o.npy", "o.csv", "o.pt", "o.png", "o.pdf", "o.svg", "o.txt", "o", "O.NPZ",
                             "missing/o.npz", "cb.npz", ".", "", "o.npz/x.npz"])
    return names.map(lambda n: str(root / n) if n else "")


PARAMS = st.sampled_from(["steps=1", "steps=3", "steps=0", "steps=-1", "steps=abc", "steps=1e99", "steps=2.5",
                          "restarts=1", "selection=greedy", "selection=x", "r=1", "r=-1", "r=99", "nope=1",
                          "=1", "steps", "lr=0.1", "lr=-1", "momentum=2", "init=zzz", "dtype=float16x",
                          "device=cpu", "device=quantum", "t_start=1", "lr_end=1e-4"])
METHODS = st.sampled_from(["simplex", "orthoplex", "random", "bch", "rm", "lse", "mettes", "auto", "", "SIMPLEX", "nope"])


@FUZZ
@given(data=st.data())
def test_fuzz_generate_export_analyze(folder, data):
    method = data.draw(METHODS)
    # sizes stay small here: huge sizes have their own test below
    argv = ["generate", "-n", data.draw(ints(-2, 12, big=False)), "-d", data.draw(ints(-2, 12, big=False)), "-m", method,
            "-o", data.draw(outputs(folder)), "--force"]
    if data.draw(st.booleans()):
        argv += ["--seed", data.draw(ints())]
    params = data.draw(st.lists(PARAMS, max_size=2))
    if method in ("lse", "mettes", "auto") and not any(p.startswith("steps=") for p in params):
        params.append("steps=3")  # keep the searches tiny
    for p in params:
        argv += ["-p", p]
    if data.draw(st.booleans()):
        argv.append("--json")
    check(argv)
    check(["export", str(folder / "cb.npz"), data.draw(outputs(folder)), "--force"])
    check(["analyze", data.draw(st.sampled_from([str(folder / "cb.npz"), str(folder / "o.npz"), str(folder / "nope.npz"),
                                                 str(folder), str(folder / "o.csv")]))])


@FUZZ
@given(n=ints(-2, 10**6), d=st.one_of(ints(-2, 10**6), st.sampled_from(["1000000000", "1000000001"])), degree=st.one_of(st.none(), ints()), json_out=st.booleans())
def test_fuzz_bounds(n, d, degree, json_out):
    argv = ["bounds", "-n", n, "-d", d, "--no-lp", "--no-build"]
    if degree is not None:
        argv += ["--lp-degree", degree]
    if json_out:
        argv.append("--json")
    check(argv)


@FUZZ
@given(data=st.data())
def test_fuzz_relabel_and_plots(folder, data):
    sim = folder / "sim.npy"
    if not sim.exists():
        np.save(sim, np.eye(6))
    argv = ["relabel", str(folder / "cb.npz"), "-o", data.draw(outputs(folder)), "--force",
            "-s", data.draw(st.sampled_from(["semantic", "assignment", "random", "identity", "x"])),
            "--similarity", str(sim)]
    # huge --restarts / --kicks are long searches the user asked for (bounded by --time-limit): kept small here
    for flag, strategy in (("--seed", ints()), ("--restarts", ints(-2, 3, big=False)), ("--kicks", ints(-2, 3, big=False)),
                           ("--time-limit", floats_text())):
        if data.draw(st.booleans()):
            argv += [flag, data.draw(strategy)]
    check(argv)
    figure = data.draw(st.sampled_from(["histogram", "gram"]))
    argv = ["plot", figure, str(folder / "cb.npz"), "-o", data.draw(outputs(folder)), "--force"]
    if figure == "histogram" and data.draw(st.booleans()):
        argv += ["--bins", data.draw(ints(-2, 30))]
    check(argv)
    check(["geometry", str(folder / "cb.npz"), "--plot", data.draw(outputs(folder)), "--force"])


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=6)


@FUZZ
@given(data=st.data())
def test_fuzz_codebook_file_fields(folder, data):
    """Arbitrary metadata fields, permutations and vectors: `analyze` loads it or says what is wrong."""
    n = data.draw(st.integers(1, 5))
    vectors = np.eye(n, 4)[:n] + 0.0
    if data.draw(st.booleans()):
        vectors = data.draw(st.sampled_from([np.full((n, 4), np.nan), np.zeros((n, 4)), 2 * np.eye(n, 4),
                                             np.eye(n, 4).astype(np.complex128), np.ones(4), np.array([["a"]]),
                                             np.eye(n, 4).astype(np.float16), np.zeros((0, 4))]))
    meta: dict = {}
    for key in ("format", "method", "params", "seed", "version", "n", "dim"):
        if data.draw(st.booleans()):
            meta[key] = data.draw(JSON)
    arrays: dict = {"vectors": vectors}
    kind = data.draw(st.sampled_from(["json", "none", "not json", "number", "list"]))
    if kind != "none":
        arrays["metadata"] = np.array({"json": json.dumps(meta), "not json": "{oops", "number": 3.0,
                                       "list": json.dumps([1, 2])}[kind])
    if data.draw(st.booleans()):
        arrays["permutation"] = data.draw(st.sampled_from([
            np.arange(n)[::-1], np.array(["a"] * n), np.zeros(n), np.arange(n) + 0.5, np.arange(n + 1),
            np.array([np.nan] * n), np.arange(n).astype(np.uint8), np.array([2**70] * n, dtype=object).astype(float)]))
    path = folder / "fuzz.npz"
    np.savez(path, **arrays)
    for argv in (["analyze", str(path)], ["export", str(path), str(folder / "fz.npy"), "--force"]):
        check(argv)


# ------------------------------------------------------------------ hostile inputs and huge sizes
@pytest.fixture(scope="module")
def hostile(folder) -> dict[str, Path]:
    """One file of each hostile kind: special files, wrong encodings, deep JSON, odd dtypes, lying headers."""
    import io
    import zipfile

    root = folder / "hostile"
    root.mkdir(exist_ok=True)
    files = {"fifo": root / "fifo", "link": root / "link.npz", "dir": root, "device": Path(os.devnull)}
    if not files["fifo"].exists():
        os.mkfifo(files["fifo"])
        os.symlink(files["fifo"], files["link"])
    deep = "[" * 3000 + "]" * 3000
    np.savez(root / "deep.npz", vectors=np.eye(4), metadata=np.array('{"params": {"a": ' + deep + "}}"))
    (root / "deep.json").write_text('{"root": ' + '{"a": ' * 2000 + "{}" + "}" * 2000 + "}")
    (root / "latin.txt").write_bytes("r\u00e9 a\nr b\n".encode("latin-1"))
    (root / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (root / "empty.csv").write_text("")
    (root / "nan.csv").write_text("nan,inf\n1,2\n")
    (root / "text.csv").write_text("head,codebook,labelling,seed,best_top1,s_max\nprototype,a,b,0,abc,0.5\n")
    (root / "nanstudy.csv").write_text("head,codebook,labelling,seed,best_top1,s_max\nprototype,a,b,0,nan,inf\n")
    np.save(root / "str.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(root / "rec.npy", np.zeros((6, 6), dtype=[("a", "f8")]))
    np.save(root / "complex.npy", np.eye(6) * (1 + 1j))
    np.save(root / "const.npy", np.ones((6, 6)))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**11, 1)})
    with zipfile.ZipFile(root / "huge.npz", "w") as zf:
        zf.writestr("vectors.npy", np.lib.format.magic(1, 0) + header.getvalue()[8:] + b"\0" * 64)
    Codebook(np.ones((1, 3))).save(root / "one.npz", overwrite=True)
    for name in ("deep.npz", "deep.json", "latin.txt", "binary.csv", "empty.csv", "nan.csv", "text.csv", "nanstudy.csv",
                 "str.npy", "rec.npy", "complex.npy", "const.npy", "huge.npz", "one.npz"):
        files[name] = root / name
    return files


def check_bounded(argv: list[str], seconds: int = 20) -> tuple[int, str]:
    """:func:`check` under an alarm: a command that blocks (a FIFO) or runs away fails the test instead of hanging it."""
    import signal

    def _timeout(signum, frame):
        raise TimeoutError(f"{argv} ran for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        code, out, err = run(argv)
        check(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if code == 0 and "--json" in argv:  # strict JSON: null, never NaN or Infinity
        json.loads(out, parse_constant=lambda c: pytest.fail(f"{argv} printed {c}"))
    return code, out


FILE_KINDS = ["fifo", "link", "dir", "device", "deep.npz", "deep.json", "latin.txt", "binary.csv", "empty.csv", "nan.csv",
              "text.csv", "nanstudy.csv", "str.npy", "rec.npy", "complex.npy", "const.npy", "huge.npz", "one.npz"]


@FUZZ
@given(data=st.data())
def test_fuzz_hostile_files(folder, hostile, data):
    """Every reader refuses special files, wrong encodings, deep JSON, odd dtypes and lying headers in one line."""
    bad = str(hostile[data.draw(st.sampled_from(FILE_KINDS))])
    cb, out = str(folder / "cb.npz"), str(folder / "h.npz")
    argv = data.draw(st.sampled_from([
        ["analyze", bad], ["analyze", bad, "--json"], ["export", bad, str(folder / "h.csv"), "--force"],
        ["plot", "histogram", bad, "-o", str(folder / "h.png"), "--force"],
        ["plot", "gram", bad, "-o", str(folder / "h.png"), "--force"], ["geometry", bad, "--json"],
        ["relabel", bad, "-o", out, "--force", "-s", "random"],
        ["relabel", cb, "-o", out, "--force", "--hierarchy", bad],
        ["relabel", cb, "-o", out, "--force", "--similarity", bad, "--json"],
        ["relabel", cb, "-o", out, "--force", "--means", bad],
        ["plot", "study", bad, "-o", str(folder / "h.png"), "--force"],
        ["generate", "-n", "6", "-d", "6", "-m", "lse", "-p", f"init={bad}", "-p", "steps=2", "-o", out, "--force"],
    ]))
    check_bounded(argv)


HUGE = ["100000", "1000000000000", "99999999999999999999999", "9223372036854775808"]


@FUZZ
@given(data=st.data())
def test_fuzz_huge_sizes_and_odd_parameters(folder, data):
    """Sizes a user chooses are capped or estimated before any work; NaN and other odd parameters are refused."""
    cb, out = str(folder / "cb.npz"), str(folder / "s.npz")
    big = data.draw(st.sampled_from(HUGE))
    odd = data.draw(st.sampled_from(["nan", "NaN", "Infinity", "-Infinity", "1e308", "null", "[[[[1]]]]", "\"x\"", big]))
    argv = data.draw(st.sampled_from([
        ["bounds", "-n", big, "-d", data.draw(st.sampled_from(["3", "128"])), "--no-lp", "--json"],
        ["relabel", cb, "-o", out, "--force", "--similarity", str(folder / "sim.npy"), "--restarts", big],
        ["relabel", cb, "-o", out, "--force", "--similarity", str(folder / "sim.npy"), "--kicks",
         big if big != HUGE[0] else HUGE[1]],  # 1e5 kicks at N = 6: a legitimate 10 CPU s search
        ["plot", "histogram", cb, "-o", str(folder / "s.png"), "--force", "--bins", big],
        ["plot", "separation", "-n", "6", "--dims", f"3:{big}", "-o", str(folder / "s.png"), "--force"],
        ["plot", "separation", "-n", "6", "--dims", "3:4", "--methods", "simplex,simplex", "--no-lp",
         "-p", data.draw(st.sampled_from(["bogus=1", "steps=2"])), "-o", str(folder / "s.png"), "--force"],
        ["generate", "-n", "6", "-d", "3", "-m", data.draw(st.sampled_from(["lse", "mettes"])),
         "-p", f"steps={big if big != HUGE[0] else HUGE[1]}",  # 1e5 steps of a 6-point search: a long, legitimate run
         "-o", out, "--force"],
        ["generate", "-n", "6", "-d", "3", "-m", "lse", "-p", "steps=2",
         "-p", f"{data.draw(st.sampled_from(['lr_start', 't_end', 'target', 'restarts', 'device']))}={odd}", "-o", out, "--force"],
        ["generate", "-n", "6", "-d", "3", "-m", "mettes", "-p", "steps=2", "-p", f"lr={odd}", "-o", out, "--force"],
    ]))
    if not (folder / "sim.npy").exists():
        np.save(folder / "sim.npy", np.eye(6))
    check_bounded(argv)
