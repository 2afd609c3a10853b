"""Solver overhead beyond the denoiser's own time (goal: <= 5%), measured in one run.

For each solver, the time spent inside denoiser calls is measured by a timing wrapper; the rest of the
sampler's wall time is its overhead. Run: `python benchmarks/bench_solvers.py [--model fmnist|gmm]`.
"""
import argparse
import time

import torch

from gitscore import sampling, schedules
from gitscore.solvers import SOLVERS


class Timed:
    """Denoiser wrapper that accumulates the wall time spent in the wrapped denoiser."""

    def __init__(self, denoiser):
        self.denoiser, self.seconds, self.calls = denoiser, 0.0, 0

    def __call__(self, x, sigma):
        t0 = time.perf_counter()
        out = self.denoiser(x, sigma)
        if out.is_cuda:
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", choices=["fmnist", "kde"], default="fmnist")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--nfe", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.model == "fmnist":
        from gitscore.nets import load_pretrained
        D = load_pretrained("fmnist_edm")
    else:
        from gitscore.data import fashion_mnist
        from gitscore.denoisers import KDEDenoiser
        D = KDEDenoiser(fashion_mnist("train")[0][:10000])
    x = schedules.SIGMA_MAX * sampling.latents((1, 28, 28), 0, 0, a.batch, torch.float32)
    print(f"model {a.model}, batch {a.batch}, NFE {a.nfe}, torch threads {torch.get_num_threads()}")
    print(f"{'solver':8s} {'NFE':>4s} {'total s':>9s} {'denoiser s':>11s} {'overhead':>9s}")
    worst = 0.0
    for name, solver in SOLVERS.items():
        steps = a.nfe // (2 if name in ("heun", "dpm2") else 1)
        sigmas = schedules.polynomial(steps)
        best = None
        for _ in range(a.repeats):
            T = Timed(D)
            t0 = time.perf_counter()
            solver(T, x.clone(), sigmas)
            total = time.perf_counter() - t0
            over = (total - T.seconds) / T.seconds
            if best is None or over < best[2]:
                best = (total, T.seconds, over, T.calls)
        worst = max(worst, best[2])
        print(f"{name:8s} {best[3]:4d} {best[0]:9.3f} {best[1]:11.3f} {100 * best[2]:8.2f}%")
    print(f"worst overhead {100 * worst:.2f}% (goal <= 5%)")


if __name__ == "__main__":
    main()
