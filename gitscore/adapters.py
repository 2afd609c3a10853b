"""Adapters: discrete-time VP models (diffusers) as EDM denoisers D(x, sigma) for gitscore's solvers and GITS.

A diffusers VP model is trained on x_vp = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps at integer timesteps t.
Dividing by sqrt(abar_t) gives EDM's x = x0 + sigma eps with sigma_t = sqrt((1 - abar_t) / abar_t)
(Karras et al. 2022, Table 1 / Appendix C), so x_vp = x / sqrt(1 + sigma^2), and the PF-ODE of the
VP model is the EDM ODE dx/dsigma = (x - D) / sigma with D = x - sigma eps. Euler on this ODE is DDIM.

This is what k-diffusion's `DiscreteEpsDDPMDenoiser` / `DiscreteVDDPMDenoiser` do (`quantize=True` is our
"nearest"); the differences here: the table is float64, v-prediction and x0-prediction share one class,
and a learned-variance output (2C channels) is cut to its first C channels.

Example (a diffusers pipeline; conditioning and guidance are the caller's, e.g. a closure)::

    pipe = DDPMPipeline.from_pretrained(...)
    D = from_pipeline(pipe)                      # D(x, sigma), D.sigma_min, D.sigma_max
    sigmas = gitscore.gits.search(D, (3, 32, 32), n_steps=6, grid=teacher_grid(61, D.sigma_min, D.sigma_max))
    x = sample_ipndm(D, sigmas[0] * torch.randn(16, 3, 32, 32), sigmas)   # a denoised sample at sigma_min
"""
from __future__ import annotations

import torch
from torch import nn

from .denoisers import as_sigma

__all__ = ["DiffusersVPDenoiser", "from_pipeline", "vp_sigmas", "PREDICTION_TYPES", "TIMESTEP_MODES"]

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
TIMESTEP_MODES = ("nearest", "interp")


def vp_sigmas(alphas_cumprod) -> torch.Tensor:
    """EDM sigmas of a discrete VP schedule: sigma_t = sqrt((1 - abar_t) / abar_t), float64, increasing in t."""
    if torch.is_tensor(alphas_cumprod):
        abar = alphas_cumprod.detach().to("cpu", torch.float64).reshape(-1)
    else:
        abar = torch.as_tensor(alphas_cumprod, dtype=torch.float64).reshape(-1)
    if abar.numel() < 2:
        raise ValueError(f"alphas_cumprod must hold at least 2 timesteps, got {abar.numel()}")
    if not bool(((abar > 0) & (abar < 1)).all()):
        raise ValueError("alphas_cumprod must lie in (0, 1) (a zero terminal SNR means sigma = inf: "
                         f"clamp it, as diffusers does with 2**-24), got range [{float(abar.min())}, {float(abar.max())}]")
    if not bool((abar[1:] < abar[:-1]).all()):
        raise ValueError("alphas_cumprod must be strictly decreasing in t")
    return ((1 - abar) / abar).sqrt()


