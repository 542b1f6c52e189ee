"""Batched multi-crop on the device: each step against the per-sample functions with the same
parameters, the parameter distributions against the recipe, and the counter-based randomness."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from spherecode.data.multicrop import (MULTICROP_PRESETS, adjust_brightness, adjust_contrast, adjust_hue,
                                       adjust_saturation, gaussian_blur, grayscale, solarize)
from spherecode.data.multicrop_batched import (BatchedMultiCrop, KeyedImages, blur_matrices, crop_boxes, mix32,
                                               resize_weights, sample_keys, uniforms)
from spherecode.data.transforms import Normalize, RandomResizedCrop, resize
from spherecode.errors import SpherecodeError


def _lowbias32(x: int) -> int:
    """Plain-Python reference of the hash (arbitrary-precision ints)."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_mix32_matches_the_reference_hash_on_the_whole_range():
    values = [0, 1, 2, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 123456789, 3141592653]
    assert mix32(torch.tensor(values)).tolist() == [_lowbias32(v) for v in values]
    assert _lowbias32(0) == 0 and _lowbias32(1) != 1      # a known property: 0 is a fixed point


def test_uniforms_are_uniform_and_independent_across_images_and_slots():
    keys = sample_keys(0, 0, torch.arange(20000))
    u = uniforms(keys, 0, 4)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.var().item() - 1 / 12) < 0.003
    c = torch.corrcoef(torch.stack([u[:-1, 0], u[1:, 0], u[:-1, 1], uniforms(keys, 1, 1)[:-1, 0]]))
    assert (c - torch.eye(4)).abs().max() < 0.03
    assert torch.histc(u[:, 0], bins=10, min=0, max=1).sub(2000).abs().max() < 200
    # another seed, epoch or index gives other numbers; the same key the same ones
    assert not torch.equal(sample_keys(1, 0, torch.arange(5)), sample_keys(0, 0, torch.arange(5)))
    assert not torch.equal(sample_keys(0, 1, torch.arange(5)), sample_keys(0, 0, torch.arange(5)))
    assert torch.equal(sample_keys(0, torch.tensor([3, 3]), torch.tensor([7, 7])), sample_keys(0, 3, torch.tensor([7, 7])))


@pytest.mark.parametrize("length,size", [(7, 16), (16, 16), (23, 16), (40, 16), (13, 5), (3, 1)])
def test_resize_weights_equal_antialiased_bilinear_interpolate(length, size):
    g = torch.Generator().manual_seed(length)
    x = torch.rand(2, 3, 41, 41, generator=g)
    start = torch.tensor([0, 41 - length])
    rows = resize_weights(start, torch.tensor([length, length]), size, 41)
    out = rows[:, None] @ x @ rows[:, None].transpose(-1, -2)
    for i in range(2):
        s = int(start[i])
        ref = F.interpolate(x[i:i + 1, :, s:s + length, s:s + length], size=(size, size), mode="bilinear",
                            align_corners=False, antialias=True)[0]
        assert torch.allclose(out[i], ref, atol=1e-5), (length, size)


@pytest.mark.parametrize("sigma,size", [(0.3, 12), (1.7, 12), (2.0, 5), (0.9, 2)])
def test_blur_matrices_equal_the_per_sample_blur(sigma, size):
    x = torch.rand(3, size, size, generator=torch.Generator().manual_seed(1))
    k = blur_matrices(torch.tensor([sigma, 0.0]), size, 2.0)
    assert torch.allclose(k[0] @ x @ k[0].T, gaussian_blur(x, sigma), atol=1e-5)
    assert torch.equal(k[1], torch.eye(size))                       # sigma 0: no blur


def test_crop_boxes_follow_random_resized_crop():
    n = 4000
    u = uniforms(sample_keys(0, 0, torch.arange(n)), 0, 22)
    box = crop_boxes(u[:, :10], u[:, 10:20], u[:, 20], u[:, 21], 32, 32, (0.08, 0.9))
    top, left, ch, cw = box.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + ch <= 32).all() and (left + cw <= 32).all()
    frac = (ch * cw).double() / 1024
    assert frac.min() > 0.06 and frac.max() < 0.95               # within the scale range up to rounding
    assert (cw.double() / ch).min() > 0.6 and (cw.double() / ch).max() < 1.7
    assert top.max() > 20 and left.max() > 20 and top.min() == 0   # positions spread over the image
    # no try fits: the per-sample fallback (centre crop clipped to the ratio range)
    for h, w in ((10, 40), (40, 10), (12, 12)):
        fallback = crop_boxes(u[:3, :10], u[:3, 10:20], u[:3, 20], u[:3, 21], h, w, (2.0, 3.0))
        expected = RandomResizedCrop(8, scale=(2.0, 3.0)).box(h, w, torch.Generator().manual_seed(0))
        assert all(tuple(b) == expected for b in fallback.tolist())


