"""Time `python -m gitscore search --model fmnist --steps 6` end to end, before and after a change, in one run.

Each command runs as a fresh process (import, model load, warm-up, cost matrix, DP, output), alternating between
the two checkouts --repeats times, so both see the same machine load. Printed per command: wall seconds (median,
min) and CPU seconds (user + sys of the process, which the load of other processes changes far less), and the
1-minute load average around the runs.

    python benchmarks/time_search_cli.py --before /path/to/old/checkout [--repeats 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "gitscore", "search", "--model", "fmnist", "--steps", "6", "--format", "list"]


def timed(checkout: Path, extra: list[str], threads: int) -> tuple[float, float, str]:
    env = dict(os.environ, PYTHONPATH=str(checkout), OMP_NUM_THREADS=str(threads))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, *COMMAND, *extra], env=env, capture_output=True, text=True, cwd=checkout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise SystemExit(f"{checkout}: {r.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, r.stdout.strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", type=Path, required=True, help="checkout of the code before the change")
    p.add_argument("--repeats", type=int, default=3, help="runs of each command (default: 3)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the commands (default: 2)")
    args = p.parse_args()
    runs = {"before (its defaults)": (args.before, []),
            "after, --precision fp32": (ROOT, ["--precision", "fp32"]),
            "after (its defaults)": (ROOT, [])}
    times = {k: [] for k in runs}
    schedules = {}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name, (checkout, extra) in runs.items():
            wall, cpu, out = timed(checkout, extra, args.threads)
            times[name].append((wall, cpu))
            schedules[name] = out
            loads.append(os.getloadavg()[0])
    print(f"load average (1 min) during the runs: {min(loads):.2f} to {max(loads):.2f}; "
          f"OMP_NUM_THREADS={args.threads}; {os.cpu_count()} CPUs")
    for name, ts in times.items():
        walls, cpus = [w for w, _ in ts], [c for _, c in ts]
        print(f"{name:36s} wall median {statistics.median(walls):6.2f} s (min {min(walls):6.2f}), "
              f"CPU median {statistics.median(cpus):6.2f} s (min {min(cpus):6.2f})")
    for name, out in schedules.items():
        print(f"{name:36s} {out}")


if __name__ == "__main__":
    main()
