"""Robustness regressions: nothing lost (atomic, concurrent saves), nothing run (CIFAR pickles), every
mistake one line (CLI arguments, codebook metadata, output locations, broken pipes)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from fixtures_data import cifar_meta, cifar_split

from spherecode.codebook import Codebook
from spherecode.errors import SpherecodeError
from spherecode.files import TEMP_MARKER, atomic_save, atomic_write, check_output

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ item 1: atomic, concurrent saves
def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with atomic_write(target, "w") as fh:
        fh.write("new")
        assert target.read_text() == "old"  # nothing visible until the rename
        assert any(TEMP_MARKER in p.name for p in tmp_path.iterdir())
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_atomic_write_cleans_up_on_error_and_interrupt(tmp_path, exc):
    target = tmp_path / "a.bin"
    target.write_bytes(b"keep")
    with pytest.raises(type(exc)):
        with atomic_write(target) as fh:
            fh.write(b"half")
            raise exc
    assert target.read_bytes() == b"keep"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_atomic_write_no_clobber_raises(tmp_path):
    target = tmp_path / "a.bin"
    with pytest.raises(SpherecodeError, match="already exists"):
        with atomic_write(target, overwrite=False) as fh:
            fh.write(b"first")
            target.write_bytes(b"someone else")
    assert target.read_bytes() == b"someone else"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_atomic_write_reports_a_file_replaced_meanwhile(tmp_path, monkeypatch):
    """If another process's rename lands between ours and our confirmation, we fail instead of
    reporting a save that is not on disk."""
    target = tmp_path / "a.bin"
    real_replace = os.replace

    def replace_then_lose(src, dst):
        real_replace(src, dst)
        other = tmp_path / "other"
        other.write_bytes(b"other process")
        real_replace(other, dst)

    monkeypatch.setattr(os, "replace", replace_then_lose)
    with pytest.raises(SpherecodeError, match="replaced or removed by another process"):
        atomic_save(target, lambda fh: fh.write(b"ours"))


def test_sigterm_removes_the_temporary_file(tmp_path):
    """A terminated save (SIGTERM) leaves neither a partial target nor its temporary file."""
    script = textwrap.dedent(f"""
        import sys, time
        from spherecode.files import atomic_write, terminate_as_exit
        terminate_as_exit()
        with atomic_write({str(tmp_path / 'big.bin')!r}) as fh:
            fh.write(b"x" * 1000)
            fh.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == b"writing"
    assert any(TEMP_MARKER in p.name for p in tmp_path.iterdir())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_unwritable_or_full_output_is_named_before_work(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # running as root: permissions do not stop us
            pytest.skip("permissions are not enforced for this user")
        with pytest.raises(SpherecodeError, match=r"Argument '--output': cannot write '.*ro/x.npz' \(permission denied\)"):
            check_output(folder / "x.npz", False)
    finally:
        folder.chmod(0o700)


def test_full_disk_names_the_users_path_not_the_temporary(tmp_path, monkeypatch, cli):
    import errno

    real_open = open

    def full_open(file, mode="r", *args, **kwargs):
        if TEMP_MARKER in str(file) and "x" in mode:
            raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_open)
    code, out, err = cli("generate", "-n", "4", "-d", "3", "-m", "simplex", "-o", str(tmp_path / "cb.npz"))
    assert code == 2 and out == ""
    assert err.strip() == f"spherecode generate: error: Argument '--output': cannot write '{tmp_path / 'cb.npz'}' (the disk is full)."
    assert TEMP_MARKER not in err


def test_generate_checks_the_output_before_the_search(tmp_path, cli, monkeypatch):
    """An output location that cannot be written fails before any construction runs."""
    import spherecode.cli.codebooks as cmd

    monkeypatch.setattr(cmd, "generate", lambda *a, **k: pytest.fail("construction ran before the output check"))
    code, _, err = cli("generate", "-n", "4", "-d", "3", "-o", str(tmp_path / "missing" / "cb.npz"))
    assert code == 2 and "directory" in err and "does not exist" in err and err.count("\n") == 1


