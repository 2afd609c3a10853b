import json

import pytest
import torch

from gitscore import bench


def _cfg(**kw):
    base = dict(model="kde", kde_size=300, solvers=["euler", "heun"], schedules=["polynomial", "gits_dev"],
                nfes=[3, 4], n_fd=0, n_ref=4, ref_steps=16, n_warmup=4, grid_points=9, batch_size=3)
    return bench.BenchConfig(**(base | kw))


def test_small_sweep_resumes_and_tables(tmp_path):
    torch.set_num_threads(1)
    state = bench.run_bench(_cfg(), tmp_path, progress=False, command="test")
    keys = [(r["solver"], r["schedule"], r["nfe"]) for r in state["rows"]]
    # heun needs 2 calls per step: only the even NFE runs.
    assert keys == [("euler", "polynomial", 3), ("euler", "polynomial", 4), ("euler", "gits_dev", 3),
                    ("euler", "gits_dev", 4), ("heun", "polynomial", 4), ("heun", "gits_dev", 4)]
    for r in state["rows"]:
        assert len(r["sigmas"]) == r["steps"] + 1 and r["ref_error"] >= 0 and r["fd"] is None
        assert len(r["ref_errors"]) == 4 and sum(r["ref_errors"]) / 4 == pytest.approx(r["ref_error"], rel=1e-4)
    # GITS schedules are picked from the teacher grid, first and last points included.
    grid = bench.gits.teacher_grid(9).tolist()
    g3 = next(r for r in state["rows"] if r["schedule"] == "gits_dev" and r["nfe"] == 3)["sigmas"]
    assert set(g3) <= set(grid) and g3[0] == grid[0] and g3[-1] == grid[-1]
    # The reference is converged far below the few-step errors it is used for.
    assert state["reference"]["distance_to_2x_finer"] < 0.01 * min(r["ref_error"] for r in state["rows"])
    assert state["reference"]["converged_ratio"] == state["reference"]["distance_to_2x_finer"] / min(
        r["ref_error"] for r in state["rows"])
    assert state["reference"]["converged_ratio"] < 0.01
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["rows"] == state["rows"] and (tmp_path / "results.csv").read_text().count("\n") == 7
    # Resuming a finished run recomputes nothing; a changed config is refused.
    again = bench.run_bench(_cfg(), tmp_path, progress=False)
    assert again["rows"] == state["rows"]
    with pytest.raises(ValueError, match="another configuration"):
        bench.run_bench(_cfg(nfes=[5]), tmp_path, progress=False)
    # A second run can reuse the reference solutions.
    other = bench.run_bench(_cfg(solvers=["euler"], schedules=["logsnr"], nfes=[3]), tmp_path / "b",
                            progress=False, reference_from=tmp_path)
    assert other["reference"]["reused_from"] == str(tmp_path)
    table = bench.markdown_table(state, "ref_error")
    assert table.splitlines()[0] == "| solver | schedule | NFE 3 | NFE 4 |" and len(table.splitlines()) == 6


def test_resume_and_reuse_refuse_other_weights(tmp_path, monkeypatch):
    """Results of one network are never resumed, nor their reference reused, with another network's weights."""
    import dataclasses
    torch.set_num_threads(1)
    real = bench.models.load_model
    sha = {"now": "a" * 64}
    monkeypatch.setattr(bench.models, "load_model",
                        lambda *a, **kw: dataclasses.replace(real(*a, **kw), weights_sha256=sha["now"]))
    cfg = _cfg(solvers=["euler"], schedules=["polynomial"], nfes=[3])
    state = bench.run_bench(cfg, tmp_path / "a", progress=False)
    assert state["weights_sha256"] == "a" * 64
    assert json.loads((tmp_path / "a" / "results.json").read_text())["weights_sha256"] == "a" * 64
    assert bench.run_bench(cfg, tmp_path / "a", progress=False)["rows"] == state["rows"]  # same weights: resumes
    sha["now"] = "b" * 64
    with pytest.raises(ValueError, match="run of other weights"):
        bench.run_bench(cfg, tmp_path / "a", progress=False)
    with pytest.raises(ValueError, match="weights_sha256"):
        bench.run_bench(cfg, tmp_path / "b", progress=False, reference_from=tmp_path / "a")


def test_network_model_records_its_weights():
    from gitscore import models, nets
    m = models.load_model("fmnist-rough", device="cpu")
    assert m.weights_sha256 == nets.sha256_file(nets.WEIGHTS_DIR / "fmnist_edm_rough.safetensors")
    assert models.load_model("gmm-toy").weights_sha256 is None


def test_bad_config():
    with pytest.raises(ValueError, match="solvers must be among"):
        _cfg(solvers=["rk4"]).validate()
    with pytest.raises(ValueError, match="schedules must be among"):
        _cfg(schedules=["gits_cosine"]).validate()
    with pytest.raises(ValueError, match="heun, dpm2 take 2 evaluations per step"):
        _cfg(solvers=["heun", "dpm2"], nfes=[3]).validate()
