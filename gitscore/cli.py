"""Command line: `gitscore search | sample | train | bench` (also `python -m gitscore ...`)."""
from __future__ import annotations

import argparse
import errno
import math
import os
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from . import __version__, sampling
from .checks import check_allocation, check_disk_space, human_bytes, resolve_device
from .gits import INTERACTIVE, METRICS, SearchConfig, search_info, teacher_grid
from .checkpoints import check_export, is_run_file
from .denoisers import Autocast, EDMPrecond
from .files import atomic_path, atomic_write_bytes, check_output_dir, check_output_file, check_same_file
from .export import FORMATS, format_schedule, read_schedule
from .models import (MODELS, Model, diffusers_model, fmnist_images, is_user_model, kde_size_ok, load_model,
                     sample_spec, user_model)
from .schedules import SCHEDULES, SIGMA_MAX, SIGMA_MIN, get_schedule
from .solvers import MULTISTEP, SOLVERS

__all__ = ["main", "build_parser", "format_schedule", "read_schedule", "FORMATS"]


EXAMPLES = """\
examples:
  gitscore search --model gmm-toy --steps 4 --n-warmup 64           # a GITS schedule on a 2-D toy, JSON on stdout
  gitscore search --model fmnist --steps 6 --format comfyui         # shipped Fashion-MNIST model, ComfyUI sigmas
  gitscore search --model kde --kde-size 2000 --steps 5 --out s.json
  gitscore search --diffusers ./my-sd --prompt "a cat" --steps 8 --format diffusers   # your pipeline folder
  gitscore search --model mypkg.mymodel:make_denoiser --steps 8                     # your D(x, sigma)
  gitscore sample --model fmnist --solver ipndm --sigmas-file s.json --out grid.png
  gitscore sample --model fmnist --solver dpmpp --schedule polynomial --steps 10 --n 64
  gitscore train --out runs/mine --steps 20000 --export runs/mine/model.safetensors
  gitscore bench --help                                             # benchmarks (gitscore.bench)
"""


def _device(name) -> torch.device:
    """--device: auto, cpu, cuda, cuda:N or mps; ValueError naming --device if it does not exist here."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return resolve_device("auto")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device must be auto, cpu, cuda, cuda:N or mps, got {name!r}")
    if dev.type == "mps" and not _mps_available():
        raise ValueError(f"--device {name}: Apple's MPS is not available here; use --device cpu or auto")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available (this torch build or machine has no GPU); "
                             "use --device cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return dev


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _short(sigmas) -> str:
    return ", ".join(f"{float(s):.4g}" for s in sigmas)


# ---------------------------------------------------------------- search

def _users_model(args) -> bool:
    """Whether the options name a user's model (--diffusers DIR or --model package.module:name)."""
    return args.diffusers is not None or is_user_model(args.model)


def _model_from_args(args) -> Model:
    """The model of --model / --diffusers; a user's model takes its range and shape from the flags where it
    does not say them itself (gitscore.models.user_model / diffusers_model)."""
    dev = _device(args.device)
    user = dict(shape=args.shape, sigma_min=args.sigma_min, sigma_max=args.sigma_max, device=dev)
    if args.diffusers is not None:
        return diffusers_model(args.diffusers, prompt=args.prompt, negative_prompt=args.negative_prompt,
                               guidance_scale=args.guidance_scale, progress=args.progress, **user)
    if is_user_model(args.model):
        return user_model(args.model, **user)
    return load_model(args.model, checkpoint=args.checkpoint, kde_size=args.kde_size, device=dev)


def _sigma_range(args, model: Model) -> tuple[float, float]:
    """--sigma-min / --sigma-max, each defaulting to the model's own; refused outside the model's range."""
    lo = model.sigma_min if args.sigma_min is None else args.sigma_min
    hi = model.sigma_max if args.sigma_max is None else args.sigma_max
    for value, flag in ((lo, "--sigma-min"), (hi, "--sigma-max")):
        if not model.sigma_min * (1 - 1e-9) <= value <= model.sigma_max * (1 + 1e-9):
            raise ValueError(f"{flag} {value:g} is outside the model's range [{model.sigma_min:g}, "
                             f"{model.sigma_max:g}] ({model.label})")
    if not lo < hi:
        raise ValueError(f"--sigma-min ({lo:g}) must be smaller than --sigma-max ({hi:g})")
    return lo, hi


def _check_in_range(sigmas, model: Model, what: str) -> None:
    """Every sigma of a schedule inside the model's own range (where the model was trained): else ValueError."""
    s = torch.as_tensor(sigmas, dtype=torch.float64)
    s = s[s > 0]  # a trailing 0 (the formats that end in it) is the final denoise, not a noise level
    lo, hi = model.sigma_min * (1 - 1e-9), model.sigma_max * (1 + 1e-9)
    outside = s[(s < lo) | (s > hi)]
    if len(outside):
        raise ValueError(f"{what}: sigma {float(outside[0]):.6g} is outside the model's range "
                         f"[{model.sigma_min:.6g}, {model.sigma_max:.6g}] ({model.label}); a sampler would clamp "
                         "or extrapolate it")


