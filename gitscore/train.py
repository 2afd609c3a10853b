"""EDM training (Karras et al. 2022, Sec. 5): loss, Adam + EMA, atomic resumable checkpoints, seeded."""
from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import time
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import torch

from .checks import resolve_device
from .checkpoints import (CheckpointError, check_export, is_run_file, load_training, load_weights, model_weights,
                          save_training, save_weights)
from .files import atomic_write_bytes, write_error
from .nets import build_denoiser

__all__ = ["TrainConfig", "edm_loss", "sample_train_sigma", "train", "train_step", "make_optimizer", "ema_update",
           "export_ema", "recipe_phases"]


PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    steps: int = 10_000            # optimisation steps
    batch_size: int = 64
    lr: float = 1e-3               # Adam learning rate after warm-up
    warmup: int = 500              # linear learning-rate warm-up steps
    lr_decay_from: int = 0         # after this step lr falls as 1/sqrt(step / lr_decay_from) (EDM2); 0: constant
    ema_decay: float = 0.999       # EMA of the weights (the shipped model)
    p_mean: float = -1.2           # ln(sigma) ~ N(p_mean, p_std^2) during training (EDM) ...
    p_std: float = 1.2
    p_uniform: float = 0.25        # ... except this fraction: ln(sigma) ~ U[ln sigma_min, ln sigma_max]
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    sigma_data: float = 0.5
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 250
    snapshot_every: int = 0        # also keep the EMA weights every this many steps (snapshots/), 0: never
    precision: str = "fp32"        # "bf16": the forward and backward passes under bfloat16 autocast (fp32 weights)
    unet: dict = field(default_factory=lambda: dict(channels=[32, 64, 128], blocks=1, emb_dim=128, attention=True,
                                                    patch=2, embedding="positional"))

    def __post_init__(self):
        if self.lr_decay_from < 0:
            raise ValueError(f"lr_decay_from must be >= 0 (0: no decay), got {self.lr_decay_from!r}")
        for name in ("steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.snapshot_every < 0:
            raise ValueError(f"snapshot_every must be >= 0, got {self.snapshot_every!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay!r}")
        if not 0 <= self.p_uniform <= 1:
            raise ValueError(f"p_uniform must be in [0, 1], got {self.p_uniform!r}")
        if not 0 < self.sigma_min < self.sigma_max < math.inf:
            raise ValueError(f"need 0 < sigma_min < sigma_max < inf, got {self.sigma_min!r}, {self.sigma_max!r}")

    def model_config(self) -> dict:
        return {"unet": dict(self.unet), "sigma_data": self.sigma_data}


def learning_rate(step: int, config: TrainConfig) -> float:
    """Adam's learning rate for optimisation step `step` (0-based): linear warm-up, then constant, then
    (if lr_decay_from > 0) EDM2's inverse square-root decay lr * sqrt(lr_decay_from / (step + 1))."""
    lr = config.lr * min(1.0, (step + 1) / config.warmup)
    if config.lr_decay_from and step + 1 > config.lr_decay_from:
        lr *= math.sqrt(config.lr_decay_from / (step + 1))
    return lr


def sample_train_sigma(n: int, generator: torch.Generator, p_mean=-1.2, p_std=1.2, p_uniform=0.0,
                       sigma_min=0.002, sigma_max=80.0, device=None) -> torch.Tensor:
    """Training noise levels: ln sigma ~ N(p_mean, p_std^2) (EDM), a fraction p_uniform of them
    U[ln sigma_min, ln sigma_max].

    EDM's log-normal alone puts ~0.2% of the draws above sigma = 10, where the samplers' first steps
    live; the log-uniform part covers the whole sampling interval (above 10: ~5% with p_uniform = 0.25)
    so that the network is never worse than the data mean there. Always draws the same random numbers,
    so p_uniform = 0 gives EDM's draws exactly.
    """
    device = device or generator.device
    rnd = torch.randn(n, generator=generator, device=device)
    sigma = (rnd * p_std + p_mean).exp()
    if p_uniform > 0:
        u = torch.rand(n, generator=generator, device=device)
        pick = torch.rand(n, generator=generator, device=device) < p_uniform
        lo, hi = math.log(sigma_min), math.log(sigma_max)
        sigma = torch.where(pick, (lo + u * (hi - lo)).exp(), sigma)
    return sigma


def edm_loss(model, y: torch.Tensor, generator: torch.Generator, p_mean=-1.2, p_std=1.2, sigma_data=0.5,
             p_uniform=0.0, sigma_min=0.002, sigma_max=80.0):
    """EDM loss: lambda(sigma) ||D(y + sigma n; sigma) - y||^2,
    lambda = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2."""
    sigma = sample_train_sigma(y.shape[0], generator, p_mean, p_std, p_uniform, sigma_min, sigma_max, y.device)
    weight = (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2
    n = torch.randn(y.shape, generator=generator, device=y.device) * sigma[:, None, None, None]
    D = model(y + n, sigma)
    return (weight[:, None, None, None] * (D - y) ** 2).mean()


def _batch_generator(seed: int, step: int, device) -> torch.Generator:
    # One generator per step: resuming at step k draws exactly what an uninterrupted run draws.
    g = torch.Generator(device=device)
    g.manual_seed(seed * 1_000_003 + step)
    return g


def make_optimizer(model, config: TrainConfig, impl: str = "foreach") -> torch.optim.Adam:
    """Adam (betas 0.9 / 0.999, eps 1e-8) over the model's parameters.

    impl: "foreach" (the default: one multi-tensor kernel per update step, on every device), "fused"
    (torch's fused kernel), or "loop" (one parameter at a time, torch's CPU default before gitscore 0.2).
    All three compute Adam's update; they differ only in float rounding order.
    """
    kinds = {"loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}
    if impl not in kinds:
        raise ValueError(f"impl must be one of {sorted(kinds)}, got {impl!r}")
    return torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8, **kinds[impl])


@torch.no_grad()
def ema_update(ema, model, decay: float, foreach: bool = True) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter (foreach: in one multi-tensor call)."""
    pe, pm = list(ema.parameters()), list(model.parameters())
    if foreach:
        torch._foreach_lerp_(pe, pm, 1 - decay)
    else:
        for a, b in zip(pe, pm):
            a.lerp_(b, 1 - decay)


def train_step(model, ema, opt, data: torch.Tensor, step: int, config: TrainConfig,
               memory_format=torch.channels_last, foreach_ema: bool = True) -> tuple[float, float]:
    """One optimisation step `step` (0-based) on a batch drawn by the step's own generator; returns (loss, lr).

    The batch, the noise levels and the noise depend only on (config.seed, step), so a resumed run
    draws exactly what an uninterrupted one draws. A non-finite loss raises FloatingPointError.
    """
    g = _batch_generator(config.seed, step, data.device)
    idx = torch.randint(data.shape[0], (config.batch_size,), generator=g, device=data.device)
    lr = learning_rate(step, config)
    for group in opt.param_groups:
        group["lr"] = lr
    # bf16: mixed precision (weights, optimiser and loss reduction stay float32; convolutions and matmuls run in
    # bfloat16, on AMX / AVX512-BF16 CPUs and on GPUs); the batch and noise are drawn in float32 as before.
    with torch.autocast(data.device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
        loss = edm_loss(model, data[idx].contiguous(memory_format=memory_format), g, config.p_mean, config.p_std,
                        config.sigma_data, config.p_uniform, config.sigma_min, config.sigma_max)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"training loss became {loss.item()} at step {step}")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    opt.step()
    ema_update(ema, model, config.ema_decay, foreach=foreach_ema)
    return loss.item(), lr


def _state_tensors(model, ema, opt) -> dict:
    out = {f"model.{k}": v for k, v in model.state_dict().items()}
    out.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"optim.{idx}.{k}"] = torch.as_tensor(v)
    return out


def _load_state(tensors: dict, model, ema, opt) -> None:
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    sd = opt.state_dict()
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    sd["state"] = state
    opt.load_state_dict(sd)


# Fields that may change when a run resumes: they do not change what a step computes.
RESUMABLE = ("steps", "checkpoint_every", "snapshot_every")
LOG_HEADER = ["step", "loss", "lr", "elapsed_s"]


def _config_changes(old: dict, new: dict) -> dict:
    """{field: (checkpoint's value, requested value)} for the fields that differ, except RESUMABLE ones."""
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if k not in RESUMABLE and old.get(k) != new.get(k)}


def _check_resume(meta: dict, config: TrainConfig, path, allow_config_change: bool, log) -> dict:
    """Refuse to resume with other hyperparameters (the network never; others without allow_config_change)."""
    # a field added after the checkpoint was written counts as that field's default (what the run used)
    old = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING} | meta.get("train_config", {})
    changes = _config_changes(old, asdict(config))
    if "unet" in changes:
        raise ValueError(f"{path} was trained with a different network config ({changes['unet'][0]}); "
                         "use another --out")
    if changes and not allow_config_change:
        text = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in changes.items())
        raise ValueError(f"resuming {path} with changed hyperparameters ({text}); only {', '.join(RESUMABLE)} may "
                         "change on resume. Pass the run's values, use another --out, or pass --allow-config-change "
                         "(allow_config_change=True) to change them on purpose")
    if changes:
        log(f"resuming with changed hyperparameters: {changes}")
    return changes


def _valid_row(r: list) -> bool:
    if len(r) != len(LOG_HEADER) or not r[0].isdigit():
        return False
    try:
        [float(v) for v in r[1:]]
    except ValueError:
        return False
    return True


def _read_log(path: Path) -> tuple[list[list[str]], bool]:
    """(the complete, readable rows of the CSV log, whether the file holds exactly the header and those rows).

    A partial last line from a kill is dropped, and so is a line that is damaged (not UTF-8, not numbers).
    """
    if not path.exists():
        return [], True
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines = lines[:-1]
    rows = list(csv.reader(io.StringIO("".join(lines))))
    kept = [r for r in rows[1:] if _valid_row(r)]
    clean = "\ufffd" not in text and raw.endswith(b"\n") and rows[:1] == [LOG_HEADER] and len(kept) == len(rows) - 1
    return kept, clean


def _sync_log(path: Path, step: int, log) -> None:
    """Make the log hold exactly the rows of steps 1..step: the checkpoint's step is the truth.

    Rows are appended before each checkpoint, so after a kill the log may run ahead of the checkpoint
    (cut here; those steps are recomputed identically) but never behind it (except for logs written
    by gitscore before 0.2, which appended after the checkpoint; a gap is reported).
    """
    rows, clean = _read_log(path)
    kept = [r for r in rows if int(r[0]) <= step]
    if path.exists() and (len(kept) != len(rows) or not clean):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([LOG_HEADER] + kept)
        atomic_write_bytes(path, buf.getvalue().encode())
    last = int(kept[-1][0]) if kept else 0
    if last < step:
        log(f"{path} has no rows for steps {last + 1}..{step} (lost by an earlier version's kill)")


def _append_log(path: Path, rows: list) -> None:
    new = not path.exists()
    try:
        with open(path, "a", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            if new:
                w.writerow(LOG_HEADER)
            w.writerows(rows)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:  # a full disk, ...: name the file (a partial row is cut on resume)
        raise write_error(e, path) from None


@contextlib.contextmanager
def run_lock(out_dir: Path):
    """Hold RUN/.lock (filelock) for a run: a second `gitscore train` on the same folder is refused."""
    from filelock import FileLock, Timeout

    lock = FileLock(out_dir / ".lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ValueError(f"--out {out_dir} is in use by another `gitscore train` (it holds {out_dir / '.lock'}); "
                         "wait for that run to finish or use another --out") from None
    try:
        yield
    finally:
        lock.release()


def train(data: torch.Tensor, out_dir, config: TrainConfig | None = None, *, device=None, progress=True,
          log=print, stop_after: int | None = None, allow_config_change: bool = False):
    """Train an EDM denoiser on `data` (N, C, H, W in [-1, 1]); resumes from the newest checkpoint in out_dir.

    Every `checkpoint_every` steps: the loss rows go to out_dir/train_log.csv, then the model, EMA and
    optimiser state to out_dir/ckpt-STEP/ (one unit, see gitscore.checkpoints; the previous one is kept).
    Resuming takes the newest checkpoint that verifies (also a pre-0.2 out_dir/checkpoint.safetensors),
    cuts the log back to its step, and refuses changed hyperparameters other than RESUMABLE ones unless
    `allow_config_change`. Returns (ema_model, step). `stop_after` ends the run early after that many new
    steps (used by tests to simulate a kill). The run folder is locked (RUN/.lock) while it trains.
    """
    config = config or TrainConfig()
    if data.ndim != 4:
        raise ValueError(f"data must be (N, C, H, W), got shape {tuple(data.shape)}")
    device = resolve_device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with run_lock(out_dir):
        return _train_locked(data, out_dir, config, device, progress, log, stop_after, allow_config_change)


def _train_locked(data, out_dir: Path, config: TrainConfig, device, progress, log, stop_after, allow_config_change):
    from tqdm import tqdm

    torch.manual_seed(config.seed)
    model = build_denoiser(config.model_config() | {"unet": dict(config.unet, in_channels=data.shape[1])}).to(device)
    ema = build_denoiser(config.model_config() | {"unet": dict(config.unet, in_channels=data.shape[1])}).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    if device.type == "cpu":  # oneDNN convolutions are markedly faster in channels-last on CPU
        model, ema = model.to(memory_format=torch.channels_last), ema.to(memory_format=torch.channels_last)
    opt = make_optimizer(model, config)

    log_path = out_dir / "train_log.csv"
    step, elapsed, changes = 0, 0.0, []
    found = load_training(out_dir, log)
    if found:
        tensors, meta, path = found
        changed = _check_resume(meta, config, path, allow_config_change, log)
        changes = list(meta.get("config_changes", []))
        if changed:
            changes.append({"step": meta["step"], "changed": {k: list(v) for k, v in changed.items()}})
        _load_state({k: v.to(device) for k, v in tensors.items()}, model, ema, opt)
        step, elapsed = meta["step"], meta.get("elapsed_s", 0.0)
        _sync_log(log_path, step, log)
        log(f"resumed from {path} at step {step}")
    elif log_path.exists():
        _sync_log(log_path, 0, log)
    data = data.to(device)
    history = []

    def checkpoint():
        meta = {"step": step, "elapsed_s": elapsed, "train_config": asdict(config),
                "model_config": config.model_config() | {"unet": dict(config.unet, in_channels=data.shape[1])}}
        if changes:
            meta["config_changes"] = changes
        _append_log(log_path, history)  # first: a kill in between leaves rows ahead, cut on resume
        history.clear()
        save_training(out_dir, _state_tensors(model, ema, opt), meta)

    bar = tqdm(total=config.steps, initial=step, disable=not progress, desc="train", dynamic_ncols=True)
    start_step, t0 = step, time.time() - elapsed
    model.train()
    while step < config.steps and (stop_after is None or step - start_step < stop_after):
        loss, lr = train_step(model, ema, opt, data, step, config)
        step += 1
        elapsed = time.time() - t0
        history.append([step, loss, lr, round(elapsed, 2)])
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
        if step % config.checkpoint_every == 0 or step == config.steps:
            checkpoint()
        if config.snapshot_every and step % config.snapshot_every == 0:
            model_config = config.model_config() | {"unet": dict(config.unet, in_channels=data.shape[1])}
            save_weights(out_dir / "snapshots" / f"ema_{step:07d}.safetensors", ema.state_dict(),
                         model_config | {"training": {"steps": step, "images_seen": step * config.batch_size}})
    if history:
        checkpoint()
    bar.close()
    ema.eval()
    return ema, step


def _run_folder(path: Path) -> Path:
    """The run folder of a checkpoint path (RUN, RUN/checkpoint.safetensors or RUN/ckpt-STEP/...)."""
    if path.is_dir():
        return path.parent if path.name.startswith("ckpt-") else path
    return path.parent.parent if path.parent.name.startswith("ckpt-") else path.parent


def export_ema(checkpoint_path, out_path) -> dict:
    """Export the EMA weights of a training checkpoint as a shipped model (safetensors + config + manifest).

    `checkpoint_path` is a run folder (its newest checkpoint that verifies) or one checkpoint's weights
    file. Writing over any file of the run (its checkpoints, LATEST, the log) is refused.
    """
    path = Path(checkpoint_path)
    run = _run_folder(path)
    if is_run_file(out_path, run):
        raise ValueError(f"--export {out_path} would overwrite the training checkpoint in {run}; "
                         f"export to another file (e.g. {run / 'model.safetensors'})")
    check_export(out_path)
    if path.is_dir() and not path.name.startswith("ckpt-"):
        found = load_training(path)
        if found is None:
            raise CheckpointError(f"{path} holds no training checkpoint; train with `gitscore train --out {path}`")
        tensors, meta, path = found
    else:
        tensors, meta = load_weights(path / "checkpoint.safetensors" if path.is_dir() else path)
    if not any(k.startswith("ema.") for k in tensors) or "step" not in meta:
        raise CheckpointError(f"{path} is not a training checkpoint (no EMA weights or no step)")
    ema, _ = model_weights(tensors, meta, path)
    config = dict(meta["model_config"])
    config["training"] = {"steps": meta["step"], "wall_time_s": round(meta["elapsed_s"], 1),
                          "train_config": meta["train_config"]}
    if meta.get("config_changes"):  # hyperparameters changed on resume (--allow-config-change), with their steps
        config["training"]["config_changes"] = meta["config_changes"]
    return save_weights(out_path, ema, config)


def recipe_phases(training: dict) -> list[tuple[dict, int]]:
    """The phases that retrain an exported network exactly: [(train_config fields, last step), ...].

    `training` is the `training` entry of an exported network's config (export_ema): its final train_config
    and the config_changes made on resume. Each phase trains with its config up to its last step, then the
    next resumes (allow_config_change=True) from that step's checkpoint with the next config. Since a step's
    batch and noise depend only on (seed, step), this reproduces the run that was changed on resume.
    """
    final = dict(training["train_config"])
    changes = sorted(training.get("config_changes", []), key=lambda c: c["step"])
    configs = [final]
    for change in reversed(changes):  # the config before a change: the changed fields at their old values
        configs.insert(0, configs[0] | {k: old for k, (old, _new) in change["changed"].items()})
    stops = [c["step"] for c in changes] + [int(training.get("steps", final["steps"]))]
    return [(cfg | {"steps": stop}, stop) for cfg, stop in zip(configs, stops)]
