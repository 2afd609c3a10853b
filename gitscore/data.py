"""Fashion-MNIST from the IDX .gz files (Debian package `dataset-fashion-mnist` or $GITSCORE_DATA)."""
from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ["fashion_mnist", "data_dir", "DataNotFoundError", "CLASSES", "SPLIT_SIZES"]

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
    """The Fashion-MNIST files are missing; the message says how to get them."""


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