def _search_config(args, model: Model, seed: int) -> SearchConfig:
    """The search the options ask for: the teacher grid over the sigma range (_sigma_range)."""
    return SearchConfig(n_warmup=args.n_warmup, grid=teacher_grid(args.grid_points, *_sigma_range(args, model)),
                        teacher=args.teacher, metric=args.metric, coeff=args.coeff, seed=seed,
                        batch_size=args.batch_size, dtype=model.dtype)


def _schedule_meta(args, model: Model, config: SearchConfig, **extra) -> dict:
    """The metadata a searched schedule is exported with (gitscore.export's json format); `extra` last."""
    smin, smax = _sigma_range(args, model)
    meta = dict(model=model.label, teacher=config.teacher, metric=config.metric, coeff=config.coeff,
                n_warmup=config.n_warmup, grid_points=len(config.grid), seed=config.seed, sigma_min=smin,
                sigma_max=smax)
    return meta | extra | {"gitscore_version": __version__}


def _gits(args, model: Model, n_steps: int, seed: int):
    if n_steps >= args.grid_points:
        raise ValueError(f"--steps ({n_steps}) must be smaller than --grid-points ({args.grid_points}): "
                         "GITS picks the schedule's sigmas from the teacher grid")
    config = _search_config(args, model, seed)
    precision = _warmup_precision(args, model)
    denoiser = Autocast(model.denoiser) if precision == "bf16" else model.denoiser
    res = search_info(denoiser, model.shape, n_steps, config, device=model.device, progress=args.progress)
    t = res.timings
    print(f"GITS: {n_steps} steps from a {len(config.grid)}-point teacher grid [{float(config.grid[-1]):g}, "
          f"{float(config.grid[0]):g}] ({config.teacher}, {config.n_warmup} warm-up samples in {precision}, metric "
          f"{config.metric}, coeff {config.coeff}); warm-up {t['warmup']:.2f} s, cost {t['cost']:.3f} s, DP "
          f"{t['dp']:.4f} s", file=sys.stderr)
    return res.sigmas, _schedule_meta(args, model, config, solver=getattr(args, "solver", None), indices=res.indices,
                                      precision=precision)


def _warmup_precision(args, model: Model) -> str:
    """--precision: auto is bf16 for gitscore's own U-Nets (EDMPrecond, where it is measured) on a device with fast
    bfloat16 kernels, fp32 for every other model (closed forms, users' denoisers, pipelines in their own dtype)."""
    precision = getattr(args, "precision", "fp32")
    if precision == "auto":
        return "bf16" if isinstance(model.denoiser, EDMPrecond) and Autocast.fast_on(model.device) else "fp32"
    return precision


def _beyond_gits(args, model: Model):
    """--method refine | student_dp | oracle (gitscore.optimal): GITS tuned for --solver, or the oracle schedule."""
    from . import optimal
    config = _search_config(args, model, args.seed)
    sigmas, info = optimal.method_search(args.method, model.denoiser, model.shape, args.steps, config,
                                         solver=args.solver, device=model.device, progress=args.progress)
    print(f"{args.method} for {args.solver}: {info['calls']} denoiser calls, {info['seconds']:.1f} s", file=sys.stderr)
    return sigmas, _schedule_meta(args, model, config, **info)


