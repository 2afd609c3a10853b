"""How far a timesteps= export moves the sigmas: gitscore.export.timestep_rounding on Stable Diffusion 1.5's table.

Schedulers that take only integer timesteps (DPMSolverMultistep, DDPM, ...) get the nearest training timestep of
each sigma (gitscore.export.to_diffusers); this measures the largest relative change |sigma_t / sigma - 1| of
sigma_0..sigma_{N-1} (the last step goes to 0 either way) for the published SD 1.5 GITS schedules
(gitscore.published, 2-20 steps, coeff 1.15 and 1.20) and for polynomial (rho 7) and GITS-grid schedules inside
SD 1.5's range. The table is diffusers' own (EulerDiscreteScheduler, scaled_linear betas 0.00085..0.012). No model
is run; a few seconds:

    python scripts/timestep_rounding.py --out results/sd15_timestep_rounding.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import gitscore as gs  # noqa: E402
from gitscore.files import atomic_write_bytes  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-steps", type=int, default=20, help="step counts 2..MAX (default 20, the published ones)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    import diffusers

    sched = diffusers.EulerDiscreteScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                                             beta_schedule="scaled_linear")
    table = gs.adapters.vp_sigmas(sched.alphas_cumprod)
    lo, hi = float(table[0]), float(table[-1])
    spacing = (table[1:] / table[:-1]).log()
    out = {"diffusers": diffusers.__version__, "table": "EulerDiscreteScheduler scaled_linear 0.00085..0.012",
           "sigma_range": [lo, hi], "half_spacing_max": float(spacing.max() / 2), "rows": []}
    grid = gs.gits.teacher_grid(61, lo, hi)
    for name in ("sd15-gits-1.15", "sd15-gits-1.20"):
        for n in [n for n in gs.published.get(name).steps if n <= args.max_steps]:
            s = gs.published.schedule(name, n)
            out["rows"].append({"schedule": name, "steps": n, "shift": gs.export.timestep_rounding(s, sched)})
    for n in range(2, args.max_steps + 1):
        out["rows"].append({"schedule": "polynomial", "steps": n,
                            "shift": gs.export.timestep_rounding(gs.schedules.polynomial(n, lo, hi), sched)})
        idx = torch.linspace(0, 60, n + 1).round().long()  # a path through GITS's 61-point teacher grid
        out["rows"].append({"schedule": "gits-grid", "steps": n,
                            "shift": gs.export.timestep_rounding(grid[idx], sched)})
    for kind in ("sd15-gits-1.15", "sd15-gits-1.20", "polynomial", "gits-grid"):
        shifts = [r["shift"] for r in out["rows"] if r["schedule"] == kind]
        out[f"max_shift_{kind}"] = max(shifts)
        print(f"{kind}: largest sigma shift {100 * max(shifts):.3f} % over {len(shifts)} step counts")
    out["wall_time_s"] = round(time.perf_counter() - t0, 1)
    atomic_write_bytes(args.out, (json.dumps(out, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
