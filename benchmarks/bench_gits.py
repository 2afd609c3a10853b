"""Benchmark GITS overheads: DP time on the 61-point grid, and cost matrix + DP as a share of the warm-up.

Goals: DP <= 10 ms (M = 61, 10 steps); cost matrix + DP <= 5% of the warm-up time. The warm-up uses the
closed-form KDE denoiser on a Fashion-MNIST subset (--data-size images); the full 60k set makes the
warm-up ~3x slower and the share correspondingly smaller. On a shared 2-core machine pass --threads 1:
oversubscribed threads slow the small cost-matrix kernels far more than the KDE matmuls.

    python benchmarks/bench_gits.py [--n-warmup 128] [--data-size 20000] [--threads 1] [--repeats 200]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from gitscore import gits
from gitscore.denoisers import KDEDenoiser


def make_denoiser(data_size: int, seed: int):
    from gitscore.data import fashion_mnist

    images, _ = fashion_mnist("train")
    idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:data_size]
    data = images[idx].to(torch.float32)
    return KDEDenoiser(data)


def time_dp(M: int, n_steps: int, repeats: int, coeff: float = 1.15) -> float:
    rng = np.random.default_rng(0)
    C = np.triu(rng.uniform(size=(M, M)), 1)
    gits.dp(C, n_steps, coeff)  # warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        gits.dp(C, n_steps, coeff)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-warmup", type=int, default=128, help="warm-up trajectories (official: 256)")
    p.add_argument("--data-size", type=int, default=20000, help="Fashion-MNIST images in the KDE")
    p.add_argument("--grid-points", type=int, default=61, help="teacher grid size M")
    p.add_argument("--steps", type=int, default=10, help="steps for the DP")
    p.add_argument("--repeats", type=int, default=200, help="DP repeats (median reported)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    t_dp = time_dp(args.grid_points, args.steps, args.repeats)
    print(f"DP, M={args.grid_points}, {args.steps} steps: median {1e3 * t_dp:.3f} ms over {args.repeats} "
          f"(goal <= 10 ms) {'OK' if t_dp <= 0.010 else 'MISSED'}")

    denoiser = make_denoiser(args.data_size, seed=0)
    grid = gits.teacher_grid(args.grid_points)
    w = gits.warmup(denoiser, (1, 28, 28), args.n_warmup, grid=grid, teacher="ipndm", seed=0,
                    batch_size=args.batch_size, progress=True)
    print(f"\nwarm-up: KDEDenoiser on {args.data_size} Fashion-MNIST images, {args.n_warmup} samples x "
          f"{args.grid_points - 1} NFE "
          f"(iPNDM teacher, float32): {w.seconds:.2f} s\n")
    print("| metric | cost matrix (s) | DP (ms) | (cost + DP) / warm-up | goal <= 5% |")
    print("|---|---|---|---|---|")
    for metric in gits.METRICS:
        t0 = time.perf_counter()
        C = gits.cost_matrix(w.xs, w.ds, grid, metric)
        t1 = time.perf_counter()
        gits.dp(C, args.steps)
        t2 = time.perf_counter()
        share = (t2 - t0) / w.seconds
        print(f"| {metric} | {t1 - t0:.3f} | {1e3 * (t2 - t1):.2f} | {100 * share:.2f}% | "
              f"{'OK' if share <= 0.05 else 'MISSED'} |")
    print(f"\nGITS indices (dev, {args.steps} steps): {gits.dp(gits.cost_matrix(w.xs, w.ds, grid), args.steps)}")


if __name__ == "__main__":
    main()