def _emit(args, text: str) -> int:
    """A printed schedule to --out (atomically) or to stdout."""
    if args.out is not None:
        atomic_write_bytes(args.out, text.encode())
        print(f"wrote {args.out} ({args.format})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _published(args) -> int:
    """--published NAME: print a published GITS schedule (gitscore.published) in --format; no model is run."""
    from . import published

    if args.published == "list":
        print(published.listing())
        return 0
    if args.published not in published.PUBLISHED:
        raise ValueError(f"--published must be 'list' or one of {list(published.PUBLISHED)}, got {args.published!r}")
    entry = published.get(args.published)
    if args.steps not in entry.steps:
        raise ValueError(f"--steps: {entry.name} publishes {len(entry.steps)} step count(s), "
                         f"{min(entry.steps)} to {max(entry.steps)}, not {args.steps}")
    sigmas = entry.sigmas(args.steps)
    meta = {"published": entry.name, "model": entry.model, "coeff": entry.coeff, "source": str(entry.source)}
    text = format_schedule(sigmas, args.format, meta) + "\n"
    print(f"{entry.name}, {args.steps} steps ({entry.model}, coeff {entry.coeff:.2f}); from {entry.source}",
          file=sys.stderr)
    return _emit(args, text)
HARNESS_METHODS = ("ays", "ays_gaussian", "ld3", "oss", "holdout")  # searches of gitscore.harness only


def _harness(args, model: Model):
    """--method ays | ays_gaussian | ld3 | oss | holdout (gitscore.harness) for --solver, warm-up --seed."""
    from . import harness, models
    from .solvers import calls_per_step
    config = harness.HarnessConfig(search=_search_config(args, model, args.seed))
    data = None
    if args.method == "ays":
        if tuple(model.shape) != tuple(models.IMAGE):
            raise ValueError(f"--method ays needs training images (Fashion-MNIST models), not the model {args.model!r}")
        data = models.fmnist_images("train")
    r = harness.run(args.method, model.denoiser, args.solver, args.steps * calls_per_step(args.solver), args.seed,
                    config, shape=model.shape, data=data)
    print(f"{args.method} for {args.solver}: {r.evaluations} denoiser evaluations, {r.seconds:.1f} s", file=sys.stderr)
    info = {k: v for k, v in r.info.items() if isinstance(v, (int, float, str))}
    return r.sigmas, _schedule_meta(args, model, config.search, method=args.method, evaluations=r.evaluations, **info)


def cmd_search(args) -> int:
    if args.published is not None:
        return _published(args)
    model = _model_from_args(args)
    if _users_model(args):  # the size checks that need the model's shape, now that it is known
        _check_search_size(args, model.shape, model.dtype)
    if args.method == "gits":
        sigmas, meta = _gits(args, model, args.steps, args.seed)
    elif args.method in HARNESS_METHODS:
        sigmas, meta = _harness(args, model)
    else:
        sigmas, meta = _beyond_gits(args, model)
    _check_in_range(sigmas, model, "the schedule")  # printed in the model's own range, or not at all
    text = format_schedule(sigmas, args.format, meta) + "\n"
    print(f"sigmas: {_short(sigmas)}", file=sys.stderr)
    return _emit(args, text)


# ---------------------------------------------------------------- sample

GRID_MAX = 256       # images in the PNG grid (the first ones); the .npy holds all
SCATTER_MAX = 10000  # points in the scatter plot


def _check_sample_args(args, model: Model | None = None) -> None:
    """The paths and sizes of `gitscore sample`; the sizes once the sample's shape is known (a user's model:
    after loading it)."""
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must be a .png path (the array goes next to it as .npy), got {args.out}")
    check_output_file(args.out, "--out")
    check_output_file(out.with_suffix(".npy"), "--out (its .npy)")
    check_same_file({"PNG": out, ".npy array": out.with_suffix(".npy")}, "--out")
    if args.order is not None and args.solver not in MULTISTEP:
        raise ValueError(f"--order applies to the solvers {list(MULTISTEP)}, not {args.solver!r}")
    if model is None and _users_model(args):
        return
    shape = model.shape if model is not None else sample_spec(args.model)[0]
    per_sample = math.prod(shape) * 4  # the .npy holds float32
    check_disk_space(f"--n {args.n} ({human_bytes(per_sample)} per sample in {out.with_suffix('.npy')})",
                     out.parent, args.n * per_sample + 128)
    batch = args.batch_size or min(args.n, 256)
    check_allocation(f"--n {args.n} with --batch-size {batch}", 4 * min(args.n, batch) * per_sample)


def _check_search_size(args, shape=None, dtype=None) -> None:
    """The GITS warm-up keeps every teacher step of its samples (two tensors of grid points x samples)."""
    if shape is None:
        if _users_model(args):
            return  # checked once the model says its shape
        shape, dtype = sample_spec(args.model)
    item = torch.empty((), dtype=dtype).element_size()
    nbytes = 2 * args.grid_points * args.n_warmup * math.prod(shape) * item + 8 * args.grid_points ** 2
    check_allocation(f"--grid-points {args.grid_points} with --n-warmup {args.n_warmup}", nbytes)


def _check_schedule_range(sigmas, dtype, name: str) -> None:
    """Sigmas whose square (and a latent of norm up to 10 sigma) the model's dtype holds: else they overflow."""
    limit = math.sqrt(torch.finfo(dtype).max) / 10
    if float(sigmas[0]) > limit or float(sigmas[-1]) < torch.finfo(dtype).tiny:
        raise ValueError(f"{name}: sigmas must lie in [{torch.finfo(dtype).tiny:.3g}, {limit:.3g}] for a model that "
                         f"computes in {str(dtype).replace('torch.', '')}, got [{float(sigmas[-1]):.6g}, "
                         f"{float(sigmas[0]):.6g}]")


def _reserve(path) -> None:
    """Allocate the whole file on disk now (ENOSPC here, not SIGBUS when a memory-mapped page is written)."""
    if hasattr(os, "posix_fallocate"):
        with open(path, "rb+") as f:
            try:
                os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):  # unsupported here: go on
                    raise