_SAVER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from spherecode.codebook import Codebook
    from spherecode.errors import SpherecodeError
    seed, path, start = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    rng = np.random.default_rng(seed)
    cb = Codebook(rng.standard_normal((2000, 64)), method="random", seed=seed)  # ~1 MB: a save takes a while
    while time.time() < start:
        pass
    try:
        cb.save(path, overwrite=True)
    except SpherecodeError as exc:
        print("failed", exc)
    else:
        print("saved", seed, repr(cb.max_cosine))
""")


@pytest.mark.parametrize("attempt", range(3))
def test_two_processes_saving_the_same_path(tmp_path, attempt):
    """Two processes save the same file at once. The file is always one complete codebook
    of the two, and it is the codebook of a process that reported saving it."""
    path = tmp_path / "cb.npz"
    start = time.time() + 1.5
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _SAVER, str(seed), str(path), str(start)],
                              stdout=subprocess.PIPE, text=True, env=env) for seed in (1, 2)]
    reports = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    on_disk = Codebook.load(path)  # complete and valid
    assert on_disk.seed in (1, 2)
    expected = Codebook(np.random.default_rng(on_disk.seed).standard_normal((2000, 64)))
    np.testing.assert_array_equal(on_disk.vectors, expected.vectors)
    saved = {int(r[1]): r for r in reports if r[0] == "saved"}
    assert on_disk.seed in saved and saved[on_disk.seed][2] == repr(on_disk.max_cosine)
    assert [p.name for p in tmp_path.iterdir()] == ["cb.npz"]  # no temporaries left


def test_two_processes_creating_the_same_new_file_exactly_one_wins(tmp_path):
    """Without --force (overwrite=False) the file is linked into place: one process saves, the other
    fails with one line, and the file is the saver's."""
    saver = _SAVER.replace("overwrite=True", "overwrite=False")
    path = tmp_path / "cb.npz"
    start = time.time() + 1.5
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", saver, str(seed), str(path), str(start)],
                              stdout=subprocess.PIPE, text=True, env=env) for seed in (1, 2)]
    reports = [p.communicate(timeout=120)[0] for p in procs]
    saved = [r for r in reports if r.startswith("saved")]
    assert len(saved) == 1 and sum(r.startswith("failed") and "already exists" in r for r in reports) == 1
    assert Codebook.load(path).seed == int(saved[0].split()[1])


# ------------------------------------------------------------------ item 2: CIFAR pickles run nothing
class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize("which", ["train", "meta"])
def test_crafted_cifar_pickle_does_not_run_code(tmp_path, which):
    from spherecode.data.cifar import read_cifar100

    marker = tmp_path / "pwned"
    evil = pickle.dumps({"data": _Exploit(marker), "fine_label_names": _Exploit(marker)}, protocol=2)
    pickle.loads(evil)  # the exploit works on a plain unpickler: the test can fail
    assert marker.exists()
    marker.unlink()
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(evil if which == "train" else cifar_split(4, 0)[0])
    (folder / "meta").write_bytes(evil if which == "meta" else cifar_meta())
    with pytest.raises(SpherecodeError, match=rf"/{which}' is not an official CIFAR-100 pickle: it asks for (__builtin__|builtins).exec"):
        read_cifar100(folder, "train")
    assert not marker.exists()


def test_cifar_allow_list_reads_python2_spelling(tmp_path):
    """Official files were written by Python 2 (numpy.core.multiarray._reconstruct): still accepted."""
    from spherecode.data.cifar import _unpickle

    raw, images, fine = cifar_split(3, 0)
    old = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert old != raw
    d = _unpickle(old, "train")
    np.testing.assert_array_equal(d["data"].reshape(3, 3, 32, 32), images)
    assert d["fine_labels"] == fine.tolist()


# ------------------------------------------------------------------ item 6/7: one line per mistake
def _bad_codebook(tmp_path, **fields):
    path = tmp_path / "bad.npz"
    meta = {"format": "spherecode.codebook/1", "method": "simplex", "params": {}, "seed": 0, **fields}
    arrays = {"vectors": np.eye(3), "metadata": np.array(json.dumps(meta))}
    if "permutation" in fields:
        arrays["permutation"] = np.asarray(meta.pop("permutation"))
        arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("fields, message", [
    ({"params": [1, 2]}, "metadata 'params' must be a JSON object, not [1, 2]"),
    ({"seed": "abc"}, "metadata 'seed' must be an integer, not 'abc'"),
    ({"seed": 2**64}, "Argument 'seed' must be at most"),
    ({"method": ["x"]}, "metadata 'method' must be a string"),
    ({"permutation": ["a", "b", "c"]}, "Argument 'permutation' must hold integers"),
])
def test_codebook_metadata_is_validated(tmp_path, cli, fields, message):
    path = _bad_codebook(tmp_path, **fields)
    code, out, err = cli("analyze", str(path))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and str(path) in err


