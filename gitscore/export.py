"""Export a schedule (N+1 decreasing float64 sigmas, no trailing zero) to the formats samplers take.

One step convention everywhere: **an N-step schedule is N denoiser calls of a first-order solver** (Euler) in
gitscore's own solvers, the CLI and every export, as k-diffusion (`get_sigmas_karras(n, ...)`: n calls) and
ComfyUI count. The exports reach 0 as ComfyUI's GITSScheduler node does: the schedule's last sigma (sigma_min)
is replaced by 0 (`sampler_sigmas`), so the N+1 exported values sigma_0 > ... > sigma_{N-1} > 0 run N steps,
the last one from sigma_{N-1} to 0, which an Euler step makes the denoiser's output D(x, sigma_{N-1}).
gitscore's solvers stop at sigma_min after the same N calls; what the two endings and the former extra call
(N steps, then 0: N+1 calls) cost is measured in results/fmnist_step_convention.json
(scripts/step_convention.py, README "Step counts").

Where each format goes::

  diffusers   `to_diffusers`: the keyword arguments of the pipeline call for a named scheduler:
              {"sigmas": [...N+1 values, last 0]} for EulerDiscreteScheduler (`set_timesteps(sigmas=)` runs
              len - 1 steps), {"timesteps": [...N integers]} for schedulers that take only `timesteps=`
              (DPMSolverMultistep, DPMSolverSinglestep, Heun, DDPM, TCD, LCM, and UniPC / DDIM where the
              installed diffusers takes it); those schedulers append their own final sigma 0, so N timesteps
              are N steps, and rounding to the training grid moves each sigma (`timestep_rounding`).
              `pipe(prompt, **to_diffusers(sigmas, pipe))` with the scheduler that `diffusers_scheduler` names.
  k-diffusion `to_k_diffusion`: the tensor `sample_euler(model, x, sigmas)` takes (N+1 values, last 0).
  ComfyUI     `to_comfyui`: the SIGMAS tensor (float32, last 0); `comfyui_string`: the same numbers as the
              comma-separated plain decimals that the ManualSigmas node (comfy_extras/nodes_custom_sampler.py)
              reads one number each with its pattern [-+]?(?:\\d*\\.*\\d+) (no exponent: 2e-05 would read as 2
              and -05), COMFYUI_DIGITS significant digits.

Given the model (its alphas_cumprod, scheduler or pipeline), the diffusers export refuses sigmas outside the
model's range (check_range), where diffusers would clamp the timestep or fail.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import torch

from .checks import check_int
from .schedules import check_sigmas

__all__ = ["to_diffusers", "to_k_diffusion", "to_comfyui", "comfyui_string", "to_json", "from_json",
           "loglinear_interp", "nearest_timesteps", "check_range", "FORMAT_NAME", "FORMATS", "format_schedule",
           "read_schedule", "sampler_sigmas", "diffusers_scheduler", "diffusers_document", "timestep_rounding",
           "COMFYUI_DIGITS", "SIGMAS_SCHEDULERS", "TIMESTEPS_SCHEDULERS"]

FORMAT_NAME = "gitscore.schedule"
FORMATS = ("json", "diffusers", "k-diffusion", "comfyui", "list")  # the text forms of format_schedule
COMFYUI_DIGITS = 8  # significant digits of comfyui_string: float32 (ComfyUI's SIGMAS) holds about 7.2
# diffusers schedulers by the argument that carries a schedule: sigmas= (every sigma kept, the last 0), or
# timesteps= (integers of the training grid; the scheduler appends sigma 0 itself).
SIGMAS_SCHEDULERS = ("EulerDiscreteScheduler",)
TIMESTEPS_SCHEDULERS = ("DPMSolverMultistepScheduler", "DPMSolverSinglestepScheduler", "UniPCMultistepScheduler",
                        "DDIMScheduler", "HeunDiscreteScheduler", "DDPMScheduler", "TCDScheduler", "LCMScheduler")


def _schedule(sigmas, name: str = "sigmas") -> torch.Tensor:
    """A validated float64 CPU copy of a gitscore schedule; the error names the argument."""
    try:
        s = torch.as_tensor(sigmas.detach().cpu() if torch.is_tensor(sigmas) else sigmas, dtype=torch.float64)
        return check_sigmas(s).clone()
    except (ValueError, TypeError, RuntimeError) as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(name) else f"{name}: {msg}") from None


def sampler_sigmas(sigmas, dtype=torch.float64, device=None) -> torch.Tensor:
    """The N+1 values every export of an N-step schedule carries: the schedule with its last sigma replaced by 0.

    sigma_0 > ... > sigma_{N-1} > 0: N steps, so N calls of a first-order solver (k-diffusion's sample_euler,
    diffusers' EulerDiscreteScheduler, ComfyUI's euler); the last step, sigma_{N-1} -> 0, returns the denoiser's
    output D(x, sigma_{N-1}). ComfyUI's GITSScheduler ends its published schedules the same way.
    """
    s = _schedule(sigmas)
    s[-1] = 0.0
    return s.to(device=device, dtype=dtype)


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


def _scheduler_name(scheduler) -> str:
    """The class name of a scheduler given as a name, a class, an instance or a pipeline (its .scheduler)."""
    if isinstance(scheduler, str):
        return scheduler
    scheduler = getattr(scheduler, "scheduler", scheduler)
    return scheduler.__name__ if isinstance(scheduler, type) else type(scheduler).__name__


def _takes(scheduler, argument: str) -> bool | None:
    """Whether the scheduler's set_timesteps takes `argument` (None: the class is not available here)."""
    if isinstance(scheduler, str):
        try:
            import diffusers
        except ImportError:
            return None
        scheduler = getattr(diffusers, scheduler, None)
        if scheduler is None:
            return None
    scheduler = getattr(scheduler, "scheduler", scheduler)
    set_timesteps = getattr(scheduler, "set_timesteps", None)
    return None if set_timesteps is None else argument in inspect.signature(set_timesteps).parameters


