"""The comparisons the chapters read as stats.Intervals, checked against their definitions by hand."""
import math

import numpy as np
import pytest
import torch

from gitscore import controls, gits, metrics, results, stats
from gitscore.denoisers import GaussianDenoiser


def _run(rows, n_fd=0):
    base = {"ref_error_se": 0.01, "fd": None, "fd_boot": None}
    return {"config": {"n_fd": n_fd, "n_ref": 8, "eval_seed": 1}, "rows": [
        {"solver": s, "schedule": sc, "nfe": n, **base, **v} for (s, sc, n), v in rows.items()]}


def test_change_is_paired_change_as_an_interval():
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(40, generator=g, dtype=torch.float64) + 0.5).tolist()
    b = [v * 0.8 for v in a]
    run = _run({("euler", "polynomial", 5): {"ref_error": np.mean(a), "ref_errors": a},
                ("euler", "gits_dev", 5): {"ref_error": np.mean(b), "ref_errors": b}})
    iv = results.change(run, ("euler", "gits_dev", 5), ("euler", "polynomial", 5), "ref_error")
    assert isinstance(iv, stats.Interval) and iv.n_seeds == 1 and iv.n_samples == 40
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((-0.2, -0.2, -0.2))


def test_seeds_change_is_the_two_level_change_of_the_files_values():
    rng = np.random.default_rng(1)
    poly = rng.uniform(1, 2, 16)
    gits_err = poly * rng.uniform(0.7, 1.0, (3, 16))
    seeds = {"polynomial": {"euler 5": {"errors": poly.tolist()}},
             "gits": {str(s): {"euler 5": {"errors": gits_err[i].tolist()}} for i, s in enumerate((0, 2, 3))}}
    iv = results.seeds_change(seeds, "gits", "euler 5")
    ref = stats.two_level_change(poly, gits_err)
    assert (iv.estimate, iv.low, iv.high, iv.n_seeds) == (ref.estimate, ref.low, ref.high, 3)
    assert iv.estimate == pytest.approx(gits_err.mean() / poly.mean() - 1)
    with pytest.raises(KeyError, match="no schedules 'null16'"):
        results.seeds_change(seeds, "null16", "euler 5")


def test_best_other_change_takes_the_minimum_within_each_replicate():
    reps_a, reps_b, reps_c = [10.0, 12.0, 11.0, 9.0], [20.0, 10.0, 30.0, 20.0], [15.0, 30.0, 10.0, 18.0]
    run = _run({("ipndm", "gits_dev", 5): {"ref_error": 1, "fd": 10.0, "fd_boot": reps_a}}, n_fd=4)
    others = _run({("dpmpp", "polynomial", 5): {"ref_error": 1, "fd": 20.0, "fd_boot": reps_b},
                   ("unipc", "polynomial", 5): {"ref_error": 1, "fd": 16.0, "fd_boot": reps_c}}, n_fd=4)
    iv = results.best_other_change(run, others, ("ipndm", "gits_dev", 5),
                                   [("dpmpp", "polynomial", 5), ("unipc", "polynomial", 5)])
    by_hand = np.array(reps_a) / np.minimum(reps_b, reps_c) - 1
    assert iv.estimate == pytest.approx(10 / 16 - 1)
    assert (iv.low, iv.high) == pytest.approx(tuple(2 * iv.estimate - np.quantile(by_hand, [0.975, 0.025])))
    others["config"]["eval_seed"] = 2
    with pytest.raises(ValueError, match="eval_seed"):
        results.best_other_change(run, others, ("ipndm", "gits_dev", 5), [("dpmpp", "polynomial", 5)])


def test_change_from_se_is_the_delta_method():
    run = _run({("euler", "polynomial", 5): {"ref_error": 2.0, "ref_error_se": 0.1},
                ("euler", "gits_dev", 5): {"ref_error": 1.5, "ref_error_se": 0.05}})
    iv = results.change_from_se(run, ("euler", "gits_dev", 5), ("euler", "polynomial", 5))
    half = 1.959963984540054 * 0.75 * math.hypot(0.05 / 1.5, 0.1 / 2.0)
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((-0.25, -0.25 - half, -0.25 + half))


def _gauss(d=4):
    return GaussianDenoiser(torch.zeros(d, dtype=torch.float64), torch.full((d,), 0.3, dtype=torch.float64))


def test_reference_scorer_equals_sampling_by_hand_and_caches():
    D = _gauss()
    s = gits.teacher_grid(6)
    ref = metrics.reference_solution(D, 80.0 * torch.randn(5, 4, generator=torch.Generator().manual_seed(0),
                                                              dtype=torch.float64), n_steps=32)
    score = metrics.ReferenceScorer(D, ref, seed=3, shape=(4,), dtype=torch.float64)
    from gitscore import sampling
    by_hand = metrics.rmse_per_sample(sampling.sample(D, "euler", s, 5, seed=3, shape=(4,), dtype=torch.float64), ref)
    assert torch.equal(score("euler", s), by_hand) and len(score.cache) == 1
    score("euler", s.clone())
    assert len(score.cache) == 1


def test_random_cost_schedule_is_a_seeded_schedule_from_the_grid():
    grid = gits.teacher_grid(21)
    a, b = controls.random_cost_schedule(grid, 5, 0), controls.random_cost_schedule(grid, 5, 1)
    assert len(a) == 6 and a[0] == grid[0] and a[-1] == grid[-1] and bool((a[1:] < a[:-1]).all())
    assert set(a.tolist()) <= set(grid.tolist())
    assert torch.equal(a, controls.random_cost_schedule(grid, 5, 0)) and not torch.equal(a, b)


def test_ablations_are_the_one_setting_searches():
    D = _gauss()
    cfg = gits.SearchConfig(n_warmup=8, grid=gits.teacher_grid(21), dtype=torch.float64)
    r = gits.search_info(D, (4,), 4, cfg, keep_warmup=True)
    abl, secs = gits.ablations(D, (4,), 4, r, cfg, coeffs=(0.9, 1.15), warmups=(2, 8), grid_points=(11, 21),
                               teachers=("ipndm", "euler"), n_small=4)
    assert abl["coeff", 0.9][0] == r.path(4, 0.9) and abl["warm-up size", 2][0] == r.first(2).path(4)
    assert abl["metric", "l2"][0] == r.with_metric("l2").path(4)
    assert abl["grid size", 21][0] == r.first(4).path(4) and abl["teacher", "ipndm"] == abl["grid size", 21]
    new = gits.search_info(D, (4,), 4, cfg.replace(n_warmup=4, teacher="euler"))
    assert abl["teacher", "euler"][0] == new.indices and set(secs) == {(11, "ipndm"), (21, "euler")}
