r"""``glyphs``: 100 classes of characters rendered from the fonts that ship with matplotlib.

A CIFAR-100-shaped problem (100 classes, 32 px, about 150 training images per class) with real
visual structure that trains on a CPU. The classes (:data:`~spherecode.relabel.hierarchy.GLYPH_TREE`,
in its order) are the Latin letters in both cases, the ten digits, the Greek letters whose shapes
differ from the Latin ones (capital Gamma ... Omega and their lowercase, and alpha, beta, epsilon,
zeta, eta, mu, rho, tau) and ten symbols. Labels are ordered so that neighbours are related
(``A, a, alpha, B, b, beta, eight, ...``), as CIFAR-100's alphabetical order often puts related
classes side by side; :meth:`GlyphImages.hierarchy` is the class tree (script -> letter group -> class).

**Fonts.** The TrueType files in ``matplotlib.get_data_path()/fonts/ttf`` (:data:`TRAIN_FONTS`,
:data:`TEST_FONTS`): DejaVu Sans, Sans Mono and Serif with their bold and oblique/italic faces,
STIX General (four faces) and Computer Modern (``cm*``). Whole faces are held out: the test split
is drawn only from :data:`TEST_FONTS`, so test accuracy measures generalisation to type faces the
network never saw. A font renders a class only if its Unicode character map holds the character
under its own glyph name (``A`` -> ``A``, U+03B1 -> ``alpha`` or ``uni03B1``): the Computer
Modern files map some ASCII codes to other glyphs (``<`` -> ``exclamdown``) and lack Greek, so they
serve the Latin letters, digits and a few symbols only.

**One image.** Image ``i`` of class ``y`` in a split uses font ``i mod F_y`` of the ``F_y`` fonts of
that split that have the character, and parameters drawn from ``numpy.random.default_rng((seed,
split, y, i))`` (so an image does not depend on how many others are made): the character is drawn
white with a random stroke width (0-2 px at twice the output size, 0-1 px for bold faces), at a fixed em size with its
baseline at a fixed height (a lowercase letter stays smaller than its capital), centred
horizontally; then an affine map about the centre (rotation :math:`\pm 15^\circ`, shear
:math:`\pm 0.3`, scale 0.8-1.15 per axis, shift :math:`\pm 6\%`) and a 2 x 2 box reduction to
``size``; finally a random background (0-90) and foreground (150-255) level and Gaussian noise of
standard deviation ``noise`` (0-255 scale). Grey images are repeated to three channels, as
:mod:`spherecode.data.digits` does; normalisation statistics come from the training split.

**Cache.** The rendered set (both splits, one ``uint8`` array) is stored once per parameter set
in the spherecode cache folder (:func:`spherecode.constructions.code_cache.cache_dir`: ``$SPHERECODE_CACHE``,
``$XDG_CACHE_HOME/spherecode`` or ``~/.cache/spherecode``), written atomically, with a SHA-256
checksum of its arrays. A file that fails the checksum is rebuilt with a warning. The file name
holds the Pillow and matplotlib versions: the bytes are the same on every run and machine for a
given pair (Pillow ships its own FreeType), but another FreeType may anti-alias differently.

Examples:
    >>> names = glyph_classes()
    >>> len(names), names[:5], CHARACTERS["Omega"]
    (100, ['A', 'a', 'alpha', 'B', 'b'], 'Ω')
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import SpherecodeError, check_choice, check_int
from ..files import atomic_save, atomic_write, dump_json
from .memory import TensorImages, channel_stats

if TYPE_CHECKING:
    import networkx as nx

#: Class name -> the character drawn (Latin letters are their own names).
CHARACTERS: dict[str, str] = {
    **{c: c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"},
    **dict(zip(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"), "0123456789")),
    **dict(zip(("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega"), "ΓΔΘΛΞΠΣΦΨΩ")),
    **dict(zip(("gamma", "delta", "theta", "lambda", "xi", "pi", "sigma", "phi", "psi", "omega"), "γδθλξπσφψω")),
    **dict(zip(("alpha", "beta", "epsilon", "zeta", "eta", "mu", "rho", "tau"), "αβεζημρτ")),
    **dict(zip(("plus", "equal", "asterisk", "percent", "question", "exclam", "ampersand", "numbersign", "at",
                "dollar"), "+=*%?!&#@$")),
}
#: Faces the training split is drawn from (files in matplotlib's ``fonts/ttf``).
TRAIN_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
               "DejaVuSansMono.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
               "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-BoldItalic.ttf",
               "STIXGeneral.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
               "cmr10.ttf", "cmb10.ttf", "cmti10.ttf", "cmmi10.ttf")
#: Faces held out for the test split (never seen in training).
TEST_FONTS = ("DejaVuSans-BoldOblique.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif-Italic.ttf",
              "STIXGeneralBol.ttf", "cmss10.ttf", "cmtt10.ttf")
#: Bold faces: a stroke of at most 1 px (2 px fills the counters of Phi, Psi, ...).
BOLD_FONTS = tuple(f for f in TRAIN_FONTS + TEST_FONTS if "Bol" in f or f.startswith("cmb"))
SPLITS = ("train", "test", "val")
#: Bumped when the rendering changes (part of the cache file name).
FORMAT = 1
#: Defaults of the data spec ``glyphs:seed=0,size=32,per_class=150,test_per_class=50,noise=12``.
DEFAULTS = {"seed": 0, "size": 32, "per_class": 150, "test_per_class": 50, "noise": 12.0}


def glyph_classes() -> list[str]:
    """The 100 class names in label order (the leaves of the ``glyphs`` tree)."""
    from ..relabel.hierarchy import GLYPH_TREE

    return [c for groups in GLYPH_TREE.values() for members in groups.values() for c in members]


def font_folder() -> Path:
    """matplotlib's folder of TrueType fonts."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@functools.lru_cache(maxsize=None)
