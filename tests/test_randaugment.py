"""RandAugment: each operation against PIL or a direct formula, the policy's draws, the stream on both
pipelines, the config option and a tiny training run."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps

from spherecode.data.randaugment import (GEOMETRIC, OPS, RandAugment, affine_matrices, autocontrast, brightness, color,
                                         contrast, equalize, posterize, sharpness, solarize_u8, warp, with_randaugment)
from spherecode.errors import SpherecodeError
from spherecode.train.config import TrainConfig, override
from spherecode.train.loop import Trainer
from test_train import TINY, tiny_config


def images(seed: int = 0, b: int = 4, h: int = 9, w: int = 11) -> torch.Tensor:
    x = torch.randint(0, 256, (b, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
    if b >= 3:
        x[1] = x[1] // 4 + 50   # a narrow range (autocontrast, equalize have work to do)
        x[2, 1] = 77            # a flat channel (left alone by autocontrast and equalize)
    return x


def pil(t: torch.Tensor) -> Image.Image:
    return Image.fromarray(t.permute(1, 2, 0).numpy())


def tensor(im: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> int:
    return int((a.int() - b.int()).abs().max())


# --------------------------------------------------------------------------- colour operations vs PIL
def test_histogram_and_bit_operations_equal_pil_exactly():
    x = images()
    for b in range(len(x)):
        one = x[b:b + 1]
        assert torch.equal(equalize(one)[0], tensor(ImageOps.equalize(pil(x[b])))), b
        for bits in range(1, 9):
            assert torch.equal(posterize(one, torch.tensor([bits]))[0], tensor(ImageOps.posterize(pil(x[b]), bits)))
        assert torch.equal(posterize(one, torch.tensor([0])), torch.zeros_like(one))
        for th in (0, 1, 100, 128, 255, 256):
            assert torch.equal(solarize_u8(one, torch.tensor([th]))[0], tensor(ImageOps.solarize(pil(x[b]), th)))
    # per image arguments in one batch
    bits = torch.tensor([1, 3, 5, 8])
    assert all(torch.equal(posterize(x, bits)[b], posterize(x[b:b + 1], bits[b:b + 1])[0]) for b in range(4))


def test_enhance_and_autocontrast_match_pil_within_one_level():
    # PIL truncates where we round (and uses fixed-point luma): at most one grey level apart
    x = images(1)
    for b in range(len(x)):
        one = x[b:b + 1]
        assert max_diff(autocontrast(one)[0], tensor(ImageOps.autocontrast(pil(x[b])))) <= 1
        for f in (0.0, 0.3, 1.0, 1.9):
            ft = torch.tensor([f])
            assert max_diff(brightness(one, ft)[0], tensor(ImageEnhance.Brightness(pil(x[b])).enhance(f))) <= 1
            assert max_diff(contrast(one, ft)[0], tensor(ImageEnhance.Contrast(pil(x[b])).enhance(f))) <= 1
            assert max_diff(color(one, ft)[0], tensor(ImageEnhance.Color(pil(x[b])).enhance(f))) <= 1
            assert max_diff(sharpness(one, ft)[0], tensor(ImageEnhance.Sharpness(pil(x[b])).enhance(f))) <= 1
    assert torch.equal(autocontrast(x)[2, 1], x[2, 1]) and torch.equal(equalize(x)[2, 1], x[2, 1])
    assert int(autocontrast(x)[1].min()) == 0 and int(autocontrast(x)[1].max()) == 255


# --------------------------------------------------------------------------- geometric operations
def reference_geometric(img: np.ndarray, name: str, arg: float, fill: float = 128.0) -> np.ndarray:
    """Slow loop: each output pixel centre's source point by the operation's formula, bilinear, ``fill`` outside."""
    c, h, w = img.shape
    out = np.zeros((c, h, w))
    cx, cy = w / 2, h / 2
    a = -math.radians(arg)
    for i in range(h):
        for j in range(w):
            px, py = j + 0.5, i + 0.5
            if name == "rotate":
                u = math.cos(a) * (px - cx) + math.sin(a) * (py - cy) + cx
                v = -math.sin(a) * (px - cx) + math.cos(a) * (py - cy) + cy
            elif name == "shear_x":
                u, v = px + arg * py, py
            elif name == "shear_y":
                u, v = px, py + arg * px
            elif name == "translate_x":
                u, v = px + arg * w, py
            else:
                u, v = px, py + arg * h
            fx, fy = u - 0.5, v - 0.5
            x0, y0 = math.floor(fx), math.floor(fy)
            for yy, wy in ((y0, 1 - (fy - y0)), (y0 + 1, fy - y0)):
                for xx, wx in ((x0, 1 - (fx - x0)), (x0 + 1, fx - x0)):
                    val = img[:, yy, xx] if 0 <= yy < h and 0 <= xx < w else fill
                    out[:, i, j] += wy * wx * val
    return np.clip(np.round(out), 0, 255)


@pytest.mark.parametrize("name,arg", [("rotate", 27.0), ("rotate", -13.5), ("shear_x", 0.27), ("shear_y", -0.3),
                                      ("translate_x", 0.4), ("translate_y", -0.21)])
def test_geometric_operations_equal_the_direct_formula(name, arg):
    x = images(2, b=1)
    ops, args = torch.tensor([OPS.index(name)]), torch.tensor([arg])
    ours = warp(x, affine_matrices(ops, args, 9, 11))[0].numpy().astype(int)
    ref = reference_geometric(x[0].numpy().astype(float), name, arg).astype(int)
    assert np.abs(ours - ref).max() <= 1   # float32 vs float64 at a rounding boundary


def test_geometric_known_values():
    x = images(3, b=1, h=8, w=8)
    rot = warp(x, affine_matrices(torch.tensor([OPS.index("rotate")]), torch.tensor([90.0]), 8, 8))
    assert torch.equal(rot, torch.rot90(x, 1, dims=(-2, -1)))            # counter-clockwise, as PIL's rotate
    assert torch.equal(rot[0], tensor(pil(x[0]).rotate(90)))
    shift = warp(x, affine_matrices(torch.tensor([OPS.index("translate_x")]), torch.tensor([0.25]), 8, 8))
    assert torch.equal(shift[..., :6], x[..., 2:]) and bool((shift[..., 6:] == 128).all())
    ident = warp(x, affine_matrices(torch.tensor([0]), torch.tensor([5.0]), 8, 8))
    assert torch.equal(ident, x)


# --------------------------------------------------------------------------- the policy
def test_policy_draws_uniform_ops_with_probability_and_signed_magnitudes():
    ra = RandAugment(n=3, m=10, p=0.5)
    ops, args = ra.params(ra.draws(torch.Generator().manual_seed(0), 20000))
    assert ops.shape == (20000, 3)
    counts = torch.bincount(ops.flatten(), minlength=len(OPS)).float() / ops.numel()
    assert abs(float(counts[0]) - (0.5 + 0.5 / 14)) < 0.01       # not applied -> identity
    assert float((counts[1:] - 0.5 / 14).abs().max()) < 0.006
    rot = args[ops == OPS.index("rotate")]
    assert set(rot.unique().tolist()) == {-30.0, 30.0}
    assert sorted(args[ops == OPS.index("brightness")].unique().tolist()) == [pytest.approx(0.1), pytest.approx(1.9)]
    assert set(args[ops == OPS.index("posterize")].unique().tolist()) == {0.0}
    assert set(args[ops == OPS.index("solarize")].unique().tolist()) == {0.0}
    m0 = RandAugment(n=2, m=0, p=1.0)
    ops0, args0 = m0.params(m0.draws(torch.Generator().manual_seed(1), 500))
    enh = sum(ops0 == OPS.index(k) for k in ("color", "contrast", "brightness", "sharpness")).bool()
    assert bool((args0[enh] == 1.0).all()) and bool((args0[ops0 == OPS.index("solarize")] == 256).all())
    assert bool((args0[ops0 == OPS.index("posterize")] == 4).all())
    x = images(4)
    assert torch.equal(RandAugment(n=2, m=9, p=0.0)(x[0], torch.Generator().manual_seed(0)), x[0])


def test_batched_apply_equals_the_ops_one_image_at_a_time():
    ra = RandAugment(n=2, m=9, p=1.0)
    x = images(5, b=12)
    ops, args = ra.params(ra.draws(torch.Generator().manual_seed(3), 12))
    out = ra.apply(x, ops, args)
    fns = {"autocontrast": lambda t, a: autocontrast(t), "equalize": lambda t, a: equalize(t), "solarize": solarize_u8,
           "color": color, "posterize": posterize, "contrast": contrast, "brightness": brightness, "sharpness": sharpness}
    for b in range(12):
        y = x[b:b + 1]
        for j in range(2):
            name, a = OPS[int(ops[b, j])], args[b, j:j + 1]
            if name in GEOMETRIC:
                y = warp(y, affine_matrices(ops[b, j:j + 1], a, 9, 11))
            elif name != "identity":
                y = fns[name](y, a)
        assert torch.equal(out[b], y[0]), b


def test_invalid_policies_are_refused():
    for kwargs in ({"n": 0}, {"m": 31}, {"m": -1}, {"p": 1.5}, {"n": 2.5}):
        with pytest.raises(SpherecodeError):
            RandAugment(**kwargs)
    with pytest.raises(SpherecodeError, match="uint8"):
        RandAugment()(torch.rand(3, 8, 8), torch.Generator())
    with pytest.raises(SpherecodeError, match="Normalize"):
        with_randaugment(lambda img, g: img, RandAugment())


# --------------------------------------------------------------------------- pipelines and config
def test_resident_stream_is_per_sample_and_reproducible():
    from spherecode.data import AugmentedDataset, build_dataset
    from spherecode.data.resident import ResidentLoader, resident_loader

    base = build_dataset("synthetic:classes=3,per_class=6,image_size=8", "train")
    transform = with_randaugment(base.train_transform(), RandAugment(2, 9, 1.0))
    small = resident_loader(base, transform, 3, torch.device("cpu"), shuffle=True, seed=1, drop_last=True)
    big = resident_loader(base, transform, 9, torch.device("cpu"), shuffle=True, seed=1, drop_last=True)
    assert isinstance(small, ResidentLoader) and small.randaugment is not None
    plain = resident_loader(base, base.train_transform(), 9, torch.device("cpu"), shuffle=True, seed=1, drop_last=True)
    for loader in (small, big, plain):
        loader.set_epoch(4)
    a, b = torch.cat([x for x, _ in small]), torch.cat([x for x, _ in big])
    assert torch.equal(a, b) and torch.equal(a, torch.cat([x for x, _ in small]))   # any batch size, repeatable
    assert not torch.equal(a, torch.cat([x for x, _ in plain]))                      # and it does change images
    small.set_epoch(5)
    assert not torch.equal(a, torch.cat([x for x, _ in small]))
    # the per-sample path: a pure function of (seed, epoch, index)
    ds = AugmentedDataset(base, transform, seed=1)
    assert torch.equal(ds[(3, 2)][0], ds[(3, 2)][0]) and not torch.equal(ds[(3, 2)][0], ds[(3, 1)][0])


def test_off_by_default_and_invalid_values_refused_in_one_line(tmp_path):
    from spherecode.data.resident import ResidentLoader

    assert TrainConfig().optim.randaugment_n == 0
    tr = Trainer(tiny_config(tmp_path, epochs=1), log=lambda s: None)
    assert isinstance(tr.train_loader, ResidentLoader) and tr.train_loader.randaugment is None
    for key, bad in (("randaugment_n", -1), ("randaugment_n", 15), ("randaugment_m", 31), ("randaugment_p", 1.2)):
        with pytest.raises(SpherecodeError, match=f"--{key.replace('_', '-')}"):
            override(TrainConfig(), {key: bad})
    r = subprocess.run([sys.executable, "-m", "spherecode", "train", "--data", TINY, "--head", "linear",
                        "--randaugment-m", "31"], capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "randaugment" in r.stderr


@pytest.mark.parametrize("pipeline", ["device", "workers"])
def test_tiny_training_run_with_randaugment(tmp_path, pipeline):
    cfg = tiny_config(tmp_path, epochs=2, randaugment_n=2, randaugment_m=9, pipeline=pipeline)
    tr = Trainer(cfg, log=lambda s: None)
    assert "RandAugment(n=2, m=9, p=0.5)" in repr(getattr(tr.train_loader, "randaugment", None)
                                                 or tr.train_loader.loader.dataset.transform)
    history = tr.fit()
    assert all(math.isfinite(h["loss"]) for h in history)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_randaugment_on_cuda_matches_cpu():
    ra = RandAugment(n=2, m=9, p=1.0)
    x = images(6, b=64)
    ops, args = ra.params(ra.draws(torch.Generator().manual_seed(0), 64))
    cpu = ra.apply(x, ops, args)
    gpu = ra.apply(x.cuda(), ops.cuda(), args.cuda()).cpu()
    assert max_diff(cpu, gpu) <= 1 and float((cpu != gpu).float().mean()) < 0.01


def test_accelerator_and_cpu_strategies_agree():
    # the masked strategy (every op on the whole batch; what CUDA runs) equals the gathered one (CPU)
    from spherecode.data.randaugment import _apply_gathered, _apply_masked

    ra = RandAugment(n=1, m=12, p=0.9)
    x = images(7, b=40)
    ops, args = ra.params(ra.draws(torch.Generator().manual_seed(2), 40))
    assert max_diff(_apply_masked(x, ops[:, 0], args[:, 0]), _apply_gathered(x, ops[:, 0], args[:, 0])) == 0
