"""Adapters: discrete-time VP models (diffusers) as EDM denoisers D(x, sigma) for gitscore's solvers and GITS.

A diffusers VP model is trained on x_vp = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps at integer timesteps t.
Dividing by sqrt(abar_t) gives EDM's x = x0 + sigma eps with sigma_t = sqrt((1 - abar_t) / abar_t)
(Karras et al. 2022, Table 1 / Appendix C), so x_vp = x / sqrt(1 + sigma^2), and the PF-ODE of the
VP model is the EDM ODE dx/dsigma = (x - D) / sigma with D = x - sigma eps. Euler on this ODE is DDIM,
and it is what diffusers' EulerDiscreteScheduler integrates (its latents are our x, its sigmas ours).

This is what k-diffusion's `DiscreteEpsDDPMDenoiser` / `DiscreteVDDPMDenoiser` do (`quantize=True` is our
"nearest"); the differences here: v-prediction and x0-prediction share one class, a learned-variance
output (2C channels) is cut to its first C channels, conditioning is bound once (`bind`) and
classifier-free guidance is part of the denoiser (`guided`), so GITS searches the ODE the pipeline solves.

Example (a text pipeline with EulerDiscreteScheduler; see the README for the full recipe)::

    D = from_pipeline(pipe, "a photo of a cat")   # prompt embeddings bound, guidance at the pipeline's 7.5
    sigmas = gitscore.gits.search(D, (4, 64, 64), n_steps=10)   # teacher grid in [D.sigma_min, D.sigma_max]
    image = pipe("a photo of a cat", **gitscore.export.to_diffusers(sigmas, pipe)).images[0]   # 10 UNet calls
"""
from __future__ import annotations

import inspect
import math

import torch
from torch import nn

from .denoisers import as_sigma

__all__ = ["DiffusersVPDenoiser", "from_pipeline", "vp_sigmas", "PREDICTION_TYPES", "TIMESTEP_MODES"]

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
TIMESTEP_MODES = ("interp", "nearest")


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
                         "clamp it, as diffusers does with 2**-24), got range "
                         f"[{float(abar.min())}, {float(abar.max())}]")
    if not bool((abar[1:] < abar[:-1]).all()):
        raise ValueError("alphas_cumprod must be strictly decreasing in t")
    return ((1 - abar) / abar).sqrt()


def _per_sample(value, batch: int, name: str):
    """A model keyword for a batch of `batch`: tensors with a leading 1 are broadcast, nested dicts followed."""
    if isinstance(value, dict):
        return {k: _per_sample(v, batch, f"{name}[{k!r}]") for k, v in value.items()}
    if not torch.is_tensor(value) or value.ndim == 0 or value.shape[0] == batch:
        return value
    if value.shape[0] == 1:
        return value.expand(batch, *value.shape[1:])
    raise ValueError(f"model keyword {name} has batch size {value.shape[0]}, but x has {batch} samples: "
                     "bind one conditioning (batch 1, broadcast to every sample) or one per sample")


def _stack(uncond, cond, name: str):
    """Unconditional and conditional keywords as one batch (uncond first, as diffusers' pipelines do)."""
    if isinstance(cond, dict) and isinstance(uncond, dict):
        if uncond.keys() != cond.keys():
            raise ValueError(f"{name}: unconditional keys {sorted(uncond)} differ from the conditional {sorted(cond)}")
        return {k: _stack(uncond[k], cond[k], f"{name}[{k!r}]") for k in cond}
    if torch.is_tensor(cond) and torch.is_tensor(uncond) and cond.ndim > 0:
        return torch.cat([uncond, cond])
    if cond is uncond or (not torch.is_tensor(cond) and not torch.is_tensor(uncond) and cond == uncond):
        return cond
    raise ValueError(f"model keyword {name} differs between the conditional and unconditional calls but is not "
                     "a batched tensor, so they cannot share one UNet call")