def cmd_sample(args) -> int:
    out = Path(args.out)
    schedule = read_schedule(args.sigmas_file) if args.sigmas_file is not None else None
    if schedule is not None and not _users_model(args):
        _check_schedule_range(schedule[0], sample_spec(args.model)[1], f"--sigmas-file {args.sigmas_file}")
    model = _model_from_args(args)
    if _users_model(args):
        _check_sample_args(args, model)
        if schedule is not None:
            _check_schedule_range(schedule[0], model.dtype, f"--sigmas-file {args.sigmas_file}")
        if args.schedule == "gits" and not args.sigmas_file:
            _check_search_size(args, model.shape, model.dtype)
    if schedule is not None:
        sigmas, meta = schedule
        to_zero = bool(meta.get("to_zero"))  # an export's sampler form: its last step goes to 0
        _check_in_range(sigmas, model, f"--sigmas-file {args.sigmas_file}")
        if args.steps is not None and args.steps != len(sigmas) - 1 + to_zero:
            raise ValueError(f"--steps {args.steps} disagrees with {args.sigmas_file}, "
                             f"which has {len(sigmas) - 1 + to_zero} steps")
        what = f"{args.sigmas_file}" + (f" (GITS, {meta['model']})" if "model" in meta else "")
    else:
        steps = 6 if args.steps is None else args.steps
        if args.schedule == "gits":
            sigmas, _ = _gits(args, model, steps, args.search_seed)
        else:
            sigmas = get_schedule(args.schedule, steps, *_sigma_range(args, model))
        what, to_zero = args.schedule, False
    print(f"sigmas: {_short(sigmas)}" + (", 0" if to_zero else ""))

    from .report import image_grid, png_bytes, scatter_image  # here: `search` starts faster without them

    options = {k: v for k, v in (("order", args.order), ("afs", args.afs or None)) if v is not None}
    batch = args.batch_size or min(args.n, 256)
    # Batches go straight into the .npy (a memory map): memory does not grow with --n.
    with atomic_path(out.with_suffix(".npy")) as tmp:
        samples = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(args.n, *model.shape))
        _reserve(tmp)  # a memory map on a full disk dies of SIGBUS: claim the space first
        sampling.sample(model.denoiser, args.solver, sigmas, args.n, seed=args.seed, shape=model.shape,
                        batch_size=batch, dtype=model.dtype, device=model.device, progress=args.progress,
                        into=samples, to_zero=to_zero, **options)
        samples.flush()
        image = samples.ndim == 4
        shown = np.array(samples[:GRID_MAX if image else SCATTER_MAX])
        if model.decode is not None:  # latents: the picture shows them decoded (the .npy keeps the latents)
            with torch.no_grad():
                shown = np.concatenate([model.decode(torch.from_numpy(shown[i:i + 16]).to(model.device)).cpu().numpy()
                                        for i in range(0, len(shown), 16)])
        del samples
    pixels = image_grid(shown) if image else scatter_image(shown.reshape(len(shown), -1))
    atomic_write_bytes(out, png_bytes(pixels))
    steps = len(sigmas) - 1
    nfe = sampling.nfe(args.solver, steps, args.afs, to_zero)
    print(f"{args.solver} on {what}: {steps + to_zero} steps" + (" (the last to 0)" if to_zero else "")
          + f", NFE {nfe} per sample")
    print(f"wrote {out} (the first {len(shown)}) and {out.with_suffix('.npy')} ({args.n} samples, "
          f"shape {tuple(model.shape)})")
    return 0


# ---------------------------------------------------------------- train / bench

def _check_train_args(args) -> None:
    check_output_dir(args.out, "--out")
    if args.export is not None:
        if is_run_file(args.export, args.out):
            raise ValueError(f"--export {args.export} would overwrite the training checkpoint in {args.out}; "
                             "export to another file, e.g. model.safetensors")
        check_export(args.export, "--export")


def cmd_train(args) -> int:
    from .train import TrainConfig, export_ema, train

    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                         checkpoint_every=args.checkpoint_every, snapshot_every=args.snapshot_every,
                         lr_decay_from=args.lr_decay_from, precision=args.precision)
    images = fmnist_images("train")
    _, step = train(images, args.out, config, device=_device(args.device), progress=args.progress,
                    allow_config_change=args.allow_config_change)
    print(f"trained to step {step}; checkpoints in {args.out} (rerun the same command to resume)")
    if args.export is not None:
        export_ema(Path(args.out), args.export)
        print(f"exported the EMA weights to {args.export} "
              f"(use: gitscore search --model fmnist --checkpoint {args.export})")
    return 0


