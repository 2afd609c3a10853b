"""The paper's claims on every data set of gitscore.data and across dimension: the runs behind chapter 11.

    python scripts/datasets_runs.py --out results/datasets.json            # about 30 min on one busy core
    python scripts/datasets_runs.py --out /tmp/d.json --smoke              # a minute: tiny sizes, to test it

Two parts, each resumable (the JSON is rewritten atomically after every data set; a rerun skips what is there
with the same settings and data):

- "regularity": for every data model of gitscore.models.DATA_MODELS plus Fashion-MNIST's KDE (d = 256 ..
  12,288), n_traj trajectories of iPNDM on EDM's 40-step polynomial grid from x_T = 80 z (latents of seed 0)
  with the exact KDE denoiser over the whole data set, and the same latents under the null model
  (gitscore.controls.NullDenoiser over the same images); per trajectory every statistic of
  gitscore.regularity.trajectory_statistics, the mean-shift identity (and its 1.01-bandwidth control) and the
  fraction of steps that raise the likelihood (and its random-direction control).
- "gits": on a few data sets, polynomial vs GITS (Euler, iPNDM; NFE 5, 6, 8, 10) by per-latent reference error
  (Heun on ref_steps steps, n_eval latents of the evaluation seed 1), GITS searched on each warm-up seed
  (0, 2, 3, 4, 5; the evaluation seed left out, as scripts/gits_seeds.py does) with n_warmup trajectories, the
  random-cost DP control on control seeds 0-4, and every other data set's GITS schedules scored here (the
  transfer table).

Every data set's fingerprint (gitscore.data.fingerprint, the sha256 of its images) is recorded; the chapter
refuses a file made from other data.
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

FMNIST = "fmnist28"  # Fashion-MNIST's KDE, beside the data models of gitscore.models
GITS_SETS = ("fmnist28", "glyphs32", "emoji32", "emoji64")
SOLVERS = ("euler", "ipndm")
NFES = (5, 6, 8, 10)


def variants() -> dict:
    """name -> (data set, size, colour) of every variant run."""
    return {FMNIST: ("fmnist", 28, None), **gs.models.DATA_MODELS}


def images_of(name: str) -> torch.Tensor:
    data, size, colour = variants()[name]
    return gs.data.load(data, size, colour)


def rounded(x, digits: int = 6):
    t = torch.as_tensor(x, dtype=torch.float64)
    return [float(f"{v:.{digits}g}") for v in t.reshape(-1).tolist()] if t.ndim <= 1 else \
        [rounded(r, digits) for r in t]


def regularity(name: str, args) -> dict:
    """Every regularity statistic of one variant, for the KDE and for the null model on the same latents."""
    images = images_of(name)
    if args.smoke:
        images = images[:64]
    shape = tuple(images.shape[1:])
    sigmas = gs.schedules.polynomial(args.n_steps)
    x_T = float(sigmas[0]) * gs.sampling.latents(shape, args.seed, 0, args.n_traj)
    kde = gs.denoisers.KDEDenoiser(images)
    null = gs.controls.NullDenoiser(images, seed=args.seed)
    solver = gs.solvers.SOLVERS["ipndm"]
    out = {"d": int(images[0].numel()), "shape": list(shape), "n_images": len(images)}
    t0 = time.perf_counter()
    with torch.no_grad():
        runs = {"kde": gs.trajectory.record(solver, kde, x_T.float(), sigmas),
                "null": gs.trajectory.record(solver, null, x_T.float(), sigmas)}
    for key, tr in runs.items():
        st = gs.regularity.trajectory_statistics(tr)
        out[key] = {"deviation_ratio": rounded(st["deviation_ratio"]), "recon3": rounded(st["recon3"]),
                    "settle": rounded(st["settle"]), "length_ratio": rounded(st["length_ratio"]),
                    "field_mean": rounded(st["field"].mean(1)),
                    "field_cv": rounded(st["field"].std(1, ddof=1) / st["field"].mean(1)),
                    "field_curve": rounded(st["field"].mean(0)), "proj": rounded(st["proj"], 5)}
    out["identity"] = gs.regularity.meanshift_identity(kde, seed=args.seed + 3)
    out["identity_control"] = gs.regularity.meanshift_identity(kde, seed=args.seed + 3, bandwidth=1.01)
    up, rand = gs.regularity.likelihood_rises(kde, runs["kde"], seed=args.seed)
    out["likelihood"], out["likelihood_random"] = rounded(up), rounded(rand)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def gits_runs(name: str, args, state: dict) -> dict:
    """Polynomial, GITS on every warm-up seed and the random-cost DP on one data set, by reference error."""
    images = images_of(name)
    if args.smoke:
        images = images[:64]
    elif name == FMNIST:
        images = gs.models.kde_subset(images, args.fmnist_kde_size)
    shape = tuple(images.shape[1:])
    kde = gs.denoisers.KDEDenoiser(images)
    t0 = time.perf_counter()
    x_T = gs.schedules.SIGMA_MAX * gs.sampling.latents(shape, args.eval_seed, 0, args.n_eval, torch.float32)
    with torch.no_grad():
        reference = gs.metrics.reference_solution(kde, x_T, n_steps=args.ref_steps)
        coarse = gs.metrics.reference_solution(kde, x_T, n_steps=args.ref_steps // 2)
    out = {"kde_size": len(images), "d": int(images[0].numel()),
           "reference_check": gs.metrics.reference_error(coarse, reference),  # Heun n/2 vs n steps
           "polynomial": {}, "gits": {}, "random_dp": {}, "schedules": {}}
    score = gs.metrics.ReferenceScorer(kde, reference, seed=args.eval_seed, shape=shape)
    cells = [(s, n) for s in SOLVERS for n in args.nfe]
    for s, n in cells:
        out["polynomial"][f"{s} {n}"] = rounded(score(s, gs.schedules.polynomial(n)))
    grid = gs.gits.teacher_grid(args.grid_points)
    for seed in args.seeds:
        res = gs.gits.search_info(kde, shape, 1, grid=grid, seed=seed, n_warmup=args.n_warmup)
        out["schedules"][str(seed)] = {f"{s} {n}": rounded(res.schedule(n), 8) for s, n in cells}
        out["gits"][str(seed)] = {f"{s} {n}": rounded(score(s, res.schedule(n))) for s, n in cells}
    for seed in args.control_seeds:
        out["random_dp"][str(seed)] = {f"{s} {n}": rounded(score(s, gs.controls.random_cost_schedule(grid, n, seed)))
                                       for s, n in cells}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["_scorer"] = score
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="the JSON to write (resumed if it exists)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (64 images, 4 trajectories): tests the script")
    p.add_argument("--parts", nargs="+", default=["regularity", "gits"], choices=["regularity", "gits"])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    small = args.smoke
    args.seed, args.n_steps = 0, 40
    args.n_traj = 4 if small else 30
    args.eval_seed, args.n_eval = 1, 4 if small else 64
    args.ref_steps = 16 if small else 256
    args.seeds, args.control_seeds = ([0, 2] if small else [0, 2, 3, 4, 5]), ([0, 1] if small else [0, 1, 2, 3, 4])
    args.n_warmup, args.grid_points = (4, 11) if small else (64, 61)
    args.nfe = [5, 6] if small else list(NFES)
    args.fmnist_kde_size = 10000
    gits_sets = ("glyphs32", "emoji32") if small else GITS_SETS
    names = list(variants()) if not small else [FMNIST, "glyphs16", "emoji16"]

    settings = {"smoke": small, "seed": args.seed, "n_steps": args.n_steps, "n_traj": args.n_traj,
                "solver": "ipndm", "sigma_max": gs.schedules.SIGMA_MAX, "eval_seed": args.eval_seed,
                "n_eval": args.n_eval, "ref_steps": args.ref_steps, "reference_solver": gs.metrics.REFERENCE_SOLVER,
                "warmup_seeds": args.seeds, "control_seeds": args.control_seeds, "n_warmup": args.n_warmup,
                "grid_points": args.grid_points, "nfes": args.nfe, "solvers": list(SOLVERS),
                "fmnist_kde_size": args.fmnist_kde_size, "gits_sets": list(gits_sets),
                "variants": {n: list(variants()[n]) for n in names}}
    data = {d: {"sha256": gs.data.fingerprint(d), "count": gs.data.card(d)["count"],
                "source_sha256": gs.data.card(d)["source_sha256"]} for d in gs.data.DATASETS}
    state = json.loads(args.out.read_text()) if args.out.exists() else {}
    if state and (state.get("settings") != settings or state.get("data") != data):
        p.error(f"{args.out} holds a run with other settings or data; use another --out or delete it")
    state.update(settings=settings, data=data)
    state.setdefault("regularity", {})
    state.setdefault("gits", {})
    t0, prior = time.perf_counter(), state.get("elapsed_s", state.get("wall_time_s", 0.0))

    def save(done: bool = False):
        # elapsed_s while running (resumed runs' time added); wall_time_s only once every part is there, which is
        # what marks the file complete for scripts/results_pipeline.py
        state["elapsed_s"] = round(prior + time.perf_counter() - t0, 1)
        if done:
            state["wall_time_s"] = state["elapsed_s"]
        atomic_write_bytes(args.out, (json.dumps(state) + "\n").encode())

    if "regularity" in args.parts:
        for name in names:
            if name not in state["regularity"]:
                state["regularity"][name] = regularity(name, args)
                save()
                print(f"regularity {name}: {state['regularity'][name]['seconds']} s", flush=True)
    if "gits" in args.parts:
        scorers = {}
        for name in gits_sets:
            if name in state["gits"] and "transfer" in state["gits"][name]:
                continue
            run = gits_runs(name, args, state)
            scorers[name] = run.pop("_scorer")
            state["gits"][name] = run
            save()
            print(f"gits {name}: {run['seconds']} s", flush=True)
        # The transfer table: every data set's GITS schedules scored on every other (same sigma range).
        for target in gits_sets:
            if "transfer" in state["gits"][target]:
                continue
            if target not in scorers:
                p.error(f"{args.out}: resume of the transfer needs the GITS runs again; delete the 'gits' part")
            t1, tr = time.perf_counter(), {}
            for source in gits_sets:
                if source == target:
                    continue
                tr[source] = {seed: {cell: rounded(scorers[target](cell.split()[0], torch.tensor(sig)))
                                     for cell, sig in cells.items()}
                              for seed, cells in state["gits"][source]["schedules"].items()}
            state["gits"][target]["transfer"] = tr
            state["gits"][target]["transfer_seconds"] = round(time.perf_counter() - t1, 1)
            save()
            print(f"transfer to {target}: {state['gits'][target]['transfer_seconds']} s", flush=True)
    done = set(names) <= set(state["regularity"]) and all("transfer" in state["gits"].get(g, {}) for g in gits_sets)
    save(done)
    print(f"wrote {args.out} ({state['elapsed_s']} s{'' if done else '; not every part is there yet'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