class DiffusersVPDenoiser(nn.Module):
    """A discrete-time VP model (eps / v / x0 prediction) as an EDM denoiser D(x, sigma) (Karras et al. 2022, App. C).

    `unet(x_vp, t, **model_kwargs)` returns a tensor or an object with `.sample` (diffusers' UNet outputs).
    `timestep_mode` maps a continuous sigma to the model's timestep:
      "nearest": the discrete t whose log sigma_t is nearest (k-diffusion's quantize=True); the sigmas of
                 the model's own timesteps map back exactly, so Euler on them reproduces DDIM (eta=0).
      "interp":  the fractional t from linear interpolation of log sigma_t between neighbouring timesteps,
                 passed as a float timestep (diffusers' EulerDiscreteScheduler does the same).
    Sigmas outside [sigma_min, sigma_max] of the table map to t = 0 / T-1. The input scaling and the output
    conversion always use the sigma asked for, not the table's.
    """

    def __init__(self, unet, alphas_cumprod, prediction_type: str = "epsilon", timestep_mode: str = "nearest"):
        super().__init__()
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {list(PREDICTION_TYPES)}, got {prediction_type!r}")
        if timestep_mode not in TIMESTEP_MODES:
            raise ValueError(f"timestep_mode must be one of {list(TIMESTEP_MODES)}, got {timestep_mode!r}")
        if not callable(unet):
            raise TypeError(f"unet must be callable as unet(x, t), got {type(unet).__name__}")
        self.unet, self.prediction_type, self.timestep_mode = unet, prediction_type, timestep_mode
        # Plain float64 attributes, not buffers: module.half() must not round the table.
        self.sigmas = vp_sigmas(alphas_cumprod)
        self.log_sigmas = self.sigmas.log()
        self.sigma_min, self.sigma_max = float(self.sigmas[0]), float(self.sigmas[-1])

    @property
    def num_timesteps(self) -> int:
        return len(self.sigmas)

    def sigma_to_t(self, sigma) -> torch.Tensor:
        """Timestep(s) for sigma: int64 (nearest) or float64 (interp), same shape as sigma, on sigma's device."""
        sigma = torch.as_tensor(sigma, dtype=torch.float64)
        if not bool(((sigma > 0) & torch.isfinite(sigma)).all()):
            raise ValueError("sigma must be positive and finite")
        ls, table = sigma.log(), self.log_sigmas.to(sigma.device)
        if self.timestep_mode == "nearest":
            return (ls.reshape(-1, 1) - table).abs().argmin(dim=1).reshape(sigma.shape)
        # Fractional t: lo = the last table entry <= log sigma (clamped), w its linear weight.
        hi = torch.searchsorted(table, ls.reshape(-1)).clamp(1, len(table) - 1)
        lo = hi - 1
        w = ((ls.reshape(-1) - table[lo]) / (table[hi] - table[lo])).clamp(0, 1)
        return (lo + w).reshape(sigma.shape)

    def t_to_sigma(self, t) -> torch.Tensor:
        """sigma at a (possibly fractional) timestep t, by linear interpolation of log sigma_t (float64)."""
        t = torch.as_tensor(t, dtype=torch.float64)
        table = self.log_sigmas.to(t.device)
        if not bool(((t >= 0) & (t <= len(table) - 1)).all()):
            raise ValueError(f"t must lie in [0, {len(table) - 1}]")
        lo = t.floor().long().clamp(max=len(table) - 2)
        w = t - lo
        return ((1 - w) * table[lo] + w * table[lo + 1]).exp()

    def forward(self, x: torch.Tensor, sigma, **model_kwargs) -> torch.Tensor:
        s = as_sigma(sigma, x)
        s64 = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1).expand(x.shape[0])
        t = self.sigma_to_t(s64)
        dtype = next((p.dtype for p in self.unet.parameters()), x.dtype) if isinstance(self.unet, nn.Module) else x.dtype
        c_in = 1 / (1 + s ** 2).sqrt()  # x_vp = sqrt(abar) x with sqrt(abar) = 1 / sqrt(1 + sigma^2)
        if self.timestep_mode == "interp":  # float timesteps; never half precision (t up to ~1000)
            t = t.to(torch.float64 if dtype == torch.float64 else torch.float32)
        out = self.unet((c_in * x).to(dtype), t, **model_kwargs)
        out = getattr(out, "sample", out)
        out = out[0] if isinstance(out, (tuple, list)) else out
        if out.shape[1] == 2 * x.shape[1] and out.shape[2:] == x.shape[2:]:
            out = out[:, :x.shape[1]]  # learned variance (IDDPM / DiT style): keep the mean part
        out = out.to(x.dtype)
        # Output conversion (eps, v and x0 in VP space -> D in EDM space).
        if self.prediction_type == "epsilon":
            return x - s * out
        if self.prediction_type == "v_prediction":
            # v = sqrt(abar) eps - sqrt(1 - abar) x0  =>  x0 = x / (1 + sigma^2) - sigma v / sqrt(1 + sigma^2)
            return x / (1 + s ** 2) - s * c_in * out
        return out


def from_pipeline(pipe, timestep_mode: str = "nearest") -> DiffusersVPDenoiser:
    """D(x, sigma) from a diffusers pipeline: pipe.unet, pipe.scheduler.alphas_cumprod and its prediction_type."""
    unet, scheduler = getattr(pipe, "unet", None), getattr(pipe, "scheduler", None)
    if unet is None or scheduler is None:
        raise ValueError("pipe must have .unet and .scheduler (a diffusers DiffusionPipeline with a UNet)")
    abar = getattr(scheduler, "alphas_cumprod", None)
    if abar is None:
        raise ValueError(f"pipe.scheduler ({type(scheduler).__name__}) has no alphas_cumprod: only discrete "
                         "VP (DDPM-type) schedules are supported, not flow matching")
    prediction_type = getattr(getattr(scheduler, "config", None), "prediction_type", "epsilon")
    return DiffusersVPDenoiser(unet, abar, prediction_type=prediction_type, timestep_mode=timestep_mode)