def _bench_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of `gitscore bench` (the CLI's subparser), one per BenchConfig field, plus --out."""
    from .bench import BENCH_MODELS, FIELD_HELP, GITS_PREFIX, INT_FIELDS, BenchConfig

    d = BenchConfig()
    p.add_argument("--model", choices=BENCH_MODELS, default=d.model,
                   help="shipped network or exact KDE denoiser (gitscore.models; kde: --kde-size images by a "
                        "permutation seeded with 0; emoji32 ...: over a whole rendered data set)")
    p.add_argument("--solvers", nargs="+", choices=sorted(SOLVERS), default=d.solvers, metavar="SOLVER",
                   help=f"among {sorted(SOLVERS)}")
    valid = sorted(SCHEDULES) + [GITS_PREFIX + m for m in METRICS]
    p.add_argument("--schedules", nargs="+", choices=valid, default=d.schedules, metavar="SCHEDULE",
                   help=f"among {valid}")
    p.add_argument("--nfe", nargs="+", type=int, default=d.nfes, help="NFE values (odd ones are skipped for heun/dpm2)")
    for name in INT_FIELDS:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name),
                       help=f"{FIELD_HELP[name]} (default: {getattr(d, name)})")
    p.add_argument("--teacher", choices=sorted(SOLVERS), default=d.teacher,
                   help=f"{FIELD_HELP['teacher']} (default: {d.teacher})")
    p.add_argument("--coeff", type=float, default=d.coeff, help=f"{FIELD_HELP['coeff']} (default: {d.coeff})")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="--model fmnist: a .safetensors from `gitscore train` instead of the shipped network")
    p.add_argument("--device", default="auto",
                   help="auto (cuda, else mps, else cpu), cpu, cuda, cuda:1, mps (default: auto)")
    p.add_argument("--out", required=True, help="folder for results.json / results.csv (resumed if present)")
    p.add_argument("--reference-from", default=None, metavar="DIR",
                   help="reuse the reference solutions of an earlier run in DIR (same model, eval seed, ref steps)")
    _progress_arg(p)
    return p


def bench_config(args: argparse.Namespace):
    """The BenchConfig of parsed `gitscore bench` options, validated."""
    from .bench import INT_FIELDS, BenchConfig

    cfg = BenchConfig(model=args.model, solvers=args.solvers, schedules=args.schedules, nfes=args.nfe,
                      teacher=args.teacher, coeff=args.coeff, **{name: getattr(args, name) for name in INT_FIELDS})
    cfg.validate()
    return cfg


def cmd_bench(args) -> int:
    """`gitscore bench`: check the options, run or resume the sweep (sharded under torchrun), print the tables."""
    from . import bench, dist

    command = args.command_line
    cfg = bench_config(args)
    check_output_dir(args.out, "--out")
    if args.reference_from is not None:
        ref = Path(args.reference_from)
        if not ((ref / "results.json").is_file() and (ref / "reference.safetensors").is_file()):
            raise ValueError(f"--reference-from {ref} is not the --out folder of a finished bench run "
                             "(results.json and reference.safetensors)")
    dist.init()
    try:
        state = bench.run_bench(cfg, args.out, progress=args.progress, command=command,
                                reference_from=args.reference_from, device=_device(args.device),
                                checkpoint=args.checkpoint)
    finally:
        dist.close()
    if dist.is_main():
        print(f"\nwall time {state['wall_time_s']:.0f} s; reference: {state['reference']}")
        if cfg.n_fd and cfg.model == "fmnist":
            print("\nFD (Fashion-MNIST classifier features; not Inception FID), "
                  f"{cfg.n_fd} samples vs the test split; noise floor {state['noise_floor']['fd_train_vs_test']:.4g}\n")
            print(bench.markdown_table(state, "fd"))
        print(f"\nRMSE against the reference ODE solution ({cfg.n_ref} samples)\n")
        print(bench.markdown_table(state, "ref_error"))
    return 0


# ---------------------------------------------------------------- parser

class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (and where to read more) instead of the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(lo: int):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value
    parse.__name__ = f"integer >= {lo}"
    return parse


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _model_name(text):
    """--model: a registered name, or package.module:name (a user's denoiser)."""
    if text in MODELS or is_user_model(text):
        return text
    raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(map(repr, MODELS))}, "
                                     "or package.module:name for your own denoiser)")


def _progress_arg(p):
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: on when stderr is a terminal)")


