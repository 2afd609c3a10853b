"""Image data sets by name: Fashion-MNIST and two sets rendered from Debian font packages, at several resolutions.

- `fashion_mnist(split)`: the IDX .gz files (Debian package `dataset-fashion-mnist` or $GITSCORE_DATA).
- `load(name, size=None, colour=None)`: any data set of DATASETS as float32 images in [-1, 1], (N, C, size, size):
  "fmnist" (28 x 28 grey, the training split), "emoji" (Noto Color Emoji, colour on white, 64 x 64 base) and
  "glyphs" (DejaVu Sans, every letter, digit, punctuation mark and symbol, white on black, 64 x 64 base).
  Smaller sizes are exact area averages of the base image (size must divide it); colour=False turns a colour
  set grey (ITU-R BT.601 luma). The fonts are rendered once with Pillow and cached as arrays (`cache_dir()`),
  under a key holding the font file's sha256 and the renderer's version; `fingerprint(name)` is the sha256 of
  the rendered array, which the results in results/ record.
- `card(name)`: where a data set comes from (package, file, licence, count).
"""
from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["fashion_mnist", "data_dir", "DataNotFoundError", "CLASSES", "SPLIT_SIZES", "DATASETS", "load", "card",
           "source_file", "fingerprint", "cache_dir", "sizes", "base_shape", "CACHE_ENV"]

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "GITSCORE_DATA"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# sha256 of the *decompressed* IDX bytes (independent of how the .gz was compressed).
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}
SPLIT_SIZES = {split: files[2] for split, files in _FILES.items()}  # images per split
_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
_HOW_TO_GET = (
    "Fashion-MNIST not found. Either install the Debian package (`apt-get install dataset-fashion-mnist`, "
    f"which puts the four IDX .gz files in {DEBIAN_DIR}), or download train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from "
    f"https://github.com/zalandoresearch/fashion-mnist and set {ENV_VAR}=/path/to/that/folder."
)


class DataNotFoundError(FileNotFoundError):
    """A data set's files are missing; the message says how to get them."""


def data_dir() -> Path:
    """The folder holding the IDX files: $GITSCORE_DATA if set, else the Debian package's folder."""
    env = os.environ.get(ENV_VAR)
    folder = Path(env) if env else DEBIAN_DIR
    missing = [f for f in _SHA256 if not (folder / f).is_file()]
    if missing:
        where = f"${ENV_VAR}={env}" if env else str(folder)
        raise DataNotFoundError(f"{where} lacks {', '.join(missing)}. {_HOW_TO_GET}")
    return folder


def _read_idx(path: Path, verify: bool, shape: tuple | None = None) -> np.ndarray:
    """The uint8 array of a gzipped IDX file, decompressed only as far as its header announces (a file that
    holds more, or less, is refused); with `shape`, a header announcing another shape is refused first."""
    with gzip.open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:3] != b"\0\0\x08" or not 1 <= head[3] <= 4:
            raise ValueError(f"{path} is not an IDX file of unsigned bytes (header {head!r}). {_HOW_TO_GET}")
        ndim = head[3]
        head += f.read(4 * ndim)
        dims = tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
        if shape is not None and dims != tuple(shape):
            raise ValueError(f"{path} announces shape {dims}, expected {tuple(shape)}. {_HOW_TO_GET}")
        size = int(np.prod(dims))
        raw = head + f.read(size)
        extra = f.read(1)
    if len(raw) != len(head) + size or extra:
        what = "more data than" if extra else "less data than"
        raise ValueError(f"{path} holds {what} its IDX header announces {dims}: the file is corrupted. {_HOW_TO_GET}")
    if verify and hashlib.sha256(raw).hexdigest() != _SHA256[path.name]:
        raise ValueError(f"checksum mismatch for {path}: the file is corrupted or not Fashion-MNIST. {_HOW_TO_GET}")
    return np.frombuffer(raw, dtype=np.uint8, offset=len(head)).reshape(dims)


_CACHE: dict = {}


