"""scripts/results_pipeline.py (make results / weights / results-smoke) and scripts/compare_results.py."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from gitscore import files

ROOT = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


pipeline = _script("results_pipeline")
compare = _script("compare_results")


# ---------------------------------------------------------------- the pipeline's declaration

def test_every_committed_result_has_a_step_or_is_frozen():
    outputs = {Path(o).parts[0] for s in pipeline.RESULTS + pipeline.WEIGHTS for o in s.outputs}
    committed = {p.name for p in (ROOT / "results").iterdir() if p.suffix not in (".log", ".md")}
    assert committed - outputs == set(pipeline.FROZEN), "each results/ entry is made by a step or listed in FROZEN"
    assert not set(pipeline.FROZEN) - committed


def test_committed_results_are_complete_so_make_results_skips_them():
    for step in pipeline.RESULTS:
        assert pipeline.complete(step, ROOT / "results"), step.name


def test_commands_recorded_in_the_committed_runs_are_the_pipeline_s():
    """`make results` reruns exactly the commands the committed runs record (gitscore bench writes its argv)."""
    for step in pipeline.RESULTS:
        if step.kind == "bench":
            recorded = json.loads((ROOT / "results" / step.name / "results.json").read_text())["command"]
            recorded = recorded.replace(" --no-progress", "")  # the kde run's log was written without a bar
            argv = step.argv("PY", Path("results"), smoke=False)
            assert " ".join(["gitscore", *argv[3:]]) == recorded, step.name


def test_results_readme_has_the_pipeline_table():
    assert pipeline.table() in (ROOT / "results" / "README.md").read_text()


def test_every_step_has_a_smoke_command_and_a_time():
    for step in pipeline.RESULTS + pipeline.WEIGHTS:
        assert step.minutes > 0 and step.smoke and step.smoke != step.command, step.name


def test_incomplete_outputs_are_rerun(tmp_path):
    step = next(s for s in pipeline.RESULTS if s.name == "fmnist_fd")
    assert not pipeline.complete(step, tmp_path)
    folder = tmp_path / "fmnist_fd"
    folder.mkdir()
    state = json.loads((ROOT / "results" / "fmnist_fd" / "results.json").read_text())
    state["rows"] = state["rows"][:-1]  # a killed run: one row short
    (folder / "results.json").write_text(json.dumps(state))
    for name in ("results.csv", "reference.safetensors"):
        (folder / name).write_text("x")
    assert not pipeline.complete(step, tmp_path)
    state = json.loads((ROOT / "results" / "fmnist_fd" / "results.json").read_text())
    (folder / "results.json").write_text(json.dumps(state))
    assert pipeline.complete(step, tmp_path)
    js = next(s for s in pipeline.RESULTS if s.name == "fmnist_fd_searched")
    (tmp_path / "fmnist_fd_searched.json").write_text(json.dumps({"rows": []}))  # no closing wall_time_s
    assert not pipeline.complete(js, tmp_path)
    # a resumable script (files.save_run_state) marks its file partial until it is done
    seeds = next(s for s in pipeline.RESULTS if s.name == "fmnist_gits_seeds")
    state = {"gits": {}}
    files.save_run_state(tmp_path / "fmnist_gits_seeds.json", state, 12.34)
    assert json.loads((tmp_path / "fmnist_gits_seeds.json").read_text())["wall_time_s"] == 12.3
    assert not pipeline.complete(seeds, tmp_path)
    files.save_run_state(tmp_path / "fmnist_gits_seeds.json", state, 20.0, done=True)
    assert "partial" not in state and pipeline.complete(seeds, tmp_path)


def test_run_steps_skips_complete_and_reports(tmp_path):
    made = []
    step = pipeline.Step("toy", f"{sys.executable} -c \"open('{{out}}/toy.json', 'w').write('{{{{}}}}')\"",
                         ("toy.json",), 0.1, "unused", "weights")
    times = pipeline.run_steps([step], tmp_path, log=made.append)
    assert (tmp_path / "toy.json").read_text() == "{}" and isinstance(times["toy"], float)
    assert pipeline.run_steps([step], tmp_path, log=made.append) == {"toy": "skipped"}
    assert any("makes" in m for m in made) and any("skipped" in m for m in made)


def test_smoke_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(SystemExit, match="not made by a smoke run"):
        pipeline._scratch(tmp_path)
    assert (tmp_path / "keep.txt").exists()


# ---------------------------------------------------------------- compare_results on constructed files

def _bench_run(fd, ref_errors, n_fd=4000):
    return {"config": {"model": "fmnist", "solvers": ["euler"], "schedules": ["gits_dev"], "nfes": [5], "n_fd": n_fd,
                       "n_ref": len(ref_errors), "eval_seed": 1},
            "rows": [{"solver": "euler", "schedule": "gits_dev", "nfe": 5, "fd": fd,
                      "fd_boot": [fd + 0.1 * k for k in range(-10, 11)], "ref_errors": ref_errors,
                      "ref_error": sum(ref_errors) / len(ref_errors), "ref_error_se": 0.01}]}


def _write(folder: Path, run: dict, name="fmnist_fd"):
    (folder / name).mkdir(parents=True)
    (folder / name / "results.json").write_text(json.dumps(run))


def test_compare_inside_and_outside(tmp_path):
    errors = [0.1, 0.2, 0.3, 0.2]
    _write(tmp_path / "committed", _bench_run(60.0, errors))
    _write(tmp_path / "same", _bench_run(60.0, errors))
    _write(tmp_path / "far", _bench_run(70.0, [0.5, 0.6, 0.7, 0.6]))
    verdicts, skipped = compare.compare_folders(tmp_path / "committed", tmp_path / "same")
    assert [(v["quantity"], v["inside"]) for v in verdicts] == [("ref_error", True), ("fd", True)] and not skipped
    fd = verdicts[1]
    assert fd["lower"] == pytest.approx(59.05) and fd["upper"] == pytest.approx(60.95)  # basic interval of fd_boot
    verdicts, _ = compare.compare_folders(tmp_path / "committed", tmp_path / "far")
    assert [v["inside"] for v in verdicts] == [False, False]
    assert "**no**" in compare.report(verdicts, {})
    assert compare.main(["compare", "--committed", str(tmp_path / "committed"), "--rerun", str(tmp_path / "same")]) == 0
    assert compare.main(["compare", "--committed", str(tmp_path / "committed"), "--rerun", str(tmp_path / "far")]) == 1


def test_compare_skips_a_run_of_other_sizes(tmp_path):
    _write(tmp_path / "committed", _bench_run(60.0, [0.1, 0.2]))
    _write(tmp_path / "smoke", _bench_run(60.0, [0.1, 0.2], n_fd=16))
    verdicts, skipped = compare.compare_folders(tmp_path / "committed", tmp_path / "smoke")
    assert verdicts == [] and "n_fd 4000 vs 16" in skipped["fmnist_fd"]
    assert compare.main(["compare", "--committed", str(tmp_path / "committed"),
                         "--rerun", str(tmp_path / "smoke")]) == 2


def test_compare_fd_changes_of_the_scripts(tmp_path):
    base = {"n": 2000, "nfe": 5, "eval_seed": 2, "n_boot": 200, "sha256": "x"}
    committed = dict(base, rows=[{"solver": "euler", "setting": "coeff 1.1", "vs_default": [-0.05, -0.07, -0.04]}])
    inside = dict(base, rows=[{"solver": "euler", "setting": "coeff 1.1", "vs_default": [-0.06, -0.1, 0.0]}])
    for folder, run in (("committed", committed), ("rerun", inside)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "fmnist_fd_ablation.json").write_text(json.dumps(run))
    verdicts, _ = compare.compare_folders(tmp_path / "committed", tmp_path / "rerun")
    assert [(v["number"], v["quantity"], v["inside"]) for v in verdicts] == [
        ("fmnist_fd_ablation:euler/coeff 1.1", "vs_default", True)]


def test_committed_numbers_lie_inside_their_own_intervals():
    """A rerun that reproduces the committed results bit for bit must pass: the intervals are consistent."""
    verdicts, skipped = compare.compare_folders(ROOT / "results", ROOT / "results")
    assert len(verdicts) > 700 and not skipped
    assert all(v["inside"] for v in verdicts), [v for v in verdicts if not v["inside"]][:3]


def test_rerun_uses_the_committed_configuration(tmp_path):
    committed = json.loads((ROOT / "results" / "fmnist_fd" / "results.json").read_text())
    argv = compare.bench_argv(committed, [("euler", "gits_dev", 5)], ROOT / "results" / "fmnist_fd",
                              tmp_path / "fmnist_fd", new_reference=False)
    text = " ".join(argv)
    assert "--solvers euler --schedules gits_dev --nfe 5 " in text
    assert "--n-fd 4000 --n-ref 256 --ref-steps 256" in text and "--batch-size 500" in text
    assert "--reference-from" in text
    assert compare.parse_subset(["fmnist_fd:euler/gits_dev/5", "fmnist_fd_ablation"]) == {
        "fmnist_fd": [("euler", "gits_dev", 5)], "fmnist_fd_ablation": []}