def _model_args(p):
    g = p.add_argument_group("model")
    which = g.add_mutually_exclusive_group()
    which.add_argument("--model", type=_model_name, default="fmnist", metavar="MODEL",
                       help="fmnist: the shipped EDM net (or --checkpoint); fmnist-rough: the first shipped net "
                            "(rough in sigma); kde: exact denoiser of Fashion-MNIST (slow; see --kde-size); "
                            "class-gmm: one Gaussian per class; gmm-toy: 8 Gaussians in 2-D, exact and instant; "
                            "package.module:name: your denoiser D(x, sigma), or a factory (class or function without "
                            "required arguments) returning one, imported from the current folder or PYTHONPATH; "
                            "its sigma_min / sigma_max / shape attributes, else --sigma-min/--sigma-max/--shape, "
                            "say its range and sample shape (default: fmnist)")
    which.add_argument("--diffusers", metavar="DIR",
                       help="a diffusers pipeline folder (save_pretrained), loaded offline: its UNet and scheduler "
                            "(range and latent shape from their configs) as the denoiser; text pipelines need "
                            "--prompt")
    g.add_argument("--prompt", help="--diffusers text pipelines: the prompt the schedule is searched (or sampled) for")
    g.add_argument("--negative-prompt", metavar="TEXT",
                   help="--diffusers text pipelines: the negative prompt of classifier-free guidance (default: empty)")
    g.add_argument("--guidance-scale", type=_positive_float, metavar="W",
                   help="--diffusers text pipelines: classifier-free guidance scale, 1 = none (default: the "
                        "pipeline's own, 7.5 for Stable Diffusion)")
    g.add_argument("--shape", type=_int_at_least(1), nargs="+", metavar="N",
                   help="one sample's shape without the batch dimension, e.g. --shape 4 64 64 (default: the "
                        "model's own: the denoiser's `shape` attribute or the UNet's latent size); required for a "
                        "--model package.module:name that has no `shape`")
    g.add_argument("--checkpoint", metavar="PATH",
                   help="fmnist: a .safetensors from `gitscore train` (checkpoint or --export)")
    g.add_argument("--kde-size", type=_int_at_least(1), metavar="N",
                   help="kde: N training images picked by a permutation seeded with 0, the rule of `gitscore bench` "
                        "(default: all 60000)")
    g.add_argument("--device", default="auto",
                   help="auto (cuda, else mps, else cpu), cpu, cuda, cuda:1, mps (default: auto)")
    g.add_argument("--sigma-min", type=_positive_float, metavar="SIGMA",
                   help=f"smallest sigma, inside the model's range (default: the model's own, {SIGMA_MIN:g} for "
                        "the shipped models; required for a denoiser without sigma_min)")
    g.add_argument("--sigma-max", type=_positive_float, metavar="SIGMA",
                   help=f"largest sigma, inside the model's range (default: the model's own, {SIGMA_MAX:g} for "
                        "the shipped models; required for a denoiser without sigma_max)")


