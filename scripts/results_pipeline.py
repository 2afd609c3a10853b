"""The results pipeline: every file under results/ regenerated from the code, one declared step at a time.

    python scripts/results_pipeline.py list                        # steps, commands, outputs, measured times
    python scripts/results_pipeline.py run --out results           # `make results`: from the shipped weights
    python scripts/results_pipeline.py weights --out runs          # `make weights`: retrain them from scratch
    python scripts/results_pipeline.py run --smoke --out _build/results-smoke   # `make results-smoke`

`run` executes RESULTS in order (a later step may read an earlier one's output, e.g. the FD runs reuse the
sweep's reference solutions), `weights` executes WEIGHTS. Resumable: a step whose outputs exist and are
complete (a bench run with every row of its configuration and its reference, a JSON with its closing
`wall_time_s`, an exported network with its config) is skipped; `--force` deletes a step's outputs and
reruns it (a bench run would otherwise resume and add nothing); `--steps a b` runs only those. Each step
prints what it makes, its command and how long it took; its output is also kept in OUT/STEP.log (the
committed results/*.log files are such logs).

`--smoke` runs BOTH lists with tiny sizes (a few latents, a few training steps, a small KDE) into a scratch
folder that it empties first: it checks that every command of the pipeline runs and writes what the next
step reads, in about a minute; its numbers mean nothing.

Times (`minutes`) are measured on 2 CPU cores: each run's own `wall_time_s`, the training configs'
`wall_time_s`, and the quality curve's `seconds` column. Runs of the first network (`results/fmnist_rough_*`)
are not regenerated: they were made with the code of their time, when `--model fmnist` was that network
(see FROZEN).
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMOKE_MARKER = ".results-smoke"


@dataclass(frozen=True)
class Step:
    name: str
    command: str        # {py}: this Python; {out}: the output folder
    outputs: tuple      # paths under {out}
    minutes: float      # measured on 2 CPU cores
    smoke: str          # the same command with tiny sizes
    kind: str           # "bench" | "json" | "csv" | "weights": how completeness is checked
    note: str = ""

    def argv(self, py: str, out: Path, smoke: bool) -> list[str]:
        text = self.smoke if smoke else self.command
        return [a.format(py=py, out=out) for a in shlex.split(text)]

    def paths(self, out: Path) -> list[Path]:
        return [out / p for p in self.outputs]


def _bench(name, options, minutes, smoke, **kw) -> Step:
    return Step(name, f"{{py}} -m gitscore bench {options} --out {{out}}/{name}",
                (f"{name}/results.json", f"{name}/results.csv", f"{name}/reference.safetensors"),
                minutes, f"{{py}} -m gitscore bench {smoke} --no-progress --out {{out}}/{name}", "bench", **kw)


# Small sizes shared by the smoke runs of the network benchmarks (same eval seed and reference steps in each,
# so --reference-from works as in the full runs).
_SMOKE_NET = "--n-ref 4 --ref-steps 8 --n-warmup 4 --grid-points 9 --batch-size 4"

# Wall minutes of each harness file (its own wall_time_s), eight processes side by side on 2 shared cores.
HARNESS10_MINUTES = 0.9
FD_HARNESS_MINUTES = 33.2
HARNESS_MINUTES = {"kde": 39.8, "kde_b": 22.7, "kde_c": 27.8, "fmnist": 48.7,
                   "fmnist_b": 48.1, "fmnist_c": 47.8, "fmnist_d": 41.8, "fmnist_e": 41.8,
                   "kde_more": 9.7, "show_kde": 5.8, "fmnist_more": 36.3}
# The cells beyond the goal's (Euler and iPNDM at NFE 5 and 6): four solvers at NFE 4-10 (chapter 8).
MORE_CELLS = " ".join(f"'{s} {n}'" for s in ("euler", "ipndm", "dpmpp", "unipc") for n in (4, 5, 6, 8, 10)
                      if not (s in ("euler", "ipndm") and n in (5, 6)))

RESULTS = (
    _bench("fmnist_sweep", "--model fmnist --n-fd 0 --n-ref 256 --ref-steps 256", 22.4,
           f"--model fmnist --solvers euler --schedules polynomial gits_dev --nfe 4 --n-fd 0 {_SMOKE_NET}"),
    _bench("fmnist_fd", "--model fmnist --solvers euler ipndm --schedules polynomial gits_dev --nfe 5 6 8 10 "
           "--n-fd 4000 --n-ref 256 --ref-steps 256 --reference-from {out}/fmnist_sweep", 15.7,
           "--model fmnist --solvers euler --schedules gits_dev --nfe 4 --n-fd 16 "
           f"{_SMOKE_NET} --reference-from {{out}}/fmnist_sweep"),
    _bench("fmnist_fd_converged", "--model fmnist --solvers ipndm --schedules polynomial --nfe 20 --n-fd 10000 "
           "--n-ref 256 --ref-steps 256 --reference-from {out}/fmnist_sweep", 6.9,
           f"--model fmnist --solvers ipndm --schedules polynomial --nfe 4 --n-fd 16 {_SMOKE_NET} "
           "--reference-from {out}/fmnist_sweep"),
    Step("fmnist_fd_ablation", "{py} scripts/fd_ablation.py --n 2000 --out {out}/fmnist_fd_ablation.json",
         ("fmnist_fd_ablation.json",), 13.1,
         "{py} scripts/fd_ablation.py --n 16 --n-boot 4 --n-warmup 4 --n-warmup-small 2 --solvers euler "
         "--out {out}/fmnist_fd_ablation.json", "json"),
    Step("fmnist_fd_searched", "{py} scripts/fd_searched.py --n 2000 --out {out}/fmnist_fd_searched.json",
         ("fmnist_fd_searched.json",), 6.1,
         "{py} scripts/fd_searched.py --n 16 --n-boot 4 --n-warmup 4 --n-tune 2 --solvers euler --nfe 5 "
         "--out {out}/fmnist_fd_searched.json",
         "json"),
    Step("fmnist_fd_headline", "{py} scripts/fd_headline.py --out {out}/fmnist_fd_headline.json",
         ("fmnist_fd_headline.json",), 59.2,
         "{py} scripts/fd_headline.py --n 20 --seeds 0 2 --control-seeds 0 1 --n-control 4 --n-warmup 8 --nfe 5 "
         "--n-boot 5 --cache {out}/fd_cache --out {out}/fmnist_fd_headline.json", "json",
         note="the paper's headline table by FD, GITS over five warm-up seeds (chapter 7); minutes of a run from "
              "nothing (the committed file's wall_time_s is a rerun that read the sampled features back from the "
              "cache)"),
    Step("fmnist_gits_seeds", "{py} scripts/gits_seeds.py --reference-from {out}/fmnist_sweep "
         "--out {out}/fmnist_gits_seeds.json", ("fmnist_gits_seeds.json",), 26.3,
         "{py} scripts/gits_seeds.py --reference-from {out}/fmnist_sweep --seeds 0 2 --control-seeds 0 1 "
         "--solvers euler --nfe 4 --n-ref 4 --n-warmup 4 --grid-points 9 --out {out}/fmnist_gits_seeds.json", "json",
         note="GITS over five warm-up seeds with its controls (chapters 6 and 7); minutes measured under load"),
    Step("fmnist_step_convention", "{py} scripts/step_convention.py --reference-from {out}/fmnist_sweep "
         "--out {out}/fmnist_step_convention.json", ("fmnist_step_convention.json",), 59.0,
         "{py} scripts/step_convention.py --reference-from {out}/fmnist_sweep --seeds 0 2 --nfe 3 --n-ref 4 "
         "--n-fd 16 --n-boot 4 --n-warmup 4 --grid-points 9 --out {out}/fmnist_step_convention.json", "json",
         note="the step convention's cost (README); minutes measured under a load average of 15-19 (other jobs)"),
    Step("sd15_timestep_rounding", "{py} scripts/timestep_rounding.py --out {out}/sd15_timestep_rounding.json",
         ("sd15_timestep_rounding.json",), 0.1,
         "{py} scripts/timestep_rounding.py --max-steps 4 --out {out}/sd15_timestep_rounding.json", "json",
         note="how far a timesteps= diffusers export moves SD 1.5 sigmas; no model run"),
    *(Step(f"harness_{m}{part}", f"{{py}} scripts/harness.py --model {m}{size} --seeds {seeds} --n-headroom {head} "
           f"--out {{out}}/harness_{m}{part}.json" + ref, (f"harness_{m}{part}.json",), HARNESS_MINUTES[m + part],
           f"{{py}} scripts/harness.py --model {m}{' --kde-size 200' if m == 'kde' else ''} --n-eval 2 --seeds 0 "
           f"--cells 'euler 3' --n-headroom {min(head, 1)} --n-warmup 40 --grid-points 9 "
           + ("" if part == "" else "--methods polynomial gits ")
           + f"--out {{out}}/harness_{m}{part}.json" + ref, "json",
           note="every schedule search through one harness (chapter 8), split by warm-up seeds to run side by side")
      for m, size, ref in (("kde", " --kde-size 5000 --n-eval 128", ""),
                           ("fmnist", " --n-eval 64", " --reference-from {out}/fmnist_sweep"))
      for part, seeds, head in ((("", "0 2", 32), ("_b", "3", 0), ("_c", "4 5", 0)) if m == "kde" else
                                (("", "0", 16), ("_b", "3", 0), ("_c", "5", 0), ("_d", "2", 0), ("_e", "4", 0)))),
    Step("harness_kde_more", "{py} scripts/harness.py --model kde --kde-size 5000 --n-eval 128 --seeds 0 2 3 4 5 "
         f"--n-headroom 32 --cells {MORE_CELLS} --out {{out}}/harness_kde_more.json", ("harness_kde_more.json",),
         HARNESS_MINUTES["kde_more"],
         "{py} scripts/harness.py --model kde --kde-size 200 --n-eval 2 --seeds 0 --cells 'dpmpp 3' 'unipc 3' "
         "--n-headroom 1 --n-warmup 40 --grid-points 9 --out {out}/harness_kde_more.json", "json",
         note="the harness's other cells on the KDE (chapter 8's every-cell table): DPM-Solver++(3M) and UniPC at "
              "NFE 4-10, Euler and iPNDM at 4, 8, 10; minutes measured beside another job"),
    Step("harness_fmnist_more", "{py} scripts/harness.py --model fmnist --n-eval 64 --seeds 0 2 3 4 5 "
         f"--n-headroom 16 --cells {MORE_CELLS} --out {{out}}/harness_fmnist_more.json "
         "--reference-from {out}/fmnist_sweep", ("harness_fmnist_more.json",), HARNESS_MINUTES["fmnist_more"],
         "{py} scripts/harness.py --model fmnist --n-eval 2 --seeds 0 2 --cells 'euler 3' 'unipc 3' --n-headroom 1 "
         "--n-warmup 40 --grid-points 9 --out {out}/harness_fmnist_more.json --reference-from {out}/fmnist_sweep",
         "json", note="the harness's other cells on the network (chapter 8's every-cell table); minutes measured "
                      "beside training"),
    Step("fmnist_fd_harness", "{py} scripts/fd_harness.py --harness "
         + " ".join(f"{{out}}/harness_fmnist{p}.json" for p in ("", "_b", "_c", "_d", "_e", "_more"))
         + " --cells 'euler 5' 'euler 6' 'ipndm 5' 'ipndm 6' --out {out}/fmnist_fd_harness.json",
         ("fmnist_fd_harness.json",), FD_HARNESS_MINUTES,
         "{py} scripts/fd_harness.py --harness {out}/harness_fmnist_more.json --cells 'euler 3' --n-per-seed 4 "
         "--n-boot 5 --cache {out}/fd_cache --out {out}/fmnist_fd_harness.json", "json",
         note="chapter 8's goal cells on the network by FD, every method over five warm-up seeds; minutes of a "
              "run that read GITS's and the polynomial schedule's features from the headline's cache"),
    Step("harness_show_kde", "{py} scripts/harness.py --model kde --kde-size 60000 --n-eval 64 --seeds 0 "
         "--cells 'ipndm 5' 'ipndm 10' --n-headroom 0 --out {out}/harness_show_kde.json", ("harness_show_kde.json",),
         HARNESS_MINUTES["show_kde"],
         "{py} scripts/harness.py --model kde --kde-size 300 --n-eval 2 --seeds 0 --cells 'euler 3' --n-headroom 0 "
         "--n-warmup 40 --grid-points 9 --out {out}/harness_show_kde.json", "json",
         note="the harness on the full 60,000-image KDE at iPNDM NFE 5 and 10, warm-up seed 0: the best search in "
              "chapter 7's KDE sample figure"),
    Step("harness10_fmnist", "{py} scripts/harness.py --model fmnist --n-eval 64 --seeds 0 --cells 'ipndm 10' "
         "--n-headroom 0 --out {out}/harness10_fmnist.json --reference-from {out}/fmnist_sweep",
         ("harness10_fmnist.json",), HARNESS10_MINUTES,
         "{py} scripts/harness.py --model fmnist --n-eval 2 --seeds 0 --cells 'euler 3' --n-headroom 0 --n-warmup 40 "
         "--grid-points 9 --out {out}/harness10_fmnist.json --reference-from {out}/fmnist_sweep", "json",
         note="the harness at iPNDM NFE 10, warm-up seed 0: the best search in chapter 7's sample figure"),
    _bench("kde", "--model kde --solvers euler ipndm --schedules polynomial gits_dev gits_l2 --nfe 5 6 8 10 --n-fd 0 "
           "--n-ref 64 --ref-steps 128 --n-warmup 64 --batch-size 64", 37.6,
           "--model kde --kde-size 200 --solvers euler --schedules gits_dev --nfe 4 --n-fd 0 --n-ref 2 "
           "--ref-steps 8 --n-warmup 2 --grid-points 9 --batch-size 2"),
    Step("datasets", "{py} scripts/datasets_runs.py --out {out}/datasets.json", ("datasets.json",), 32.6,
         "{py} scripts/datasets_runs.py --smoke --out {out}/datasets.json", "json",
         note="every regularity claim, the scaling exponents and GITS with its transfer table on the rendered data "
              "sets (chapter 11)"),
)

WEIGHTS = (
    Step("classifier", "{py} scripts/train_classifier.py --epochs 5 --seed 0 "
         "--out {out}/weights/fmnist_classifier.safetensors",
         ("weights/fmnist_classifier.safetensors", "weights/fmnist_classifier.json"), 6.5,
         "{py} scripts/train_classifier.py --epochs 1 --train-size 128 --batch-size 64 "
         "--out {out}/weights/fmnist_classifier.safetensors", "weights",
         note="the FD's feature extractor (92.0 % test accuracy); 389 s on 1 busy core"),
    Step("fmnist_edm", "{py} scripts/train_recipe.py fmnist_edm --quiet --out {out}/fmnist_edm "
         "--export {out}/weights/fmnist_edm.safetensors",
         ("weights/fmnist_edm.safetensors", "weights/fmnist_edm.json"), 262.1,
         "{py} scripts/train_recipe.py fmnist_edm --quiet --steps 2 --batch-size 4 --checkpoint-every 2 "
         "--snapshot-every 2 --out {out}/fmnist_edm --export {out}/weights/fmnist_edm.safetensors", "weights",
         note="the shipped network: 40,000 steps x 64 images, snapshots every 2,000 steps"),
    Step("fmnist_edm_curve", "{py} scripts/quality_curve.py {out}/fmnist_edm --n 2000 --out {out}/fmnist_edm_curve.csv",
         ("fmnist_edm_curve.csv",), 40.1,
         "{py} scripts/quality_curve.py {out}/fmnist_edm --n 16 --out {out}/fmnist_edm_curve.csv", "csv",
         note="FD and denoising error of every snapshot of the run above (results/fmnist_edm_curve.csv)"),
    Step("fmnist_edm_rough", "{py} scripts/train_recipe.py fmnist_edm_rough --quiet --out {out}/fmnist_edm_rough "
         "--export {out}/weights/fmnist_edm_rough.safetensors",
         ("weights/fmnist_edm_rough.safetensors", "weights/fmnist_edm_rough.json"), 67.7,
         "{py} scripts/train_recipe.py fmnist_edm_rough --quiet --steps 2 --batch-size 4 --checkpoint-every 2 "
         "--out {out}/fmnist_edm_rough --export {out}/weights/fmnist_edm_rough.safetensors", "weights",
         note="the first network, the book's control (10,000 steps x 64 images)"),
)

FROZEN = {
    "fmnist_rough_sweep": "the sweep on the first network (fmnist_edm_rough), made when --model fmnist was that one",
    "fmnist_rough_fd": "FD runs on the first network, same reason",
    "fmnist_rough_fd_solvers": "FD of dpmpp, unipc, deis on the first network, same reason",
    "fmnist_rough_fd_converged": "the first network's near-exact solution, same reason",
}


# ---------------------------------------------------------------- completeness

def _bench_complete(folder: Path) -> bool:
    from gitscore.solvers import calls_per_step
    try:
        state = json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return False
    cfg = state.get("config", {})
    want = {(s, sch, n) for s in cfg.get("solvers", []) for sch in cfg.get("schedules", []) for n in cfg.get("nfes", [])
            if n % calls_per_step(s) == 0}
    have = {(r["solver"], r["schedule"], r["nfe"]) for r in state.get("rows", [])}
    return bool(want) and want <= have


def complete(step: Step, out: Path) -> bool:
    """Are the step's outputs all there and finished (not a killed run's partial files)?"""
    paths = step.paths(out)
    if not all(p.is_file() and p.stat().st_size > 0 for p in paths):
        return False
    if step.kind == "bench":
        return _bench_complete(paths[0].parent)
    if step.kind == "json":
        try:
            state = json.loads(paths[0].read_text())
            return "wall_time_s" in state and not state.get("partial")  # a resumable script marks a partial file
        except ValueError:
            return False
    if step.kind == "csv":  # one row per snapshot of the run
        run = out / step.name.removesuffix("_curve")
        snaps = len(list((run / "snapshots").glob("ema_*.safetensors")))
        rows = len(paths[0].read_text().strip().splitlines()) - 1
        return rows >= max(snaps, 1)
    return True


# ---------------------------------------------------------------- running

def call_in_process(argv: list[str]) -> int:
    """Run `PY -m gitscore ...` or `PY scripts/NAME.py ...` in this process (their main(argv)): the smoke run's
    steps then share the loaded data set, classifier and test-split features instead of loading them each."""
    import importlib.util
    import os
    if argv[1:3] == ["-m", "gitscore"]:
        from gitscore.cli import main as entry
        args = argv[3:]
    elif argv[1].endswith(".py"):
        path = ROOT / argv[1]
        spec = importlib.util.spec_from_file_location(f"pipeline_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        entry, args = module.main, argv[2:]
    else:
        raise ValueError(f"cannot run {argv} in process")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return entry(args) or 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(cwd)


def call_logged(argv: list[str], log_path: Path) -> int:
    """Run argv in a new process, its output (stdout and stderr, progress bars included) both shown and kept in
    log_path, as the committed results/*.log files were kept."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log, subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                                       stderr=subprocess.STDOUT) as proc:
        while chunk := proc.stdout.read1(1 << 16):
            log.write(chunk)
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    return proc.returncode


def remove_outputs(step: Step, out: Path) -> None:
    for p in step.paths(out):
        p.unlink(missing_ok=True)


def run_steps(steps, out: Path, *, smoke: bool = False, force: bool = False, py: str = sys.executable,
              in_process: bool = False, log=print) -> dict:
    """Run `steps` in order into `out`; returns {name: seconds or "skipped"}. A failing step stops the run.

    in_process: call each step's main() here rather than start a Python for it (the smoke run's default)."""
    times = {}
    for i, step in enumerate(steps, 1):
        made = ", ".join(str(p) for p in step.paths(out))
        size = "small" if smoke else f"about {step.minutes:g} min on 2 CPU cores"
        if not force and complete(step, out):
            log(f"[{i}/{len(steps)}] {step.name}: complete, skipped ({made})")
            times[step.name] = "skipped"
            continue
        if force:
            remove_outputs(step, out)
        argv = step.argv(py, out, smoke)
        kept = "" if in_process else f"; its output also goes to {out / step.name}.log"
        log(f"[{i}/{len(steps)}] {step.name}: makes {made} ({size}){kept}\n  $ {shlex.join(argv)}")
        t0 = time.perf_counter()
        rc = call_in_process(argv) if in_process else call_logged(argv, out / f"{step.name}.log")
        seconds = time.perf_counter() - t0
        if rc != 0:
            raise SystemExit(f"step {step.name} failed (exit status {rc}) after {seconds:.0f} s; "
                             "fix it and rerun: finished steps are skipped")
        if not complete(step, out):
            raise SystemExit(f"step {step.name} ended but its outputs are not complete: {made}")
        log(f"  {step.name} done in {seconds:.0f} s")
        times[step.name] = round(seconds, 1)
    return times


def _scratch(out: Path) -> None:
    """Empty a smoke run's folder (only one that a smoke run made, or an empty one)."""
    if out.exists():
        if not (out / SMOKE_MARKER).is_file() and any(out.iterdir()):
            raise SystemExit(f"--smoke --out {out}: the folder exists and was not made by a smoke run; "
                             "give an empty or new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / SMOKE_MARKER).write_text("made by scripts/results_pipeline.py --smoke; emptied by the next one\n")


def select(steps, names) -> tuple:
    if not names:
        return tuple(steps)
    known = {s.name for s in steps}
    bad = [n for n in names if n not in known]
    if bad:
        raise SystemExit(f"--steps {' '.join(bad)}: not among {' '.join(sorted(known))}")
    return tuple(s for s in steps if s.name in names)


def table(py: str = "python") -> str:
    """The markdown table of results/README.md: step, command, outputs, measured time."""
    lines = ["| step | command | outputs | time on 2 CPU cores |", "|---|---|---|---|"]
    for group, steps in (("make results", RESULTS), ("make weights", WEIGHTS)):
        for s in steps:
            cmd = shlex.join(s.argv(py, Path("results" if group == "make results" else "runs"), False))
            outs = ", ".join(f"`{o}`" for o in s.outputs)
            lines.append(f"| {s.name} ({group}) | `{cmd}` | {outs} | {s.minutes:g} min |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("list", help="print the steps as results/README.md's table")
    for name, steps in (("run", RESULTS), ("weights", WEIGHTS)):
        q = sub.add_parser(name, help=f"run the {'results' if name == 'run' else 'weights'} steps")
        q.add_argument("--out", type=Path, required=True)
        q.add_argument("--force", action="store_true", help="delete each step's outputs and rerun it")
        q.add_argument("--steps", nargs="+", metavar="STEP", help=f"only these: {' '.join(s.name for s in steps)}")
        q.add_argument("--smoke", action="store_true",
                       help="tiny sizes, weights and results steps both, into an emptied scratch --out")
        q.add_argument("--in-process", action=argparse.BooleanOptionalAction, default=None,
                       help="run the steps in this Python process (default: only with --smoke)")
    args = p.parse_args(argv)
    if args.what == "list":
        print(table())
        for name, why in FROZEN.items():
            print(f"not regenerated: results/{name}: {why}")
        return 0
    t0 = time.perf_counter()
    if args.smoke:
        _scratch(args.out)
        steps = select(WEIGHTS + RESULTS, args.steps)
    else:
        steps = select(RESULTS if args.what == "run" else WEIGHTS, args.steps)
    in_process = args.smoke if args.in_process is None else args.in_process
    times = run_steps(steps, args.out, smoke=args.smoke, force=args.force, in_process=in_process)
    total = time.perf_counter() - t0
    print(f"pipeline done in {total:.0f} s: " + ", ".join(f"{k} {v}" + ("" if v == "skipped" else " s")
                                                         for k, v in times.items()))
    if args.smoke:
        (args.out / "pipeline_times.json").write_text(json.dumps({"steps": times, "total_s": round(total, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