def _per_sample_view(x: torch.Tensor, p, i: int, spec, cfg) -> torch.Tensor:
    """One image's view from the per-sample functions with the batched path's parameters."""
    top, left, ch, cw = p.box[i].tolist()
    y = resize(x[:, top:top + ch, left:left + cw], (spec.size, spec.size))
    if p.flip[i]:
        y = y.flip(-1)
    b, c, s, h = p.factors[i].tolist()
    ops = [lambda t: adjust_brightness(t, b), lambda t: adjust_contrast(t, c), lambda t: adjust_saturation(t, s),
           lambda t: adjust_hue(t, h)]
    for k in p.order[i].tolist():
        y = ops[k](y)
    if p.gray[i]:
        y = grayscale(y).expand(3, -1, -1)
    if p.sigma[i] > 0:
        y = gaussian_blur(y, float(p.sigma[i]))
    if p.solarize[i]:
        y = solarize(y)
    return Normalize(cfg.mean, cfg.std)(y, torch.Generator())


@pytest.mark.parametrize("preset,scale", [("cifar", None), ("imagenet", 1 / 14)])  # imagenet: 16 and 7 px crops
def test_batched_views_equal_the_per_sample_functions_with_the_same_parameters(preset, scale):
    aug = BatchedMultiCrop(preset, n_local=1, size_scale=scale, seed=5)
    n, side = 48, 32 if preset == "cifar" else 20
    x = torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(2))
    keys = sample_keys(5, 3, torch.arange(n))
    seen = {"flip": 0, "gray": 0, "sol": 0, "blur": 0, "plain": 0}
    for v, spec in enumerate(aug.config.crops()):
        p = aug.params(keys, v, side, side)
        out = aug.apply(x, p, spec)
        assert out.shape == (n, 3, spec.size, spec.size)
        for i in range(n):
            ref = _per_sample_view(x[i], p, i, spec, aug.config)
            assert torch.allclose(out[i], ref, atol=2e-4), (preset, v, i, (out[i] - ref).abs().max())
        seen["flip"] += int(p.flip.sum())
        seen["gray"] += int(p.gray.sum())
        seen["sol"] += int(p.solarize.sum())
        seen["blur"] += int((p.sigma > 0).sum())
        seen["plain"] += int((p.factors == torch.tensor([1.0, 1.0, 1.0, 0.0])).all(1).sum())
    assert seen["flip"] and seen["gray"] and seen["plain"] and seen["sol"]
    assert bool(seen["blur"]) == (preset == "imagenet")
    # the call: uint8 in, the same views as apply() on images / 255
    u8 = torch.randint(0, 256, (4, 3, side, side), dtype=torch.uint8)
    views = aug(u8, torch.arange(4), epoch=3)
    assert len(views) == 3 and torch.allclose(views[2], aug.apply(u8.float() / 255, aug.params(keys[:4], 2, side, side),
                                                                  aug.config.crops()[2]))


def test_parameter_frequencies_follow_the_recipe():
    aug = BatchedMultiCrop("cifar", seed=0)
    cfg = MULTICROP_PRESETS["cifar"]
    n = 6000
    keys = sample_keys(0, 0, torch.arange(n))
    p = aug.params(keys, 3, 32, 32)                                # a local crop
    jittered = ~(p.factors == torch.tensor([1.0, 1.0, 1.0, 0.0])).all(1)
    for value, expected in ((p.flip, cfg.flip_p), (jittered, cfg.jitter_p), (p.gray, cfg.grayscale_p),
                            (p.solarize, cfg.local_crop.solarize)):
        assert abs(value.float().mean().item() - expected) < 0.03
    b, c, s, h = cfg.jitter
    f = p.factors[jittered]
    assert f[:, 0].min() >= 1 - b and f[:, 0].max() <= 1 + b and f[:, 3].abs().max() <= h
    assert abs(f[:, 1].mean().item() - 1.0) < 0.03 and abs(f[:, 3].mean().item()) < 0.01
    orders = {tuple(o) for o in p.order.tolist()}
    assert len(orders) == math.factorial(4)                      # every order of the four operations
    frac = (p.box[:, 2] * p.box[:, 3]).double() / 1024
    assert abs(frac.mean().item() - sum(cfg.local_crop.scale) / 2) < 0.03
    assert (p.sigma == 0).all()                                   # no blur in the CIFAR recipe


def test_views_are_a_function_of_seed_epoch_and_index():
    aug = BatchedMultiCrop("cifar", n_local=2, seed=1)
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    idx = torch.tensor([10, 11, 12, 13, 14, 15])
    a = aug(x, idx, epoch=0)
    b = aug(x[[3, 1]], idx[[3, 1]], epoch=torch.tensor([0, 0]))
    assert all(torch.allclose(va[[3, 1]], vb, atol=1e-5) for va, vb in zip(a, b))  # up to the batch's float rounding
    c = aug(x, idx, epoch=1)
    assert not torch.equal(a[0], c[0])
    assert not torch.equal(a[0], BatchedMultiCrop("cifar", n_local=2, seed=2)(x, idx)[0])
    with pytest.raises(SpherecodeError, match="'indices'"):
        aug(x, idx[:2])
    with pytest.raises(SpherecodeError, match="'images'"):
        aug(x[0], idx[:1])
    with pytest.raises(SpherecodeError, match="preset"):
        BatchedMultiCrop("mnist")


