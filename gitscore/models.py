"""Named models: one registry of the denoisers the CLI, the benchmarks and the book run.

    fmnist        the shipped EDM network trained on Fashion-MNIST (`fmnist_edm`), or a --checkpoint
    fmnist-rough  the first shipped network (`fmnist_edm_rough`), rough in sigma: the book's control
    kde           the exact denoiser of the empirical distribution of (a subset of) the training images
    class-gmm     a Gaussian mixture with one component per class (class mean, diagonal class variance)
    gmm-toy       8 Gaussians on the unit circle in 2-D: exact and instant
    emoji32 ...   the exact KDE denoiser of a rendered data set (gitscore.data) at one resolution: emoji16,
                  emoji32, emoji64 (colour, d = 768 .. 12,288), emoji16-grey .. emoji64-grey, glyphs16 ..
                  glyphs64 (grey, d = 256 .. 4,096); DATA_MODELS maps each name to (data set, size, colour)

The KDE subset rule: `kde_size` images chosen by a seeded permutation (seed 0) of the training
set, all of them (in order) when kde_size is None or the whole set, the rule of the committed
benchmark runs in results/.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .checks import check_int, resolve_device

__all__ = ["Model", "MODELS", "DATA_MODELS", "data_images", "load_model", "toy_gmm", "class_gmm", "kde_subset",
           "fmnist_images", "sample_spec", "kde_size_ok", "IMAGE"]

# KDE denoisers of the data sets of gitscore.data at several resolutions: name -> (data set, size, colour)
DATA_MODELS = {f"{data}{size}{suffix}": (data, size, colour)
               for data, variants in (("emoji", (("", True), ("-grey", False))), ("glyphs", (("", None),)))
               for suffix, colour in variants for size in (16, 32, 64)}
MODELS = ("fmnist", "kde", "gmm-toy", "fmnist-rough", "class-gmm", *DATA_MODELS)
IMAGE = (1, 28, 28)  # one Fashion-MNIST image: what the chapters, the CLI and the network models use
KDE_SUBSET_SEED = 0
CLASS_GMM_VAR_FLOOR = 1e-3  # added to every class variance: a pixel constant within a class has none


@dataclass
class Model:
    """A denoiser with what a caller needs to drive it."""
    denoiser: object
    shape: tuple          # one sample's shape
    dtype: torch.dtype    # the state's dtype for the solvers
    device: torch.device
    sigma_min: float
    sigma_max: float
    label: str            # recorded in results and schedule metadata
    weights_sha256: str | None = None  # a network's weights file (results record it); None: closed form


def sample_spec(name: str) -> tuple[tuple, torch.dtype]:
    """(one sample's shape, the solver state's dtype) of the model `name`, known before loading it."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {name!r}")
    if name == "gmm-toy":
        return (2,), torch.float64
    if name in DATA_MODELS:
        data, size, colour = DATA_MODELS[name]
        return (1 if colour is False else 3 if data == "emoji" else 1, size, size), torch.float32
    return IMAGE, torch.float64 if name == "class-gmm" else torch.float32


def kde_size_ok(kde_size, name: str = "--kde-size") -> int:
    """`kde_size` checked against the training set's size (60,000), before the data is read (a data model's
    set is checked against its own size when it is loaded)."""
    from .data import SPLIT_SIZES

    return check_int(name, kde_size, 1, SPLIT_SIZES["train"])


def data_images(name: str) -> torch.Tensor:
    """The images behind the data model `name` (DATA_MODELS): gitscore.data.load at its size and colour."""
    from .data import load

    if name not in DATA_MODELS:
        raise ValueError(f"name must be one of {list(DATA_MODELS)}, got {name!r}")
    data, size, colour = DATA_MODELS[name]
    return load(data, size, colour)


def fmnist_images(split: str) -> torch.Tensor:
    """Fashion-MNIST images of a split; an unreadable data file is a ValueError naming the data folder."""
    return _fmnist(split)[0]


def _fmnist(split):
    import gzip
    import zlib

    from .data import ENV_VAR, fashion_mnist

    try:
        return fashion_mnist(split)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"the Fashion-MNIST {split} files (${ENV_VAR} or the Debian package's folder) are not "
                         f"valid gzip IDX files ({e}); reinstall or re-download them") from None


