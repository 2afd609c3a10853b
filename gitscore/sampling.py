"""Seeded sampling: per-sample latents, the denoiser's device, and the batched, torchrun-sharded loop.

Sample j starts from the latent `latents(shape, seed, j, j + 1)`, which depends only on (seed, j), so a
sample does not change with the batch size or the number of processes. `sample` runs a registered
solver on samples 0..n-1 in the batches [0, B), [B, 2B), ... of one process whatever the number of
torchrun ranks (each rank takes whole batches, see gitscore.dist), so every sample is computed in the
same batch: torchrun gives the single-process result bit for bit. GITS's warm-up, `gitscore bench` and
`gitscore sample` all draw their samples here.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from . import dist
from .checks import check_int, check_shape, check_sigmas_arg
from .solvers import SOLVERS, calls_per_step

__all__ = ["latents", "default_device", "sample", "nfe", "check_sample_shape"]


def latents(shape, seed: int, start: int, stop: int, dtype=torch.float64) -> torch.Tensor:
    """Standard normal latents for samples start..stop-1; sample j depends only on (seed, j)."""
    seed = check_int("seed", seed, 0)
    z = torch.empty((stop - start, *shape), dtype=torch.float64)
    for row, j in enumerate(range(start, stop)):
        s = int(np.random.SeedSequence([seed, j]).generate_state(1, dtype=np.uint64)[0])
        z[row] = torch.randn(tuple(shape), generator=torch.Generator().manual_seed(s), dtype=torch.float64)
    return z.to(dtype)


def check_sample_shape(denoiser, shape) -> None:
    """ValueError if `shape` is the denoiser's declared one-sample `shape` attribute with a batch dimension added."""
    declared = getattr(denoiser, "shape", None)
    try:
        declared = None if declared is None else tuple(int(d) for d in declared)
    except (TypeError, ValueError):
        return
    shape = tuple(shape)
    if declared is not None and shape != declared and shape[1:] == declared:
        raise ValueError(f"shape {shape} includes a batch dimension: give one sample's shape {declared} "
                         "(the batch is n / batch_size)")


def default_device(denoiser) -> torch.device:
    """Where a denoiser computes: its parameters' device, its `device` attribute (KDE), else the CPU."""
    if isinstance(denoiser, torch.nn.Module):
        for p in denoiser.parameters():
            return p.device
    return torch.device(getattr(denoiser, "device", "cpu"))


def nfe(solver: str, steps: int, afs: bool = False, to_zero: bool = False) -> int:
    """Denoiser evaluations per sample of `steps` steps of `solver` (the analytical first step saves one;
    `to_zero`: one more, the step to 0 after the schedule, as in `sample`)."""
    return steps * calls_per_step(solver) - (1 if afs else 0) + (1 if to_zero else 0)


@torch.no_grad()
def sample(denoiser, solver: str, sigmas, n: int, *, seed: int, shape, batch_size: int | None = None,
           dtype=torch.float32, device=None, callback=None, into=None, progress: bool = False,
           desc: str = "sampling", to_zero: bool = False, first: int = 0, **options) -> torch.Tensor:
    """Samples first..first+n-1 from x_T = sigmas[0] * latents(shape, seed, j, j + 1), by `solver` with `options`.

    `first` (default 0): the index of the first latent, so a block of the evaluation latents can be sampled
    alone: sample(..., n=2000, first=4000) equals rows 4000..5999 of sample(..., n=10000) (same batches
    relative to `first`).
    Batches of `batch_size` (default: all n, at most 256), in `dtype` on `device` (default: the
    denoiser's); under torchrun each rank runs whole batches and the results are gathered in order, so
    any number of processes returns the single-process tensor bit for bit (on the CPU).
    `callback(info)`: the solver's per-step dict {i, x, sigma, sigma_next, denoised} plus "start" and
    "stop", the indices of the batch's first and one-past-last samples.
    `into`: an array of shape ``(n, *shape)`` (e.g. a numpy memmap) that receives each batch as it is done,
    so memory does not grow with n (single process only); it is returned instead of a tensor.
    `to_zero`: after the solver reaches sigmas[-1], one more step, to 0: the denoiser's output D(x, sigmas[-1])
    (an Euler step to 0; one more call, not passed to the callback). This is the loop of an export's sampler
    form (gitscore.export.sampler_sigmas): sample(D, "euler", s[:-1], n, to_zero=True) runs the N-step
    schedule s in N calls ending at 0, as k-diffusion's sample_euler on to_k_diffusion(s).
    """
    if not isinstance(to_zero, bool):
        raise TypeError(f"to_zero must be a bool, got {type(to_zero).__name__}")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}")
    n = check_int("n", n, 1)
    seed = check_int("seed", seed, 0)
    first = check_int("first", first, 0)
    batch_size = min(n, 256) if batch_size is None else check_int("batch_size", batch_size, 1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    if into is not None and dist.rank_world()[1] > 1:
        raise ValueError("sample(into=...) writes in one process; under torchrun gather the result instead")
    shape, _ = check_shape("shape", shape), check_sigmas_arg(sigmas)
    check_sample_shape(denoiser, shape)
    device = default_device(denoiser) if device is None else torch.device(device)
    start, stop = dist.shard(n, batch_size=batch_size)  # this process's whole batches
    starts = range(start, stop, batch_size)
    out = []
    for b in tqdm(starts, desc=desc, disable=not progress or len(starts) < 2):
        e = min(b + batch_size, stop)
        x = float(sigmas[0]) * latents(shape, seed, first + b, first + e, dtype).to(device)
        hook = None if callback is None else (lambda info, b=b, e=e: callback(dict(info, start=b, stop=e)))
        try:
            x = SOLVERS[solver](denoiser, x, sigmas, callback=hook, progress=progress and len(starts) == 1,
                                **options)
        except RuntimeError as err:  # a shape with the batch in it fails deep inside the model: say so
            if b == starts[0] and len(shape) >= 4:
                raise ValueError(f"the denoiser failed on a batch of shape {(e - b, *shape)} "
                                 f"({str(err).splitlines()[0][:200]}); shape is one sample's shape: if {shape} "
                                 "includes the batch dimension, drop it") from err
            raise
        if to_zero:
            x = _denoise(denoiser, x, float(sigmas[-1]))
        x = x.cpu()
        if into is not None:
            into[b:e] = x.numpy()
        else:
            out.append(x)
    if into is not None:
        return into
    local = torch.cat(out) if out else torch.empty((0, *shape), dtype=dtype)
    return dist.gather(local)


def _denoise(denoiser, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """The step from sigma to 0: D(x, sigma), sigma passed as a (B,) tensor in x's dtype and device."""
    d = denoiser(x, torch.full((len(x),), sigma, dtype=x.dtype, device=x.device))
    if not torch.is_tensor(d) or d.shape != x.shape:
        raise ValueError(f"the denoiser returned {tuple(getattr(d, 'shape', ()))} for x of shape {tuple(x.shape)} "
                         f"in the step to 0 (sigma={sigma:.6g})")
    if not torch.isfinite(d).all():
        raise FloatingPointError(f"non-finite denoiser output in the step to 0 (sigma={sigma:.6g})")
    return d.to(x.dtype)
