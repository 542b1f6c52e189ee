from __future__ import annotations

import json

import numpy as np
import pytest

from spherecode import Codebook, CodebookFileError, SpherecodeError, generate


def test_rows_are_normalised_and_read_only():
    cb = Codebook(np.array([[3.0, 4.0], [0.0, 2.0]]))
    np.testing.assert_allclose(np.linalg.norm(cb.vectors, axis=1), 1.0)
    with pytest.raises(ValueError):
        cb.vectors[0, 0] = 1.0


def test_separation_properties_match_brute_force():
    cb = generate(20, 5, method="random", seed=3)
    g = cb.vectors @ cb.vectors.T
    off = g[~np.eye(20, dtype=bool)]
    assert cb.max_cosine == pytest.approx(off.max())
    assert cb.min_angle_deg == pytest.approx(np.degrees(np.arccos(off.max())))
    row = np.where(np.eye(20, dtype=bool), -np.inf, g).max(axis=1)
    assert cb.mean_max_cosine == pytest.approx(row.mean())
    np.testing.assert_allclose(cb.gram(), g)


def test_antipodal_pairs_counted_once():
    cb = generate(6, 3, method="orthoplex")
    assert cb.antipodal_pairs == 3


def test_save_load_round_trip(tmp_path):
    cb = generate(12, 4, method="random", seed=7).with_permutation(np.arange(12)[::-1])
    path = cb.save(tmp_path / "c.npz")
    back = Codebook.load(path)
    np.testing.assert_array_equal(back.vectors, cb.vectors)
    np.testing.assert_array_equal(back.permutation, cb.permutation)
    assert (back.method, back.seed, back.params) == ("random", 7, cb.params)
    with np.load(path) as raw:  # readable by any numpy user
        assert raw["vectors"].shape == (12, 4)
        assert json.loads(str(raw["metadata"]))["method"] == "random"


def test_save_refuses_to_overwrite(tmp_path):
    cb = generate(4, 3, method="simplex")
    cb.save(tmp_path / "c.npz")
    with pytest.raises(SpherecodeError, match="already exists"):
        cb.save(tmp_path / "c.npz")
    cb.save(tmp_path / "c.npz", overwrite=True)


def test_permutation_orders_prototypes():
    cb = generate(5, 4, method="simplex")
    perm = np.array([4, 0, 3, 1, 2])
    p = cb.with_permutation(perm)
    np.testing.assert_array_equal(p.prototypes[0], cb.vectors[4])
    assert p.max_cosine == pytest.approx(cb.max_cosine)
    with pytest.raises(SpherecodeError, match="permutation"):
        cb.with_permutation(np.array([0, 0, 1, 2, 3]))
    with pytest.raises(SpherecodeError, match="length 5"):
        cb.with_permutation(np.arange(4))


@pytest.mark.parametrize(
    "content, match",
    [
        (b"not a zip at all", "corrupt"),
        (None, "does not exist"),
    ],
)
def test_load_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CodebookFileError, match=match):
        Codebook.load(path)


def test_load_foreign_and_invalid_arrays(tmp_path):
    np.savez(tmp_path / "foreign.npz", weights=np.ones((3, 3)))
    with pytest.raises(CodebookFileError, match="no array named 'vectors'"):
        Codebook.load(tmp_path / "foreign.npz")
    np.savez(tmp_path / "notunit.npz", vectors=2 * np.eye(3))
    with pytest.raises(CodebookFileError, match="norm"):
        Codebook.load(tmp_path / "notunit.npz")
    np.savez(tmp_path / "nan.npz", vectors=np.full((3, 3), np.nan))
    with pytest.raises(CodebookFileError, match="NaN"):
        Codebook.load(tmp_path / "nan.npz")
    np.savez(tmp_path / "vec.npz", vectors=np.ones(3))
    with pytest.raises(CodebookFileError, match=r"\(N, d\)"):
        Codebook.load(tmp_path / "vec.npz")
    np.save(tmp_path / "plain.npy", np.eye(3))
    assert Codebook.load(tmp_path / "plain.npy").method == "imported"


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".pt"])
def test_export_formats_in_class_order(tmp_path, suffix):
    cb = generate(6, 5, method="simplex").with_permutation(np.array([5, 4, 3, 2, 1, 0]))
    path = cb.export(tmp_path / f"p{suffix}")
    if suffix == ".npy":
        arr = np.load(path)
    elif suffix == ".csv":
        arr = np.loadtxt(path, delimiter=",")
    else:
        import torch

        arr = torch.load(path).numpy()
    np.testing.assert_allclose(arr, cb.prototypes, atol=0)
    with pytest.raises(SpherecodeError, match="must end in"):
        cb.export(tmp_path / "p.txt")