def fashion_mnist(split: str = "train", verify: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 in [-1, 1], shape (N, 1, 28, 28), and int64 labels (N,)."""
    if split not in _FILES:
        raise ValueError(f"split must be one of {sorted(_FILES)}, got {split!r}")
    folder = data_dir()
    key = (str(folder), split)
    if key not in _CACHE:
        img_name, lab_name, n = _FILES[split]
        images = _read_idx(folder / img_name, verify, (n, 28, 28))
        labels = _read_idx(folder / lab_name, verify, (n,))
        if images.shape != (n, 28, 28) or labels.shape != (n,):
            raise ValueError(f"unexpected shapes {images.shape}, {labels.shape} in {folder} for split {split!r}")
        x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
        _CACHE[key] = (x, torch.from_numpy(labels.astype(np.int64)))
    x, y = _CACHE[key]
    return x.clone(), y.clone()


# ---------------------------------------------------------------- data sets by name, at several resolutions

DATASETS = ("fmnist", "emoji", "glyphs")
CACHE_ENV = "GITSCORE_CACHE"  # where rendered data sets are cached (default $XDG_CACHE_HOME/gitscore)
RENDER_VERSION = 1            # bump when the rendering below changes: cached arrays are keyed by it
BASE = 64                     # rendered sets: base resolution; smaller sizes are area averages of it
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601: colour -> grey

_FONTS = {  # name: (environment variable, Debian path, Debian package, licence, upstream, what is rendered)
    "emoji": ("GITSCORE_EMOJI_FONT", "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf", "fonts-noto-color-emoji",
              "SIL Open Font License 1.1", "https://github.com/googlefonts/noto-emoji",
              "every single-code-point emoji of the font's colour bitmap table, composited on white"),
    "glyphs": ("GITSCORE_GLYPH_FONT", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "fonts-dejavu-core",
               "Bitstream Vera Fonts licence (DejaVu changes in the public domain)", "https://dejavu-fonts.github.io",
               "every letter, digit, punctuation mark and symbol code point of the font, white on black, centred"),
}


def _how_to_get(name: str) -> str:
    env, path, package, _, url, _ = _FONTS[name]
    return (f"The {name!r} data set is rendered from {path}: install the Debian package (`apt-get install {package}`, "
            f"or `make data`), or download the font from {url} and set {env}=/path/to/{Path(path).name}.")


def _check_name(name) -> str:
    if name not in DATASETS:
        raise ValueError(f"name must be one of {list(DATASETS)}, got {name!r}")
    return name


def source_file(name: str) -> Path:
    """The file a data set is made from: the font ($GITSCORE_EMOJI_FONT / $GITSCORE_GLYPH_FONT, else the Debian
    package's), or Fashion-MNIST's training images; DataNotFoundError saying how to get it."""
    if _check_name(name) == "fmnist":
        return data_dir() / _FILES["train"][0]
    env, default = _FONTS[name][:2]
    path = Path(os.environ.get(env) or default)
    if not path.is_file():
        where = f"${env}={os.environ[env]}" if os.environ.get(env) else str(path)
        raise DataNotFoundError(f"{where} is not a file. {_how_to_get(name)}")
    return path


def cache_dir() -> Path:
    """Where rendered data sets are cached: $GITSCORE_CACHE, else $XDG_CACHE_HOME/gitscore (~/.cache/gitscore)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitscore"


def base_shape(name: str) -> tuple:
    """(channels, height, width) of a data set at its base resolution, in colour where it has colour."""
    return {"fmnist": (1, 28, 28), "emoji": (3, BASE, BASE), "glyphs": (1, BASE, BASE)}[_check_name(name)]


def sizes(name: str) -> tuple:
    """The image sizes `load` gives for `name`: the base size divided by 1, 2, 4 (and 8 where that is >= 7)."""
    b = base_shape(name)[-1]
    return tuple(sorted(b // k for k in (1, 2, 4, 8) if b % k == 0 and b // k >= 7))


def _render_emoji(path: Path):
    from fontTools.ttLib import TTFont
    from PIL import Image, ImageDraw, ImageFont

    with TTFont(path, lazy=True) as f:
        codes = sorted(c for c in f.getBestCmap() if c > 0x7F)  # ASCII: digits, '#', '*', ' ' (keycap bases)
    font = ImageFont.truetype(str(path), 109)  # CBDT bitmap fonts render at their strike size only
    out, kept = [], []
    for c in codes:
        cell = Image.new("RGBA", (136, 136), (0, 0, 0, 0))
        ImageDraw.Draw(cell).text((0, 4), chr(c), font=font, embedded_color=True)
        if cell.getbbox() is None:
            continue
        white = Image.new("RGBA", cell.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, cell).convert("RGB").resize((BASE, BASE), Image.Resampling.BOX)
        out.append(np.asarray(img).transpose(2, 0, 1))
        kept.append(c)
    return np.stack(out), np.array(kept, dtype=np.int64)


def _render_glyphs(path: Path):
    import unicodedata

    from fontTools.ttLib import TTFont
    from PIL import Image, ImageDraw, ImageFont

    with TTFont(path, lazy=True) as f:
        codes = sorted(c for c in f.getBestCmap() if unicodedata.category(chr(c))[0] in "LNPS")
    big = 4 * BASE  # drawn 4x larger, then area-averaged down: anti-aliased edges
    font = ImageFont.truetype(str(path), int(0.625 * big))
    out, kept = [], []
    for c in codes:
        cell = Image.new("L", (big, big), 0)
        ImageDraw.Draw(cell).text((big // 2, big // 2), chr(c), font=font, fill=255, anchor="mm")
        box = cell.getbbox()
        if box is None or box[0] == 0 or box[1] == 0 or box[2] == big or box[3] == big:  # empty, or cut off
            continue
        out.append(np.asarray(cell.resize((BASE, BASE), Image.Resampling.BOX))[None])
        kept.append(c)
    return np.stack(out), np.array(kept, dtype=np.int64)


def _dedupe(images, codes):
    """The first of every set of identical images (fonts map several code points to one glyph)."""
    _, first = np.unique(images.reshape(len(images), -1), axis=0, return_index=True)
    first = np.sort(first)
    return images[first], codes[first]


_RENDERED: dict = {}


def _rendered(name: str) -> dict:
    """{'images': (N, C, 64, 64) uint8, 'codes': (N,) code points, 'source_sha256', 'sha256'}: from the cache when
    its key (font sha256, renderer version) matches, else rendered and cached atomically."""
    from .files import atomic_path, sha256_file

    path = source_file(name)
    src = sha256_file(path)
    key = (name, src)
    if key in _RENDERED:
        return _RENDERED[key]
    cache = cache_dir() / f"{name}-r{RENDER_VERSION}-{src[:16]}.npz"
    entry = None
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                entry = {"images": z["images"], "codes": z["codes"], "source_sha256": str(z["source_sha256"]),
                         "sha256": str(z["sha256"])}
            damaged = hashlib.sha256(entry["images"].tobytes()).hexdigest() != entry["sha256"]
            if entry["source_sha256"] != src or damaged:
                entry = None  # a stale or damaged cache file: render again
        except (OSError, ValueError, KeyError):
            entry = None
    if entry is None:
        images, codes = _dedupe(*(_render_emoji if name == "emoji" else _render_glyphs)(path))
        images = np.ascontiguousarray(images)
        entry = {"images": images, "codes": codes, "source_sha256": src,
                 "sha256": hashlib.sha256(images.tobytes()).hexdigest()}
        try:
            with atomic_path(cache) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **entry)
        except (OSError, ValueError):
            pass  # an unwritable cache only costs a new rendering next time
    _RENDERED[key] = entry
    return entry


def fingerprint(name: str) -> str:
    """sha256 of a data set's images at their base resolution (uint8 bytes): what results/ record."""
    if _check_name(name) == "fmnist":
        data_dir()
        return _SHA256[_FILES["train"][0]]
    return _rendered(name)["sha256"]


def load(name: str, size: int | None = None, colour: bool | None = None) -> torch.Tensor:
    """The images of data set `name` (DATASETS) as float32 in [-1, 1], shape (N, C, size, size).

    size: one of sizes(name) (default: the base size, 28 for fmnist, 64 for the others); each smaller image is
    the exact area average of the base image. colour: None keeps the set's own channels; False turns a colour
    set grey (BT.601 luma); True asks for colour (a ValueError for a grey set).
    """
    name = _check_name(name)
    channels, base = base_shape(name)[0], base_shape(name)[-1]
    size = base if size is None else size
    if isinstance(size, bool) or size not in sizes(name):
        raise ValueError(f"size must be one of {list(sizes(name))} for {name!r}, got {size!r}")
    if colour not in (None, True, False):
        raise ValueError(f"colour must be None, True or False, got {colour!r}")
    if colour and channels == 1:
        raise ValueError(f"colour=True: the data set {name!r} is grey; use colour=None or False")
    if name == "fmnist":
        x = fashion_mnist("train")[0]
    else:
        x = torch.from_numpy(_rendered(name)["images"]).float() / 127.5 - 1.0
    if colour is False and channels == 3:
        x = torch.einsum("nchw,c->nhw", x, torch.tensor(_LUMA)).unsqueeze(1)
    if size != base:
        x = torch.nn.functional.avg_pool2d(x, base // size)
    return x.contiguous()


def card(name: str) -> dict:
    """Where a data set comes from: source, package, file (and its sha256), licence, what is in it, count, shape."""
    name = _check_name(name)
    if name == "fmnist":
        return {"name": name, "source": "Fashion-MNIST (Zalando Research)", "package": "dataset-fashion-mnist",
                "file": str(source_file(name)), "source_sha256": fingerprint(name), "licence": "MIT",
                "upstream": "https://github.com/zalandoresearch/fashion-mnist",
                "content": "the 60,000 training images (10 classes of clothing), grey", "count": SPLIT_SIZES["train"],
                "shape": base_shape(name), "sha256": fingerprint(name)}
    env, _, package, licence, url, content = _FONTS[name]
    r = _rendered(name)
    return {"name": name, "source": Path(source_file(name)).name, "package": package, "file": str(source_file(name)),
            "source_sha256": r["source_sha256"], "licence": licence, "upstream": url, "content": content,
            "count": len(r["images"]), "shape": base_shape(name), "sha256": r["sha256"], "env": env}