def _gits_args(p, title="GITS search (Chen et al. 2024, Sec. 4)"):
    g = p.add_argument_group(title)
    d = INTERACTIVE  # the defaults, written once in gitscore.gits (SearchConfig, with 64 warm-up trajectories)
    g.add_argument("--teacher", choices=sorted(SOLVERS), default=d.teacher,
                   help=f"solver run on the fine grid during warm-up (default: {d.teacher})")
    g.add_argument("--n-warmup", type=_int_at_least(1), default=d.n_warmup, metavar="N",
                   help=f"warm-up trajectories (default: {d.n_warmup}; the library's and `gitscore bench`'s "
                        f"{SearchConfig.n_warmup}: benchmarks/bench_search.py measures the difference)")
    g.add_argument("--grid-points", type=_int_at_least(2), default=d.grid_points, metavar="M",
                   help=f"points of the polynomial (rho={d.grid_rho:g}) teacher grid (default: {d.grid_points})")
    g.add_argument("--metric", choices=METRICS, default=d.metric, help=f"step cost (default: {d.metric})")
    g.add_argument("--coeff", type=_positive_float, default=d.coeff,
                   help=f"DP weight growth per step (default: {d.coeff})")
    g.add_argument("--batch-size", type=_int_at_least(1), metavar="B",
                   help="samples per denoiser batch (default: all, at most 256)")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="the warm-up's network calls: bf16 runs them under bfloat16 autocast (about 1.6x faster "
                        "on CPUs with AMX; the schedule can move by one teacher-grid point, as a new warm-up seed "
                        "moves it: benchmarks/bench_search.py measures it); auto: bf16 for gitscore's own U-Nets "
                        "where the device has fast bfloat16 kernels, else fp32 (default: auto)")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="gitscore", formatter_class=fmt, epilog=EXAMPLES,
        description="Time schedules for ODE-based diffusion sampling: GITS search (Chen et al., ICML 2024),\n"
                    "sampling with any schedule and solver, training the Fashion-MNIST model, benchmarks.\n"
                    "`gitscore COMMAND --help` explains each command.")
    parser.add_argument("--version", action="version", version=f"gitscore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("search", help="find a GITS schedule and print or save it",
                       description="Warm up a teacher solver on a fine grid, build the Euler-jump cost matrix and "
                                   "pick --steps sigmas by dynamic programming. The schedule is solver-independent: "
                                   "use it with any --solver in `gitscore sample`.",
                       epilog="N steps are N denoiser calls of a first-order solver in every format; the exports "
                              "replace the last sigma (sigma_min) by 0, as ComfyUI's GITSScheduler does. formats: "
                              "json (with metadata; reload with --sigmas-file), diffusers ({\"scheduler\": "
                              "\"EulerDiscreteScheduler\", \"kwargs\": {\"sigmas\": [..., 0]}}: "
                              "pipe(prompt, **doc[\"kwargs\"])), k-diffusion (the sigmas tensor's values, ending in "
                              "0), comfyui (plain decimals for ManualSigmas, ending in 0), list (the N+1 sigmas)")
    _model_args(p)
    p.add_argument("--steps", type=_int_at_least(1), default=6, metavar="N",
                   help="number of sampling steps (default: 6)")
    p.add_argument("--solver", choices=sorted(SOLVERS), default="ipndm",
                   help="solver you intend to use: recorded in the metadata for --method gits (the search uses "
                        "--teacher); the solver tuned for by --method refine and oracle (oracle: euler, ipndm, dpmpp)")
    p.add_argument("--method", choices=("gits", "refine", "student_dp", "oracle") + HARNESS_METHODS, default="gits",
                   help="gits (default); refine: GITS, then its coeff and sigmas tuned for --solver on the warm-up "
                        "latents; student_dp: the DP carrying --solver's own state (euler, ipndm, dpmpp); "
                        "oracle: Adam on the end-to-end error against Heun-256 on 32 more latents "
                        "(gitscore.optimal); ays: Align Your Steps' KLUB search; ays_gaussian: its closed form; "
                        "ld3: learned discretisation; oss: per-sample student-state DP, median; holdout: candidates "
                        "chosen on held-out warm-up latents (gitscore.harness)")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the warm-up latents (default: 0)")
    p.add_argument("--format", choices=FORMATS, default="json", help="output format (default: json)")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    p.add_argument("--published", metavar="NAME",
                   help="print a GITS schedule the paper's authors publish (gitscore.published) for --steps in "
                        "--format, running no model; `--published list` lists them")
    _progress_arg(p)
    _gits_args(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("sample", help="draw samples with a solver and a schedule; save a PNG + .npy",
                       description="Solve the PF-ODE from seeded noise with --solver on a base --schedule, on a GITS "
                                   "schedule searched on the fly (--schedule gits) or on a saved one (--sigmas-file). "
                                   "Writes an image grid (a scatter plot for gmm-toy) and the raw array.")
    _model_args(p)
    p.add_argument("--solver", choices=sorted(SOLVERS), default="ipndm", help="ODE solver (default: ipndm)")
    p.add_argument("--steps", type=_int_at_least(1), metavar="N",
                   help="number of steps (default: 6, or the --sigmas-file's)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--schedule", choices=sorted(SCHEDULES) + ["gits"], default="polynomial",
                     help="time schedule (default: polynomial, EDM's rho=7)")
    src.add_argument("--sigmas-file", metavar="FILE", help="a schedule written by `gitscore search` (any format)")
    p.add_argument("--order", type=int, help=f"order of the multistep solvers {', '.join(MULTISTEP)}")
    p.add_argument("--afs", action="store_true", help="analytical first step (saves one NFE)")
    p.add_argument("--n", type=_int_at_least(1), default=16, help="number of samples (default: 16)")
    p.add_argument("--seed", type=_int_at_least(0), default=0,
                   help="seed of the sample latents; sample j depends only on (seed, j)")
    p.add_argument("--search-seed", type=_int_at_least(0), default=0, metavar="SEED",
                   help="--schedule gits: seed of the warm-up latents (default: 0)")
    p.add_argument("--out", default="grid.png", metavar="FILE.png",
                   help="PNG path; the array goes to FILE.npy (default: grid.png)")
    _progress_arg(p)
    _gits_args(p, "GITS search (with --schedule gits)")
    p.set_defaults(func=cmd_sample)

    from .train import PRECISIONS, TrainConfig  # light: torch and safetensors only

    defaults = {f.name: f.default for f in fields(TrainConfig)}
    p = sub.add_parser("train", help="train the EDM model on Fashion-MNIST (resumable)",
                       description="EDM training (Karras et al. 2022) of the small U-Net on Fashion-MNIST. Checkpoints "
                                   "go to --out every --checkpoint-every steps; rerunning the same command resumes.")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="run folder (ckpt-STEP/ checkpoints, LATEST, train_log.csv)")
    p.add_argument("--steps", type=_int_at_least(1), default=defaults["steps"], metavar="N",
                   help=f"total optimisation steps (default: {defaults['steps']})")
    p.add_argument("--batch-size", type=_int_at_least(1), default=defaults["batch_size"], metavar="B",
                   help=f"images per step (default: {defaults['batch_size']})")
    p.add_argument("--lr", type=_positive_float, default=defaults["lr"],
                   help=f"Adam learning rate (default: {defaults['lr']})")
    p.add_argument("--lr-decay-from", type=_int_at_least(0), default=defaults["lr_decay_from"], metavar="STEP",
                   help="after STEP, the learning rate falls as 1/sqrt(step/STEP) (EDM2; default: 0, constant)")
    p.add_argument("--seed", type=_int_at_least(0), default=defaults["seed"], help=f"(default: {defaults['seed']})")
    p.add_argument("--precision", choices=PRECISIONS, default=defaults["precision"],
                   help="bf16: mixed precision, convolutions in bfloat16 with float32 weights (faster on CPUs with "
                        "AMX or AVX512-BF16 and on GPUs; benchmarks/bench_train.py measures it; "
                        f"default: {defaults['precision']})")
    p.add_argument("--checkpoint-every", type=_int_at_least(1), default=defaults["checkpoint_every"], metavar="N",
                   help=f"steps between checkpoints (default: {defaults['checkpoint_every']})")
    p.add_argument("--snapshot-every", type=_int_at_least(0), default=defaults["snapshot_every"], metavar="N",
                   help="also keep the EMA weights every N steps in DIR/snapshots/ (for a quality-vs-images-seen "
                        "curve; default: 0, never)")
    p.add_argument("--export", metavar="PATH.safetensors",
                   help="afterwards, export the EMA weights here, with PATH.json and the folder's MANIFEST.json "
                        "(then: --model fmnist --checkpoint PATH)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, ... (default: auto)")
    p.add_argument("--allow-config-change", action="store_true",
                   help="resume even though hyperparameters other than --steps / --checkpoint-every / "
                        "--snapshot-every differ from the checkpoint's (recorded in its config)")
    _progress_arg(p)
    p.set_defaults(func=cmd_train)

    from . import bench

    p = sub.add_parser("bench", help="benchmark solvers x schedules (incl. GITS) x NFE; resumable, torchrun-sharded",
                       description=bench.__doc__, formatter_class=fmt)
    _bench_arguments(p)
    p.set_defaults(func=cmd_bench)
    return parser