@pytest.mark.parametrize("argv, message", [
    (["generate", "-n", "4", "-d", "3", "--seed", "18446744073709551616", "-o", "{tmp}/x.npz"],
     "Argument '--seed' must be at most 9223372036854775807, not 18446744073709551616."),
    (["generate", "-n", "4", "-d", "3", "--seed", "-3", "-o", "{tmp}/x.npz"], "Argument '--seed' must be at least 0, not -3."),
    (["relabel", "{cb}", "-o", "{tmp}/r.npz", "--seed", "-1"], "Argument '--seed' must be at least 0, not -1."),
    (["relabel", "{cb}", "-o", "{tmp}/r.npz", "--time-limit", "-1"], "Argument '--time-limit' must be a positive number"),
    (["relabel", "{cb}", "-o", "{tmp}/r.npz", "--time-limit", "nan"], "Argument '--time-limit' must be a positive number"),
    (["relabel", "{cb}", "-o", "{tmp}/r.npz", "--restarts", "-1"], "Argument '--restarts' must be at least 0, not -1."),
    (["relabel", "{cb}", "-o", "{tmp}/r.txt"], "Argument '--output' must end in .npz, not 'r.txt'."),
    (["geometry", "{cb}", "--plot", "{tmp}/x.txt"], "Argument '--plot' must end in .png, .pdf, .svg, not 'x.txt'."),
    (["plot", "gram", "{cb}", "-o", "{tmp}/x.txt"], "Argument '--output' must end in .png, .pdf, not 'x.txt'."),
])
def test_cli_mistakes_are_one_line(tmp_path, cli, argv, message):
    cb = Codebook(np.eye(4)).save(tmp_path / "cb.npz")
    argv = [a.format(tmp=tmp_path, cb=cb) for a in argv]
    code, out, err = cli(*argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cb.npz"]  # nothing written


def test_relabel_restarts_zero_means_only_the_deterministic_starts(tmp_path, cli):
    cb = Codebook(np.eye(4)).save(tmp_path / "cb.npz")
    sim = tmp_path / "s.npy"
    np.save(sim, np.eye(4))
    code, out, _ = cli("relabel", str(cb), "-o", str(tmp_path / "r.npz"), "--similarity", str(sim),
                       "--restarts", "0", "--json")
    assert code == 0 and json.loads(out)["strategy"] == "semantic"


def test_output_piped_into_head_exits_quietly(tmp_path):
    """`spherecode methods | head -1`: no BrokenPipeError traceback, no 'Exception ignored' line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = f"{sys.executable} -m spherecode methods | head -c 1 >/dev/null; exit ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=120)
    assert proc.stderr == ""
    assert proc.returncode in (0, 141)


@pytest.mark.parametrize("suffix", [".png", ".pdf"])
def test_figures_exports_and_checkpoints_are_written_atomically(tmp_path, cli, suffix):
    """Every writer goes through files.atomic_write: complete files, no temporaries left."""
    import torch

    from spherecode.train.checkpoint import load_checkpoint, save_checkpoint

    cb = Codebook(np.eye(4)).save(tmp_path / "cb.npz")
    assert cli("plot", "gram", str(cb), "-o", str(tmp_path / f"g{suffix}"))[0] == 0
    assert (tmp_path / f"g{suffix}").read_bytes()[:4] in (b"\x89PNG", b"%PDF")
    for ext in ("npy", "csv", "pt"):
        assert cli("export", str(cb), str(tmp_path / f"e.{ext}"))[0] == 0
    np.testing.assert_array_equal(np.load(tmp_path / "e.npy"), np.eye(4))
    save_checkpoint({"epoch": 3, "model": {"w": torch.ones(2)}}, tmp_path / "checkpoint.pt")
    assert load_checkpoint(tmp_path)["epoch"] == 3
    assert not [p.name for p in tmp_path.iterdir() if TEMP_MARKER in p.name]


# ------------------------------------------------------------------ input validation, sizes, strict JSON
def _simplex_by_recursion(n: int) -> np.ndarray:
    """Kasarla et al.'s recursion grown one row at a time: the slow reference of the vectorised simplex."""
    v = np.array([[1.0, -1.0]])
    for order in range(2, n):
        top = np.concatenate([[1.0], np.full(order, -1.0 / order)])
        bottom = np.hstack([np.zeros((order - 1, 1)), np.sqrt(1.0 - 1.0 / order**2) * v])
        v = np.vstack([top, bottom])
    return v.T


@pytest.mark.parametrize("n", [2, 3, 4, 7, 40])
def test_vectorised_simplex_matches_the_recursion(n):
    from spherecode.constructions.simplex import simplex_vectors

    np.testing.assert_allclose(simplex_vectors(n), _simplex_by_recursion(n), atol=1e-14)


def test_kdtree_scan_matches_the_blocked_scan():
    from spherecode import separation

    rng = np.random.default_rng(0)
    v = rng.standard_normal((5000, 3))
    v[10] = v[11]          # a duplicate
    v[20] = -v[21]         # an antipodal pair
    v = separation.normalize_rows(v)
    tree = separation._scan_kdtree(v, separation.ANTIPODAL_TOL)
    g = v @ v.T
    np.fill_diagonal(g, -np.inf)
    np.testing.assert_allclose(tree.row_max, g.max(axis=1), atol=1e-12)
    assert tree.antipodal_pairs == int(np.count_nonzero((g <= -1 + 1e-9) & np.isfinite(g))) // 2 >= 1


@pytest.mark.parametrize("make", ["simplex", "e8"])
def test_closed_form_scan_matches_the_blocked_scan_and_trusts_nothing_else(make):
    from spherecode import separation
    from spherecode.constructions import generate
    from spherecode.constructions.exact import exact_scan

    cb = generate(50, 49, "simplex") if make == "simplex" else generate(240, 8, "known")
    fast, slow = exact_scan(cb), separation.scan_pairs(cb.vectors)
    assert fast is not None and fast.antipodal_pairs == slow.antipodal_pairs
    np.testing.assert_allclose(fast.row_max, slow.row_max, atol=1e-12)
    tampered = Codebook(cb.vectors[::-1], method=cb.method, params=cb.params)  # claims the same, rows differ
    assert exact_scan(tampered) is None


def test_special_files_are_refused_before_opening(tmp_path):
    from spherecode.files import check_input_file, load_matrix, read_text

    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    (tmp_path / "link.npy").symlink_to(fifo)
    for path in (fifo, tmp_path / "link.npy"):
        with pytest.raises(SpherecodeError, match="FIFO"):
            load_matrix(path, "--means")
    with pytest.raises(SpherecodeError, match="directory"):
        check_input_file(tmp_path, "path")
    with pytest.raises(SpherecodeError, match="device"):
        read_text(os.devnull, "--hierarchy")
    with pytest.raises(SpherecodeError, match="FIFO"):
        Codebook.load(fifo)


def test_text_json_and_arrays_are_checked(tmp_path):
    from spherecode.files import check_array, check_npy_header, parse_json, read_text

    latin = tmp_path / "h.txt"
    latin.write_bytes("caf\u00e9 x\n".encode("latin-1"))
    with pytest.raises(SpherecodeError, match="not UTF-8"):
        read_text(latin, "--hierarchy")
    with pytest.raises(SpherecodeError, match="levels deep"):
        parse_json("[" * 10_000 + "]" * 10_000, "metadata")
    with pytest.raises(SpherecodeError, match="non-finite"):
        parse_json('{"a": NaN}', "metadata")
    for bad in (np.array([["a"]]), np.zeros(2, dtype=[("a", "f8")]), np.eye(2) * 1j, np.ones(2, dtype=bool)):
        with pytest.raises(SpherecodeError, match="real numbers"):
            check_array(bad, "similarity")
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**11, 1)})
    lying = io.BytesIO(np.lib.format.magic(1, 0) + header.getvalue()[8:])
    with pytest.raises(SpherecodeError, match="holds only"):
        check_npy_header(lying, 200, "x.npy")


