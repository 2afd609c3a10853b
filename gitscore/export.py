"""Export a schedule (N+1 decreasing float64 sigmas, no trailing zero) to the formats samplers take.

Where each format comes from::

  diffusers  `EulerDiscreteScheduler.set_timesteps(sigmas=...)` (and pipelines' `sigmas=` argument) takes the
             full list *including* the final sigma: N+1 entries run N steps, and its own schedules end in 0
             (final_sigmas_type="zero"). Schedulers without `sigmas=` (DDPM, DPMSolverMultistep, Heun, TCD,
             LCM, EulerDiscrete too) take `timesteps=`: strictly decreasing integers of the training grid.
  k-diffusion `sample_*(model, x, sigmas)` with `get_sigmas_karras`-style sigmas: a tensor with a trailing 0.
  ComfyUI    the SIGMAS type is a 1-D float tensor ending in 0; the core ManualSigmas node (and custom-sigmas
             nodes) take the same numbers as a comma-separated string.

With the trailing zero the last step is sigma_min -> 0, i.e. one more denoiser call that returns
D(x, sigma_min) with an Euler step (EDM's sampler does the same): N steps exported this way cost N+1
UNet calls in diffusers and k-diffusion; gitscore's own solvers stop at sigma_min (N calls for euler).
Given the model (its alphas_cumprod, scheduler or pipeline), the diffusers export refuses sigmas outside
the model's range (check_range), where diffusers would clamp the timestep or fail.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .checks import check_int
from .schedules import check_sigmas

__all__ = ["to_diffusers", "to_k_diffusion", "to_comfyui", "comfyui_string", "to_json", "from_json",
           "loglinear_interp", "nearest_timesteps", "check_range", "FORMAT_NAME", "FORMATS", "format_schedule",
           "read_schedule"]

FORMAT_NAME = "gitscore.schedule"
FORMATS = ("json", "diffusers", "k-diffusion", "comfyui", "list")  # the text forms of format_schedule


def _schedule(sigmas, name: str = "sigmas") -> torch.Tensor:
    """A validated float64 CPU copy of a gitscore schedule; the error names the argument."""
    try:
        s = torch.as_tensor(sigmas.detach().cpu() if torch.is_tensor(sigmas) else sigmas, dtype=torch.float64)
        return check_sigmas(s).clone()
    except (ValueError, TypeError, RuntimeError) as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(name) else f"{name}: {msg}") from None


def _with_zero(sigmas, dtype, device=None) -> torch.Tensor:
    s = _schedule(sigmas)
    return torch.cat([s, s.new_zeros(1)]).to(device=device, dtype=dtype)


def _table(model) -> torch.Tensor:
    """The float64 sigma table of a model given as alphas_cumprod, a scheduler or a pipeline (pipe.scheduler)."""
    from .adapters import vp_sigmas  # table maths lives with the adapter

    model = getattr(model, "scheduler", model)
    return vp_sigmas(getattr(model, "alphas_cumprod", model))


def check_range(sigmas, alphas_cumprod, rtol: float = 1e-5) -> None:
    """Raise ValueError unless every sigma lies in the model's [sigma_0, sigma_{T-1}] (to rtol, float32 rounding).

    Outside it diffusers clamps the timestep to 0 or T-1 while scaling with the sigma asked for (a different
    ODE), and two sigmas above sigma_max both become timestep T-1, which EulerDiscreteScheduler cannot step.
    `alphas_cumprod` may also be a scheduler or a pipeline.
    """
    s, table = _schedule(sigmas), _table(alphas_cumprod)
    lo, hi = float(table[0]), float(table[-1])
    if float(s[-1]) < lo * (1 - rtol) or float(s[0]) > hi * (1 + rtol):
        raise ValueError(
            f"sigmas span [{float(s[-1]):.6g}, {float(s[0]):.6g}] but the model's timesteps cover only "
            f"[{lo:.6g}, {hi:.6g}]: "
            "search inside that range: gitscore.gits.search(D, ...) with the default grid follows D.sigma_min / "
            "D.sigma_max of D = gitscore.adapters.from_pipeline(pipe); with your own grid, build it as "
            "gitscore.gits.teacher_grid(61, D.sigma_min, D.sigma_max)")


def nearest_timesteps(sigmas, alphas_cumprod) -> list[int]:
    """Discrete timesteps t whose sigma_t = sqrt((1 - abar_t) / abar_t) is nearest in log sigma, strictly decreasing.

    Raises ValueError if a sigma lies outside the table's [sigma_0, sigma_{T-1}] (check_range) or if two
    sigmas fall on the same timestep (the schedule is too fine for this training grid). `alphas_cumprod`
    may also be a scheduler or a pipeline.
    """
    s, table = _schedule(sigmas), _table(alphas_cumprod)
    check_range(s, alphas_cumprod)
    t = (s.log()[:, None] - table.log()[None, :]).abs().argmin(dim=1).tolist()
    clash = [(i, t[i]) for i in range(len(t) - 1) if t[i] <= t[i + 1]]
    if clash:
        i, ti = clash[0]
        raise ValueError(f"sigmas {float(s[i]):.6g} and {float(s[i + 1]):.6g} both map to timestep {ti}: "
                         "the schedule is finer than the model's timestep grid (use sigmas=, not timesteps=)")
    return t


def to_diffusers(sigmas, alphas_cumprod=None, final_zero: bool = True, *, timesteps: bool = False) -> dict:
    """{"sigmas": [...], "num_inference_steps": n, "timesteps": [...] if asked} for diffusers.

    scheduler.set_timesteps(sigmas=d["sigmas"]) (EulerDiscreteScheduler; pipelines' `sigmas=`) runs
    len(sigmas) - 1 steps, one UNet call each; with final_zero (default) the list ends in 0 as diffusers'
    own schedules do: N+1 steps and N+1 UNet calls, the last a denoise at sigma_min (the result is
    D(x, sigma_min) of gitscore's Euler); final_zero=False gives exactly the N steps sigma_max -> sigma_min
    (diffusers' final_sigmas_type="sigma_min"). With `alphas_cumprod` (or the scheduler, or the pipeline)
    sigmas outside the model's range are refused (check_range); `timesteps=True` adds the nearest discrete
    timesteps of the N+1 sigmas, for schedulers that take only set_timesteps(timesteps=...).
    """
    if not isinstance(final_zero, bool):
        raise TypeError(f"final_zero must be a bool, got {type(final_zero).__name__}")
    if not isinstance(timesteps, bool):
        raise TypeError(f"timesteps must be a bool, got {type(timesteps).__name__}")
    if timesteps and alphas_cumprod is None:
        raise ValueError("timesteps=True needs alphas_cumprod (the model's, or its scheduler or pipeline)")
    s = _schedule(sigmas)
    out = [float(v) for v in s] + ([0.0] if final_zero else [])
    d = {"sigmas": out, "num_inference_steps": len(out) - 1}
    if alphas_cumprod is not None:
        check_range(s, alphas_cumprod)
    if timesteps:
        d["timesteps"] = nearest_timesteps(s, alphas_cumprod)
    return d


def to_k_diffusion(sigmas, device=None, dtype=torch.float32) -> torch.Tensor:
    """k-diffusion sigmas: the schedule with a trailing zero (as get_sigmas_karras returns), float32 by default."""
    return _with_zero(sigmas, dtype, device)


def to_comfyui(sigmas) -> torch.Tensor:
    """ComfyUI SIGMAS: a float32 CPU tensor with a trailing zero (plug into SamplerCustom's `sigmas`)."""
    return _with_zero(sigmas, torch.float32)


def comfyui_string(sigmas, digits: int = 17) -> str:
    """The ComfyUI sigmas as a comma-separated string (ManualSigmas / custom-sigmas nodes), trailing 0 included."""
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
        raise ValueError(f"digits must be an int in [1, 17], got {digits!r}")
    return ", ".join(f"{float(v):.{digits}g}" for v in _with_zero(sigmas, torch.float64))


def to_json(sigmas, /, *, indent: int | None = 2, **metadata) -> str:
    """JSON document {"format", "n_steps", "sigmas", ...metadata}: float64 sigmas written exactly (repr round trip).

    With `indent` (default 2) each key is on its own line and each value compact; indent=None: one line.
    """
    s = _schedule(sigmas)
    reserved = {"format", "n_steps", "sigmas"} & metadata.keys()
    if reserved:
        raise ValueError(f"metadata must not use the reserved keys {sorted(reserved)}")
    doc = {"format": FORMAT_NAME, "n_steps": len(s) - 1, "sigmas": [float(v) for v in s]}
    doc.update(metadata)
    try:
        if indent is None:
            return json.dumps(doc, allow_nan=False, default=_jsonable)
        # One key per line, each value compact (lists of sigmas stay on one line).
        pad = " " * indent
        lines = [f"{pad}{json.dumps(k)}: {json.dumps(v, allow_nan=False, default=_jsonable)}" for k, v in doc.items()]
        return "{\n" + ",\n".join(lines) + "\n}"
    except ValueError as e:
        raise ValueError(f"metadata must be JSON-serialisable and finite: {e}") from None


def _jsonable(obj):
    if torch.is_tensor(obj) or isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


def from_json(text: str) -> tuple[torch.Tensor, dict]:
    """(sigmas, metadata) from JSON text: a to_json document, a to_diffusers dict or a plain list of sigmas.

    A single trailing 0 (diffusers / k-diffusion / ComfyUI lists) is dropped; the rest must be a valid
    schedule. For a plain list the metadata is {}.
    """
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"text must be a JSON string, got {type(text).__name__}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"text is not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError("text is nested too deeply to be a schedule (expected a flat list of sigmas)") from None
    if isinstance(doc, list):
        values, meta = doc, {}
    elif isinstance(doc, dict) and isinstance(doc.get("sigmas"), list):
        meta = {k: v for k, v in doc.items() if k not in ("sigmas", "format", "n_steps")}
        values = doc["sigmas"]
        if doc.get("format", FORMAT_NAME) != FORMAT_NAME:
            raise ValueError(f"text has format {doc['format']!r}, expected {FORMAT_NAME!r}")
    else:
        raise ValueError('text must be a JSON list of sigmas or an object with a "sigmas" list')
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError("text: sigmas must all be numbers")
    if len(values) > 2 and values[-1] == 0:
        values = values[:-1]
    sigmas = _schedule(values, "text")
    if isinstance(doc, dict) and "n_steps" in doc and doc["n_steps"] != len(sigmas) - 1:
        raise ValueError(f"text: n_steps is {doc['n_steps']} but it lists {len(sigmas)} sigmas")
    return sigmas, meta


def loglinear_interp(sigmas, n_steps: int) -> torch.Tensor:
    """Resample a schedule to n_steps steps: log sigma linear in a uniform parameter u in [0, 1].

    As Align-Your-Steps' loglinear_interp and ComfyUI's AlignYourStepsScheduler: the N+1 log sigmas
    (reversed to increasing) sit at u = linspace(0, 1, N+1), and np.interp reads them at
    linspace(0, 1, n_steps + 1). Endpoints are kept exactly; a log-SNR (log-uniform) schedule stays log-uniform.
    """
    s = _schedule(sigmas)
    n_steps = check_int("n_steps", n_steps, 1)
    ys = np.log(s.numpy()[::-1])
    xs = np.linspace(0, 1, len(ys))
    out = np.exp(np.interp(np.linspace(0, 1, int(n_steps) + 1), xs, ys))[::-1].copy()
    out[0], out[-1] = float(s[0]), float(s[-1])
    return torch.from_numpy(out)


def format_schedule(sigmas, fmt: str, metadata: dict | None = None) -> str:
    """The schedule as text in one of FORMATS (all but comfyui are JSON; every one reads back with read_schedule)."""
    if fmt == "json":
        return to_json(sigmas, **(metadata or {}))
    if fmt == "diffusers":
        return json.dumps(to_diffusers(sigmas), indent=2)
    if fmt == "k-diffusion":
        return json.dumps(to_k_diffusion(sigmas, dtype=torch.float64).tolist())
    if fmt == "comfyui":
        return comfyui_string(sigmas)
    if fmt == "list":
        return json.dumps(torch.as_tensor(sigmas, dtype=torch.float64).tolist())
    raise ValueError(f"format must be one of {list(FORMATS)}, got {fmt!r}")


def read_schedule(path, name: str = "--sigmas-file") -> tuple[torch.Tensor, dict]:
    """(sigmas, metadata) from a file written by `gitscore search` in any of FORMATS (or a hand-written list);
    errors name the file as `name`."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} {path} is a folder; give the file written by `gitscore search`")
    if not path.is_file():
        raise ValueError(f"{name} {path} not found")
    try:
        text = path.read_text().strip()
    except UnicodeDecodeError:
        raise ValueError(f"{name} {path} is not a text file (expected JSON or comma-separated sigmas)") from None
    if not text.startswith(("[", "{")):  # the comfyui form: comma-separated numbers
        text = f"[{text}]"
    try:
        return from_json(text)
    except ValueError as e:
        raise ValueError(f"{name} {path}: {e}") from None