def _check_model_options(args) -> None:
    """Options that apply to some models only: refused with the others instead of ignored."""
    model = "--diffusers" if args.diffusers is not None else f"--model {args.model}"
    if args.diffusers is None:
        for flag in ("prompt", "negative_prompt", "guidance_scale"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')} applies to --diffusers text pipelines, not {model}")
    if args.shape is not None and not _users_model(args):
        raise ValueError(f"--shape applies to --diffusers and --model package.module:name; {model} has its shape")
    if args.checkpoint is not None and (args.diffusers is not None or args.model != "fmnist"):
        raise ValueError(f"--checkpoint applies to --model fmnist, not {model}")
    if args.kde_size is not None and (args.diffusers is not None or args.model != "kde"):
        raise ValueError(f"--kde-size applies to --model kde, not {model}")


def _check_args(args) -> None:
    """Validate the paths and options of a command before it loads or computes anything."""
    if hasattr(args, "device"):
        _device(args.device)
    if args.command == "search" and args.out is not None:
        check_output_file(args.out, "--out")
    if args.command == "sample":
        _check_sample_args(args)
    if args.command == "train":
        _check_train_args(args)
    if hasattr(args, "diffusers"):
        _check_model_options(args)
    if (args.command == "search" and args.published is None) or (
            args.command == "sample" and args.schedule == "gits" and not args.sigmas_file):
        _check_search_size(args)
    if getattr(args, "checkpoint", None) is not None:
        ckpt = Path(args.checkpoint)
        what = ("is empty" if not args.checkpoint.strip() else "is a folder" if ckpt.is_dir() else
                "is not a regular file (a FIFO, device or socket)" if ckpt.exists() and not ckpt.is_file() else
                "not found" if not ckpt.is_file() else None)
        if what:
            raise ValueError(f"--checkpoint {args.checkpoint if args.checkpoint.strip() else repr(args.checkpoint)} "
                             f"{what}; give a .safetensors written by "
                             "`gitscore train`")
    if getattr(args, "kde_size", None) is not None:
        kde_size_ok(args.kde_size)


def main(argv=None) -> int:
    """Entry point of the `gitscore` console script; returns the exit code (errors exit 2, argparse-style)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = " ".join(["gitscore", *argv])  # recorded by bench in its results
    if args.progress is None:  # --progress / --no-progress, else bars where someone watches
        args.progress = sys.stderr.isatty()
    try:
        _check_args(args)  # every path and option, before any work
        return args.func(args) or 0
    except (ValueError, OSError, EOFError) as e:  # bad arguments, files, data or checkpoint: a message, no traceback
        parser.exit(2, f"gitscore {args.command}: error: {e}\n")
    except ImportError as e:  # a package this environment lacks: the message names what to install
        parser.exit(2, f"gitscore {args.command}: error: {e}\n")
    except FloatingPointError as e:
        parser.exit(1, f"gitscore {args.command}: sampling diverged: {e}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted\n")


if __name__ == "__main__":
    sys.exit(main())
