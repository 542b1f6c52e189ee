r"""Class-per-folder image sets (ImageNet, or any folder of your own), decoded with Pillow.

Layout (never downloaded)::

    ROOT/train/<class>/*.JPEG
    ROOT/val/<class>/*.JPEG        (or ROOT/test/<class>/...)

Classes are the sorted ``<class>`` folder names of ``train`` (index = position), so train and
val agree; a val folder with a class unknown to train is an error, and a class folder holding no
image is reported with a warning naming it. Files ending in ``.jpeg``, ``.jpg`` or ``.png`` (any
case) are read. A file that cannot be decoded stops the run with one line naming it
(:class:`~spherecode.data.dataset.SampleError`), whether it was read in a loader worker or not.

The side ``image_size`` chooses the recipe: up to :data:`SMALL` pixels the images are resized
(shorter side) and centre-cropped to the size, then trained with the CIFAR augmentation (random
crop with ``size/8`` zero padding, flip) and the CIFAR stem; above it, the ImageNet recipe
(random resized crop; resize to 256/224 of the size and centre crop for evaluation).
:func:`folder_stats` measures the per-channel mean and standard deviation on a sample of the
training images (``norm=auto`` in the ``folder:`` spec).

Examples:
    >>> import tempfile, pathlib, numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for split in ("train", "val"):
    ...     for k, cls in enumerate(("cat", "dog")):
    ...         (root / split / cls).mkdir(parents=True)
    ...         Image.fromarray(np.full((20, 24, 3), 60 * k, np.uint8)).save(root / split / cls / "a.png")
    >>> ds = ImageFolder(root, "val", image_size=16)
    >>> len(ds), ds.class_names, ds.kind, tuple(ds.image(1).shape)
    (2, ['cat', 'dog'], 'cifar', (3, 20, 24))
    >>> tuple(ds.eval_transform()(ds.image(1), None).shape)
    (3, 16, 16)
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import SpherecodeError, check_choice, check_int
from .dataset import ImageDataset, SampleError
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, CenterCrop, Compose, Normalize, RandomCrop,
                         RandomHorizontalFlip, RandomResizedCrop, Resize, Transform, imagenet_eval_transform)

LAYOUT = "ROOT/train/<class>/*.JPEG and ROOT/val/<class>/*.JPEG (one folder per class)"
SUFFIXES = (".jpeg", ".jpg", ".png")
SPLITS = {"train": ("train",), "val": ("val", "test"), "test": ("test", "val")}
#: Largest side trained with the small-image (CIFAR) recipe.
SMALL = 64
#: Most pixels of one image file (Pillow's own decompression-bomb threshold, ``Image.MAX_IMAGE_PIXELS``).
MAX_PIXELS = 89_478_485


def class_folders(root: Path) -> list[str]:
    """Sorted class folder names under ``root/train``."""
    train = root / "train"
    if not root.is_dir() or not train.is_dir():
        what = "does not exist" if not root.exists() else "has no 'train' folder"
        raise SpherecodeError(f"Argument '--data': image folder '{root}' {what}; expected {LAYOUT}.")
    names = sorted(p.name for p in train.iterdir() if p.is_dir())
    if not names:
        raise SpherecodeError(f"Argument '--data': '{train}' has no class folders; expected {LAYOUT}.")
    return names


def split_folder(root: Path, split: str) -> Path:
    """The folder holding ``split`` ("val" falls back to "test" and the other way round)."""
    for name in SPLITS[split]:
        if (root / name).is_dir():
            return root / name
    raise SpherecodeError(f"Argument '--data': image folder '{root}' has no "
                          f"{' or '.join(repr(n) for n in SPLITS[split])} folder; expected {LAYOUT}.")


def list_images(folder: Path, class_names: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Image files under ``folder/<class>/`` and their labels; warns once per class folder without images."""
    index = {name: k for k, name in enumerate(class_names)}
    files: list[str] = []
    labels: list[int] = []
    empty: list[Path] = []
    for cls in sorted(p for p in folder.iterdir() if p.is_dir()):
        if cls.name not in index:
            raise SpherecodeError(f"Image folder '{folder}': class folder '{cls.name}' is not among the train classes.")
        found = [str(f) for f in sorted(cls.iterdir()) if f.suffix.lower() in SUFFIXES and f.is_file()]
        if not found:
            empty.append(cls)
        files += found
        labels += [index[cls.name]] * len(found)
    if not files:  # the error alone (no warning per empty class before it)
        raise SpherecodeError(f"Argument '--data': '{folder}' holds no images ({', '.join(SUFFIXES)}); expected {LAYOUT}.")
    for cls in empty:
        warnings.warn(f"spherecode: class folder '{cls}' holds no images ({', '.join(SUFFIXES)}); "
                      f"class '{cls.name}' has no samples in '{folder.name}'.", stacklevel=3)
    return files, np.asarray(labels, dtype=np.int64)