def font_coverage(font: str) -> frozenset[str]:
    """The class names whose character ``font`` (a file in :func:`font_folder`) maps to its own glyph."""
    from fontTools.agl import UV2AGL
    from fontTools.ttLib import TTFont

    path = font_folder() / font
    if not path.is_file():
        raise SpherecodeError(f"Argument '--data': glyphs needs the font '{path}' that ships with matplotlib; "
                              "reinstall matplotlib.")
    from PIL import ImageFont

    cmap = TTFont(path, lazy=True).getBestCmap() or {}
    pil = ImageFont.truetype(str(path), size=32, layout_engine=ImageFont.Layout.BASIC)

    def bitmap(char: str) -> tuple[tuple[int, int], bytes]:
        mask = pil.getmask(char)
        return mask.size, bytes(mask)

    missing = bitmap("\uffff")  # a non-character: what the renderer draws for a glyph it cannot find
    have = set()
    for name, char in CHARACTERS.items():
        code = ord(char)
        if cmap.get(code) in (UV2AGL.get(code), f"uni{code:04X}", f"u{code:04X}", name) and bitmap(char) != missing:
            have.add(name)
    return frozenset(have)


def split_fonts(split: str) -> dict[str, list[str]]:
    """Class name -> the fonts of ``split`` that render it (raises if a class has none)."""
    fonts = TRAIN_FONTS if split == "train" else TEST_FONTS
    out = {name: [f for f in fonts if name in font_coverage(f)] for name in glyph_classes()}
    empty = [name for name, have in out.items() if not have]
    if empty:
        raise SpherecodeError(f"glyphs: no {split} font renders {', '.join(empty)}; check matplotlib's fonts.")
    return out


def _affine(rng: np.random.Generator, canvas: int) -> tuple[float, ...]:
    """Pillow's inverse affine coefficients of a random rotation, shear, scale and shift about the centre."""
    angle = np.deg2rad(rng.uniform(-15.0, 15.0))
    shear = rng.uniform(-0.3, 0.3)
    sx, sy = rng.uniform(0.8, 1.15, size=2)
    shift = rng.uniform(-0.06, 0.06, size=2) * canvas
    cos, sin = np.cos(angle), np.sin(angle)
    forward = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
    inverse = np.linalg.inv(forward)
    centre = np.full(2, canvas / 2.0)
    offset = centre - inverse @ (centre + shift)  # output point p reads input inverse @ p + offset
    return (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])