def diffusers_scheduler(scheduler=None, model=None) -> tuple[str, str]:
    """(class name, "sigmas" or "timesteps"): the scheduler an export is for and the argument that carries it.

    `scheduler`: a name, class or instance; default the pipeline's own (`model.scheduler`) when `model` is a
    pipeline or scheduler, else EulerDiscreteScheduler. ValueError if the scheduler takes neither argument in
    the installed diffusers (e.g. DDIMScheduler, EulerAncestral, LMS): the message names the ones that do.
    """
    if scheduler is None:
        scheduler = model if model is not None and hasattr(getattr(model, "scheduler", model), "set_timesteps") \
            else SIGMAS_SCHEDULERS[0]
    name = _scheduler_name(scheduler)
    if name in SIGMAS_SCHEDULERS and _takes(scheduler, "sigmas") is not False:
        return name, "sigmas"
    if name in TIMESTEPS_SCHEDULERS and _takes(scheduler, "timesteps") is not False:
        return name, "timesteps"
    takes = [n for n in SIGMAS_SCHEDULERS + TIMESTEPS_SCHEDULERS
             if _takes(n, "sigmas" if n in SIGMAS_SCHEDULERS else "timesteps") is not False]
    raise ValueError(f"scheduler {name} takes neither sigmas= nor timesteps= here (its set_timesteps picks its "
                     f"own steps); use one of {takes}, e.g. pipe.scheduler = "
                     "EulerDiscreteScheduler.from_config(pipe.scheduler.config)")


def to_diffusers(sigmas, model=None, *, scheduler=None) -> dict:
    """Keyword arguments for a diffusers pipeline call (or `scheduler.set_timesteps`) that run the N-step
    schedule in N UNet calls (per image; a guided pipeline batches both halves into each):
    ``pipe(prompt, **to_diffusers(sigmas, pipe))``.

    `model`: the model's alphas_cumprod, its scheduler or the pipeline; sigmas outside its range are refused
    (check_range). `scheduler`: the scheduler class (name, class or instance) the call will run; default the
    pipeline's own, else EulerDiscreteScheduler (diffusers_scheduler). EulerDiscreteScheduler:
    {"sigmas": sampler_sigmas(sigmas)} as a list (N+1 values, the last 0). Schedulers that take only
    timesteps (DPMSolverMultistep, ...): {"timesteps": the nearest training timesteps of sigma_0..sigma_{N-1}}
    (needs `model`); the scheduler appends sigma 0 itself, and each sigma moves to its timestep's
    (timestep_rounding measures by how much).
    """
    s = _schedule(sigmas)
    name, argument = diffusers_scheduler(scheduler, model)
    if model is not None:
        check_range(s, model)
    if argument == "sigmas":
        return {"sigmas": sampler_sigmas(s).tolist()}
    if model is None:
        raise ValueError(f"{name} takes timesteps=: give the model (its alphas_cumprod, scheduler or pipeline) "
                         "so the sigmas can be put on its timestep grid")
    return {"timesteps": nearest_timesteps(s[:-1], model)}


def diffusers_document(sigmas, model=None, *, scheduler=None) -> dict:
    """The diffusers export with what it is for: {"scheduler": class name, "kwargs": to_diffusers(...),
    "n_steps": N, "unet_calls": N} (+ "timestep_rounding" for a timesteps export). `format_schedule`'s
    "diffusers" text; from_json reads a sigmas document back."""
    s = _schedule(sigmas)
    name, argument = diffusers_scheduler(scheduler, model)
    doc = {"scheduler": name, "kwargs": to_diffusers(s, model, scheduler=name), "n_steps": len(s) - 1,
           "unet_calls": len(s) - 1}
    if argument == "timesteps":
        doc["timestep_rounding"] = timestep_rounding(s, model)
    return doc


