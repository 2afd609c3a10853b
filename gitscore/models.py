"""Named models: one registry of the denoisers the CLI, the benchmarks and the book run::

    fmnist        the shipped EDM network trained on Fashion-MNIST (`fmnist_edm`), or a --checkpoint
    fmnist-rough  the first shipped network (`fmnist_edm_rough`), rough in sigma: the book's control
    kde           the exact denoiser of the empirical distribution of (a subset of) the training images
    class-gmm     a Gaussian mixture with one component per class (class mean, diagonal class variance)
    gmm-toy       8 Gaussians on the unit circle in 2-D: exact and instant
    emoji32 ...   the exact KDE denoiser of a rendered data set (gitscore.data) at one resolution: emoji16,
                  emoji32, emoji64 (colour, d = 768 .. 12,288), emoji16-grey .. emoji64-grey, glyphs16 ..
                  glyphs64 (grey, d = 256 .. 4,096); DATA_MODELS maps each name to (data set, size, colour)

Users' models, for the CLI's `--model package.module:name` and `--diffusers DIR` (`user_model`,
`diffusers_model`): the sigma range and one sample's shape come from the model (a denoiser's `sigma_min`,
`sigma_max` and `shape` attributes; a pipeline's scheduler and UNet config) or, where it does not say, from
the caller; a ValueError says which is missing.

The KDE subset rule: `kde_size` images chosen by a seeded permutation (seed 0) of the training
set, all of them (in order) when kde_size is None or the whole set, the rule of the committed
benchmark runs in results/.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

from .checks import check_int, resolve_device

__all__ = ["Model", "MODELS", "DATA_MODELS", "data_images", "load_model", "toy_gmm", "class_gmm", "kde_subset",
           "fmnist_images", "sample_spec", "kde_size_ok", "IMAGE", "user_model", "diffusers_model", "is_user_model"]

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
    decode: object = None  # latents -> images in [-1, 1] for pictures (a pipeline's VAE); None: samples are images


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


# ---------------------------------------------------------------- users' models

def is_user_model(name) -> bool:
    """Whether `name` names a user's denoiser (package.module:name) rather than a registered model."""
    return isinstance(name, str) and ":" in name


def _sigma_range(what: str, declared_min, declared_max, sigma_min, sigma_max, flags) -> tuple[float, float]:
    """The sigma range of a model: what it declares, narrowed by the caller's; ValueError naming `flags`."""
    lo = declared_min if sigma_min is None else sigma_min
    hi = declared_max if sigma_max is None else sigma_max
    if lo is None or hi is None:
        raise ValueError(f"{what} does not say its sigma range (no sigma_min / sigma_max attributes): give "
                         f"{flags[0]} and {flags[1]}, the range it was trained on")
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: sigma_min / sigma_max must be numbers, got {lo!r}, {hi!r}") from None
    if not 0 < lo < hi < math.inf:
        raise ValueError(f"{what}: the sigma range must satisfy 0 < {flags[0]} < {flags[1]} < inf, "
                         f"got [{lo:g}, {hi:g}]")
    if declared_min is not None and declared_max is not None:
        own = float(declared_min), float(declared_max)
        for given, name in ((lo, flags[0]), (hi, flags[1])):
            if not own[0] * (1 - 1e-9) <= given <= own[1] * (1 + 1e-9):
                raise ValueError(f"{name} {given:g} is outside {what}'s own range [{own[0]:g}, {own[1]:g}]")
    return lo, hi


def _shape(what: str, declared, shape, flag: str) -> tuple:
    """One sample's shape: the caller's, else the model's; ValueError naming `flag` if neither says."""
    from .checks import check_shape

    got = shape if shape is not None else declared
    if got is None:
        raise ValueError(f"{what} does not say one sample's shape (no `shape` attribute): give {flag}, e.g. "
                         f"{flag} 4 64 64 (channels, height, width; no batch dimension)")
    return check_shape(flag if shape is not None else f"{what}'s shape", got)


def _import_object(spec: str):
    """The object `package.module:name` names (name may be dotted); the current folder is searched first."""
    import importlib
    import os
    import sys

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--model {spec!r}: expected package.module:name (a denoiser D(x, sigma) or a factory "
                         f"returning one), or one of {list(MODELS)}")
    if os.getcwd() not in sys.path and "" not in sys.path:  # as `python -m` does: the user's folder first
        sys.path.insert(0, os.getcwd())
    try:
        obj = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"--model {spec}: cannot import {module_name} ({e}); run from the folder that holds it "
                         "or add that folder to PYTHONPATH") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"--model {spec}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _is_factory(obj) -> bool:
    """A class, or a function callable with no arguments, is a factory; anything else callable is D itself."""
    import inspect

    if inspect.isclass(obj):
        return True
    if not (inspect.isfunction(obj) or inspect.ismethod(obj)):
        return False
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def user_model(spec: str, *, shape=None, sigma_min=None, sigma_max=None, device=None,
               dtype: torch.dtype = torch.float32) -> Model:
    """A user's denoiser `package.module:name`: a callable D(x, sigma), or a factory (a class, or a function
    taking no arguments or only `device=`) returning one. Its `sigma_min` / `sigma_max` / `shape` attributes
    give the range and one sample's shape unless `sigma_min` / `sigma_max` (inside its range) / `shape` are given;
    where it has none they must be given (ValueError naming --sigma-min / --sigma-max / --shape)."""
    import inspect

    dev = resolve_device(device)
    obj = _import_object(spec)
    if _is_factory(obj):
        takes_device = "device" in inspect.signature(obj).parameters
        obj = obj(device=dev) if takes_device else obj()
    if not callable(obj):
        raise ValueError(f"--model {spec} is a {type(obj).__name__}, not a denoiser D(x, sigma) or a factory "
                         "returning one")
    if isinstance(obj, torch.nn.Module):
        obj = obj.to(dev).eval()
    what = f"--model {spec}"
    lo, hi = _sigma_range(what, getattr(obj, "sigma_min", None), getattr(obj, "sigma_max", None), sigma_min,
                          sigma_max, ("--sigma-min", "--sigma-max"))
    sample_shape = _shape(what, getattr(obj, "shape", None), shape, "--shape")
    return Model(obj, sample_shape, dtype, dev, lo, hi, spec)