def test_keyed_images_hand_over_raw_images_and_keys():
    from spherecode.data.synthetic import SyntheticImages

    base = SyntheticImages(num_classes=3, per_class=2, image_size=8)
    ds = KeyedImages(base)
    img, key = ds[(4, 7)]
    assert torch.equal(img, base.image(4)) and img.dtype == torch.uint8 and key.tolist() == [4, 7]
    assert ds[5][1].tolist() == [5, 0] and len(ds) == 6


def test_jitter_passes_equal_the_operations_in_each_images_order():
    """The six fused passes around one hue pass, with the hue on every image (masks, the accelerator
    path) or only on the images with a shift (the CPU path), against the per-sample operations."""
    from spherecode.data.multicrop_batched import jitter_rgb

    aug = BatchedMultiCrop("cifar", seed=3)
    p = aug.params(sample_keys(3, 0, torch.arange(200)), 4, 32, 32)
    y = torch.rand(200, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    masked, subset = jitter_rgb(y, p.factors, p.order, masked=True), jitter_rgb(y, p.factors, p.order, masked=False)
    assert torch.allclose(masked, subset, atol=1e-6)
    ops = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)
    for i in range(200):
        ref = y[i]
        for k in p.order[i].tolist():
            ref = ops[k](ref, float(p.factors[i, k]))
        assert torch.allclose(subset[i], ref, atol=1e-5), i


def test_one_call_equals_each_view_on_its_own(monkeypatch):
    """The call draws every view at once and renders the views of one size as one batch (both
    presets: CIFAR one run of 4 views, ImageNet two runs of 2 and 2): the same as view by view."""
    for preset, scale, side in (("cifar", None, 32), ("imagenet", 1 / 14, 20)):
        aug = BatchedMultiCrop(preset, n_local=2, size_scale=scale, seed=7)
        x = torch.randint(0, 256, (5, 3, side, side), dtype=torch.uint8)
        views = aug(x, torch.arange(5) + 100, epoch=2)
        keys = sample_keys(7, 2, torch.arange(5) + 100)
        assert [v.shape[-1] for v in views] == [spec.size for spec in aug.config.crops()]
        for v, spec in enumerate(aug.config.crops()):
            ref = aug.apply(x.float() / 255, aug.params(keys, v, side, side), spec)
            assert torch.allclose(views[v], ref, atol=1e-5), (preset, v)
        # the accelerator strategy (masks, no host synchronisation) gives the same views on the CPU
        masked = BatchedMultiCrop(preset, n_local=2, size_scale=scale, seed=7, masked=True)(x, torch.arange(5) + 100, 2)
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(views, masked)), preset
        # selecting in pieces of whole views (the CPU's cache-sized pieces; here one view a piece)
        monkeypatch.setattr("spherecode.data.multicrop_batched._CACHE_FLOATS", 1)
        pieces = aug(x, torch.arange(5) + 100, epoch=2)
        monkeypatch.undo()
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(views, pieces)), preset
    # all streams in one call: the same numbers as stream by stream
    keys = sample_keys(0, 0, torch.arange(7))
    assert torch.equal(uniforms(keys, (0, 1, 5), 3)[2], uniforms(keys, 5, 3))


def test_hue_rotation_matches_colorsys():
    """adjust_hue against Python's colorsys (an independent HSV implementation)."""
    import colorsys

    x = torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(4))
    x[:, 0, 0] = 0.5                                                # a grey pixel: hue undefined, unchanged
    out = adjust_hue(x, 0.3)
    for i in range(4):
        for j in range(5):
            h, s, v = colorsys.rgb_to_hsv(*x[:, i, j].tolist())
            ref = colorsys.hsv_to_rgb((h + 0.3) % 1.0, s, v)
            assert torch.allclose(out[:, i, j], torch.tensor(ref, dtype=torch.float32), atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_views_on_cuda_match_cpu_without_host_synchronisation():
    aug = BatchedMultiCrop("cifar", seed=4)
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    cpu = aug(x, torch.arange(64), epoch=1)
    xg, idx, epoch = x.cuda(), torch.arange(64, device="cuda"), torch.ones(64, dtype=torch.long, device="cuda")
    aug(xg, idx, epoch)                               # warm-up: the constants copied to the device once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")          # any host synchronisation from here on raises
    try:
        gpu = aug(xg, idx, epoch)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(torch.allclose(a, b.cpu(), atol=1e-4) for a, b in zip(cpu, gpu))
