"""Quality of a training run against images seen: one row per EMA snapshot of `gitscore train --snapshot-every`.

For each snapshot: FD (Fashion-MNIST classifier features, NOT Inception FID) of --n samples of the
near-exact ODE solution (iPNDM, 20 polynomial steps), the worst ratio over 13 sigmas in [0.002, 80]
of the network's denoising MSE to the data mean's, and the roughness of D in sigma at sigma = 10.

    python scripts/quality_curve.py runs/fmnist_edm --n 2000 --out results/fmnist_edm_curve.csv
    python scripts/quality_curve.py runs/fmnist_edm_cont --n 2000 --every 4000 --out results/fmnist_edm_curve.csv

Resumable: rows already in --out are kept and their snapshots skipped; the CSV is rewritten atomically.
"""
from __future__ import annotations

import argparse
import csv
import io
import time
from pathlib import Path

import torch

import gitscore as gs
from gitscore.diagnostics import denoising_errors, sigma_roughness

FIELDS = ["step", "images_seen", "fd", "n_samples", "worst_mse_ratio_vs_mean", "worst_sigma", "roughness_sigma10",
          "seconds"]


def eval_data() -> dict:
    """What every snapshot is scored on: 256 test images, their noise, 13 sigmas, the training mean."""
    return {"x0": gs.data.fashion_mnist("test")[0][:256],
            "eps": gs.sampling.latents((1, 28, 28), 123, 0, 256, torch.float32),
            "grid": torch.logspace(torch.log10(torch.tensor(0.002)), torch.log10(torch.tensor(80.0)), 13),
            "mean": gs.data.fashion_mnist("train")[0].mean(0)}


def evaluate(net, n: int, data: dict, batch_size: int = 250) -> dict:
    sigmas = gs.schedules.polynomial(20)
    x = gs.sampling.sample(net, "ipndm", sigmas, n, seed=0, shape=(1, 28, 28), batch_size=batch_size)
    fd = gs.metrics.frechet_distance(x.clamp(-1, 1))
    x0, eps, grid = data["x0"], data["eps"], data["grid"]
    e = denoising_errors(net, x0, eps, grid, data["mean"])
    ratio = e.model / e.data_mean
    k = int(ratio.argmax())
    rough = sigma_roughness(net, x0[:32] + 10.0 * eps[:32], 10.0)
    return {"fd": round(fd, 3), "n_samples": n, "worst_mse_ratio_vs_mean": round(float(ratio[k]), 4),
            "worst_sigma": round(float(grid[k]), 4), "roughness_sigma10": round(rough, 4)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a `gitscore train` run folder with snapshots/")
    p.add_argument("--n", type=int, default=2000, help="samples per FD (default 2000)")
    p.add_argument("--out", type=Path, required=True, help="CSV to write (resumable)")
    p.add_argument("--every", type=int, default=1,
                   help="only snapshots whose step is a multiple of this (default: all)")
    args = p.parse_args(argv)
    snaps = sorted((args.run / "snapshots").glob("ema_*.safetensors"))
    if not snaps:
        p.error(f"no snapshots in {args.run / 'snapshots'}: train with --snapshot-every N")
    rows = {}
    if args.out.is_file():
        rows = {int(r["step"]): r for r in csv.DictReader(args.out.open())}
    data = eval_data()
    for path in snaps:
        net = gs.nets.load_checkpoint(path)
        config = net.config
        step = config["training"]["steps"]
        if step in rows or step % args.every:
            continue
        t0 = time.perf_counter()
        row = {"step": step, "images_seen": config["training"]["images_seen"], **evaluate(net, args.n, data)}
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows[step] = row
        print(row, flush=True)
        buf = io.StringIO()
        w = csv.DictWriter(buf, FIELDS)
        w.writeheader()
        w.writerows(rows[s] for s in sorted(rows))
        gs.nets.atomic_write_bytes(args.out, buf.getvalue().encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