def decode(path: str) -> torch.Tensor:
    """An image file as an RGB ``uint8`` tensor ``(3, H, W)``; one-line :class:`SampleError` if unreadable."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, not printed
            with Image.open(path) as im:
                check_pixels(path, im.size)
                arr = np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError as exc:  # over twice the limit: Pillow refuses to open it
        raise SampleError(f"Cannot decode image '{path}': {str(exc).split(', could')[0]}; shrink it.") from None
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises all three on corrupt files
        raise SampleError(f"Cannot decode image '{path}': {exc}") from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def check_pixels(path: str, size: tuple[int, int]) -> None:
    """Refuse an image of more than :data:`MAX_PIXELS` pixels before decoding it, naming its size."""
    w, h = size
    if w * h > MAX_PIXELS:
        raise SampleError(f"Cannot decode image '{path}': it has {w} x {h} pixels ({w * h / 1e6:.0f} million; "
                          f"{w * h * 3 / 1e9:.3g} GB decoded), more than the {MAX_PIXELS // 10**6} million an image "
                          "may have; shrink it.")


@functools.lru_cache(maxsize=8)
def folder_stats(root: str, image_size: int, sample: int = 256) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) on the 0-1 scale of up to ``sample`` evenly spaced training images,
    each resized and centre-cropped to ``image_size`` (what the network sees in evaluation)."""
    root_path = Path(root)
    files, _ = list_images(root_path / "train", class_folders(root_path))
    pick = np.unique(np.linspace(0, len(files) - 1, min(sample, len(files))).round().astype(int))
    prep = Compose([Resize(image_size), CenterCrop(image_size)])
    x = torch.stack([prep(decode(files[i]), None) for i in pick]).float().div_(255.0)  # type: ignore[arg-type]
    x = x.transpose(0, 1).reshape(3, -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).clamp_min(1e-3).tolist())


class ImageFolder(ImageDataset):
    """One split of a class-per-folder image tree; images are decoded on access (RGB).

    Args:
        root: the folder holding ``train`` and ``val`` (or ``test``).
        split: "train", "val" or "test".
        image_size: the side the network sees (224 for ImageNet).
        mean, std: normalisation statistics on the 0-1 scale (default: ImageNet's).
        flip: random horizontal flips in training.
    """

    def __init__(self, root: str | Path, split: str = "train", image_size: int = 224,
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 flip: bool = True) -> None:
        check_choice("split", split, SPLITS)
        self.image_size = check_int("size", image_size, minimum=8)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise SpherecodeError(f"Arguments 'mean' and 'std' need 3 values each (std > 0), not {list(mean)} and {list(std)}.")
        self.root, self.split = Path(root), split
        self.mean, self.std, self.flip = tuple(mean), tuple(std), flip
        self.kind = "cifar" if image_size <= SMALL else "imagenet"
        self.source = str(root)
        self.class_names = class_folders(self.root)
        self.files, self.labels = list_images(split_folder(self.root, split), self.class_names)

    def image(self, index: int) -> torch.Tensor:
        return decode(self.files[index])

    def train_transform(self) -> Transform:
        crop: list[Transform] = ([RandomResizedCrop(self.image_size)] if self.kind == "imagenet" else
                                 [Resize(self.image_size), CenterCrop(self.image_size),
                                  RandomCrop(self.image_size, max(1, self.image_size // 8))])
        flip: list[Transform] = [RandomHorizontalFlip()] if self.flip else []
        return Compose([*crop, *flip, Normalize(self.mean, self.std)])

    def eval_transform(self) -> Transform:
        if self.kind == "imagenet":
            return imagenet_eval_transform(self.image_size, mean=self.mean, std=self.std)
        return Compose([Resize(self.image_size), CenterCrop(self.image_size), Normalize(self.mean, self.std)])

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "mean": list(self.mean), "std": list(self.std)}
