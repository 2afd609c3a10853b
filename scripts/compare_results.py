"""Rerun a chosen subset of the committed results at full size and check each number against its interval.

    python scripts/compare_results.py rerun --out _build/compare fmnist_fd:euler/gits_dev/5 fmnist_fd:euler/polynomial/5
    python scripts/compare_results.py compare --rerun _build/compare        # against results/
    python scripts/compare_results.py compare --rerun B --committed A       # any two pipeline folders

`rerun` reruns rows of committed bench runs (RUN:SOLVER/SCHEDULE/NFE, or RUN alone for all its rows) with
the committed run's own configuration (same sample counts, seeds, batch size, warm-up, reference steps;
only the lists of solvers, schedules and NFEs cut down to the chosen rows; a bench run computes every
combination of its lists, so choose rows that share them), reusing the committed run's
reference solutions unless --new-reference; the whole scripts fmnist_fd_ablation / fmnist_fd_searched
can be named too (they rerun whole: about 13 and 6 minutes on 2 cores). Output goes to a scratch --out.

`compare` reports, for every number of the rerun that the committed results hold with an interval,
whether the rerun lies inside the committed number's 95 % bootstrap interval:

- bench rows: `fd` against the basic bootstrap interval of the committed row's `fd_boot` replicates
  (gitscore.metrics.interval), `ref_error` against the percentile interval of the mean of the committed
  per-latent `ref_errors` (resampled with seed 0; ref_error +- 1.96 ref_error_se where a run predates them);
- fmnist_fd_ablation.json / fmnist_fd_searched.json: each relative FD change (`vs_polynomial`,
  `vs_default`, `polynomial_vs_gits`, `student_dp_vs_gits`: estimate, lower, upper) against its interval.

A rerun run whose configuration differs from the committed one in anything but the row lists (e.g. a smoke
run) is not compared and is reported as such. Exit status: 0 every compared number inside, 1 some outside,
2 nothing compared.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
ROW_LISTS = ("solvers", "schedules", "nfes")
SCRIPTS = {"fmnist_fd_ablation": "fd_ablation.py", "fmnist_fd_searched": "fd_searched.py"}
CHANGES = ("vs_polynomial", "vs_default", "polynomial_vs_gits", "student_dp_vs_gits")


# ---------------------------------------------------------------- intervals of committed numbers

def fd_interval(row: dict, level: float = 0.95) -> tuple[float, float] | None:
    """Basic bootstrap interval of a bench row's FD from its stored replicates (None: no replicates)."""
    from gitscore.metrics import interval
    if row.get("fd") is None or not row.get("fd_boot"):
        return None
    return interval(row["fd_boot"], estimate=row["fd"], level=level)


