"""Every schedule search of gitscore.harness on one model, scored by reference error over warm-up seeds.

    python scripts/harness.py --model kde --kde-size 5000 --n-eval 128 --out results/harness_kde.json
    python scripts/harness.py --model fmnist --n-eval 64 --out results/harness_fmnist.json
    python scripts/harness.py --model fmnist --cells "dpmpp 5" "unipc 6" "euler 8" --out results/harness_fmnist.json

For every cell (solver, NFE), every warm-up seed (the evaluation seed left out) and every method of
gitscore.harness.METHODS: the schedule, its search cost (denoiser evaluations, seconds) and its per-latent
RMSE against the reference solution of the first n_eval latents of the evaluation seed (Heun; the network's
reference is the committed one of results/fmnist_sweep, the KDE's is computed here and checked against twice
the steps). Fixed schedules are scored once. Then the per-sample headroom: on the first n_headroom evaluation
latents, each latent's own student-state DP schedule (gitscore.oss, on that latent's own teacher trajectory)
against the best single schedule. Methods a solver cannot run (ld3 and oracle need a differentiable solver)
are left out of that cell (harness.available). AYS's search does not depend on the solver: it runs once per (seed, NFE).
Resumable and atomic: the JSON is rewritten after every schedule, and a rerun skips what is there (same
settings); new --cells, --seeds or --methods extend it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import gitscore as gs  # noqa: E402
from gitscore import harness as H  # noqa: E402
from gitscore.files import save_run_state, sha256_file  # noqa: E402

FIRST = ["euler 5", "euler 6", "ipndm 5", "ipndm 6"]   # the cells the goal is judged on


def _rounded(x) -> list[float]:
    return [float(f"{v:.6g}") for v in torch.as_tensor(x).tolist()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=("kde", "fmnist"), required=True)
    p.add_argument("--kde-size", type=int, default=5000, help="training images in the KDE (default 5000)")
    p.add_argument("--out", type=Path, required=True, help="the JSON to write (resumed if it exists)")
    p.add_argument("--cells", nargs="+", default=FIRST, help="'solver nfe' pairs (default: euler, ipndm at 5, 6)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 2, 3, 4, 5], help="warm-up seeds (default 0 2 3 4 5)")
    p.add_argument("--methods", nargs="+", default=list(H.METHODS), choices=H.METHODS)
    p.add_argument("--n-eval", type=int, default=64, help="evaluation latents (default 64)")
    p.add_argument("--eval-seed", type=int, default=1, help="evaluation seed (default 1, the sweep's)")
    p.add_argument("--ref-steps", type=int, default=128, help="Heun steps of the KDE's reference (default 128)")
    p.add_argument("--n-headroom", type=int, default=32, help="latents of the per-sample headroom (0: none)")
    p.add_argument("--reference-from", type=Path, default=Path("results/fmnist_sweep"),
                   help="the network's committed reference run")
    d = gs.gits.SearchConfig()
    p.add_argument("--n-warmup", type=int, default=d.n_warmup, help=f"GITS warm-up trajectories (default {d.n_warmup})")
    p.add_argument("--grid-points", type=int, default=d.grid_points,
                   help=f"teacher grid points (default {d.grid_points})")
    args = p.parse_args(argv)
    cells = [(c.split()[0], int(c.split()[1])) for c in args.cells]
    if args.eval_seed in args.seeds:
        p.error(f"--seeds must leave out the evaluation seed {args.eval_seed}")
    config = H.HarnessConfig(search=gs.gits.SearchConfig(n_warmup=args.n_warmup, grid_points=args.grid_points))
    if config.n_tune + config.n_select > args.n_warmup:
        p.error(f"--n-warmup must be at least {config.n_tune + config.n_select} (the held-out selection's latents)")

    model = gs.models.load_model(args.model, kde_size=args.kde_size if args.model == "kde" else None, device="cpu")
    D, shape = model.denoiser, model.shape
    _, dtype = gs.models.sample_spec(args.model)
    data = gs.models.kde_subset(gs.models.fmnist_images("train"), args.kde_size if args.model == "kde" else None)
    settings = {"model": args.model, "kde_size": args.kde_size if args.model == "kde" else None,
                "n_eval": args.n_eval, "eval_seed": args.eval_seed,
                "config": asdict(config)}
    settings["config"]["search"] = {a: b for a, b in settings["config"]["search"].items() if a not in ("dtype", "grid")}
    t_ref = time.perf_counter()
    if args.model == "fmnist":
        run = json.loads((args.reference_from / "results.json").read_text())
        if run["weights_sha256"] != model.weights_sha256 or run["config"]["eval_seed"] != args.eval_seed:
            p.error(f"--reference-from {args.reference_from} was made with other weights or another eval seed")
        ref_path = args.reference_from / "reference.safetensors"
        reference = gs.results.read_reference(ref_path, run.get("reference", {}))[:args.n_eval]
        settings.update(weights_sha256=model.weights_sha256, reference=str(ref_path),
                        reference_sha256=sha256_file(ref_path))
        ref_info = {"source": str(ref_path)}
    else:
        x_T = D.sigma_max * gs.sampling.latents(shape, args.eval_seed, 0, args.n_eval, dtype)
        reference = gs.metrics.reference_solution(D, x_T, n_steps=args.ref_steps)
        finer = gs.metrics.reference_solution(D, x_T[:8], n_steps=2 * args.ref_steps)
        ref_info = {"solver": "heun", "steps": args.ref_steps,
                    "distance_to_2x_finer": gs.metrics.reference_error(reference[:8], finer)}
        settings["ref_steps"] = args.ref_steps
    state = json.loads(args.out.read_text()) if args.out.exists() else {}
    if state and state.get("settings") != settings:
        p.error(f"{args.out} holds a run with other settings; use another --out or delete it")
    state.setdefault("settings", settings)
    state["reference"] = dict(ref_info, seconds=round(time.perf_counter() - t_ref, 1))
    state.setdefault("cells", {})
    state.setdefault("headroom", {})
    state["note"] = ("errors: per-latent RMSE against the reference of the first n_eval latents of eval_seed; "
                     "searched methods per warm-up seed with their cost (denoiser evaluations of single samples, "
                     "warm-up share included; seconds of wall time on a shared 2-core CPU)")
    score = gs.metrics.ReferenceScorer(D, reference, seed=args.eval_seed, shape=shape, dtype=dtype)
    shared = {s: H.Shared() for s in args.seeds}
    ays_cache: dict = {}
    t0, prior = time.perf_counter(), state.get("wall_time_s", 0.0)

    def save(done=False):
        save_run_state(args.out, state, prior + time.perf_counter() - t0, done)

    for solver, nfe in cells:
        key = f"{solver} {nfe}"
        cell = state["cells"].setdefault(key, {})
        methods = [m for m in args.methods if H.available(m, solver)]
        for m in [m for m in methods if m in H.FIXED]:
            if m not in cell:
                r = H.run(m, D, solver, nfe, 0, config, shape=shape)
                cell[m] = {"sigmas": r.sigmas.tolist(), "errors": _rounded(score(solver, r.sigmas))}
                save()
        for seed in args.seeds:
            for m in [m for m in methods if m not in H.FIXED]:
                seeds = cell.setdefault(m, {"seeds": {}})["seeds"]
                if str(seed) in seeds:
                    continue
                if m == "ays" and (seed, nfe) in ays_cache:
                    r = ays_cache[seed, nfe]
                else:
                    r = H.run(m, D, solver, nfe, seed, config, shape=shape, data=data, shared=shared[seed])
                    if m == "ays":
                        ays_cache[seed, nfe] = r
                info = {k: v for k, v in r.info.items() if k != "paths"}
                seeds[str(seed)] = {"sigmas": r.sigmas.tolist(), "errors": _rounded(score(solver, r.sigmas)),
                                    "evaluations": int(r.evaluations), "seconds": round(r.seconds, 2), **info}
                save()
            print(f"{key} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
        if args.n_headroom and key not in state["headroom"] and solver in gs.optimal.STUDENT:
            state["headroom"][key] = _headroom(D, shape, solver, nfe, args, config, score.reference)
            save()
            print(f"{key} headroom: {time.perf_counter() - t0:.0f} s", flush=True)
    save(done=True)
    print(f"wrote {args.out}: cells {list(state['cells'])}, {state['wall_time_s']:.0f} s")
    return 0


def _headroom(D, shape, solver, nfe, args, config, reference) -> dict:
    """Each of the first n_headroom evaluation latents on its own student-state DP schedule."""
    t0 = time.perf_counter()
    n = H.steps_for(solver, nfe)
    k = min(args.n_headroom, len(reference))
    sc = config.search
    w = gs.gits.warmup(D, shape, k, grid=sc.teacher_grid(D), teacher=sc.teacher, seed=args.eval_seed)
    r = gs.oss.oss(D, w.xs, w.sigmas, n, solver=solver)
    errors = []
    for j, path in enumerate(r.paths):
        x = gs.solvers.SOLVERS[solver](D, w.xs[0, j:j + 1], w.sigmas[path])
        errors.append(float(gs.metrics.rmse_per_sample(x, reference[j:j + 1])[0]))
    return {"n": k, "paths": r.paths, "errors": _rounded(errors), "seconds": round(time.perf_counter() - t0, 1)}


if __name__ == "__main__":
    sys.exit(main())