def timestep_rounding(sigmas, model) -> float:
    """The largest relative change abs(sigma_t / sigma - 1) over sigma_0..sigma_{N-1} when a timesteps export puts
    them on the model's training grid (nearest_timesteps; the last step goes to 0 either way)."""
    s = _schedule(sigmas)[:-1]
    if len(s) < 2:
        return 0.0
    table = _table(model)
    t = torch.tensor(nearest_timesteps(s, model))
    return float((table[t] / s - 1).abs().max())


def to_k_diffusion(sigmas, device=None, dtype=torch.float32) -> torch.Tensor:
    """k-diffusion sigmas for `sample_*(model, x, sigmas)`: sampler_sigmas (N+1 values, the last 0: N Euler
    calls, as get_sigmas_karras(N, ...)), float32 by default."""
    return sampler_sigmas(sigmas, dtype, device)


def to_comfyui(sigmas) -> torch.Tensor:
    """ComfyUI SIGMAS: sampler_sigmas as a float32 CPU tensor (plug into SamplerCustom's `sigmas`)."""
    return sampler_sigmas(sigmas, torch.float32)


def comfyui_string(sigmas, digits: int = COMFYUI_DIGITS) -> str:
    """sampler_sigmas as comma-separated plain decimals with `digits` significant digits (no exponent): the
    text ComfyUI's ManualSigmas node reads, one number per value. Each value reads back within half a unit in
    its last digit: abs(parsed / sigma - 1) <= 5 * 10**-digits."""
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
        raise ValueError(f"digits must be an int in [1, 17], got {digits!r}")
    return ", ".join(np.format_float_positional(float(v), precision=digits, unique=False, fractional=False,
                                                trim="-") for v in sampler_sigmas(sigmas))


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
    """(sigmas, metadata) from JSON text: a to_json document, a diffusers_document or to_diffusers(...) sigmas
    dict, or a plain list of sigmas.

    A list ending in 0 is an export's sampler form (sampler_sigmas: diffusers, k-diffusion, ComfyUI): it reads
    back as its positive values, a schedule one step shorter, with metadata {"to_zero": True}: its last step,
    to 0, is one more denoiser call (gitscore.sampling.sample(..., to_zero=True)), so the steps and the calls
    are the file's. For a plain list the metadata is otherwise {}. A timesteps export cannot be read back
    without the model's table (ValueError).
    """
    if not isinstance(text, (str, bytes)):
        raise TypeError(f"text must be a JSON string, got {type(text).__name__}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"text is not valid JSON: {e}") from None
    except RecursionError:
        raise ValueError("text is nested too deeply to be a schedule (expected a flat list of sigmas)") from None
    if isinstance(doc, dict) and isinstance(doc.get("kwargs"), dict):  # diffusers_document
        if "timesteps" in doc["kwargs"]:
            raise ValueError(f"text is a timesteps export for {doc.get('scheduler')}: its sigmas depend on the "
                             "model's table; export with --format json (or list) to read it back")
        doc = {**{k: v for k, v in doc.items() if k not in ("kwargs", "n_steps", "unet_calls")}, **doc["kwargs"]}
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
    if len(values) >= 2 and values[-1] == 0:
        if len(values) == 2:
            raise ValueError("text: [sigma_max, 0] is one step to 0; gitscore reads back schedules of at least "
                             "two positive sigmas (write it with --format json)")
        values, meta = values[:-1], {**meta, "to_zero": True}
    sigmas = _schedule(values, "text")
    if isinstance(doc, dict) and "n_steps" in doc and doc["n_steps"] != len(sigmas) - 1 + bool(meta.get("to_zero")):
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
    """The schedule as text in one of FORMATS (all but comfyui are JSON; every one reads back with read_schedule):
    json (to_json, with metadata), diffusers (diffusers_document for EulerDiscreteScheduler), k-diffusion (the
    to_k_diffusion values in float64), comfyui (comfyui_string), list (the N+1 sigmas)."""
    if fmt == "json":
        return to_json(sigmas, **(metadata or {}))
    if fmt == "diffusers":
        return json.dumps(diffusers_document(sigmas), indent=2)
    if fmt == "k-diffusion":
        return json.dumps(to_k_diffusion(sigmas, dtype=torch.float64).tolist())
    if fmt == "comfyui":
        return comfyui_string(sigmas)
    if fmt == "list":
        return json.dumps(_schedule(sigmas).tolist())
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
