"""Writers of tiny datasets in the real on-disk formats (CIFAR-100 pickles and tar.gz, JPEG folders)."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

#: The genuine CIFAR-100 meta file (Krizhevsky 2009), when this machine has it.
GENUINE_META = [Path("/work/shared/data/cifar-100-meta"),
                Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-100-meta"]


def genuine_meta() -> bytes | None:
    for p in GENUINE_META:
        if p.is_file():
            return p.read_bytes()
    return None


def cifar_meta(n_fine: int = 100, n_coarse: int = 20) -> bytes:
    meta = {"fine_label_names": [f"fine{k:02d}" for k in range(n_fine)],
            "coarse_label_names": [f"coarse{k:02d}" for k in range(n_coarse)]}
    return pickle.dumps(meta, protocol=2)


def cifar_split(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A pickle like the official ``train``/``test`` files: (bytes, images (n,3,32,32), fine labels)."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    fine = rng.integers(0, 100, size=n)
    coarse = fine // 5
    obj = {"filenames": [f"img{i}.png" for i in range(n)], "batch_label": "training batch 1 of 1",
           "fine_labels": fine.tolist(), "coarse_labels": coarse.tolist(), "data": data}
    return pickle.dumps(obj, protocol=2), data.reshape(n, 3, 32, 32), fine


def write_cifar_folder(root: Path, meta: bytes, n_train: int = 12, n_test: int = 6) -> dict[str, np.ndarray]:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    out = {}
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        raw, images, fine = cifar_split(n, seed)
        (folder / split).write_bytes(raw)
        out[split + "_images"], out[split + "_labels"] = images, fine
    (folder / "meta").write_bytes(meta)
    return out


def write_cifar_targz(path: Path, meta: bytes, n_train: int = 12, n_test: int = 6) -> dict[str, np.ndarray]:
    out = {}
    with tarfile.open(path, "w:gz") as tar:
        files = {"meta": meta}
        for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
            raw, images, fine = cifar_split(n, seed)
            files[split] = raw
            out[split + "_images"], out[split + "_labels"] = images, fine
        files["file.txt~"] = b""
        for name, raw in files.items():
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return out


def write_image_folder(root: Path, classes: tuple[str, ...] = ("n01440764", "n01443537", "n01484850"),
                       per_class: int = 2, sizes: tuple[tuple[int, int], ...] = ((40, 30), (24, 36))) -> None:
    """ROOT/{train,val}/<wnid>/*.JPEG with solid-colour RGB images (one colour per class)."""
    from PIL import Image

    for split in ("train", "val"):
        for k, wnid in enumerate(classes):
            d = root / split / wnid
            d.mkdir(parents=True)
            for i in range(per_class):
                w, h = sizes[i % len(sizes)]
                colour = (60 * k + 40, 200 - 50 * k, 30 + 20 * i)
                Image.new("RGB", (w, h), colour).save(d / f"{wnid}_{i}.JPEG", quality=95)
