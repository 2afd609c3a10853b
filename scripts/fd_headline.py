"""The paper's headline table by FD (Fashion-MNIST classifier features, NOT Inception FID) on the shipped network.

    python scripts/fd_headline.py --out results/fmnist_fd_headline.json     # ~1 h on 2 CPU cores

Polynomial against GITS (official defaults) for Euler, iPNDM, DPM-Solver++(3M), UniPC and DEIS at NFE 5, 6, 8
and 10, each scored by the FD of `--n` samples against the test split:

- the evaluation latents (seed `--eval-seed`, the bench's, whose first 10,000 are `fmnist_fd_converged`'s) are
  cut into one block per warm-up seed; GITS searched on warm-up seed k samples block k, so the GITS FD pools
  `--n` samples over the warm-up seeds, and the polynomial schedule samples the same latents (paired);
- the control of the GITS claims, GITS's DP over random costs (`controls.random_cost_schedule`): the first
  `--n-control` evaluation latents cut into one block per control seed (20 seeds by default: the random
  schedules differ far more from seed to seed than GITS's, so the seed level needs more of them), against the
  polynomial schedule on the same latents;
- "iPNDM + GITS beats the other fast solvers": FD(iPNDM + GITS) / min FD(DPM-Solver++(3M), UniPC, DEIS on the
  polynomial schedule) - 1, with Euler + GITS in place of iPNDM + GITS as its control.

Every interval is `metrics.frechet_two_level`'s (warm-up seeds, then samples within each seed's block, the
same draws for every set compared: paired), of the log of the FD ratio, mapped back
(`fdruns.ratio_interval`). Features of every sampled set are cached under `--cache`
(`gitscore.fdruns.BlockFeatures`), and the JSON is rewritten after each NFE, so a killed run resumes.
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
from gitscore.files import save_run_state  # noqa: E402

OTHERS = ("dpmpp", "unipc", "deis")  # the paper's other fast solvers (DPM-Solver++(3M), UniPC, DEIS-tAB3)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="the JSON to write (resumed if it exists)")
    p.add_argument("--n", type=int, default=10000, help="FD samples per schedule, over all warm-up seeds "
                   "(default 10000)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 2, 3, 4, 5],
                   help="GITS warm-up seeds, the evaluation seed left out (default 0 2 3 4 5)")
    p.add_argument("--control-seeds", type=int, nargs="+", default=list(range(20)),
                   help="seeds of the random-cost DP control (default 0-19)")
    p.add_argument("--n-control", type=int, default=2000, help="control samples, over its seeds (default 2000)")
    p.add_argument("--solvers", nargs="+", default=["euler", "ipndm", *OTHERS], choices=sorted(gs.solvers.SOLVERS),
                   help="default: euler ipndm dpmpp unipc deis")
    p.add_argument("--nfe", type=int, nargs="+", default=[5, 6, 8, 10], help="default: 5 6 8 10")
    p.add_argument("--eval-seed", type=int, default=1, help="evaluation latents' seed (default 1, the bench's)")
    p.add_argument("--n-warmup", type=int, default=gs.gits.SearchConfig.n_warmup,
                   help=f"GITS warm-up trajectories (default {gs.gits.SearchConfig.n_warmup})")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates (default 200)")
    p.add_argument("--batch-size", type=int, default=500, help="sampling batch (default 500)")
    p.add_argument("--cache", type=Path, default=Path("runs/fd_cache"),
                   help="where the features of each sampled set are kept (default runs/fd_cache, shared with "
                        "scripts/fd_harness.py)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    S, C = len(args.seeds), len(args.control_seeds)
    if args.eval_seed in args.seeds:
        p.error(f"--seeds must leave out the evaluation seed {args.eval_seed}: GITS would be fitted on the latents "
                "it is scored on")
    if S < 2 or C < 2 or len(set(args.seeds)) != S or len(set(args.control_seeds)) != C:
        p.error("--seeds and --control-seeds need at least 2 distinct seeds each (the two-level interval)")
    if args.n % S or args.n // S < 2:
        p.error(f"--n must be a multiple of the number of warm-up seeds ({S}), got {args.n}")
    if args.n_control % C or args.n_control // C < 2 or args.n_control > args.n:
        p.error(f"--n-control must be a multiple of the control seeds ({C}), at least 2 per seed and at most --n")
    if "ipndm" in args.solvers and not set(OTHERS) <= set(args.solvers):
        p.error(f"the iPNDM + GITS comparison needs the solvers {list(OTHERS)}")
    for s in args.solvers:
        if gs.solvers.calls_per_step(s) != 1:
            p.error(f"--solvers: {s} takes {gs.solvers.calls_per_step(s)} calls per step; use one-call solvers")
    block, block_c = args.n // S, args.n_control // C

    model = gs.models.load_model("fmnist", device="cpu")
    net, shape = model.denoiser, model.shape
    config = gs.gits.SearchConfig(n_warmup=args.n_warmup)
    settings = {"model": "fmnist_edm", "weights_sha256": model.weights_sha256, "eval_seed": args.eval_seed,
                "n": args.n, "warmup_seeds": args.seeds, "control_seeds": args.control_seeds,
                "n_control": args.n_control, "solvers": args.solvers, "nfes": args.nfe, "n_boot": args.n_boot,
                "search": {k: v for k, v in vars(config).items() if k not in ("dtype", "grid")}}
    blocks = gs.fdruns.BlockFeatures(net, shape, eval_seed=args.eval_seed, block=block, cache=args.cache,
                                     tag=model.weights_sha256, batch_size=args.batch_size)
    blocks_c = gs.fdruns.BlockFeatures(net, shape, eval_seed=args.eval_seed, block=block_c, cache=args.cache,
                                       tag=model.weights_sha256, batch_size=args.batch_size)
    state = json.loads(args.out.read_text()) if args.out.exists() else {}
    if state and state.get("settings") != settings:
        p.error(f"{args.out} holds a run with other settings or weights; use another --out or delete it")
    state.setdefault("settings", settings)
    state["note"] = ("FD on Fashion-MNIST classifier features, not Inception FID; intervals: two-level bootstrap "
                     "(warm-up seeds, then samples within each seed's block of latents), paired, basic method")
    state["warmup_seeds"], state["control_seeds"] = args.seeds, args.control_seeds
    state.setdefault("rows", {})
    state.setdefault("best", {})
    t0, prior = time.perf_counter(), state.get("wall_time_s", 0.0)

    def save(done=False):
        save_run_state(args.out, state, prior + time.perf_counter() - t0, done)

    # the schedules: one GITS search per warm-up seed gives every NFE (its DP on the same cost matrix)
    grid = config.teacher_grid(net)
    sched = state.setdefault("schedules", {})
    if "gits" not in sched or sorted(map(int, sched["gits"])) != sorted(args.seeds):
        sched["gits"] = {}
        for seed in args.seeds:
            res = gs.gits.search_info(net, shape, 1, config, seed=seed)
            sched["gits"][str(seed)] = {str(n): res.schedule(n).tolist() for n in args.nfe}
            print(f"GITS warm-up seed {seed}: {res.timings['warmup']:.0f} s", flush=True)
        sched["random_dp"] = {str(c): {str(n): gs.controls.random_cost_schedule(grid, n, c).tolist()
                                       for n in args.nfe} for c in args.control_seeds}
        sched["polynomial"] = {str(n): gs.schedules.polynomial(n).tolist() for n in args.nfe}
        save()

    fd, _iv = gs.fdruns.pooled_fd, gs.fdruns.interval_dict
    # relative changes, their intervals on the log scale (gs.fdruns.ratio_interval: never below -100 %)
    two_level = lambda sets, ratio=gs.fdruns.ratio: _iv(gs.fdruns.ratio_interval(sets, ratio, n_boot=args.n_boot))
    for nfe in args.nfe:
        if str(nfe) in state["best"] or ("ipndm" not in args.solvers and all(
                f"{s} {nfe}" in state["rows"] for s in args.solvers)):
            continue
        t1 = time.perf_counter()
        feats = {}
        for solver in args.solvers:
            P = blocks.stack(solver, [sched["polynomial"][str(nfe)]] * S)
            G = blocks.stack(solver, [sched["gits"][str(seed)][str(nfe)] for seed in args.seeds])
            R = blocks_c.stack(solver, [sched["random_dp"][str(c)][str(nfe)] for c in args.control_seeds])
            # the control's latents (the first n_control, in blocks of block_c) under the polynomial schedule
            P_c = P.reshape(-1, P.shape[-1])[:args.n_control].reshape(C, block_c, -1)
            feats[solver] = {"polynomial": P, "gits": G}
            row = {"solver": solver, "nfe": nfe,
                   "fd": {"polynomial": fd(P), "gits": fd(G), "random_dp": fd(R), "polynomial_control": fd(P_c)},
                   "fd_per_seed": {"gits": [fd(g[None]) for g in G], "polynomial": [fd(q[None]) for q in P]},
                   "gits_vs_polynomial": two_level({"x": G, "base": P}),
                   "random_dp_vs_polynomial": two_level({"x": R, "base": P_c})}
            state["rows"][f"{solver} {nfe}"] = row
            print(json.dumps({"solver": solver, "nfe": nfe, "fd": {k: round(v, 3) for k, v in row["fd"].items()},
                              "gits_vs_poly": [round(row["gits_vs_polynomial"][k], 4)
                                               for k in ("estimate", "low", "high")]}), flush=True)
            save()
        if "ipndm" in args.solvers:
            others = {o: feats[o]["polynomial"] for o in OTHERS}
            best = lambda f: f["x"] / min(f[o] for o in OTHERS)
            fds = {o: fd(v) for o, v in others.items()}
            out = {"nfe": nfe, "fd_others": fds, "best_other": min(fds, key=fds.get)}
            for cand in ("ipndm", "euler"):
                if cand in feats:
                    out[f"{cand}_gits_vs_best_other"] = two_level({"x": feats[cand]["gits"], **others}, best)
            state["best"][str(nfe)] = out
            save()
        print(f"NFE {nfe}: {time.perf_counter() - t1:.0f} s", flush=True)
    save(done=True)
    print(f"wrote {args.out} ({state['wall_time_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