def test_reports_are_strict_json_with_null_for_undefined_measures(tmp_path, cli):
    np.save(tmp_path / "col.npy", np.ones((3, 1)))
    code, out, _ = cli("geometry", str(tmp_path / "col.npy"), "--json")
    assert code == 0 and json.loads(out, parse_constant=pytest.fail)["mean_feature_correlation"] is None
    Codebook(np.eye(4)).save(tmp_path / "cb.npz")
    np.save(tmp_path / "const.npy", np.ones((4, 4)))
    code, out, _ = cli("relabel", str(tmp_path / "cb.npz"), "-o", str(tmp_path / "r.npz"), "--similarity",
                       str(tmp_path / "const.npy"), "--json")
    assert code == 0 and json.loads(out, parse_constant=pytest.fail)["before"]["spearman"] is None


def test_sizes_are_estimated_before_work(tmp_path, cli, monkeypatch):
    import spherecode.cost

    Codebook(np.eye(6)).save(tmp_path / "cb.npz")
    np.save(tmp_path / "sim.npy", np.eye(6))
    code, _, err = cli("relabel", str(tmp_path / "cb.npz"), "-o", str(tmp_path / "r.npz"), "--similarity",
                       str(tmp_path / "sim.npy"), "--kicks", "1000000000000")
    assert code == 2 and "would take about" in err and len(err.strip().splitlines()) == 1
    code, out, _ = cli("bounds", "-n", "1000000", "-d", "128", "--no-lp", "--json")
    assert code == 0 and "measuring all pairs" in json.loads(out)["not_built"]["bch"]
    monkeypatch.setattr(spherecode.cost, "MAX_SECONDS", 1e-6)
    monkeypatch.setattr(spherecode.cost, "PROGRESS_SECONDS", 1e-7)
    with pytest.raises(SpherecodeError, match="comparing all pairs"):
        Codebook(np.random.default_rng(0).standard_normal((3000, 64))).max_cosine


