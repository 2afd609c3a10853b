"""LD3, learning to discretise denoising diffusion ODEs (Tong et al. 2025), as its paper and code describe it.

The schedule is the softmax parametrisation of the log-sigma increments (gitscore.optimal.to_logits /
from_logits: LD3's "lambda" time mode, logSNR = -2 ln sigma in EDM form), started from uniform logSNR (LD3's
all-ones logits). It is trained on teacher pairs (x_T, x_teacher) with a *slack*: each training latent may
move within a ball of radius `bound` (on the unit-variance latent) around its original, by one SGD step of
rate `shift_lr` per visit, projected onto the ball and kept only where it lowers that sample's loss, so the
student must reach the teacher's sample from *some* latent near x_T, not from x_T exactly. Defaults as
LD3's code: RMSprop (rate 0.005, momentum 0.9) on the logits with the gradient clipped to norm 1, batches of
2, bound = 0.001 d / n^2 (d the data dimension, n the steps), shift_lr = 12 / n; after every step the
schedule is scored on held-out validation pairs (original latents) and the best is kept, the start included,
so the result is never worse than the start on the validation loss (its training objective's selection).
The loss is the per-sample RMSE (LD3 uses LPIPS, which has no Fashion-MNIST model). Not done here: LD3's
second parameter vector ("v2", a decoupled evaluation time within a window) and the learning-rate decay on
plateaus; `rounds` passes over the training pairs instead of its patience-based stopping.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from .checks import check_choice, check_int, check_positive
from .denoisers import CallCounter
from .metrics import rmse_per_sample
from .optimal import from_logits, to_logits
from .schedules import check_sigmas, logsnr
from .solvers import DIFFERENTIABLE, solve_differentiable

__all__ = ["LD3Result", "ld3", "default_bound"]


def default_bound(dim: int, n_steps: int) -> float:
    """LD3's default slack radius: 0.001 * d / n^2 (its code's prior_bound)."""
    return 0.001 * check_int("dim", dim, 1) / check_int("n_steps", n_steps, 1) ** 2


@dataclass
class LD3Result:
    """A learned schedule and how it was found."""
    sigmas: torch.Tensor        # (n+1,) float64: the best by validation loss (the start if nothing beat it)
    start: torch.Tensor
    valid_loss: float           # mean RMSE on the validation pairs of `sigmas`
    start_valid_loss: float     # the same for the start
    history: list = field(default_factory=list)   # validation loss after every step
    calls: int = 0              # denoiser calls (forward), backward passes not counted
    samples: int = 0
    seconds: float = 0.0


def ld3(denoiser, solver: str, x_T: torch.Tensor, x_teacher: torch.Tensor, n_steps: int, *, n_valid: int,
        start=None, rounds: int = 2, batch_size: int = 2, lr: float = 0.005, momentum: float = 0.9,
        bound: float | None = None, shift_lr: float | None = None, seed: int = 0,
        options: dict | None = None) -> LD3Result:
    """LD3 on pairs (x_T at sigma_max, the teacher's sample x_teacher): the last n_valid pairs validate, the rest
    train; `rounds` passes over the training pairs in batches of `batch_size`, shuffled by `seed`.

    `denoiser` must be differentiable (a KDEDenoiser: pass optimal.differentiable(kde)). start: a schedule
    (default: uniform logSNR over the denoiser's range, LD3's initialisation).
    """
    check_choice("solver", solver, DIFFERENTIABLE)
    if x_T.shape != x_teacher.shape:
        raise ValueError(f"x_T and x_teacher must have the same shape, got {tuple(x_T.shape)} and "
                         f"{tuple(x_teacher.shape)}")
    n_valid = check_int("n_valid", n_valid, 1, len(x_T) - 1)
    rounds, batch_size = check_int("rounds", rounds, 0), check_int("batch_size", batch_size, 1)
    check_positive("lr", lr)
    options, counter, t0 = dict(options or {}), CallCounter(denoiser), time.perf_counter()
    if start is None:
        start = logsnr(n_steps, getattr(denoiser, "sigma_min", 0.002), getattr(denoiser, "sigma_max", 80.0))
    s0 = check_sigmas(start).to(torch.float64)
    if len(s0) != n_steps + 1:
        raise ValueError(f"start must have n_steps + 1 = {n_steps + 1} sigmas, got {len(s0)}")
    smax, smin = float(s0[0]), float(s0[-1])
    dim = x_T[0].numel()
    bound = default_bound(dim, n_steps) if bound is None else check_positive("bound", bound)
    shift_lr = 12.0 / n_steps if shift_lr is None else check_positive("shift_lr", shift_lr)

    z_all = (x_T / smax).double()                 # unit-variance latents
    n_train = len(x_T) - n_valid
    z_orig, z_train, y_train = z_all[:n_train], z_all[:n_train].clone(), x_teacher[:n_train]
    z_val, y_val = z_all[n_train:], x_teacher[n_train:]

    def loss(sig, z, y):
        x = solve_differentiable(counter, solver, (smax * z).to(x_T.dtype), sig, **options)
        return rmse_per_sample(x, y)

    with torch.no_grad():
        start_valid = float(loss(s0, z_val, y_val).mean())
    logits = to_logits(s0).requires_grad_(True)
    opt = torch.optim.RMSprop([logits], lr=lr, momentum=momentum)
    best, best_loss, history = s0, start_valid, []
    g = torch.Generator().manual_seed(int(seed))
    for _ in range(rounds):
        for b in torch.randperm(n_train, generator=g).split(batch_size):
            sig = from_logits(logits, smax, smin)
            z = z_train[b].clone().requires_grad_(True)
            per = loss(sig, z, y_train[b])
            opt.zero_grad()
            per.mean().backward()
            torch.nn.utils.clip_grad_norm_([logits], 1.0)
            opt.step()
            with torch.no_grad():
                # The slack: one SGD step on the latents, projected onto the ball, kept where it helps.
                moved = z - shift_lr * z.grad
                diff = (moved - z_orig[b]).flatten(1)
                norm = diff.norm(dim=1).clamp_min(1e-300)
                scale = torch.where(norm > bound, bound / norm, torch.ones_like(norm))
                moved = z_orig[b] + (diff * scale[:, None]).reshape(moved.shape)
                sig = from_logits(logits, smax, smin)
                if not bool((sig[1:] < sig[:-1]).all()):
                    break
                keep = loss(sig, moved, y_train[b]) < per.detach()
                z_train[b[keep]] = moved[keep]
                v = float(loss(sig, z_val, y_val).mean())
            history.append(v)
            if math.isfinite(v) and v < best_loss:
                best, best_loss = sig.detach().clone(), v
    return LD3Result(best, s0, best_loss, start_valid, history, counter.calls, counter.samples,
                     time.perf_counter() - t0)