def render_glyphs(seed: int = 0, size: int = 32, per_class: int = 150, test_per_class: int = 50,
                  noise: float = 12.0) -> dict[str, np.ndarray]:
    """Render both splits (module docstring): a pure function of its arguments, no cache.

    Returns ``images`` ``uint8 (n, size, size)``, ``labels`` ``int64``, ``test`` (bool: in the test
    split) and ``font`` (index into ``TRAIN_FONTS + TEST_FONTS``); the training images come first.
    """
    from PIL import Image, ImageDraw, ImageFont

    canvas = 2 * size
    em = round(0.72 * canvas)
    baseline = 0.70 * canvas
    all_fonts = TRAIN_FONTS + TEST_FONTS
    loaded: dict[str, ImageFont.FreeTypeFont] = {}
    classes = glyph_classes()
    images, labels, test, font_ids = [], [], [], []
    for split_id, (split, count) in enumerate((("train", per_class), ("test", test_per_class))):
        fonts = split_fonts(split)
        for y, name in enumerate(classes):
            char = CHARACTERS[name]
            for i in range(count):
                rng = np.random.default_rng((seed, split_id, y, i))
                font = fonts[name][i % len(fonts[name])]
                if font not in loaded:
                    loaded[font] = ImageFont.truetype(str(font_folder() / font), size=em,
                                                      layout_engine=ImageFont.Layout.BASIC)
                ft = loaded[font]
                stroke = int(rng.integers(0, 2 if font in BOLD_FONTS else 3)) * canvas // 64
                x0, _, x1, _ = ft.getbbox(char, anchor="ls", stroke_width=stroke)
                img = Image.new("L", (canvas, canvas), 0)
                ImageDraw.Draw(img).text((canvas / 2.0 - (x0 + x1) / 2.0, baseline), char, fill=255, font=ft,
                                         anchor="ls", stroke_width=stroke, stroke_fill=255)
                img = img.transform((canvas, canvas), Image.Transform.AFFINE, _affine(rng, canvas),
                                    resample=Image.Resampling.BILINEAR).reduce(2)
                background, foreground = rng.uniform(0.0, 90.0), rng.uniform(150.0, 255.0)
                x = background + (foreground - background) / 255.0 * np.asarray(img, dtype=np.float64)
                x += noise * rng.standard_normal(x.shape)
                images.append(np.clip(np.rint(x), 0, 255).astype(np.uint8))
                labels.append(y)
                test.append(bool(split_id))
                font_ids.append(all_fonts.index(font))
    return {"images": np.stack(images), "labels": np.array(labels, dtype=np.int64),
            "test": np.array(test, dtype=bool), "font": np.array(font_ids, dtype=np.int16)}


# ------------------------------------------------------------------------------------------ cache
def cache_key(seed: int, size: int, per_class: int, test_per_class: int, noise: float) -> str:
    """The cache file's stem: the parameters, the rendering format and the Pillow/matplotlib versions."""
    import matplotlib
    import PIL

    return (f"glyphs-v{FORMAT}-seed{seed}-px{size}-n{per_class}-t{test_per_class}-noise{noise:g}"
            f"-pil{PIL.__version__}-mpl{matplotlib.__version__}")


def cache_file(seed: int, size: int, per_class: int, test_per_class: int, noise: float) -> Path:
    """Where the rendered set of these parameters is stored."""
    from ..constructions.code_cache import cache_dir

    return cache_dir() / f"{cache_key(seed, size, per_class, test_per_class, noise)}.npz"