class DiffusersVPDenoiser(nn.Module):
    """A discrete-time VP model (eps / v / x0 prediction) as an EDM denoiser D(x, sigma) (Karras et al. 2022, App. C).

    `unet(x_vp, t, **model_kwargs)` returns a tensor or an object with `.sample` (diffusers' UNet outputs).
    `timestep_mode` maps a continuous sigma to the model's timestep::

      "interp" (default): the fractional t from linear interpolation of log sigma_t between neighbouring
                 timesteps, passed as a float timestep, as diffusers' EulerDiscreteScheduler does: Euler on
                 this denoiser is that scheduler's loop to float rounding.
      "nearest": the discrete t whose log sigma_t is nearest (k-diffusion's quantize=True); the sigmas of
                 the model's own timesteps map back exactly, so Euler on them reproduces DDIM (eta=0).

    Sigmas outside [sigma_min, sigma_max] of the table map to t = 0 / T-1. The input scaling and the output
    conversion always use the sigma asked for, not the table's.
    `model_kwargs` are passed to every UNet call (conditioning, e.g. encoder_hidden_states); tensors with
    batch size 1 are broadcast to x's batch. With `guidance_scale` w > 1 and `uncond_kwargs`, the model
    output is classifier-free guided, out_u + w (out_c - out_u), from one UNet call on the doubled batch.
    """

    def __init__(self, unet, alphas_cumprod, prediction_type: str = "epsilon", timestep_mode: str = "interp", *,
                 model_kwargs: dict | None = None, guidance_scale: float = 1.0, uncond_kwargs: dict | None = None):
        super().__init__()
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {list(PREDICTION_TYPES)}, got {prediction_type!r}")
        if timestep_mode not in TIMESTEP_MODES:
            raise ValueError(f"timestep_mode must be one of {list(TIMESTEP_MODES)}, got {timestep_mode!r}")
        if not callable(unet):
            raise TypeError(f"unet must be callable as unet(x, t), got {type(unet).__name__}")
        self.unet, self.prediction_type, self.timestep_mode = unet, prediction_type, timestep_mode
        self.model_kwargs = _check_kwargs("model_kwargs", model_kwargs)
        self.uncond_kwargs = _check_kwargs("uncond_kwargs", uncond_kwargs)
        self.guidance_scale = _check_scale(guidance_scale)
        if self.guidance_scale != 1 and uncond_kwargs is None:
            raise ValueError("guidance_scale != 1 needs uncond_kwargs (the unconditional model keywords, "
                             "e.g. encoder_hidden_states=negative_prompt_embeds)")
        # Plain float64 attributes, not buffers: module.half() must not round the table.
        self.alphas_cumprod = alphas_cumprod
        self.sigmas = vp_sigmas(alphas_cumprod)
        self.log_sigmas = self.sigmas.log()
        self.sigma_min, self.sigma_max = float(self.sigmas[0]), float(self.sigmas[-1])

    @property
    def num_timesteps(self) -> int:
        return len(self.sigmas)

    @property
    def is_guided(self) -> bool:
        """Whether the model output is classifier-free guided (guidance_scale != 1)."""
        return self.guidance_scale != 1

    def _replace(self, **changes) -> "DiffusersVPDenoiser":
        args = dict(prediction_type=self.prediction_type, timestep_mode=self.timestep_mode,
                    model_kwargs=self.model_kwargs, guidance_scale=self.guidance_scale,
                    uncond_kwargs=self.uncond_kwargs)
        args.update(changes)
        return type(self)(self.unet, self.alphas_cumprod, **args)

    def bind(self, **model_kwargs) -> "DiffusersVPDenoiser":
        """A new denoiser (same UNet) that passes these keywords to every UNet call, on top of those bound already."""
        return self._replace(model_kwargs={**self.model_kwargs, **model_kwargs})

    def guided(self, guidance_scale: float, **uncond_kwargs) -> "DiffusersVPDenoiser":
        """Classifier-free guidance (Ho & Salimans 2022) at `guidance_scale` as diffusers' pipelines apply it.

        The bound keywords are the conditional call's; `uncond_kwargs` replace them for the unconditional
        call (e.g. encoder_hidden_states=negative_prompt_embeds). guidance_scale=1 turns guidance off.
        """
        if _check_scale(guidance_scale) == 1:
            return self._replace(guidance_scale=1.0, uncond_kwargs=None)
        return self._replace(guidance_scale=guidance_scale, uncond_kwargs={**self.model_kwargs, **uncond_kwargs})

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

    def _unet(self, x_vp, t, kwargs):
        out = self.unet(x_vp, t, **kwargs)
        out = getattr(out, "sample", out)
        return out[0] if isinstance(out, (tuple, list)) else out

    def _model_output(self, x_vp, t, kwargs):
        """The UNet's prediction (eps / v / x0 in VP space), guided when guidance is on."""
        B = x_vp.shape[0]
        cond = _per_sample(kwargs, B, "model_kwargs")
        if not self.is_guided:
            return self._unet(x_vp, t, cond)
        both = _stack(_per_sample(self.uncond_kwargs, B, "uncond_kwargs"), cond, "model_kwargs")
        out_u, out_c = self._unet(torch.cat([x_vp, x_vp]), torch.cat([t, t]), both).chunk(2)
        return out_u + self.guidance_scale * (out_c - out_u)

    def forward(self, x: torch.Tensor, sigma, **model_kwargs) -> torch.Tensor:
        s = as_sigma(sigma, x)
        s64 = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1).expand(x.shape[0])
        t = self.sigma_to_t(s64)
        is_module = isinstance(self.unet, nn.Module)
        dtype = next((p.dtype for p in self.unet.parameters()), x.dtype) if is_module else x.dtype
        if self.timestep_mode == "interp":  # float timesteps; never half precision (t up to ~1000)
            t = t.to(torch.float64 if dtype == torch.float64 else torch.float32)
        # x_vp = sqrt(abar) x with sqrt(abar) = 1 / sqrt(1 + sigma^2) (written as diffusers' scale_model_input).
        x_vp = (x / (s ** 2 + 1) ** 0.5).to(dtype)
        out = self._model_output(x_vp, t, {**self.model_kwargs, **model_kwargs})
        if out.shape[1] == 2 * x.shape[1] and out.shape[2:] == x.shape[2:]:
            out = out[:, :x.shape[1]]  # learned variance (IDDPM / DiT style): keep the mean part
        out = out.to(x.dtype)
        # Output conversion (eps, v and x0 in VP space -> D in EDM space), in diffusers' operation order.
        if self.prediction_type == "epsilon":
            return x - s * out
        if self.prediction_type == "v_prediction":
            # v = sqrt(abar) eps - sqrt(1 - abar) x0  =>  x0 = x / (1 + sigma^2) - sigma v / sqrt(1 + sigma^2)
            return out * (-s / (s ** 2 + 1) ** 0.5) + x / (s ** 2 + 1)
        return out


