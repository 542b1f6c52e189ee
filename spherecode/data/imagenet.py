r"""ImageNet (or any class-per-folder image set) from the usual folder layout, decoded with Pillow.

Layout (never downloaded)::

    ROOT/train/<wnid>/*.JPEG
    ROOT/val/<wnid>/*.JPEG

Classes are the sorted ``<wnid>`` folder names of ``train`` (index = position), so train and
val agree; a val folder with a class unknown to train is an error. Files ending in
``.jpeg``, ``.jpg`` or ``.png`` (any case) are read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import SpherecodeError, check_choice
from .dataset import ImageDataset
from .transforms import Transform, imagenet_eval_transform, imagenet_train_transform

LAYOUT = "ROOT/train/<wnid>/*.JPEG and ROOT/val/<wnid>/*.JPEG (one folder per class)"
SUFFIXES = (".jpeg", ".jpg", ".png")
SPLITS = {"train": "train", "val": "val", "test": "val"}


def class_folders(root: Path) -> list[str]:
    """Sorted class folder names under ``root/train``."""
    train = root / "train"
    if not root.is_dir() or not train.is_dir():
        what = "does not exist" if not root.exists() else "has no 'train' folder"
        raise SpherecodeError(f"Argument '--data': ImageNet path '{root}' {what}; expected {LAYOUT}.")
    names = sorted(p.name for p in train.iterdir() if p.is_dir())
    if not names:
        raise SpherecodeError(f"Argument '--data': '{train}' has no class folders; expected {LAYOUT}.")
    return names


class ImageFolder(ImageDataset):
    """One split of an ImageNet-style folder tree; images are decoded on access (RGB)."""

    kind = "imagenet"

    def __init__(self, root: str | Path, split: str = "train", image_size: int = 224) -> None:
        check_choice("split", split, SPLITS)
        self.root, self.split, self.image_size = Path(root), split, image_size
        self.source = str(root)
        self.class_names = class_folders(self.root)
        index = {name: k for k, name in enumerate(self.class_names)}
        folder = self.root / SPLITS[split]
        if not folder.is_dir():
            raise SpherecodeError(f"Argument '--data': ImageNet path '{root}' has no '{SPLITS[split]}' folder; expected {LAYOUT}.")
        files: list[str] = []
        labels: list[int] = []
        for cls in sorted(p for p in folder.iterdir() if p.is_dir()):
            if cls.name not in index:
                raise SpherecodeError(f"ImageNet '{folder}': class folder '{cls.name}' is not among the train classes.")
            for f in sorted(cls.iterdir()):
                if f.suffix.lower() in SUFFIXES:
                    files.append(str(f))
                    labels.append(index[cls.name])
        if not files:
            raise SpherecodeError(f"Argument '--data': '{folder}' holds no images ({', '.join(SUFFIXES)}); expected {LAYOUT}.")
        self.files = files
        self.labels = np.asarray(labels, dtype=np.int64)

    def image(self, index: int) -> torch.Tensor:
        from PIL import Image

        try:
            with Image.open(self.files[index]) as im:
                arr = np.asarray(im.convert("RGB"))
        except OSError as exc:
            raise SpherecodeError(f"Cannot decode image '{self.files[index]}': {exc}") from None
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()

    def train_transform(self) -> Transform:
        return imagenet_train_transform(self.image_size)

    def eval_transform(self) -> Transform:
        return imagenet_eval_transform(self.image_size)