def checksum(key: str, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the key and every array's name, dtype, shape and bytes (hex)."""
    h = hashlib.sha256(key.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _read(path: Path, key: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("images", "labels", "test", "font")}
            stored = str(data["sha256"])
    except FileNotFoundError:
        return None
    except Exception:  # truncated, corrupt or foreign
        reason = "not a readable cache file"
    else:
        reason = "checksum mismatch" if checksum(key, arrays) != stored else ""
    if not reason:
        return arrays
    warnings.warn(f"spherecode: ignoring the glyphs cache file {path} ({reason}); rebuilding it", stacklevel=3)
    return None


def _log(message: str) -> None:
    print(f"glyphs: {message}", file=sys.stderr, flush=True)


@functools.lru_cache(maxsize=2)
def load_glyphs(seed: int = 0, size: int = 32, per_class: int = 150, test_per_class: int = 50,
                noise: float = 12.0) -> dict[str, np.ndarray]:
    """:func:`render_glyphs` through the disk cache (verified), rendered and stored when missing or corrupt."""
    key = cache_key(seed, size, per_class, test_per_class, noise)
    path = cache_file(seed, size, per_class, test_per_class, noise)
    arrays = _read(path, key)
    if arrays is None:
        n = 100 * (per_class + test_per_class)
        _log(f"rendering {n:,} images of 100 classes (once; cached in {path.parent})")
        start = time.process_time()
        arrays = render_glyphs(seed, size, per_class, test_per_class, noise)
        _log(f"rendered in {time.process_time() - start:.1f} s of CPU time")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_save(path, lambda fh: np.savez(fh, **arrays, sha256=np.array(checksum(key, arrays))))
        except (OSError, SpherecodeError) as exc:
            warnings.warn(f"spherecode: cannot write the glyphs cache {path}: {exc}", stacklevel=2)
    for a in arrays.values():
        a.setflags(write=False)
    return arrays


# ---------------------------------------------------------------------------------------- dataset
class GlyphImages(TensorImages):
    """A split of ``glyphs`` (module docstring) with its class tree (``study.hierarchy = "data"``)."""

    def hierarchy(self) -> nx.DiGraph:
        """The class tree root -> script -> group -> class (:func:`~spherecode.relabel.hierarchy.glyphs_hierarchy`)."""
        from ..relabel.hierarchy import glyphs_hierarchy

        return glyphs_hierarchy()

    def write_hierarchy(self, path: str | os.PathLike[str]) -> Path:
        """Write the tree as JSON ``{"classes": [...], "edges": [...]}`` (read by ``--hierarchy FILE``)."""
        tree = self.hierarchy()
        data = {"name": "glyphs", "classes": self.class_names, "edges": [list(e) for e in tree.edges]}
        with atomic_write(path, "w", option="hierarchy", encoding="utf-8") as fh:
            fh.write(dump_json(data, indent=1, ensure_ascii=False) + "\n")
        return Path(path)


def glyph_dataset(split: str, seed: int = 0, size: int = 32, per_class: int = 150, test_per_class: int = 50,
                  noise: float = 12.0) -> GlyphImages:
    """The ``split`` ("train", or "test"/"val": the held-out fonts) of ``glyphs`` as ``(3, size, size)`` images."""
    check_choice("split", split, SPLITS)
    check_int("seed", seed, minimum=0)
    check_int("size", size, minimum=8, maximum=256)
    check_int("per_class", per_class, minimum=1)
    check_int("test_per_class", test_per_class, minimum=1)
    if not 0.0 <= noise <= 255.0:
        raise SpherecodeError(f"Argument '--data': glyphs parameter noise must be between 0 and 255, not {noise}.")
    arrays = load_glyphs(seed, size, per_class, test_per_class, float(noise))
    x = torch.from_numpy(arrays["images"].copy()).unsqueeze(1)
    train = torch.from_numpy(np.flatnonzero(~arrays["test"]))
    mean, std = channel_stats(x[train])
    idx = train if split == "train" else torch.from_numpy(np.flatnonzero(arrays["test"]))
    images = x[idx].expand(-1, 3, -1, -1).contiguous()
    return GlyphImages(images, arrays["labels"][idx.numpy()], glyph_classes(), mean * 3, std * 3,
                       padding=max(1, size // 8), flip=False,
                       source=f"glyphs:seed={seed},size={size},per_class={per_class},"
                              f"test_per_class={test_per_class},noise={noise:g}")
