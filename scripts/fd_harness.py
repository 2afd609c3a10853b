"""FD (Fashion-MNIST classifier features, NOT Inception FID) of every schedule search of chapter 8's harness.

    python scripts/fd_harness.py --out results/fmnist_fd_harness.json        # ~35 min on 2 CPU cores

The harness (`scripts/harness.py`, `results/harness_fmnist*.json`) scores each method by the error against the
exact ODE solution on 64 latents. This scores the same schedules by FD on the shipped network: for each cell
(solver, NFE) and method, the schedule searched on the k-th warm-up seed samples the k-th block of `--n-per-seed`
evaluation latents (seed `--eval-seed`), a fixed schedule samples every block
(`gitscore.fdruns.BlockFeatures`), and each method's FD is set against GITS's on the same latents:
FD(method) / FD(GITS) - 1 with a paired two-level interval (`fdruns.ratio_interval`: warm-up seeds, then
samples, on the log scale). Resumable: features are cached under `--cache` (shared with scripts/fd_headline.py) and the
JSON is rewritten after each method.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import gitscore as gs  # noqa: E402
from gitscore.files import save_run_state  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="the JSON to write (resumed if it exists)")
    p.add_argument("--harness", type=Path, nargs="+",
                   default=sorted((ROOT / "results").glob("harness_fmnist*.json")),
                   help="the harness results on the shipped network (default results/harness_fmnist*.json)")
    p.add_argument("--cells", nargs="+", default=None, help="'solver nfe' cells (default: every cell of the files)")
    p.add_argument("--methods", nargs="+", default=None, choices=gs.harness.METHODS,
                   help="methods scored (default: every method of each cell)")
    p.add_argument("--n-per-seed", type=int, default=2000,
                   help="samples per warm-up seed (default 2000: 10,000 over five seeds)")
    p.add_argument("--eval-seed", type=int, default=1, help="evaluation latents' seed (default 1)")
    p.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates (default 200)")
    p.add_argument("--batch-size", type=int, default=500, help="sampling batch (default 500)")
    p.add_argument("--cache", type=Path, default=Path("runs/fd_cache"),
                   help="where the features are kept (default runs/fd_cache, shared with scripts/fd_headline.py)")
    args = p.parse_args(argv)
    res = gs.harness.read(args.harness)
    if res["settings"]["model"] != "fmnist":
        p.error(f"--harness must hold runs on the network (model fmnist), got {res['settings']['model']!r}")
    model = gs.models.load_model("fmnist", device="cpu")
    if res["settings"]["weights_sha256"] != model.weights_sha256:
        p.error("--harness was made with other weights than the shipped network: rerun the harness first")
    cells = args.cells or sorted(res["cells"])
    missing = [c for c in cells if c not in res["cells"]]
    if missing:
        p.error(f"--cells {missing} are not in the harness files (they hold {sorted(res['cells'])})")
    seeds = {c: sorted({int(k) for v in res["cells"][c].values() for k in v.get("seeds", {})}) for c in cells}
    if any(len(s) < 2 for s in seeds.values()):
        p.error(f"every cell needs at least 2 warm-up seeds for the two-level interval, got {seeds}")
    if args.eval_seed in {k for s in seeds.values() for k in s}:
        p.error(f"--eval-seed {args.eval_seed} is a warm-up seed of the harness: pick another")
    settings = {"model": "fmnist_edm", "weights_sha256": model.weights_sha256,
                "harness": [Path(f).name for f in res["files"]], "eval_seed": args.eval_seed,
                "n_per_seed": args.n_per_seed, "n_boot": args.n_boot,
                "warmup_seeds": seeds}
    state = json.loads(args.out.read_text()) if args.out.exists() else {}
    if state and state.get("settings") != settings:
        p.error(f"{args.out} holds a run with other settings; use another --out or delete it")
    state.setdefault("settings", settings)
    state["note"] = ("FD on Fashion-MNIST classifier features, not Inception FID; each method's schedule of warm-up "
                     "seed k samples block k of the evaluation latents (fixed schedules every block); vs_gits: "
                     "FD(method) / FD(GITS) - 1, paired two-level bootstrap (warm-up seeds, then samples) on the log "
                     "scale")
    state.setdefault("cells", {})
    t0, prior = time.perf_counter(), state.get("wall_time_s", 0.0)

    def save(done=False):
        save_run_state(args.out, state, prior + time.perf_counter() - t0, done)

    n_max = max(len(s) for s in seeds.values())
    blocks = gs.fdruns.BlockFeatures(model.denoiser, model.shape, eval_seed=args.eval_seed, block=args.n_per_seed,
                                     cache=args.cache, tag=model.weights_sha256, batch_size=args.batch_size)
    for cell in cells:
        solver = cell.split()[0]
        entries = res["cells"][cell]
        methods = [m for m in (args.methods or gs.harness.METHODS) if m in entries]
        if "gits" not in methods:
            methods.insert(0, "gits")
        ks = [str(k) for k in seeds[cell]]

        def schedules(m):
            v = entries[m]
            return [v["seeds"][k]["sigmas"] for k in ks] if "seeds" in v else [v["sigmas"]] * len(ks)

        out = state["cells"].setdefault(cell, {})
        gits = blocks.stack(solver, schedules("gits"))
        for m in methods:
            if m in out:
                continue
            t1 = time.perf_counter()
            x = gits if m == "gits" else blocks.stack(solver, schedules(m))
            row = {"fd": gs.fdruns.pooled_fd(x), "fd_per_seed": [gs.fdruns.pooled_fd(f[None]) for f in x],
                   "searched": "seeds" in entries[m]}
            if m != "gits":
                iv = gs.fdruns.ratio_interval({"x": x, "base": gits}, n_boot=args.n_boot)
                row["vs_gits"] = gs.fdruns.interval_dict(iv)
            out[m] = row
            save()
            print(json.dumps({"cell": cell, "method": m, "fd": round(row["fd"], 3),
                              "vs_gits": [round(row["vs_gits"][k], 4) for k in ("estimate", "low", "high")]
                              if "vs_gits" in row else None, "s": round(time.perf_counter() - t1)}), flush=True)
    state["warmup_seeds"] = sorted({k for s in seeds.values() for k in s})
    save(done=True)
    print(f"wrote {args.out} ({state['wall_time_s'] / 60:.1f} min, {n_max} warm-up seeds per cell)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
