"""`make results-smoke` inside `make test`: the whole results pipeline (weights and results steps) in small.

About a minute on 2 cores (in one process: the data set, classifier and test-split features are loaded
once). conftest.py schedules this module among the chapters, by its duration, so that it does not end the
parallel run alone.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_results_pipeline_smoke_and_compare(tmp_path):
    out = tmp_path / "smoke"
    run = subprocess.run([sys.executable, "scripts/results_pipeline.py", "run", "--smoke", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "pipeline done" in run.stdout and "] kde: makes" in run.stdout
    for name in ("fmnist_sweep", "fmnist_fd", "fmnist_fd_converged", "kde"):
        state = json.loads((out / name / "results.json").read_text())
        assert state["rows"] and (out / name / "reference.safetensors").is_file()
    assert all(r["fd"] is not None and r["fd_boot"] for r in json.loads(
        (out / "fmnist_fd" / "results.json").read_text())["rows"])
    seeds = json.loads((out / "fmnist_gits_seeds.json").read_text())
    assert seeds["warmup_seeds"] == [0, 2] and seeds["control_seeds"] == [0, 1] and seeds["gits16"]
    for name in ("fmnist_fd_ablation.json", "fmnist_fd_searched.json", "fmnist_edm_curve.csv",
                 "weights/fmnist_edm.safetensors", "weights/fmnist_edm_rough.safetensors",
                 "weights/fmnist_classifier.safetensors"):
        assert (out / name).is_file(), name
    compare = [sys.executable, "scripts/compare_results.py", "compare", "--rerun", str(out)]
    # against itself: the report runs over every number (with 16 samples and 4 bootstrap replicates an estimate
    # may lie outside its own interval, so no verdict is asserted; at full size all 792 do: test_results_pipeline)
    same = subprocess.run(compare + ["--committed", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert same.returncode in (0, 1) and "rerun numbers inside their committed interval" in same.stdout, (
        same.stdout + same.stderr)
    # against the committed full-size runs: not compared (other sample counts), never a false verdict
    full = subprocess.run(compare, cwd=ROOT, capture_output=True, text=True)
    assert full.returncode == 2 and "configuration differs" in full.stdout, full.stdout + full.stderr