def test_warnings_become_one_note_or_fold_into_the_error(capsys):
    import argparse
    import warnings

    from spherecode.cli import main as cli_main

    def noisy(fail: bool):
        def run(args):
            warnings.warn("overflow encountered", RuntimeWarning)
            warnings.warn("overflow encountered", RuntimeWarning)
            if fail:
                raise SpherecodeError("Argument 'lr' made the search diverge.")
            return 0
        return run

    for fail in (False, True):
        args = argparse.Namespace(command="generate", run=noisy(fail), debug=False)
        monkey = cli_main.build_parser
        cli_main.build_parser = lambda: type("P", (), {"parse_args": lambda self, argv: args})()
        try:
            code = cli_main.main([])
        finally:
            cli_main.build_parser = monkey
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "overflow encountered" in err[0]
        assert code == (2 if fail else 0) and ("error" in err[0]) == fail


def test_debug_is_accepted_after_the_subcommand(tmp_path, cli):
    code, _, err = cli("analyze", str(tmp_path / "missing.npz"), "--debug")
    assert code == 2 and "does not exist" in err


def test_public_functions_check_their_arguments(tmp_path):
    from spherecode import analyze
    from spherecode.bounds import bounds_report
    from spherecode.bounds.levenshtein import gegenbauer
    from spherecode.relabel import relabel

    assert analyze(np.eye(3)).max_cosine == 0.0
    Codebook(np.eye(3)).save(tmp_path / "cb.npz")
    assert analyze(str(tmp_path / "cb.npz")).n == 3
    for call, match in ((lambda: analyze(tmp_path / "x.npz"), "does not exist"),
                        (lambda: relabel(Codebook(np.eye(3)), "semantic", hierarchy=5), "'hierarchy'"),
                        (lambda: bounds_report(50, 5, optimal=5), "'optimal'"),
                        (lambda: gegenbauer(-1, 3, 0.5), "'k'"),
                        (lambda: gegenbauer(3, 3, float("nan")), "'t'"),
                        (lambda: relabel(Codebook(np.ones((1, 2))), "random"), "one prototype")):
        with pytest.raises(SpherecodeError, match=match):
            call()
    np.testing.assert_allclose(Codebook([[1e308, 1e308]]).vectors, [[2**-0.5, 2**-0.5]])
