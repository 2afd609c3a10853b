import json

import pytest
import torch

from gitscore import results


def test_load_run_and_cells(tmp_path):
    run = {"config": {},
           "rows": [{"solver": "euler", "schedule": "polynomial", "nfe": 5, "ref_error": 0.2, "fd": None}]}
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "results.json").write_text(json.dumps(run))
    got = results.load_run("r", folder=tmp_path)
    assert results.cells(got, "ref_error") == {("euler", "polynomial", 5): 0.2}


def test_missing_run_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="gitscore bench"):
        results.load_run("nope", folder=tmp_path)


def test_results_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GITSCORE_RESULTS", str(tmp_path))
    assert results.results_dir() == tmp_path


def test_grid_index_is_nearest_in_log_sigma_by_brute_force():
    grid = torch.logspace(-2.7, 1.9, 61, dtype=torch.float64).flip(0)
    s = torch.tensor([80.0, 13.0, 1.1, 0.05, 0.002], dtype=torch.float64)
    got = results.grid_index(s, grid)
    for v, i in zip(s.tolist(), got):
        d = [abs(torch.log(torch.tensor(v)) - torch.log(g)).item() for g in grid]
        assert i == min(range(len(d)), key=d.__getitem__)
