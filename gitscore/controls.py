"""Null-model controls: denoisers without the structure the paper's claims rest on.

A regularity check (deviation from the chord, low-dimensional reconstruction, one boomerang shape)
means something only if a denoiser *without* that structure fails it. `NullDenoiser` is such a
denoiser: at every call it returns, for each sample, a training image chosen at random, independently
of x, so D carries no information about the current point and jumps between unrelated images from
one sigma to the next. It is seeded and deterministic: the image depends only on (seed, sigma, row).

`HybridDenoiser` separates a method from a network: it is one denoiser above a noise level (e.g. the
exact KDE denoiser) and another below it (e.g. the trained network).

`random_cost_schedule` is the control of the GITS claims: GITS's DP over a cost matrix of independent
random numbers, i.e. a schedule picked from the same teacher grid by the same DP but fitted to nothing.
"""
from __future__ import annotations

import struct

import numpy as np
import torch

from .denoisers import as_sigma

__all__ = ["NullDenoiser", "HybridDenoiser", "random_cost_schedule"]


def random_cost_schedule(grid, n_steps: int, seed: int, coeff: float | None = None) -> torch.Tensor:
    """GITS's DP (gits.dp at `coeff`, default SearchConfig's) over a cost matrix whose entries i < j are
    independent Uniform(0, 1) draws of numpy.random.default_rng(seed): a schedule of n_steps from `grid`
    that uses no trajectory at all (the control of the GITS claims)."""
    from .gits import SearchConfig, dp
    from .schedules import check_sigmas

    grid = check_sigmas(grid).to(torch.float64)
    M = len(grid)
    cost = np.random.default_rng(seed).uniform(size=(M, M))
    cost[np.tril_indices(M)] = np.inf
    return grid[dp(cost, n_steps, SearchConfig.coeff if coeff is None else coeff)].clone()


class NullDenoiser:
    """D(x, sigma)[b] = data[k(seed, sigma_b, b)]: an unrelated training image per (sigma, row).

    data: (N, ...) tensor of images (the same shape as a sample); seed: int >= 0. The index k is drawn
    by NumPy's PCG64 seeded with (seed, the float64 bits of sigma, b), so it repeats exactly across
    calls, devices and batch sizes for the same row b.
    """

    def __init__(self, data: torch.Tensor, seed: int = 0):
        if not isinstance(data, torch.Tensor) or data.ndim < 2 or len(data) < 2:
            raise ValueError("data must be a tensor of at least 2 images, shape (N, ...)")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        self.data, self.seed = data, seed

    def index(self, sigma: float, row: int) -> int:
        """The training image returned for row `row` at noise level `sigma`."""
        bits = struct.unpack("<Q", struct.pack("<d", float(sigma)))[0]
        return int(np.random.default_rng([self.seed, bits, int(row)]).integers(len(self.data)))

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        if x.shape[1:] != self.data.shape[1:]:
            raise ValueError(f"x must have samples of shape {tuple(self.data.shape[1:])}, got {tuple(x.shape[1:])}")
        s = as_sigma(sigma, x).reshape(-1).double().cpu().tolist()
        idx = torch.tensor([self.index(sb, b) for b, sb in enumerate(s)])
        return self.data[idx].to(device=x.device, dtype=x.dtype)


class HybridDenoiser:
    """D(x, sigma) = high(x, sigma) where sigma >= sigma_c, low(x, sigma) below (per sample).

    Used to ask whether a schedule search fails because of the network's error at high noise: with
    high = the exact denoiser above sigma_c, the network only acts below it. The output has x's dtype.
    """

    def __init__(self, high, low, sigma_c: float):
        if not (callable(high) and callable(low)):
            raise TypeError("high and low must be denoisers, callables D(x, sigma)")
        if not isinstance(sigma_c, (int, float)) or isinstance(sigma_c, bool) or not sigma_c > 0:
            raise ValueError(f"sigma_c must be a number > 0, got {sigma_c!r}")
        self.high, self.low, self.sigma_c = high, low, float(sigma_c)

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        s = as_sigma(sigma, x).reshape(-1)
        hi = s >= self.sigma_c
        out = torch.empty_like(x)
        for mask, D in ((hi, self.high), (~hi, self.low)):
            if mask.any():
                out[mask] = D(x[mask], s[mask]).to(dtype=x.dtype, device=x.device)
        return out
