"""Null-model controls: denoisers without the structure the paper's claims rest on.

A regularity check (deviation from the chord, low-dimensional reconstruction, one boomerang shape)
means something only if a denoiser *without* that structure fails it. `NullDenoiser` is such a
denoiser: at every call it returns, for each sample, a training image chosen at random, independently
of x, so D carries no information about the current point and jumps between unrelated images from
one sigma to the next. It is seeded and deterministic: the image depends only on (seed, sigma, row).
"""
from __future__ import annotations

import struct

import numpy as np
import torch

from .denoisers import as_sigma

__all__ = ["NullDenoiser"]


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
