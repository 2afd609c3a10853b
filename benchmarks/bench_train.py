"""Training throughput of `gitscore train` (images per second) on this machine, per implementation choice.

    python benchmarks/bench_train.py                       # every variant, 3 interleaved rounds of 20 steps
    python benchmarks/bench_train.py --variants loop,foreach --steps 40 --rounds 5

Every variant runs the library's own `gitscore.train.train_step` on the shipped network's architecture
(TrainConfig's U-Net, 2.37 M parameters) with Fashion-MNIST held in memory as one tensor, from the same
initial weights. Rounds are interleaved and the best round of each variant is kept (on a shared machine the
minimum is the least disturbed estimate); ratios are against the first variant, measured in the same run.
The first steps of each variant (warm-up: allocator, oneDNN kernel choice, torch.compile) are not timed.

Variants:
  loop        Adam one parameter at a time (torch's CPU default), EMA one parameter at a time, channels-last
  contiguous  as loop, NCHW memory format (does channels-last pay?)
  foreach     multi-tensor Adam and multi-tensor EMA (the default of `gitscore train` since 0.2)
  fused       torch's fused Adam kernel, multi-tensor EMA
  compile     foreach + torch.compile of the network (inductor; compile time not timed)
  batch128    foreach at batch 128 (images per second; the recipe's lr would have to change with it)
  bf16        foreach with the forward and backward passes under bfloat16 autocast (TrainConfig.precision;
              AMX / AVX512-BF16 CPUs)
Every variant draws the same batches and noise at each step, so the mean loss over the timed steps (printed)
tells whether a variant trains differently (batch128 sees other batches and differs for that reason).

It also checks that a variant is bit-reproducible: two fresh runs of its first steps give identical weights.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from gitscore.nets import build_denoiser  # noqa: E402
from gitscore.train import TrainConfig, make_optimizer, train_step  # noqa: E402

VARIANTS = {
    # name: (optimizer impl, foreach EMA, memory format, compile, batch size[, precision])
    "loop": ("loop", False, torch.channels_last, False, 64),
    "contiguous": ("loop", False, torch.contiguous_format, False, 64),
    "foreach": ("foreach", True, torch.channels_last, False, 64),
    "fused": ("fused", True, torch.channels_last, False, 64),
    "compile": ("foreach", True, torch.channels_last, True, 64),
    "batch128": ("foreach", True, torch.channels_last, False, 128),
    "bf16": ("foreach", True, torch.channels_last, False, 64, "bf16"),
}


def load_images(n: int) -> tuple[torch.Tensor, str]:
    try:
        from gitscore.models import fmnist_images
        return fmnist_images("train")[:n], "Fashion-MNIST train"
    except (ImportError, FileNotFoundError, ValueError) as err:
        print(f"(Fashion-MNIST unavailable: {type(err).__name__}; using random images)", file=sys.stderr)
        return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1, "random"


class Runner:
    """One variant's model, EMA and optimiser, stepping from a given step."""

    def __init__(self, name: str, init_state: dict, data: torch.Tensor, base: TrainConfig):
        impl, self.foreach_ema, self.fmt, compiled, batch, *precision = VARIANTS[name]
        self.config = replace(base, batch_size=batch, precision=precision[0] if precision else "fp32")
        cfg = self.config.model_config() | {"unet": dict(self.config.unet, in_channels=data.shape[1])}
        self.model = build_denoiser(cfg)
        self.model.load_state_dict(init_state)
        self.model = self.model.to(memory_format=self.fmt)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = make_optimizer(self.model, self.config, impl)
        self.net = torch.compile(self.model) if compiled else self.model
        self.data, self.step, self.losses = data, 0, []

    def run(self, n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            loss, _ = train_step(self.net, self.ema, self.opt, self.data, self.step, self.config, self.fmt,
                                 self.foreach_ema)
            self.losses.append(loss)
            self.step += 1
        return time.perf_counter() - t


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--steps", type=int, default=20, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps before the first round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    names = args.variants.split(",")
    bad = [n for n in names if n not in VARIANTS]
    if bad:
        p.error(f"--variants: unknown {bad}; choose from {', '.join(VARIANTS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    data, source = load_images(60_000)
    base = TrainConfig()
    torch.manual_seed(0)
    init = build_denoiser(base.model_config() | {"unet": dict(base.unet, in_channels=1)}).state_dict()
    print(f"data: {source} {tuple(data.shape)} in memory; torch {torch.__version__}, {torch.get_num_threads()} threads")

    runners = {}
    for n in names:
        runners[n] = Runner(n, init, data, base)
        t = time.perf_counter()
        runners[n].run(args.warmup)
        print(f"  {n}: warm-up {args.warmup} steps {time.perf_counter() - t:.1f} s", flush=True)
    best = {n: float("inf") for n in names}
    for r in range(args.rounds):
        for n in names:
            best[n] = min(best[n], runners[n].run(args.steps))
        print(f"  round {r + 1}/{args.rounds} done", flush=True)

    ref = names[0]
    ips = {n: args.steps * runners[n].config.batch_size / best[n] for n in names}
    print(f"\n{'variant':<11} {'batch':>5} {'s/step':>7} {'images/s':>9} {'vs ' + ref:>9} {'mean loss':>9}  "
          "bit-reproducible")
    for n in names:
        a, b = Runner(n, init, data, base), Runner(n, init, data, base)
        a.run(2), b.run(2)
        same = all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()))
        print(f"{n:<11} {runners[n].config.batch_size:>5} {best[n] / args.steps:>7.3f} {ips[n]:>9.1f} "
              f"{ips[n] / ips[ref]:>8.2f}x {sum(runners[n].losses) / len(runners[n].losses):>9.4f}  "
              f"{'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
