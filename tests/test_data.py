"""Datasets in their real on-disk formats, torch transforms, the sharded sampler."""

from __future__ import annotations

import pickle

import pytest
import torch

from fixtures_data import cifar_meta, genuine_meta, write_cifar_folder, write_cifar_targz, write_image_folder
from spherecode.data import AugmentedDataset, ShardedSampler, build_dataset
from spherecode.data.dataset import sample_seed
from spherecode.data import transforms as T
from spherecode.data.cifar import CIFAR100
from spherecode.data.imagenet import ImageFolder
from spherecode.errors import SpherecodeError


@pytest.mark.parametrize("form", ["folder", "parent", "targz"])
def test_cifar100_reads_official_layouts(tmp_path, form):
    meta = genuine_meta() or cifar_meta()
    if form == "targz":
        ref = write_cifar_targz(tmp_path / "cifar-100-python.tar.gz", meta)
        path = tmp_path / "cifar-100-python.tar.gz"
    else:
        ref = write_cifar_folder(tmp_path, meta)
        path = tmp_path / "cifar-100-python" if form == "folder" else tmp_path
    for split in ("train", "test"):
        ds = build_dataset(f"cifar100:{path}", split)
        assert isinstance(ds, CIFAR100) and len(ds) == len(ref[split + "_labels"])
        assert ds.num_classes == 100 and ds.kind == "cifar"
        for i in (0, len(ds) - 1):
            assert torch.equal(ds.image(i), torch.from_numpy(ref[split + "_images"][i]))
            assert ds.label(i) == ref[split + "_labels"][i]
    # row layout: the first 1024 bytes are the red channel of the 32x32 image, row-major
    raw = ref["train_images"].reshape(len(ref["train_images"]), -1)
    assert torch.equal(ds.images.new_tensor(raw[0][:1024]).view(32, 32), build_dataset(f"cifar100:{path}", "train").image(0)[0])


def test_cifar100_genuine_meta_names(tmp_path):
    meta = genuine_meta()
    if meta is None:
        pytest.skip("genuine CIFAR-100 meta file not on this machine")
    write_cifar_folder(tmp_path, meta)
    ds = CIFAR100(tmp_path, "train")
    names = pickle.loads(meta, encoding="latin1")["fine_label_names"]
    assert ds.class_names == names and len(names) == 100
    assert ds.class_names[42:44] == ["leopard", "lion"]  # alphabetical, as docs/background.md, section 2.4, notes
    assert len(CIFAR100(tmp_path, "train", label_type="coarse").class_names) == 20


def test_cifar100_errors_name_the_layout(tmp_path):
    with pytest.raises(SpherecodeError, match="does not exist.*cifar-100-python"):
        build_dataset(f"cifar100:{tmp_path / 'nope'}", "train")
    (tmp_path / "cifar-100-python").mkdir()
    with pytest.raises(SpherecodeError, match="lacks train, meta"):
        build_dataset(f"cifar100:{tmp_path}", "train")
    bad = tmp_path / "x.tar.gz"
    bad.write_bytes(b"not a tar")
    with pytest.raises(SpherecodeError, match="tar.gz"):
        build_dataset(f"cifar100:{bad}", "train")
    with pytest.raises(SpherecodeError, match="needs a path"):
        build_dataset("cifar100", "train")


def test_image_folder_reads_jpegs(tmp_path):
    write_image_folder(tmp_path)
    ds = build_dataset(f"imagenet:{tmp_path}", "train")
    assert isinstance(ds, ImageFolder) and len(ds) == 6 and ds.num_classes == 3 and ds.kind == "imagenet"
    assert ds.class_names == sorted(ds.class_names)
    img = ds.image(0)
    assert img.dtype == torch.uint8 and tuple(img.shape) == (3, 30, 40)
    # JPEG of a solid colour decodes to (nearly) that colour
    assert torch.allclose(img.float().mean(dim=(1, 2)), torch.tensor([40.0, 200.0, 30.0]), atol=3)
    val = ImageFolder(tmp_path, "val", image_size=16)
    assert list(val.labels) == [0, 0, 1, 1, 2, 2]
    x = val.eval_transform()(val.image(1), torch.Generator())
    assert tuple(x.shape) == (3, 16, 16) and x.dtype == torch.float32
    y = val.train_transform()(val.image(1), torch.Generator().manual_seed(3))
    assert tuple(y.shape) == (3, 16, 16)


def test_image_folder_errors(tmp_path):
    with pytest.raises(SpherecodeError, match="has no 'train' folder.*one folder per class"):
        build_dataset(f"imagenet:{tmp_path}", "train")
    write_image_folder(tmp_path)
    (tmp_path / "val" / "n99999999").mkdir()
    with pytest.raises(SpherecodeError, match="n99999999"):
        ImageFolder(tmp_path, "val")


def test_spec_errors():
    with pytest.raises(SpherecodeError, match="must start with one of cifar100:PATH"):
        build_dataset("svhn:/x", "train")
    with pytest.raises(SpherecodeError, match="synthetic parameter 'colour=3'"):
        build_dataset("synthetic:colour=3", "train")


def test_synthetic_is_deterministic_and_split_differs():
    a = build_dataset("synthetic:classes=3,per_class=4,image_size=8", "train")
    b = build_dataset("synthetic:classes=3,per_class=4,image_size=8", "train")
    t = build_dataset("synthetic:classes=3,per_class=4,image_size=8,test_per_class=2", "test")
    assert len(t) == 6 and torch.equal(a.image(5), b.image(5))
    assert not torch.equal(a.image(0), t.image(0)) and a.label(0) == t.label(0)


