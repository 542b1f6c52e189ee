r"""CIFAR-100 from the official python version (Krizhevsky 2009); never downloads.

Accepted paths: the ``cifar-100-python`` folder, a folder that contains it, or the
``cifar-100-python.tar.gz`` archive. The folder holds three pickles (``encoding='latin1'``)::

    train   dict: data uint8 (50000, 3072) rows R(1024) G(1024) B(1024), fine_labels, coarse_labels
    test    dict: the same with 10000 rows
    meta    dict: fine_label_names (100, alphabetical), coarse_label_names (20)

Row ``i`` reshaped to ``(3, 32, 32)`` is image ``i`` in channel-first order.
"""

from __future__ import annotations

import codecs
import io
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SpherecodeError, check_choice
from .dataset import ImageDataset
from .transforms import Transform, cifar_eval_transform, cifar_train_transform

FOLDER = "cifar-100-python"
LAYOUT = ("the official CIFAR-100 python version: a 'cifar-100-python' folder holding the pickles "
          "'train', 'test' and 'meta', a folder containing it, or 'cifar-100-python.tar.gz'")
SPLITS = {"train": "train", "test": "test", "val": "test"}


#: The only globals an official CIFAR-100 pickle names (Python 2's and 3's spellings): numpy arrays
#: (rebuilt by numpy's own reconstructor) and bytes written by Python 3 at protocol 2.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{(module, "_reconstruct"): np.empty(0).__reduce__()[0]
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _AllowListUnpickler(pickle.Unpickler):
    """An unpickler that builds dicts, lists, strings, bytes, numbers and numpy arrays, and nothing else:
    any other global (``os.system``, ``builtins.eval``, a class) is refused before it can run."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}") from None


def _unpickle(raw: bytes, what: str) -> dict[str, Any]:
    """Unpickle a CIFAR-100 file with :class:`_AllowListUnpickler` (a crafted file cannot run code)."""
    try:
        obj = _AllowListUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("refused global"):
            raise SpherecodeError(f"CIFAR-100 file '{what}' is not an official CIFAR-100 pickle: it asks for "
                                  f"{str(exc)[len('refused global '):]}, which is not loaded (only dicts, lists, "
                                  "strings, bytes, numbers and numpy arrays are).") from None
        raise SpherecodeError(f"CIFAR-100 file '{what}' is not a readable pickle ({exc}).") from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise SpherecodeError(f"CIFAR-100 file '{what}' is not a readable pickle ({type(exc).__name__}).") from None
    if not isinstance(obj, dict):
        raise SpherecodeError(f"CIFAR-100 file '{what}' does not hold a dict.")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_cifar100(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Read one split: ``(images uint8 (n, 3, 32, 32), fine labels, coarse labels, meta dict)``."""
    check_choice("split", split, SPLITS)
    name = SPLITS[split]
    p = Path(path)
    if p.is_file() and (p.name.endswith((".tar.gz", ".tgz")) or tarfile.is_tarfile(p)):
        try:
            with tarfile.open(p, "r:*") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers()
                           if m.isfile() and Path(m.name).parent.name == FOLDER}
                missing = [f for f in (name, "meta") if f not in members]
                if missing:
                    raise SpherecodeError(f"Argument '--data': archive '{p}' lacks {FOLDER}/{', '.join(missing)}; expected {LAYOUT}.")
                raw = {f: tar.extractfile(members[f]).read() for f in (name, "meta")}  # type: ignore[union-attr]
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SpherecodeError(f"Argument '--data': '{p}' is not a readable .tar.gz archive ({exc}).") from None
        where = f"{p}:{FOLDER}/"
    else:
        folder = p / FOLDER if (p / FOLDER).is_dir() else p
        missing = [f for f in (name, "meta") if not (folder / f).is_file()]
        if not p.exists() or missing:
            found = "does not exist" if not p.exists() else f"lacks {', '.join(missing)}"
            raise SpherecodeError(f"Argument '--data': CIFAR-100 path '{p}' {found}; expected {LAYOUT}.")
        raw = {f: (folder / f).read_bytes() for f in (name, "meta")}
        where = f"{folder}/"
    d, meta = _unpickle(raw[name], where + name), _unpickle(raw["meta"], where + "meta")
    for key in ("data", "fine_labels", "coarse_labels"):
        if key not in d:
            raise SpherecodeError(f"CIFAR-100 file '{where}{name}' has no '{key}' entry; expected {LAYOUT}.")
    data = np.asarray(d["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise SpherecodeError(f"CIFAR-100 file '{where}{name}': 'data' must be uint8 rows of 3072, not {data.dtype} {data.shape}.")
    fine = _labels(d["fine_labels"], f"{where}{name}", "fine_labels")
    coarse = _labels(d["coarse_labels"], f"{where}{name}", "coarse_labels")
    if len(fine) != len(data) or len(coarse) != len(data):
        raise SpherecodeError(f"CIFAR-100 file '{where}{name}': {len(data)} images but {len(fine)} labels.")
    if "fine_label_names" not in meta:
        raise SpherecodeError(f"CIFAR-100 file '{where}meta' has no 'fine_label_names'.")
    for key in ("fine_label_names", "coarse_label_names"):
        names = meta.get(key, [])
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise SpherecodeError(f"CIFAR-100 file '{where}meta': '{key}' must be a list of class names (strings), "
                                  f"not {type(names).__name__}.")
    return data.reshape(-1, 3, 32, 32), fine, coarse, meta


def _labels(raw: Any, what: str, key: str) -> np.ndarray:
    """A pickle's label list as int64, refusing anything but non-negative integers (one line naming the file)."""
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError):
        arr = np.asarray([], dtype=object)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or len(arr) == 0):
        raise SpherecodeError(f"CIFAR-100 file '{what}': '{key}' must be a list of integer labels, not "
                              f"{arr.dtype} values of shape {arr.shape}.")
    if len(arr) and int(arr.min()) < 0:
        raise SpherecodeError(f"CIFAR-100 file '{what}': '{key}' holds the negative label {int(arr.min())}; labels "
                              "are class indices from 0.")
    return arr.astype(np.int64)


class CIFAR100(ImageDataset):
    """The CIFAR-100 ``train`` or ``test`` split, held in memory (150 MB for train).

    ``label_type`` selects the 100 fine classes (default) or the 20 coarse superclasses.
    """

    kind = "cifar"
    image_size = 32

    def __init__(self, path: str | Path, split: str = "train", label_type: str = "fine") -> None:
        check_choice("label_type", label_type, ("fine", "coarse"))
        images, fine, coarse, meta = read_cifar100(path, split)
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.fine_labels, self.coarse_labels = fine, coarse
        self.labels = fine if label_type == "fine" else coarse
        self.class_names = list(meta["fine_label_names"] if label_type == "fine" else meta["coarse_label_names"])
        self.coarse_names = list(meta.get("coarse_label_names", []))
        self.source, self.split = str(path), split
        for labels, names, key in ((fine, meta["fine_label_names"], "fine"), (coarse, self.coarse_names, "coarse")):
            if len(labels) and (key == "fine" or label_type == "coarse") and int(labels.max()) >= len(names):
                raise SpherecodeError(f"CIFAR-100 '{path}': {key} label {int(labels.max())} but only {len(names)} "
                                      f"{key} class names.")

    def image(self, index: int) -> torch.Tensor:
        return self.images[index]

    def train_transform(self) -> Transform:
        return cifar_train_transform()

    def eval_transform(self) -> Transform:
        return cifar_eval_transform()
