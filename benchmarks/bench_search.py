"""Benchmark `gitscore search`: where the time goes and what fewer warm-up trajectories and bfloat16 cost.

One run: for each warm-up seed, one warm-up of max(--sizes) trajectories in batches of min(--sizes) (the latents
are seeded per sample, so its first k trajectories are the warm-up of size k, and the batch boundaries time each
size), in each of --precisions (bf16: the network under bfloat16 autocast, gitscore.denoisers.Autocast, as
`gitscore search --precision bf16`); then, per size k, the cost matrix and the DP on the first k trajectories.
Printed per precision and size:

  time      import + model load (once), warm-up of k trajectories, cost matrix + DP; the warm-up's share
  moves     max |log sigma_k - log sigma_ref| over the schedule's sigmas and the seeds, against the float32 search
            with --ref-size trajectories of the same seed (default 256, the library's default), and how many seeds
            give the identical schedule; for scale, the same between two warm-up seeds (fp32, --ref-size)
  error     --solver's reference error (RMSE against the stored reference solutions of results/fmnist_fd: Heun
            256 steps, 256 latents of eval seed 1) as a change against the --ref-size schedules, two-level
            bootstrap interval over the seeds and the latents (gitscore.stats.two_level_change)

    python benchmarks/bench_search.py [--steps 6] [--sizes 64 128 256 512] [--seeds 0 1 2 3 4] [--threads 2]
                                      [--precisions fp32 bf16]
"""
from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import gitscore as gs  # noqa: E402

T_IMPORT = time.perf_counter() - T_START


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, nargs="+", default=[6], help="step counts of the schedules (default: 6)")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512], help="warm-up sizes compared")
    p.add_argument("--ref-size", type=int, default=gs.gits.SearchConfig.n_warmup,
                   help="the size the others are compared with (default: the library's n_warmup)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="warm-up seeds")
    p.add_argument("--solver", default="ipndm", help="solver of the reference error (default: ipndm)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"), default=["fp32", "bf16"],
                   help="warm-up precisions compared (default: fp32 bf16; the reference is fp32)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = sorted(set(args.sizes) | {args.ref_size})

    t0 = time.perf_counter()
    model = gs.models.load_model("fmnist", device="cpu")
    t_load = time.perf_counter() - t0
    print(f"load {os.getloadavg()[0]:.2f} (1-min average); torch threads {torch.get_num_threads()}; "
          f"import {T_IMPORT:.2f} s, model load {t_load:.2f} s")

    base = gs.gits.SearchConfig(n_warmup=max(sizes), batch_size=min(sizes))
    reference = gs.results.reference("fmnist_fd")
    run = gs.results.load_run("fmnist_fd")
    scorer = gs.metrics.ReferenceScorer(model.denoiser, reference, seed=run["config"]["eval_seed"],
                                        shape=model.shape, batch_size=256)
    precisions = list(dict.fromkeys(["fp32", *args.precisions]))  # fp32 holds the reference
    rows = [(pr, k) for pr in precisions for k in sizes]
    warm_s = {r: [] for r in rows}
    cost_s = {r: [] for r in rows}
    scheds = {}  # (seed, precision, k, n) -> sigmas
    for seed in args.seeds:
        config = base.replace(seed=seed)
        for pr in precisions:
            done, t0 = {}, time.perf_counter()
            last = len(config.teacher_grid(model.denoiser)) - 2

            def note(info, done=done, t0=t0, last=last):
                if info["i"] == last:
                    done[info["stop"]] = time.perf_counter() - t0

            denoiser = gs.denoisers.Autocast(model.denoiser) if pr == "bf16" else model.denoiser
            w = _warmup_with_callback(model, denoiser, config, config.teacher_grid(model.denoiser), note)
            for k in sizes:
                warm_s[pr, k].append(min(t for stop, t in done.items() if stop >= k))
                sub = gs.gits.Warmup(w.xs[:, :k], w.ds[:, :k], w.sigmas, 0.0)
                t1 = time.perf_counter()
                r = gs.gits.from_warmup(sub, max(args.steps), metric=config.metric, coeff=config.coeff)
                for n in args.steps:
                    scheds[seed, pr, k, n] = r.schedule(n)
                cost_s[pr, k].append(time.perf_counter() - t1)
            print(f"seed {seed}: {pr} warm-up of {max(sizes)} trajectories {max(done.values()):.1f} s", flush=True)

    print(f"\n{'precision':>9} {'n_warmup':>8} {'warm-up s':>9} {'cost+DP s':>9} {'search s':>9} {'warm-up share':>13}")
    for pr, k in rows:
        wk, ck = float(np.median(warm_s[pr, k])), float(np.median(cost_s[pr, k]))
        total = T_IMPORT + t_load + wk + ck
        print(f"{pr:>9} {k:>8} {wk:>9.2f} {ck:>9.3f} {total:>9.2f} {wk / total:>13.0%}")
    print("(medians over the seeds; search s = import + model load + warm-up + cost + DP, as `gitscore search`)")

    for n in args.steps:
        print(f"\n{n} steps, against the {args.ref_size}-trajectory search of the same seed "
              f"({args.solver} reference error, {len(reference)} latents x {len(args.seeds)} seeds):")
        ref = {s: scheds[s, "fp32", args.ref_size, n] for s in args.seeds}
        base_err = np.stack([scorer(args.solver, ref[s]).numpy() for s in args.seeds])
        for pr, k in rows:
            moves = [float((scheds[s, pr, k, n].log() - ref[s].log()).abs().max()) for s in args.seeds]
            same = sum(m == 0 for m in moves)
            err = np.stack([scorer(args.solver, scheds[s, pr, k, n]).numpy() for s in args.seeds])
            line = f"  {pr} {k:>4}: max |log sigma diff| {max(moves):.3f}, identical in {same}/{len(moves)} seeds"
            if (pr, k) != ("fp32", args.ref_size) and len(args.seeds) > 1:
                iv = gs.stats.two_level_change(base_err, err, n_boot=1000)
                line += f"; error change {iv.format(100, '{:+.1f}', ' %')}"
            line += f"; mean error {err.mean():.4f}"
            print(line, flush=True)
        seeds = args.seeds
        between = [float((ref[a].log() - ref[b].log()).abs().max()) for a, b in zip(seeds, seeds[1:])]
        if between:
            print(f"  for scale, fp32 {args.ref_size} between consecutive warm-up seeds: max |log sigma diff| "
                  f"{max(between):.3f}, identical in {sum(m == 0 for m in between)}/{len(between)} pairs")
        for s in args.seeds[:1]:
            for pr, k in rows:
                print(f"    seed {s}, {pr} {k:>4}: {gs.results.fmt_sigmas(scheds[s, pr, k, n])}")


def _warmup_with_callback(model, denoiser, config, grid, note):
    """gits.warmup's teacher run with a per-step callback (to time the batches) on top of its own recording."""
    orig = gs.sampling.sample

    def sample(*a, callback=None, **kw):
        def both(info):
            callback(info)
            note(info)
        return orig(*a, callback=both, **kw)

    gs.sampling.sample = sample
    try:
        return gs.gits.warmup(denoiser, model.shape, config.n_warmup, grid=grid, teacher=config.teacher,
                              seed=config.seed, batch_size=config.batch_size, dtype=config.dtype,
                              device=model.device)
    finally:
        gs.sampling.sample = orig


if __name__ == "__main__":
    main()