def test_synthetic_nuisance_makes_the_default_set_overlap_and_zero_keeps_the_old_images():
    import numpy as np

    from spherecode.data.synthetic import SyntheticImages

    def nearest_mean_accuracy(**kw):
        train, test = SyntheticImages(per_class=30, split="train", **kw), SyntheticImages(per_class=10, split="test", **kw)
        x = torch.stack([train.image(i) for i in range(len(train))]).flatten(1).double()
        means = torch.stack([x[torch.from_numpy(train.labels == k)].mean(0) for k in range(train.num_classes)])
        xt = torch.stack([test.image(i) for i in range(len(test))]).flatten(1).double()
        return (torch.cdist(xt, means).argmin(1).numpy() == test.labels).mean()

    assert nearest_mean_accuracy(nuisance=0.0) == 1.0  # separable before any training
    assert nearest_mean_accuracy() < 0.97
    old = SyntheticImages(num_classes=3, per_class=2, image_size=8, nuisance=0.0)
    g = torch.Generator().manual_seed(sample_seed(0, 10**6, 4))
    x = (old.templates[old.label(4)] + 24.0 * torch.randn(3, 8, 8, generator=g)).round_().clamp_(0, 255)
    assert torch.equal(old.image(4), x.to(torch.uint8))
    # CIFAR-100-shaped: 100 classes in 20 superclasses of 5, a tree for the semantic labelling
    c100 = build_dataset("synthetic:classes=100,superclasses=20,per_class=1", "train")
    tree = c100.hierarchy()
    assert tree.graph["classes"] == c100.class_names and np.bincount(c100.superclass_of).tolist() == [5] * 20


# ------------------------------------------------------------------ transforms
def test_random_crop_is_a_shifted_window_of_the_padded_image():
    img = torch.arange(3 * 8 * 8, dtype=torch.float32).view(3, 8, 8)
    padded = torch.nn.functional.pad(img, (2, 2, 2, 2))
    for seed in range(20):
        out = T.RandomCrop(8, padding=2)(img, torch.Generator().manual_seed(seed))
        windows = [padded[:, i:i + 8, j:j + 8] for i in range(5) for j in range(5)]
        assert any(torch.equal(out, w) for w in windows)


def test_flip_probability_and_reproducibility():
    img = torch.arange(12, dtype=torch.uint8).view(1, 3, 4)
    flips = sum(torch.equal(T.RandomHorizontalFlip()(img, torch.Generator().manual_seed(s)), img.flip(-1))
                for s in range(400))
    assert 150 < flips < 250
    t = T.cifar_train_transform(8, 1)
    x = torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8)
    assert torch.equal(t(x, torch.Generator().manual_seed(7)), t(x, torch.Generator().manual_seed(7)))


def test_random_resized_crop_box_in_bounds_and_scale():
    rrc = T.RandomResizedCrop(16, scale=(0.25, 0.5))
    for seed in range(50):
        top, left, h, w = rrc.box(60, 80, torch.Generator().manual_seed(seed))
        assert 0 <= top and top + h <= 60 and 0 <= left and left + w <= 80
        assert 0.2 <= h * w / (60 * 80) <= 0.55 and 3 / 4 - 0.1 <= w / h <= 4 / 3 + 0.1


def test_eval_transform_resize_256_centre_224():
    img = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8)
    t = T.Resize(256)(img, torch.Generator())
    assert tuple(t.shape) == (3, 256, 341)
    out = T.imagenet_eval_transform()(img, torch.Generator())
    assert tuple(out.shape) == (3, 224, 224)


def test_normalize_matches_formula():
    img = torch.full((3, 2, 2), 255, dtype=torch.uint8)
    out = T.Normalize((0.5, 0.5, 0.5), (0.25, 0.5, 1.0))(img, torch.Generator())
    assert torch.allclose(out[:, 0, 0], torch.tensor([2.0, 1.0, 0.5]))


def test_views_give_independent_crops():
    base = build_dataset("synthetic:classes=2,per_class=2,image_size=8", "train")
    ds = AugmentedDataset(base, T.Views([T.cifar_train_transform(8, 2)] * 3), seed=0)
    views, label = ds[(1, 0)]
    assert len(views) == 3 and label == 1
    assert not all(torch.equal(views[0], v) for v in views[1:])


# --------------------------------------------------------------------- sampler
@pytest.mark.parametrize("n,world", [(12, 2), (10, 3), (7, 4)])
def test_sharded_sampler_ranks_partition_the_global_batches(n, world):
    one = [i for i, _ in ShardedSampler(n, seed=5, drop_last=True)]
    shards = [[i for i, _ in ShardedSampler(n, seed=5, rank=r, world_size=world, drop_last=True)] for r in range(world)]
    per = 2
    for k in range(len(shards[0]) // per):  # the k-th per-rank batches together form the k-th global batch
        joint = sorted(i for s in shards for i in s[k * per:(k + 1) * per])
        assert joint == sorted(one[k * per * world:(k + 1) * per * world])
    exact = [[i for i, _ in ShardedSampler(n, shuffle=False, rank=r, world_size=world, pad=False, drop_last=False)]
             for r in range(world)]
    assert sorted(i for s in exact for i in s) == list(range(n))
    s = ShardedSampler(n, seed=5)
    s.set_epoch(1)
    assert [i for i, _ in s] != [i for i, _ in ShardedSampler(n, seed=5)] and all(e == 1 for _, e in s)