@contextlib.contextmanager
def _quiet_loading(progress: bool):
    """diffusers' and transformers' loading bars and advice (e.g. "install accelerate") off unless `progress`."""
    libs = [m for m in (_try_import("diffusers.utils.logging"), _try_import("transformers.utils.logging")) if m]
    if progress:
        yield
        return
    saved = [(m, m.get_verbosity(), m.is_progress_bar_enabled()) for m in libs]
    for m, _, _ in saved:
        m.set_verbosity_error()
        m.disable_progress_bar()
    try:
        yield
    finally:
        for m, level, bars in saved:
            m.set_verbosity(level)
            if bars:
                m.enable_progress_bar()


def _try_import(name):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def diffusers_model(folder, *, prompt: str | None = None, negative_prompt: str | None = None,
                    guidance_scale: float | None = None, shape=None, sigma_min=None, sigma_max=None,
                    device=None, progress: bool = False) -> Model:
    """A diffusers pipeline saved in `folder` (save_pretrained), loaded offline, as an EDM denoiser
    (gitscore.adapters.from_pipeline): the range is the scheduler's, one sample's shape the UNet's latent
    (in_channels, sample_size, sample_size) unless `shape` is given. Text pipelines need `prompt`."""
    from pathlib import Path

    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise ValueError(f"--diffusers {folder} is not a diffusers pipeline folder (no model_index.json; "
                         "write one with pipe.save_pretrained(folder))")
    try:
        import diffusers
    except ImportError:
        raise ValueError("--diffusers needs diffusers, a dependency of gitscore that this environment lacks: "
                         "pip install 'diffusers>=0.28.0' 'transformers>=4.41'") from None
    from .adapters import from_pipeline

    dev = resolve_device(device)
    try:
        with _quiet_loading(progress):
            pipe = diffusers.DiffusionPipeline.from_pretrained(folder, local_files_only=True)
    except ImportError as e:  # e.g. a text pipeline without transformers
        raise ValueError(f"--diffusers {folder}: {e}; gitscore depends on diffusers>=0.28.0 and transformers>=4.41: "
                         "pip install 'diffusers>=0.28.0' 'transformers>=4.41'") from None
    except OSError as e:
        raise ValueError(f"--diffusers {folder} cannot be loaded offline ({str(e).splitlines()[0]})") from None
    pipe = pipe.to(dev)
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    text = hasattr(pipe, "encode_prompt")
    if text and prompt is None:
        raise ValueError(f"--diffusers {folder} is a text pipeline ({type(pipe).__name__}): give --prompt")
    if not text and (prompt is not None or negative_prompt is not None):
        raise ValueError(f"--diffusers {folder} ({type(pipe).__name__}) takes no prompt: drop --prompt / "
                         "--negative-prompt")
    if negative_prompt is not None and prompt is None:
        raise ValueError("--negative-prompt needs --prompt")
    try:
        D = from_pipeline(pipe, prompt, negative_prompt=negative_prompt, guidance_scale=guidance_scale)
    except TypeError as e:
        raise ValueError(f"--diffusers {folder}: {e}") from None
    D.requires_grad_(False)
    what = f"--diffusers {folder}"
    lo, hi = _sigma_range(what, D.sigma_min, D.sigma_max, sigma_min, sigma_max, ("--sigma-min", "--sigma-max"))
    cfg = getattr(pipe.unet, "config", None)
    size = getattr(cfg, "sample_size", None)
    hw = (size, size) if isinstance(size, int) else tuple(size) if size is not None else None
    declared = (cfg.in_channels, *hw) if hw is not None and hasattr(cfg, "in_channels") else None
    sample_shape = _shape(what, declared, shape, "--shape")
    dtype = next(pipe.unet.parameters()).dtype
    label = f"diffusers {type(pipe).__name__} ({folder})" + (f", prompt {prompt!r}" if prompt is not None else "")
    vae = getattr(pipe, "vae", None)
    decode = None
    if vae is not None:  # latent pipelines: pictures through the VAE, as the pipeline's own output
        scale = getattr(vae.config, "scaling_factor", 1.0)
        decode = lambda z: vae.decode(z.to(next(vae.parameters()).dtype) / scale).sample.float()
    return Model(D, sample_shape, torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype, dev, lo, hi,
                 label, decode=decode)