def _check_kwargs(name, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{name} must be a dict of keyword arguments for the UNet, got {type(value).__name__}")
    return dict(value)


def _check_scale(scale) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"guidance_scale must be a finite number (1 = no guidance), got {scale!r}")
    return float(scale)


def _default_guidance_scale(pipe) -> float:
    """The guidance_scale default of pipe.__call__ (7.5 for Stable Diffusion), 1.0 if it has none."""
    try:
        p = inspect.signature(pipe.__call__).parameters.get("guidance_scale")
    except (TypeError, ValueError):
        p = None
    return float(p.default) if p is not None and isinstance(p.default, (int, float)) else 1.0


def _encode(pipe, prompt, negative_prompt, guided: bool):
    """(prompt_embeds, negative_prompt_embeds) from the pipeline's own encode_prompt (Stable Diffusion signature)."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be one string (one conditioning for every sample), got {type(prompt).__name__}")
    encode = getattr(pipe, "encode_prompt", None)
    if encode is None:
        raise TypeError(f"{type(pipe).__name__} has no encode_prompt: pass prompt_embeds= "
                        "(and negative_prompt_embeds=)")
    device = getattr(pipe, "_execution_device", None) or getattr(pipe, "device", "cpu")
    try:
        out = encode(prompt=prompt, device=device, num_images_per_prompt=1, do_classifier_free_guidance=guided,
                     negative_prompt=negative_prompt)
    except TypeError as e:
        raise TypeError(f"{type(pipe).__name__}.encode_prompt has another signature ({e}): encode the prompt "
                        "yourself and pass prompt_embeds= and negative_prompt_embeds= "
                        "(plus any other UNet keywords)") from None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{type(pipe).__name__}.encode_prompt returned {len(out)} values, not (prompt_embeds, "
                        "negative_prompt_embeds): pass the embeddings and the UNet keywords it needs yourself")
    return out


def from_pipeline(pipe, prompt: str | None = None, *, negative_prompt: str | None = None, prompt_embeds=None,
                  negative_prompt_embeds=None, guidance_scale: float | None = None, timestep_mode: str = "interp",
                  **model_kwargs) -> DiffusersVPDenoiser:
    """D(x, sigma) from a diffusers pipeline: pipe.unet, pipe.scheduler.alphas_cumprod and its prediction_type.

    Unconditional pipelines (DDPMPipeline): `from_pipeline(pipe)`. Text pipelines: `prompt` is encoded by
    pipe.encode_prompt (or pass `prompt_embeds` / `negative_prompt_embeds`) and bound as the UNet's
    encoder_hidden_states; `guidance_scale` defaults to the pipeline's own default (7.5 for Stable
    Diffusion), so GITS searches the guided ODE the pipeline integrates; as in diffusers, a scale > 1
    turns on classifier-free guidance with the negative (default: empty) prompt. Other keywords go to
    every UNet call.
    """
    unet, scheduler = getattr(pipe, "unet", None), getattr(pipe, "scheduler", None)
    if unet is None or scheduler is None:
        raise ValueError("pipe must have .unet and .scheduler (a diffusers DiffusionPipeline with a UNet)")
    abar = getattr(scheduler, "alphas_cumprod", None)
    if abar is None:
        raise ValueError(f"pipe.scheduler ({type(scheduler).__name__}) has no alphas_cumprod: only discrete "
                         "VP (DDPM-type) schedules are supported, not flow matching")
    prediction_type = getattr(getattr(scheduler, "config", None), "prediction_type", "epsilon")
    D = DiffusersVPDenoiser(unet, abar, prediction_type=prediction_type, timestep_mode=timestep_mode)
    if prompt is not None and prompt_embeds is not None:
        raise ValueError("pass prompt or prompt_embeds, not both")
    conditioned = prompt is not None or prompt_embeds is not None
    scale = _check_scale(guidance_scale if guidance_scale is not None else
                         (_default_guidance_scale(pipe) if conditioned else 1.0))
    if scale > 1 and not conditioned:
        raise ValueError(f"guidance_scale={scale} needs a conditioning: pass prompt= or prompt_embeds=")
    if prompt is not None:
        prompt_embeds, negative_prompt_embeds = _encode(pipe, prompt, negative_prompt, scale > 1)
    elif negative_prompt is not None:
        raise ValueError("negative_prompt needs prompt= (with prompt_embeds=, pass negative_prompt_embeds=)")
    if prompt_embeds is not None:
        model_kwargs["encoder_hidden_states"] = prompt_embeds
    D = D.bind(**model_kwargs) if model_kwargs else D
    if scale > 1:  # diffusers' do_classifier_free_guidance: guidance_scale > 1
        if negative_prompt_embeds is None:
            raise ValueError(f"guidance_scale={scale} needs negative_prompt_embeds (pipe.encode_prompt returns "
                             "both), or guidance_scale=1 for no guidance")
        D = D.guided(scale, encoder_hidden_states=negative_prompt_embeds)
    return D
