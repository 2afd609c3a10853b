"""FD (Fashion-MNIST classifier features, NOT Inception FID) of searched schedules, over their warm-up seeds.

A searched schedule depends on its warm-up seed, so its FD must be measured over several searches. The
evaluation latents (`eval_seed`) are cut into one block of `block` latents per warm-up seed: the schedule
searched on the k-th warm-up seed samples block k, and a fixed schedule samples every block. Two schedules
are then paired latent by latent (a searched one with a fixed one, or two searched on the same seeds), and
`metrics.frechet_two_level` gives the interval of any statistic of their FDs over the seeds and the samples.

`BlockFeatures` samples a (solver, schedule, block) and keeps its classifier features on disk (safetensors,
written atomically), keyed by the solver, the schedule's exact digits, the latents and a tag (the weights'
sha256), so a killed run resumes where it stopped and two scripts scoring the same schedule share the work.
Used by scripts/fd_headline.py (the paper's headline table) and scripts/fd_harness.py (chapter 8's searches).
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch

from . import metrics, sampling
from .checks import check_int
from .files import atomic_write_bytes
from .stats import Interval

__all__ = ["BlockFeatures", "pooled_fd", "ratio", "ratio_interval", "interval_dict"]


class BlockFeatures:
    """Classifier features of schedules sampled on blocks of the evaluation latents, cached in `cache`.

    Block k is latents k * block .. k * block + block - 1 of seed `eval_seed`; `features(solver, sigmas, k, n)`
    samples its first n (default: all) and returns their features (n, F), float32. `stack(solver, schedules, n)`
    puts schedules[k] on block k for every k: (len(schedules), n, F), the input of `metrics.frechet_two_level`.
    """

    def __init__(self, denoiser, shape, *, eval_seed: int, block: int, cache, tag: str = "",
                 batch_size: int = 500):
        self.denoiser, self.shape = denoiser, tuple(shape)
        self.eval_seed = check_int("eval_seed", eval_seed, 0)
        self.block = check_int("block", block, 2)
        self.batch_size = check_int("batch_size", batch_size, 1)
        if not isinstance(tag, str):
            raise TypeError(f"tag must be a str (e.g. the weights' sha256), got {type(tag).__name__}")
        self.tag, self.cache = tag, Path(cache)
        self.cache.mkdir(parents=True, exist_ok=True)
        self.sampled = 0  # samples drawn by this object (not read from the cache)

    def _path(self, solver: str, sigmas: list, first: int, n: int) -> Path:
        key = json.dumps({"solver": solver, "sigmas": [float(s) for s in sigmas], "first": first, "n": n,
                          "eval_seed": self.eval_seed, "shape": self.shape, "tag": self.tag})
        return self.cache / f"{solver}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.safetensors"

    def features(self, solver: str, sigmas, k: int, n: int | None = None) -> torch.Tensor:
        from safetensors.torch import load, save
        k = check_int("k", k, 0)
        n = self.block if n is None else check_int("n", n, 2, self.block)
        sig = [float(s) for s in torch.as_tensor(sigmas, dtype=torch.float64).tolist()]
        path = self._path(solver, sig, k * self.block, n)
        if path.exists():
            return load(path.read_bytes())["f"]
        x = sampling.sample(self.denoiser, solver, torch.tensor(sig, dtype=torch.float64), n, seed=self.eval_seed,
                            shape=self.shape, batch_size=self.batch_size, first=k * self.block)
        f = metrics.image_features(x.clamp(-1, 1)).features.float().contiguous()
        atomic_write_bytes(path, save({"f": f}))
        self.sampled += n
        return f

    def stack(self, solver: str, schedules, n: int | None = None) -> torch.Tensor:
        """schedules[k] sampled on block k, for every k: (S, n, F)."""
        schedules = list(schedules)
        if len(schedules) < 1:
            raise ValueError("schedules must hold one schedule per block")
        return torch.stack([self.features(solver, s, k, n) for k, s in enumerate(schedules)])


def pooled_fd(features: torch.Tensor, reference="test") -> float:
    """The FD of all the samples of (S, N, F) features together, against `reference` (default the test split's
    features; float64 moments)."""
    f = torch.as_tensor(features)
    return metrics.frechet_distance(metrics.FeatureStats(f.reshape(-1, f.shape[-1]).double()), reference)


def ratio(fd: dict) -> float:
    """FD(x) / FD(base): the ratio behind a relative change against a baseline (see `ratio_interval`)."""
    return fd["x"] / fd["base"]


def ratio_interval(sets: dict, ratio_of=ratio, reference="test", *, n_boot: int = 200, seed: int = 0,
                   level: float = 0.95):
    """The relative FD change ratio_of(fd) - 1 with its two-level interval (`metrics.frechet_two_level`, basic
    method), bootstrapped on the log scale: the interval of log ratio_of(fd), mapped back by exp(.) - 1.

    A ratio of FDs is skewed where the seed level is wide (a control whose seeds give very different schedules):
    the basic interval of the ratio itself then reaches below -100 %, which no ratio of positive numbers can;
    on the log scale the interval is (nearly) symmetric and maps back inside (-100 %, inf).
    Example: ``ratio_interval({"x": gits, "base": poly})`` with (S, N, F) features of each.
    """
    iv = metrics.frechet_two_level(sets, lambda fd: math.log(ratio_of(fd)), reference, n_boot=n_boot, seed=seed,
                                   level=level)
    return Interval(math.expm1(iv.estimate), math.expm1(iv.low), math.expm1(iv.high), iv.level, iv.n_seeds,
                    iv.n_samples, iv.n_boot, iv.method + ", log scale")


def interval_dict(iv) -> dict:
    """A stats.Interval as the JSON the result files keep (``stats.Interval(**d)`` reads it back)."""
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high, "level": iv.level, "n_seeds": iv.n_seeds,
            "n_samples": iv.n_samples, "n_boot": iv.n_boot, "method": iv.method}
