"""Throughput of KDEDenoiser against torch.matmul's peak on this machine, and against a naive full softmax.

    python benchmarks/bench_kde.py                      # Fashion-MNIST train (60000 x 784), batch 256
    python benchmarks/bench_kde.py --block-sizes 1024,2048,4096,8192 --threads 1

Every case is timed once per round, rounds interleaved, and the best round is kept: on a shared machine
the minimum is the least disturbed estimate, and ratios are measured in the same run. A call counts
4 B N d flops (the logits x Y^T and the weighted sum w Y). Peak memory of one call is measured in a
fresh subprocess (CUDA: the caching allocator's peak; CPU: sampled RSS with glibc returning big frees).
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from gitscore.denoisers import KDEDenoiser  # noqa: E402


def load_data(n: int, random: bool, seed: int) -> tuple[torch.Tensor, str]:
    """Fashion-MNIST train images (N, 784) if available, else standard normal data of the same shape."""
    if not random:
        try:
            from gitscore.data import fashion_mnist
            images, _ = fashion_mnist("train")
            return images[:n].reshape(min(n, len(images)), -1), "Fashion-MNIST"
        except (ImportError, FileNotFoundError, ValueError) as err:
            print(f"(Fashion-MNIST unavailable: {type(err).__name__}; using random data)", file=sys.stderr)
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 784, generator=g), "random normal"


def setup(args):
    """Data, one KDEDenoiser per block size, the query batch x and its device."""
    torch.set_num_threads(args.threads or torch.get_num_threads())
    data, source = load_data(args.n, args.random, args.seed)
    dtype = getattr(torch, args.dtype)
    kdes = [KDEDenoiser(data, block_size=bs, device=args.device, dtype=dtype) for bs in args.block_sizes]
    kdes = {kde.block_size: kde for kde in kdes}
    device = next(iter(kdes.values())).device
    g = torch.Generator().manual_seed(args.seed)
    x = data[torch.randint(len(data), (args.batch,), generator=g)]
    x = (x + args.sigma * torch.randn(x.shape, generator=g)).to(device, dtype)
    return data.to(device, dtype), source, kdes, x, device


def naive(x, Y, sigma):
    """The B x N softmax in one piece."""
    return torch.softmax(-torch.cdist(x, Y).square() / (2 * sigma ** 2), 1) @ Y


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_memory_child(args) -> None:
    """(Subprocess) print the peak extra bytes of one call of case args.memory_case."""
    Y, _, kdes, x, device = setup(args)
    fn = (lambda: naive(x, Y, args.sigma)) if args.memory_case == "naive" else (
        lambda: kdes[int(args.memory_case)](x, args.sigma))
    if device.type == "cuda":
        sync(device)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        sync(device)
        print(torch.cuda.max_memory_allocated() - base)
        return
    import psutil
    proc = psutil.Process()
    base = top = proc.memory_info().rss
    running = True

    def sample():
        nonlocal top
        while running:
            top = max(top, proc.memory_info().rss)
            time.sleep(0.0002)
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    fn()
    running = False
    thread.join()
    print(top - base)


def peak_memory(case: str, argv: list[str]) -> float | None:
    """Peak extra MB of one call, measured in a fresh process; None if that fails (e.g. no psutil)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")  # big frees go back to the OS, so RSS tracks use
    out = subprocess.run([sys.executable, __file__, *argv, "--memory-case", case],
                         env=env, capture_output=True, text=True)
    try:
        return int(out.stdout.strip().splitlines()[-1]) / 2 ** 20
    except (ValueError, IndexError):
        return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=60000, help="number of data points N")
    p.add_argument("--batch", type=int, default=256, help="batch size B")
    p.add_argument("--sigma", type=float, default=1.0, help="noise level of the queries")
    p.add_argument("--block-sizes", type=lambda s: [int(b) for b in s.split(",")], default=[None],
                   help="comma-separated block sizes (default: the class default)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds; the best is kept")
    p.add_argument("--random", action="store_true", help="use random data even if Fashion-MNIST is present")
    p.add_argument("--no-naive", action="store_true", help="skip the naive full-softmax baseline")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--memory-case", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_case is not None:
        return peak_memory_child(args)

    Y, source, kdes, x, device = setup(args)
    (N, d), B, dtype = Y.shape, args.batch, Y.dtype
    flops = 4 * B * N * d
    a, b = torch.randn(B, d, dtype=dtype, device=device), torch.randn(d, 8192, dtype=dtype, device=device)
    sq = torch.randn(2048, 2048, dtype=dtype, device=device)
    kde0 = kdes[max(kdes)]
    xa = kde0._augment(x.double() - kde0.mean, torch.ones(B, dtype=torch.float64, device=device))

    def scan_matmuls(kde=kde0):  # the two matmuls of every block, on the denoiser's own storage, no softmax
        for lo in range(0, N, kde.block_size):
            Yb = kde._Y[lo:lo + kde.block_size]
            torch.mm(torch.mm(xa, Yb[:, :d + 2].T), Yb[:, :d + 1])

    peak_name = f"matmul ({B}x{d}) @ ({d}x8192)"
    cases = {  # name: (function, flops)
        peak_name: (lambda: a @ b, 2 * B * d * 8192),
        "matmul 2048^3": (lambda: sq @ sq, 2 * 2048 ** 3),
        f"matmuls of the scan only, block {kde0.block_size}": (scan_matmuls, flops),
    }
    for bs, kde in kdes.items():
        cases[f"KDEDenoiser block {bs}"] = (lambda kde=kde: kde(x, args.sigma), flops)
    if not args.no_naive:
        cases["naive full softmax (B x N)"] = (lambda: naive(x, Y, args.sigma), flops)

    best = dict.fromkeys(cases, math.inf)
    for fn, _ in cases.values():  # warm-up
        fn()
    for _ in range(args.rounds):
        for name, (fn, _) in cases.items():
            sync(device)
            t0 = time.perf_counter()
            fn()
            sync(device)
            best[name] = min(best[name], time.perf_counter() - t0)

    mem = {f"KDEDenoiser block {bs}": peak_memory(str(bs), argv) for bs in kdes}
    if not args.no_naive:
        mem["naive full softmax (B x N)"] = peak_memory("naive", argv)
    peak_cmp = 2 * B * d * 8192 / best[peak_name]
    peak_max = max(f / best[name] for name, (_, f) in cases.items() if name.startswith("matmul "))

    print(f"KDEDenoiser throughput: {source} N={N} d={d}, B={B}, sigma={args.sigma}, {args.dtype}, {device}, "
          f"threads={torch.get_num_threads()}, best of {args.rounds} interleaved rounds")
    print(f"{'case':44s} {'ms':>8s} {'GFLOP/s':>8s} {'/matmul':>8s} {'/max':>6s} {'peak MB':>8s}")
    for name, (_, f) in cases.items():
        rate = f / best[name]
        m = mem.get(name)
        print(f"{name:44s} {best[name] * 1e3:8.1f} {rate / 1e9:8.1f} {rate / peak_cmp:8.2f} {rate / peak_max:6.2f} "
              f"{'' if m is None else f'{m:8.1f}'}")
    print(f"/matmul: ratio to the {peak_name} rate; /max: to the best matmul rate; peak MB: extra memory of one call")
    stored = kde0._Y.numel() * kde0._Y.element_size() / 2 ** 20
    print(f"stored data (N x {kde0._Y.shape[1]} {args.dtype}): {stored:.0f} MB")
    if not args.no_naive:
        err = (naive(x, Y, args.sigma) - kde0(x, args.sigma)).abs().max().item()
        speedup = best["naive full softmax (B x N)"] / best[f"KDEDenoiser block {kde0.block_size}"]
        print(f"naive time / chunked (block {kde0.block_size}) time: {speedup:.2f}; "
              f"max |naive - chunked| = {err:.2e}")


if __name__ == "__main__":
    main()