def ref_error_interval(row: dict, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean per-latent error (or +-1.96 se for runs without ref_errors)."""
    from gitscore.metrics import interval
    if row.get("ref_errors"):
        e = torch.tensor(row["ref_errors"], dtype=torch.float64)
        idx = torch.randint(len(e), (n_boot, len(e)), generator=torch.Generator().manual_seed(seed))
        return interval(e[idx].mean(1), level=level)
    return row["ref_error"] - 1.96 * row["ref_error_se"], row["ref_error"] + 1.96 * row["ref_error_se"]


# ---------------------------------------------------------------- comparison

def _verdict(name, quantity, committed, lo_hi, rerun) -> dict:
    lo, hi = lo_hi
    return {"number": name, "quantity": quantity, "committed": committed, "lower": lo, "upper": hi,
            "rerun": rerun, "inside": bool(lo <= rerun <= hi)}


def compare_bench(committed: dict, rerun: dict, run: str) -> tuple[list, str | None]:
    """Verdicts for the rows of a rerun bench run; (verdicts, why not compared)."""
    a = {k: v for k, v in committed["config"].items() if k not in ROW_LISTS}
    b = {k: v for k, v in rerun["config"].items() if k not in ROW_LISTS}
    diff = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    if diff:
        return [], "configuration differs: " + ", ".join(f"{k} {x} vs {y}" for k, (x, y) in diff.items())
    rows = {(r["solver"], r["schedule"], r["nfe"]): r for r in committed["rows"]}
    out = []
    for r in rerun["rows"]:
        key = (r["solver"], r["schedule"], r["nfe"])
        if key not in rows:
            continue
        c = rows[key]
        name = f"{run}:{'/'.join(map(str, key))}"
        out.append(_verdict(name, "ref_error", c["ref_error"], ref_error_interval(c), r["ref_error"]))
        iv = fd_interval(c)
        if iv is not None and r.get("fd") is not None:
            out.append(_verdict(name, "fd", c["fd"], iv, r["fd"]))
    return out, None


def compare_changes(committed: dict, rerun: dict, run: str) -> tuple[list, str | None]:
    """Verdicts for fmnist_fd_ablation.json / fmnist_fd_searched.json: each FD change against its interval."""
    keys = [k for k in ("n", "nfe", "eval_seed", "n_warmup", "n_warmup_small", "n_boot", "sha256")
            if committed.get(k) != rerun.get(k)]
    if keys:
        return [], "configuration differs: " + ", ".join(f"{k} {committed.get(k)} vs {rerun.get(k)}" for k in keys)
    ident = lambda r: "/".join(str(r[k]) for k in ("solver", "setting", "nfe") if k in r)
    rows = {ident(r): r for r in committed["rows"]}
    out = []
    for r in rerun["rows"]:
        c = rows.get(ident(r))
        if c is None:
            continue
        for q in CHANGES:
            if q in c and q in r:
                out.append(_verdict(f"{run}:{ident(r)}", q, c[q][0], (c[q][1], c[q][2]), r[q][0]))
    return out, None


def compare_folders(committed_dir: Path, rerun_dir: Path) -> tuple[list, dict]:
    """Every comparable number of rerun_dir against committed_dir: (verdicts, {run: why not compared})."""
    verdicts, skipped = [], {}
    pairs = [(p.parent.name, p, committed_dir / p.parent.name / "results.json", compare_bench)
             for p in sorted(rerun_dir.glob("*/results.json"))]
    pairs += [(run, rerun_dir / f"{run}.json", committed_dir / f"{run}.json", compare_changes)
              for run in SCRIPTS if (rerun_dir / f"{run}.json").is_file()]
    for run, path, ref, compare in pairs:
        if not ref.is_file():
            skipped[run] = f"no committed {ref}"
            continue
        v, why = compare(json.loads(ref.read_text()), json.loads(path.read_text()), run)
        verdicts += v
        if why:
            skipped[run] = why
    return verdicts, skipped


def report(verdicts: list, skipped: dict) -> str:
    lines = ["| number | quantity | committed | 95 % interval | rerun | inside |", "|---|---|---|---|---|---|"]
    for v in verdicts:
        lines.append(f"| {v['number']} | {v['quantity']} | {v['committed']:.5g} | [{v['lower']:.5g}, {v['upper']:.5g}] "
                     f"| {v['rerun']:.5g} | {'yes' if v['inside'] else '**no**'} |")
    n_in = sum(v["inside"] for v in verdicts)
    lines.append(f"\n{n_in} of {len(verdicts)} rerun numbers inside their committed interval")
    lines += [f"not compared: {run}: {why}" for run, why in skipped.items()]
    return "\n".join(lines)


# ---------------------------------------------------------------- reruns

def parse_subset(items: list[str]) -> dict:
    """['fmnist_fd:euler/gits_dev/5', 'fmnist_fd_ablation'] -> {'fmnist_fd': [('euler', 'gits_dev', 5)], ...}."""
    out: dict = {}
    for item in items:
        run, _, row = item.partition(":")
        out.setdefault(run, [])
        if row:
            parts = row.split("/")
            if len(parts) != 3 or not parts[2].isdigit():
                raise SystemExit(f"{item}: give RUN:SOLVER/SCHEDULE/NFE, e.g. fmnist_fd:euler/gits_dev/5")
            out[run].append((parts[0], parts[1], int(parts[2])))
    return out


def bench_argv(committed: dict, rows: list, committed_folder: Path, out: Path, new_reference: bool) -> list[str]:
    """`gitscore bench` options rerunning `rows` (all when empty) with the committed configuration."""
    cfg = dict(committed["config"])
    if rows:
        cfg["solvers"] = list(dict.fromkeys(r[0] for r in rows))
        cfg["schedules"] = list(dict.fromkeys(r[1] for r in rows))
        cfg["nfes"] = sorted({r[2] for r in rows})
    argv = ["-m", "gitscore", "bench", "--model", cfg["model"], "--solvers", *cfg["solvers"],
            "--schedules", *cfg["schedules"], "--nfe", *map(str, cfg["nfes"])]
    for k, v in cfg.items():
        if k not in ("model", "solvers", "schedules", "nfes"):
            argv += [f"--{k.replace('_', '-')}", str(v)]
    if not new_reference:
        argv += ["--reference-from", str(committed_folder)]
    return [sys.executable, *argv, "--no-progress", "--out", str(out)]


def rerun(subset: dict, committed_dir: Path, out: Path, new_reference: bool = False, dry_run: bool = False) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for run, rows in subset.items():
        if run in SCRIPTS:
            committed = json.loads((committed_dir / f"{run}.json").read_text())
            argv = [sys.executable, f"scripts/{SCRIPTS[run]}", "--n", str(committed["n"]),
                    "--eval-seed", str(committed["eval_seed"]), "--n-boot", str(committed["n_boot"]),
                    "--out", str(out / f"{run}.json")]
        else:
            folder = committed_dir / run
            if not (folder / "results.json").is_file():
                raise SystemExit(f"{run}: {folder / 'results.json'} not found")
            committed = json.loads((folder / "results.json").read_text())
            argv = bench_argv(committed, rows, folder, out / run, new_reference)
        print(f"rerun {run}: $ {shlex.join(argv)}", flush=True)
        if not dry_run:
            rc = subprocess.run(argv, cwd=ROOT).returncode
            if rc:
                return rc
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("rerun", help="rerun chosen rows at the committed sizes into a scratch folder")
    r.add_argument("subset", nargs="+", help="RUN:SOLVER/SCHEDULE/NFE, RUN, fmnist_fd_ablation, fmnist_fd_searched")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--committed", type=Path, default=ROOT / "results")
    r.add_argument("--new-reference", action="store_true", help="recompute the reference solutions too")
    r.add_argument("--dry-run", action="store_true", help="print the commands only")
    r.add_argument("--compare", action="store_true", help="then compare (as `compare`)")
    c = sub.add_parser("compare", help="report each rerun number against the committed interval")
    c.add_argument("--rerun", type=Path, required=True)
    c.add_argument("--committed", type=Path, default=ROOT / "results")
    c.add_argument("--json", type=Path, help="also write the verdicts here")
    args = p.parse_args(argv)
    if args.what == "rerun":
        rc = rerun(parse_subset(args.subset), args.committed, args.out, args.new_reference, args.dry_run)
        if rc or not args.compare or args.dry_run:
            return rc
        rerun_dir = args.out
    else:
        rerun_dir = args.rerun
    verdicts, skipped = compare_folders(args.committed, rerun_dir)
    print(report(verdicts, skipped))
    if getattr(args, "json", None):
        args.json.write_text(json.dumps({"verdicts": verdicts, "not_compared": skipped}, indent=1))
    if not verdicts:
        return 2
    return 0 if all(v["inside"] for v in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