def kde_subset(images: torch.Tensor, kde_size: int | None) -> torch.Tensor:
    """The KDE's data: `kde_size` images picked by a permutation seeded with 0, or all of them in order."""
    if kde_size is None:
        return images
    kde_size = check_int("kde_size", kde_size, 1, len(images))
    if kde_size == len(images):
        return images
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(KDE_SUBSET_SEED))
    return images[perm[:kde_size]]


def toy_gmm(dim: int = 2):
    """8 isotropic Gaussians (std 0.1) on the unit circle in the first two coordinates of R^dim: a closed-form toy."""
    from .denoisers import GMMDenoiser

    dim = check_int("dim", dim, 2)
    angle = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    means = torch.zeros(8, dim, dtype=torch.float64)
    means[:, 0], means[:, 1] = angle.cos(), angle.sin()
    return GMMDenoiser(torch.full((8,), 1 / 8, dtype=torch.float64), means, 0.01)


def class_gmm(images: torch.Tensor, labels: torch.Tensor, covariance: str = "diag",
              ridge: float = CLASS_GMM_VAR_FLOOR):
    """One Gaussian per class: weight the class frequency, mean the class mean, covariance the class variance
    per pixel (covariance="diag", as in chapter 4) or the full class covariance (chapters 1-3), plus `ridge`
    (float64; GMMDenoiser.from_classes)."""
    from .denoisers import GMMDenoiser

    return GMMDenoiser.from_classes(images, labels, ridge, covariance=covariance)




def load_model(name: str, *, checkpoint=None, kde_size: int | None = None, device=None) -> Model:
    """The model registered under `name` (see MODELS) on `device` (None or "auto": CUDA if available).

    `checkpoint`: for fmnist, a .safetensors written by `gitscore train` instead of the shipped network.
    `kde_size`: for kde, the number of training images (see kde_subset; default all 60,000).
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {name!r}")
    if checkpoint is not None and name != "fmnist":
        raise ValueError(f"checkpoint applies to the model 'fmnist', not {name!r}")
    if checkpoint is not None and not str(checkpoint).strip():
        raise ValueError("checkpoint is empty; give the path of a .safetensors written by `gitscore train` "
                         "(or None for the shipped network)")
    if kde_size is not None and name != "kde" and name not in DATA_MODELS:
        raise ValueError(f"kde_size applies to the model 'kde' and the data models {list(DATA_MODELS)}, "
                         f"not {name!r}")
    if kde_size is not None:
        kde_size_ok(kde_size, "kde_size")  # before the data is read
    dev = resolve_device(device)
    if name == "gmm-toy":
        D = toy_gmm(2)
        return Model(D, (2,), torch.float64, dev, D.sigma_min, D.sigma_max, "gmm-toy")
    if name == "kde":
        from .denoisers import KDEDenoiser

        data = kde_subset(fmnist_images("train"), kde_size)
        D = KDEDenoiser(data, device=dev)
        return Model(D, IMAGE, torch.float32, dev, D.sigma_min, D.sigma_max, f"kde (N={len(data)})")
    if name in DATA_MODELS:
        from .denoisers import KDEDenoiser

        images = data_images(name)
        data = kde_subset(images, kde_size)
        D = KDEDenoiser(data, device=dev)
        return Model(D, tuple(images.shape[1:]), torch.float32, dev, D.sigma_min, D.sigma_max,
                     f"kde {name} (N={len(data)})")
    if name == "class-gmm":
        D = class_gmm(*_fmnist("train"))
        return Model(D, IMAGE, torch.float64, dev, D.sigma_min, D.sigma_max, "class-gmm (10 classes)")
    return _network(name, checkpoint, dev)


def _network(name, checkpoint, dev) -> Model:
    from .nets import WEIGHTS_DIR, CheckpointError, load_checkpoint, load_pretrained, sha256_file

    shipped = {"fmnist": "fmnist_edm", "fmnist-rough": "fmnist_edm_rough"}[name]
    try:
        D = load_checkpoint(checkpoint, dev) if checkpoint is not None else load_pretrained(shipped, device=dev)
    except CheckpointError as e:
        raise CheckpointError(f"{e}. Train a model with `gitscore train --out DIR --export PATH` and pass "
                              "--checkpoint PATH, or try --model gmm-toy / kde") from None
    label = f"fmnist ({checkpoint})" if checkpoint is not None else f"{name} (shipped {shipped})"
    sha = sha256_file(WEIGHTS_DIR / f"{shipped}.safetensors" if checkpoint is None else checkpoint)
    return Model(D, IMAGE, torch.float32, dev, D.sigma_min, D.sigma_max, label, sha)
