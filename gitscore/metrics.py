"""Sample quality: FD and KID in the features of a Fashion-MNIST classifier, and error against a reference ODE solution.

The FD here is the Fréchet distance of Heusel et al. (2017) computed in the penultimate features of a small
CNN trained on Fashion-MNIST, "FD (Fashion-MNIST classifier features)". It is NOT Inception FID and is not
comparable in absolute value with the FIDs of the paper. The Fréchet and kernel maths are torchmetrics'
(`FrechetInceptionDistance`, `KernelInceptionDistance`, both fed a custom feature module).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from . import checkpoints, nets
from .checks import float64_vector, resolve_device
from .schedules import SIGMA_MAX, SIGMA_MIN, polynomial
from .solvers import SOLVERS

__all__ = ["ReferenceScorer", "Classifier", "load_classifier", "CLASSIFIER_PATH", "FD_NAME", "KID_NAME",
           "ClassifierFeatures",
           "fd_infinity", "FeatureStats", "image_features", "reference_features", "frechet_distance", "kid",
           "classifier_accuracy", "noise_floor", "rmse_per_sample", "reference_error", "reference_solution",
           "check_converged", "reference_grid", "REFERENCE_SOLVER",
           "Convergence", "frechet_two_level"]

FD_NAME = "FD (Fashion-MNIST classifier features)"
KID_NAME = "KID (Fashion-MNIST classifier features)"
CLASSIFIER_PATH = nets.WEIGHTS_DIR / "fmnist_classifier.safetensors"
IMAGE_SHAPE = (1, 28, 28)


# ---------------------------------------------------------------- classifier

class Classifier(nn.Module):
    """CNN for 1x28x28 images in [-1, 1]: (conv-BN-ReLU, maxpool) per width, then fc `hidden` (the features), fc 10."""

    def __init__(self, channels=(32, 64, 128), hidden: int = 256, dropout: float = 0.3, num_classes: int = 10,
                 in_channels: int = 1):
        super().__init__()
        self.config = dict(channels=list(channels), hidden=hidden, dropout=dropout, num_classes=num_classes,
                           in_channels=in_channels)
        layers, cin, size = [], in_channels, IMAGE_SHAPE[-1]
        for cout in channels:
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            cin, size = cout, size // 2
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(cin * size * size, hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)
        self.num_features = hidden

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ReLU(fc(conv(x))), shape (N, hidden)."""
        return F.relu(self.fc(self.drop(self.conv(x).flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(x)))


_CLASSIFIERS: dict = {}


def load_classifier(path=None, device=None, verify: bool = True) -> Classifier:
    """The Fashion-MNIST classifier (sha256-verified safetensors), in eval mode without gradients.

    path=None loads the shipped one, once per process and device; any other path is read again on every call.
    """
    device = resolve_device(device)
    if path is None:
        key = (str(device), verify)
        if key not in _CLASSIFIERS:
            _CLASSIFIERS[key] = load_classifier(CLASSIFIER_PATH, device, verify)
        return _CLASSIFIERS[key]
    path = Path(path)
    tensors, config = checkpoints.load_weights(path, verify=verify)
    tensors, config = checkpoints.model_weights(tensors, config, path)
    if not isinstance(config.get("arch"), dict):
        raise checkpoints.CheckpointError(f"{path.with_suffix('.json')} lacks the 'arch' entry of a classifier config")
    try:
        model = Classifier(**config["arch"])
        model.load_state_dict(tensors, strict=True)
    except (TypeError, ValueError, RuntimeError) as e:
        raise checkpoints.CheckpointError(f"{path.name} does not match its config (not a classifier?): {e}") from None
    model = model.to(device).eval().requires_grad_(False)
    model.info = config
    return model


def _check_images(images, name="images"):
    if not (torch.is_tensor(images) and images.is_floating_point()):
        raise TypeError(f"{name} must be a floating-point torch.Tensor in [-1, 1], got {type(images).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(f"{name} must have shape (N, 1, 28, 28), got {tuple(images.shape)}")
    return images


@torch.no_grad()
def _batched(fn, images, batch_size, classifier):
    if not (isinstance(batch_size, int) and batch_size > 0):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    device = next(classifier.parameters()).device
    out = [fn(images[i:i + batch_size].to(device, torch.float32)).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


@torch.no_grad()
def classifier_accuracy(images, labels, batch_size: int = 500, classifier=None) -> float:
    """Top-1 accuracy of the classifier on `images` (N, 1, 28, 28) in [-1, 1] with integer `labels` (N,)."""
    _check_images(images)
    labels = torch.as_tensor(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
    classifier = classifier or load_classifier()
    logits = _batched(classifier, images, batch_size, classifier)
    return (logits.argmax(1) == labels.cpu()).double().mean().item()


# ---------------------------------------------------------------- features

class ClassifierFeatures(nn.Module):
    """Feature extractor for torchmetrics: images (N, 1, 28, 28) in [-1, 1] -> float64 features (N, d).

    A 2-D input of width d is taken as features already extracted (the cached reference statistics).
    """

    def __init__(self, classifier: Classifier, batch_size: int = 500):
        super().__init__()
        self.classifier, self.batch_size = classifier, batch_size
        self.num_features = classifier.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[1] == self.num_features:
            return x.double()
        return _batched(self.classifier.features, _check_images(x), self.batch_size, self.classifier).double()


@dataclass(frozen=True)
class FeatureStats:
    """Classifier features of an image set, float64 (N, d); mean and covariance computed in float64."""

    features: torch.Tensor

    @property
    def n(self) -> int:
        return self.features.shape[0]

    @property
    def mean(self) -> torch.Tensor:
        """Mean feature (d,)."""
        return self.features.mean(0)

    @property
    def cov(self) -> torch.Tensor:
        """Feature covariance (d, d)."""
        return torch.cov(self.features.T)

    # The former names (mu, sigma: sigma held a covariance, not a standard deviation).
    mu = mean
    sigma = cov

    def __len__(self) -> int:
        return self.n


def image_features(images, batch_size: int = 500, classifier=None) -> FeatureStats:
    """FeatureStats of images (N, 1, 28, 28) in [-1, 1]."""
    classifier = classifier or load_classifier()
    return FeatureStats(ClassifierFeatures(classifier, batch_size)(images))


_REFERENCE: dict = {}


def reference_features(split: str = "test", n: int | None = None, seed: int = 0) -> FeatureStats:
    """Features of the Fashion-MNIST `split` (all of it, or n images drawn with `seed`), cached in memory."""
    from .data import fashion_mnist
    key = (split, n, seed)
    if key not in _REFERENCE:
        images, _ = fashion_mnist(split)
        if n is not None:
            if not (isinstance(n, int) and 2 <= n <= len(images)):
                raise ValueError(f"n must be an int in [2, {len(images)}] for split {split!r}, got {n!r}")
            images = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]
        _REFERENCE[key] = image_features(images)
    return _REFERENCE[key]


def _as_stats(x, name, batch_size) -> FeatureStats:
    if isinstance(x, FeatureStats):
        return x
    if isinstance(x, str):
        return reference_features(x)
    if torch.is_tensor(x):
        return image_features(x, batch_size)
    raise TypeError(f"{name} must be an image tensor (N, 1, 28, 28), a FeatureStats or a split name "
                    f"('train', 'test'), got {type(x).__name__}")


# ---------------------------------------------------------------- FD and KID (torchmetrics)

def frechet_distance(samples, reference="test", batch_size: int = 500) -> float:
    """FD (Fashion-MNIST classifier features): ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})
    (Heusel et al. 2017).

    `samples`, `reference`: image tensors (N, 1, 28, 28) in [-1, 1], FeatureStats, or a split name.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    fake, real = _as_stats(samples, "samples", batch_size), _as_stats(reference, "reference", batch_size)
    if fake.n < 2 or real.n < 2:
        raise ValueError(f"samples and reference need at least 2 images each, got {fake.n} and {real.n}")
    # Sums and covariances are accumulated in float64 inside the metric; features arrive as float64.
    metric = FrechetInceptionDistance(feature=ClassifierFeatures(load_classifier(), batch_size))
    metric.update(real.features, real=True)
    metric.update(fake.features, real=False)
    return float(metric.compute())


def kid(samples, reference="test", subset_size: int = 1000, subsets: int = 100, seed: int = 0,
        batch_size: int = 500) -> tuple[float, float]:
    """KID (Fashion-MNIST classifier features): unbiased MMD^2, cubic kernel, mean and std over subsets
    (Binkowski et al. 2018)."""
    from torchmetrics.image.kid import KernelInceptionDistance
    fake, real = _as_stats(samples, "samples", batch_size), _as_stats(reference, "reference", batch_size)
    if not (isinstance(subset_size, int) and 2 <= subset_size <= min(fake.n, real.n)):
        raise ValueError(f"subset_size must be an int in [2, {min(fake.n, real.n)}] (the smaller set), "
                         f"got {subset_size!r}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        metric = KernelInceptionDistance(feature=ClassifierFeatures(load_classifier(), batch_size),
                                         subsets=subsets, subset_size=subset_size)
    metric.update(real.features, real=True)
    metric.update(fake.features, real=False)
    with torch.random.fork_rng(devices=[]):  # the subsets are drawn with torch.randperm
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def noise_floor(n: int = 10000, seed: int = 0) -> float:
    """FD between n training images (drawn with `seed`) and the test split: the best a finite sample set can score."""
    return frechet_distance(reference_features("train", n=n, seed=seed), reference_features("test"))


# ---------------------------------------------------------------- error against a reference ODE solution

def rmse_per_sample(x: torch.Tensor, x_ref: torch.Tensor) -> torch.Tensor:
    """RMSE ||x_j - x_ref_j||_2 / sqrt(d) of every sample j (float64, shape (B,)), d the dimension of one sample."""
    if not (torch.is_tensor(x) and torch.is_tensor(x_ref)):
        raise TypeError("x and x_ref must be torch.Tensors")
    if x.shape != x_ref.shape or x.dim() < 1:
        raise ValueError(f"x and x_ref must have the same shape (B, ...), "
                         f"got {tuple(x.shape)} and {tuple(x_ref.shape)}")
    diff = (x.double() - x_ref.double().to(x.device)).reshape(len(x), -1)
    return diff.square().mean(1).sqrt()


class ReferenceScorer:
    """Per-sample reference error of a schedule: samples from the latents of `seed` (gitscore.sampling.sample),
    RMSE against `reference` ``(n, *shape)``, the reference solutions of the same latents; cached by (solver,
    schedule) so a schedule met twice is sampled once. `scorer(solver, sigmas, **options)` -> (n,) float64."""

    def __init__(self, denoiser, reference: torch.Tensor, *, seed: int, shape, batch_size: int = 500,
                 dtype=torch.float32, device=None):
        self.denoiser, self.reference = denoiser, reference.double()
        self.seed, self.shape, self.batch_size, self.dtype, self.device = seed, tuple(shape), batch_size, dtype, device
        self.cache: dict = {}

    def __call__(self, solver: str, sigmas, **options) -> torch.Tensor:
        from .sampling import sample
        s = torch.as_tensor(sigmas, dtype=torch.float64)
        key = (solver, tuple(s.tolist()), tuple(sorted(options.items())))
        if key not in self.cache:
            x = sample(self.denoiser, solver, s, len(self.reference), seed=self.seed, shape=self.shape,
                       batch_size=self.batch_size, dtype=self.dtype, device=self.device, **options)
            self.cache[key] = rmse_per_sample(x, self.reference)
        return self.cache[key]


def reference_error(x: torch.Tensor, x_ref: torch.Tensor) -> float:
    """Mean over samples of the RMSE ||x - x_ref||_2 / sqrt(d) (see rmse_per_sample)."""
    return rmse_per_sample(x, x_ref).mean().item()


REFERENCE_SOLVER = "heun"  # the reference solution's solver (on reference_grid); `gitscore bench` uses it too


def reference_grid(denoiser, n_steps: int = 512, sigma_min: float | None = None, sigma_max: float | None = None,
                   rho: float = 7.0) -> torch.Tensor:
    """The reference solution's fine grid: polynomial (EDM, rho=7) over the denoiser's [sigma_min, sigma_max]
    (its attributes, else SIGMA_MIN / SIGMA_MAX) unless given."""
    if not (isinstance(n_steps, int) and not isinstance(n_steps, bool) and n_steps >= 1):
        raise ValueError(f"n_steps must be a positive int, got {n_steps!r}")
    sigma_min = sigma_min if sigma_min is not None else getattr(denoiser, "sigma_min", SIGMA_MIN)
    sigma_max = sigma_max if sigma_max is not None else getattr(denoiser, "sigma_max", SIGMA_MAX)
    return polynomial(n_steps, sigma_min, sigma_max, rho)


def reference_solution(denoiser, x_T: torch.Tensor, sigmas=None, solver: str = REFERENCE_SOLVER, n_steps: int = 512,
                       sigma_min: float | None = None, sigma_max: float | None = None,
                       rho: float = 7.0) -> torch.Tensor:
    """High-accuracy PF-ODE solution from x_T (at sigma_max): `solver` on reference_grid (or `sigmas`)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}")
    if sigmas is None:
        sigmas = reference_grid(denoiser, n_steps, sigma_min, sigma_max, rho)
    return SOLVERS[solver](denoiser, x_T, sigmas)


class Convergence(NamedTuple):
    """Distance between the reference solutions on n and 2n steps; `reference` is the 2n one."""
    error: float       # reference_error(ref_n, ref_2n), same units as the few-step errors it certifies
    relative: float    # error / RMS of ref_2n
    reference: torch.Tensor


def check_converged(denoiser, x_T: torch.Tensor, n_steps: int = 512, **kw) -> Convergence:
    """Solve on n_steps and 2 n_steps; the reference has converged if `error` << the smallest error it is used for."""
    ref_n = reference_solution(denoiser, x_T, n_steps=n_steps, **kw)
    ref_2n = reference_solution(denoiser, x_T, n_steps=2 * n_steps, **kw)
    error = reference_error(ref_n, ref_2n)
    rms = reference_error(ref_2n, torch.zeros_like(ref_2n))
    return Convergence(error, error / rms if rms > 0 else float("inf"), ref_2n)


# ---------------------------------------------------------------- FD bootstrap (intervals for FD and FD changes)

def _frechet_from_moments(mu1, cov1, mu2, sqrt_cov2) -> torch.Tensor:
    """FD from moments, Tr (S_1 S_2)^{1/2} as the sum of the square roots of the eigenvalues of the
    symmetric S_2^{1/2} S_1 S_2^{1/2} (same spectrum as S_1 S_2); `sqrt_cov2` is S_2^{1/2}."""
    m = sqrt_cov2 @ cov1 @ sqrt_cov2
    tr_sqrt = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum(-1)
    return (mu1 - mu2).square().sum(-1) + cov1.diagonal(dim1=-2, dim2=-1).sum(-1) \
        + (sqrt_cov2 @ sqrt_cov2).trace() - 2 * tr_sqrt


def _reference_moments(real: FeatureStats) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed reference's mean and S_2^{1/2} (symmetric square root of its covariance), for the bootstraps."""
    evals, evecs = torch.linalg.eigh(real.cov)
    return real.mean, (evecs * evals.clamp(min=0).sqrt()) @ evecs.T


def bootstrap_indices(n: int, n_boot: int = 200, seed: int = 0) -> torch.Tensor:
    """(n_boot, n) resampling indices with replacement; the same (n, n_boot, seed) gives the same draws,
    so replicates of two sample sets drawn from the SAME latents are paired (see frechet_bootstrap)."""
    if not (isinstance(n, int) and n >= 2) or not (isinstance(n_boot, int) and n_boot >= 1):
        raise ValueError(f"need an int n >= 2 and an int n_boot >= 1, got n={n!r}, n_boot={n_boot!r}")
    return torch.randint(n, (n_boot, n), generator=torch.Generator().manual_seed(seed))


def frechet_bootstrap(samples, reference="test", n_boot: int = 200, seed: int = 0,
                      batch_size: int = 500) -> torch.Tensor:
    """Bootstrap replicates (n_boot,) of the FD of `samples` (reference fixed): FD of samples[idx] for
    idx = bootstrap_indices(n, n_boot, seed).

    The reference is the same for every sample set, so its own sampling error cancels in comparisons.
    Replicates of two sample sets generated from the same latents (same order) share idx: their
    differences give a paired interval for the FD change (`interval`), far tighter than two separate ones.
    """
    fake, real = _as_stats(samples, "samples", batch_size), _as_stats(reference, "reference", batch_size)
    mu2, sqrt_cov2 = _reference_moments(real)
    out = []
    for idx in bootstrap_indices(fake.n, n_boot, seed):
        f = fake.features[idx]
        out.append(_frechet_from_moments(f.mean(0), torch.cov(f.T), mu2, sqrt_cov2))
    return torch.stack(out)


def interval(replicates, estimate: float | None = None, level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval from replicates (e.g. frechet_bootstrap(a) - frechet_bootstrap(b)): gitscore.stats'.

    Without `estimate`: the percentile interval. With the full-sample `estimate`: the basic (pivotal)
    interval 2 estimate - (upper, lower quantile), which undoes the bootstrap's own shift; use it for
    FD, whose resamples (repeated images) sit above the full-sample value.
    """
    from . import stats
    reps = torch.as_tensor(replicates, dtype=torch.float64).flatten().numpy()
    iv = stats.from_replicates(reps, float(reps.mean()) if estimate is None else estimate, level=level,
                               method="percentile" if estimate is None else "basic")
    return iv.low, iv.high


def fd_ratio_change(fd_a: float, fd_b: float, reps_a, reps_b, level: float = 0.95) -> tuple[float, float, float]:
    """FD(a) / FD(b) - 1 with the basic bootstrap interval of paired replicates (frechet_bootstrap of two
    sample sets from the same latents, the same draws)."""
    reps = torch.as_tensor(reps_a, dtype=torch.float64) / torch.as_tensor(reps_b, dtype=torch.float64) - 1
    est = fd_a / fd_b - 1
    lo, hi = interval(reps, estimate=est, level=level)
    return est, lo, hi


def fd_with_replicates(images, n_boot: int = 200, seed: int = 0) -> tuple[float, torch.Tensor]:
    """FD of images (N, 1, 28, 28) in [-1, 1] against the test split and its bootstrap replicates."""
    feats = image_features(images.clamp(-1, 1))
    return frechet_distance(feats), frechet_bootstrap(feats, n_boot=n_boot, seed=seed)


def frechet_two_level(sets: dict, statistic, reference="test", *, n_boot: int = 200, seed: int = 0,
                      level: float = 0.95, few_seeds: bool = True):
    """Two-level bootstrap interval of a statistic of FDs of searched schedules (seeds, then samples).

    sets: {name: features (S, N, F)}, every set of the same shape: row k holds the classifier features of
    the N samples that warm-up seed k's schedule (or, for a fixed schedule, that schedule) drew from the
    k-th block of evaluation latents, so row k of every set comes from the SAME latents (design "nested":
    each seed its own latents). statistic({name: FD}) -> float, e.g. ``lambda fd: fd["gits"] / fd["poly"] - 1``.
    Every replicate draws S seeds with replacement, then N samples with replacement within each drawn
    seed's block, and scores every set on those same (seed, sample) indices, so a change between sets is
    paired by latent. The FD of each replicate is computed from float32 moments of the gathered features
    (the full-sample estimate from the same code); the reference's moments are fixed (float64). The
    interval is `gitscore.stats.two_level`'s, basic method (FD resamples sit above the full-sample FD),
    with its few-seed correction. Needs S >= 2.
    """
    from . import stats
    if not isinstance(sets, dict) or not sets:
        raise ValueError("sets must be a non-empty dict {name: features (S, N, F)}")
    if not callable(statistic):
        raise TypeError(f"statistic must be callable, got {type(statistic).__name__}")
    arrays = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in sets.items()}
    shapes = {k: tuple(a.shape) for k, a in arrays.items()}
    first = next(iter(shapes.values()))
    if len(first) != 3 or any(s != first for s in shapes.values()):
        raise ValueError(f"every set must be features of one shape (S, N, F), got {shapes}")
    n_seeds, n, d = first
    real = _as_stats(reference, "reference", 500)
    if real.features.shape[1] != d:
        raise ValueError(f"reference features have width {real.features.shape[1]}, the sets {d}")
    mu2, sqrt_cov2 = _reference_moments(real)

    def fd_of(x, s, j):
        rows = torch.as_tensor(s)[:, None]
        cols = torch.as_tensor(j)
        g = (x[rows, cols[None, :]] if cols.ndim == 1 else x[rows, cols]).reshape(-1, d)
        mu = g.mean(0)
        gc = g - mu
        cov = (gc.T @ gc).double() / (len(g) - 1)
        return float(_frechet_from_moments(mu.double(), cov, mu2, sqrt_cov2))

    return stats.two_level(lambda s, j: statistic({k: fd_of(x, s, j) for k, x in arrays.items()}), n_seeds, n,
                           design="nested", few_seeds=few_seeds, n_boot=n_boot, level=level, seed=seed,
                           method="basic")


def fd_infinity(ns, fds) -> tuple[float, float]:
    """FD extrapolated to infinitely many samples: the least-squares line FD(N) = FD_inf + b / N through FDs of
    the same model at sample sizes `ns` (Chong & Forsyth 2020: FD's bias is linear in 1/N). Returns (FD_inf, b).
    """
    n, f = float64_vector(ns), float64_vector(fds)
    if len(n) != len(f) or len(n) < 2:
        raise ValueError(f"ns and fds must have the same length >= 2, got {len(n)} and {len(f)}")
    if not (n > 0).all() or len(set(n.tolist())) < 2:
        raise ValueError(f"ns must be positive with at least two different sizes, got {n.tolist()}")
    if not torch.isfinite(f).all():
        raise ValueError(f"fds must be finite, got {f.tolist()}")
    A = torch.stack([torch.ones_like(n), 1 / n], dim=1)
    fd_inf, b = torch.linalg.lstsq(A, f[:, None]).solution.flatten().tolist()
    return fd_inf, b
