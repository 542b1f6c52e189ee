r"""Parse a dataset spec string into a dataset: ``cifar100:PATH``, ``imagenet:PATH`` or ``synthetic``.

``synthetic`` takes optional ``key=value`` parameters after a colon, separated by commas:
``synthetic:classes=10,per_class=50,image_size=32,noise=24,seed=0`` (test split: ``test_per_class``).

Examples:
    >>> ds = build_dataset("synthetic:classes=5,per_class=4,image_size=8", "train")
    >>> len(ds), ds.num_classes, ds.image_size
    (20, 5, 8)
    >>> build_dataset("mnist:/x", "train")
    Traceback (most recent call last):
    ...
    spherecode.errors.SpherecodeError: Argument '--data' must start with one of cifar100:PATH, imagenet:PATH, synthetic[:key=value,...]; got 'mnist:/x'.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import SpherecodeError
from .dataset import ImageDataset

SPEC_HELP = "cifar100:PATH, imagenet:PATH, synthetic[:key=value,...]"
SYNTHETIC_KEYS = {"classes": int, "per_class": int, "test_per_class": int, "image_size": int,
                  "noise": float, "seed": int, "superclasses": int, "fine": float}


def _cifar100(arg: str, split: str) -> ImageDataset:
    from .cifar import CIFAR100

    return CIFAR100(arg, split)


def _imagenet(arg: str, split: str) -> ImageDataset:
    from .imagenet import ImageFolder

    return ImageFolder(arg, split)


def _synthetic(arg: str, split: str) -> ImageDataset:
    from .synthetic import SyntheticImages

    params: dict[str, float | int] = {}
    for item in filter(None, arg.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in SYNTHETIC_KEYS:
            raise SpherecodeError(f"Argument '--data': synthetic parameter {item!r} is not one of "
                                  f"{', '.join(k + '=VALUE' for k in SYNTHETIC_KEYS)}.")
        try:
            params[key] = SYNTHETIC_KEYS[key](value)
        except ValueError:
            raise SpherecodeError(f"Argument '--data': synthetic parameter {key} must be a number, not {value!r}.") from None
    per_class = int(params.pop("per_class", 100))
    test_per_class = int(params.pop("test_per_class", max(1, per_class // 5)))
    return SyntheticImages(num_classes=int(params.pop("classes", 10)),
                           per_class=per_class if split == "train" else test_per_class,
                           split=split, **params)  # type: ignore[arg-type]


#: Dataset kinds: name -> function(argument after the colon, split) -> dataset.
DATASETS: dict[str, Callable[[str, str], ImageDataset]] = {
    "cifar100": _cifar100,
    "imagenet": _imagenet,
    "synthetic": _synthetic,
}


def build_dataset(spec: str, split: str) -> ImageDataset:
    """The raw (untransformed) ``split`` ("train", "test" or "val") of the dataset named by ``spec``."""
    name, _, arg = spec.partition(":")
    if name not in DATASETS:
        raise SpherecodeError(f"Argument '--data' must start with one of {SPEC_HELP}; got {spec!r}.")
    if name != "synthetic" and not arg:
        raise SpherecodeError(f"Argument '--data': {name} needs a path, as in '{name}:PATH'; got {spec!r}.")
    return DATASETS[name](arg, split)
