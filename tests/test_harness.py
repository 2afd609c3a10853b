"""The harness's searches: AYS against exact Gaussians, LD3 / OSS against their own objectives, seeds."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

import gitscore as gs
from gitscore import ays, harness, optimal
from gitscore.denoisers import GaussianDenoiser
from gitscore.ld3 import default_bound, ld3
from gitscore.oss import median_path, oss

C = 0.5  # data std of the Gaussians


def _gaussian(d=16):
    return GaussianDenoiser(torch.zeros(d), C ** 2)


def _euler_end_error(sigmas, x_T):
    """Euler's end-to-end relative error on N(0, C^2 I) against the exact flow (GaussianDenoiser)."""
    D = _gaussian(x_T.shape[1])
    x = gs.solvers.sample_euler(D, x_T, sigmas)
    exact = D.exact_solution(x_T, float(sigmas[0]), float(sigmas[-1]))
    return float((x - exact).norm() / exact.norm())


def _schedule_from_theta_increments(u, smin, smax):
    """Schedule whose increments of atan(sigma / C) are softmax(u) of the total."""
    inc = np.exp(u - u.max())
    inc = inc / inc.sum() * (math.atan(smax / C) - math.atan(smin / C))
    theta = math.atan(smax / C) - np.concatenate([[0.0], np.cumsum(inc)])
    s = torch.tensor(C * np.tan(theta))
    s[0], s[-1] = smax, smin
    return s


@pytest.mark.parametrize("n", [2, 5, 8])
def test_kl_optimal_minimises_eulers_end_to_end_error_on_a_gaussian(n):
    # Brute force: BFGS over every schedule (theta increments) of Euler's exact end-to-end error on N(0, C^2 I).
    smin, smax = 0.002, 80.0
    x_T = smax * torch.randn(4, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    closed = ays.kl_optimal(n, smin, smax, C)
    f = lambda u: _euler_end_error(_schedule_from_theta_increments(u, smin, smax), x_T)
    start = np.random.default_rng(1).normal(size=n)
    best = minimize(f, start, method="Nelder-Mead" if n <= 2 else "BFGS", options={"maxiter": 4000})
    assert _euler_end_error(closed, x_T) <= best.fun * (1 + 1e-6)
    # and the closed form's own local errors are no larger than any perturbed schedule's
    rng = np.random.default_rng(2)
    for _ in range(20):
        other = _schedule_from_theta_increments(0.3 * rng.normal(size=n), smin, smax)
        assert ays.euler_local_error(closed, C) <= ays.euler_local_error(other, C) + 1e-12


def test_kl_optimal_is_uniform_in_arctan_and_checks_arguments():
    s = ays.kl_optimal(6, 0.002, 80.0, 1.0)
    assert float(s[0]) == 80.0 and float(s[-1]) == 0.002
    th = torch.atan(s)
    assert torch.allclose(th[:-1] - th[1:], (th[0] - th[-1]) / 6 * torch.ones(6, dtype=torch.float64), atol=1e-12)
    with pytest.raises(ValueError, match="sigma_data"):
        ays.kl_optimal(6, 0.002, 80.0, 0.0)
    with pytest.raises(ValueError, match="sigma_min"):
        ays.kl_optimal(6, 80.0, 0.002)


def test_monte_carlo_klub_matches_the_gaussian_closed_form():
    d, smin, smax = 32, 0.002, 80.0
    data = C * torch.randn(20000, d, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    sig = gs.schedules.polynomial(4, smin, smax)
    exact = ays.klub_gaussian(sig, C)
    mc = ays.klub_terms(_gaussian(d), data, sig, n_mc=4096, seed=0, dtype=torch.float64)
    np.testing.assert_allclose(mc, exact, rtol=0.1)


def test_ays_search_reaches_the_brute_force_minimum_of_the_exact_gaussian_klub():
    # Two steps: one interior sigma; the exact KLUB on a fine grid is the brute force.
    d, smin, smax = 16, 0.002, 80.0
    data = C * torch.randn(5000, d, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    grid = np.exp(np.linspace(math.log(smin), math.log(smax), 2001))[1:-1]
    exact = lambda mid: float(ays.klub_gaussian(torch.tensor([smax, mid, smin], dtype=torch.float64), C).sum())
    best = min(exact(m) for m in grid)
    r = ays.search(_gaussian(d), data, 2, sigma_min=smin, sigma_max=smax, n_mc=1024, candidates=16, sweeps=3,
                   seed=0, dtype=torch.float64)
    assert r.klub <= r.start_klub
    assert exact(float(r.sigmas[1])) <= 1.1 * best
    assert exact(float(r.sigmas[1])) < exact(float(r.start[1]))


def _kde_setup(n_images=200):
    images = gs.models.fmnist_images("train")[:n_images]
    return gs.denoisers.KDEDenoiser(images), images


def test_ld3_is_never_worse_than_its_start_on_validation_and_is_seeded():
    D, _ = _kde_setup()
    Dg = optimal.differentiable(D)
    x_T = 80.0 * gs.sampling.latents((1, 28, 28), 7, 0, 12, torch.float64)
    target = gs.metrics.reference_solution(D, x_T, n_steps=64)
    runs = [ld3(Dg, "euler", x_T, target, 4, n_valid=6, rounds=1, seed=s) for s in (0, 0, 1)]
    for r in runs:
        assert r.valid_loss <= r.start_valid_loss
        assert len(r.history) == 3  # 6 training pairs in batches of 2
        # the reported loss is that of the returned schedule
        x = gs.solvers.sample_euler(D, x_T[6:], r.sigmas)
        assert gs.metrics.rmse_per_sample(x, target[6:]).mean().item() == pytest.approx(r.valid_loss, rel=1e-6)
    assert torch.equal(runs[0].sigmas, runs[1].sigmas)
    assert default_bound(784, 5) == pytest.approx(0.001 * 784 / 25)
    with pytest.raises(ValueError, match="solver"):
        ld3(Dg, "unipc", x_T, target, 4, n_valid=6)
    with pytest.raises(ValueError, match="n_valid"):
        ld3(Dg, "euler", x_T, target, 4, n_valid=12)


def test_median_path_follows_oss_and_stays_strictly_increasing():
    assert median_path([[0, 3, 5, 9], [0, 1, 7, 9], [0, 2, 6, 9]], 10) == [0, 2, 6, 9]          # odd: the middle
    assert median_path([[0, 3, 5, 9], [0, 1, 8, 9]], 10) == [0, 2, 6, 9]                     # even: floor of mean
    assert median_path([[0, 4, 5, 9], [0, 5, 6, 9], [0, 1, 2, 9]], 10) == [0, 4, 5, 9]
    assert median_path([[0, 5, 6, 9], [0, 5, 5 + 1, 9], [0, 6, 7, 9]], 10) == [0, 5, 6, 9]
    assert median_path([[0, 8, 9, 10, 11], [0, 8, 9, 10, 11]], 12)[-1] == 11
    with pytest.raises(ValueError):
        median_path([], 10)


def test_oss_per_sample_paths_are_optimal_with_two_steps():
    # With two steps the student-state DP is exhaustive: each sample's path has the least error of all paths.
    D, _ = _kde_setup()
    grid = gs.gits.teacher_grid(13)
    w = gs.gits.warmup(D, (1, 28, 28), 3, grid=grid, seed=0)
    r = oss(D, w.xs, grid, 2, solver="euler")
    for j, (path, err) in enumerate(zip(r.paths, r.errors)):
        x_T, end = w.xs[0, j:j + 1], w.xs[-1, j:j + 1]
        brute = min(gs.metrics.rmse_per_sample(gs.solvers.sample_euler(D, x_T, grid[[0, m, 12]]), end).item()
                    for m in range(1, 12))
        assert err == pytest.approx(brute, rel=1e-5)
        start = gs.metrics.rmse_per_sample(gs.solvers.sample_euler(D, x_T, grid[[0, 6, 12]]), end).item()
        assert err <= start + 1e-9
    assert r.indices == median_path(r.paths, 13)
    assert r.samples > 0


@pytest.mark.parametrize("solver", ["euler", "unipc"])
def test_every_method_is_reproducible_from_its_seed(solver):
    D, images = _kde_setup()
    config = harness.HarnessConfig(search=gs.gits.SearchConfig(n_warmup=48, grid_points=21), n_tune=8, n_select=8,
                                   n_oss=2, ld3_train=4, ld3_valid=4, ld3_rounds=1, n_oracle=4, oracle_iters=3,
                                   ays_mc=16, ays_candidates=3, ays_sweeps=1, max_evals=2)
    methods = [m for m in harness.METHODS if harness.available(m, solver)]
    runs = []
    for _ in range(2):
        shared = harness.Shared()
        runs.append({m: harness.run(m, D, solver, 3, 2, config, shape=(1, 28, 28), data=images, shared=shared)
                     for m in methods})
    for m in methods:
        a, b = runs[0][m], runs[1][m]
        assert torch.equal(a.sigmas, b.sigmas), m
        assert a.evaluations == b.evaluations, m
        gs.schedules.check_sigmas(a.sigmas)
        assert len(a.sigmas) == 4
    assert runs[0]["polynomial"].evaluations == 0
    # the warm-up counts in GITS's cost; holdout's is the warm-up plus its own searches
    assert runs[0]["gits"].evaluations == 48 * 20
    assert runs[0]["holdout"].evaluations >= runs[0]["gits"].evaluations + runs[0]["refine"].own_evaluations
    assert runs[0]["holdout"].info["chosen"] in runs[0]["holdout"].info["holdout_errors"]
    # another warm-up seed, another warm-up
    other = harness.run("gits", D, solver, 3, 3, config, shape=(1, 28, 28))
    assert other.evaluations == runs[0]["gits"].evaluations


def test_holdout_picks_the_least_held_out_error():
    D, _ = _kde_setup()
    config = harness.HarnessConfig(search=gs.gits.SearchConfig(n_warmup=40, grid_points=21), n_tune=8, n_select=16,
                                   n_oss=2, n_oracle=4, oracle_iters=2, max_evals=2)
    shared = harness.Shared()
    r = harness.run("holdout", D, "ipndm", 4, 0, config, shape=(1, 28, 28), shared=shared)
    errs = r.info["holdout_errors"]
    assert r.info["chosen"] == min(errs, key=errs.get)
    w = shared.warm
    own = optimal.end_to_end_error(D, "ipndm", w.xs[0, 8:24], w.xs[-1, 8:24], r.sigmas).mean().item()
    assert own == pytest.approx(errs[r.info["chosen"]], rel=1e-6)
    assert set(harness.HOLDOUT) <= set(errs)


def test_harness_arguments_are_checked():
    D, _ = _kde_setup(20)
    with pytest.raises(ValueError, match="method must be one of"):
        harness.run("nope", D, "euler", 4, 0, shape=(1, 28, 28))
    with pytest.raises(ValueError, match="needs solver"):
        harness.run("ld3", D, "unipc", 4, 0, shape=(1, 28, 28))
    with pytest.raises(ValueError, match="nfe=5"):
        harness.run("gits", D, "heun", 5, 0, shape=(1, 28, 28))
    with pytest.raises(ValueError, match="data="):
        harness.run("ays", D, "euler", 4, 0, shape=(1, 28, 28))
    assert [harness.available(m, "unipc") for m in ("ld3", "oracle", "oss", "student_dp", "gits")] == \
        [False, False, False, False, True]
    assert list(itertools.islice(harness.METHODS, 4)) == list(harness.FIXED)


def test_cli_search_offers_the_harness_methods(capsys):
    from gitscore import cli
    assert cli.main(["search", "--model", "kde", "--kde-size", "300", "--steps", "3", "--method", "oss",
                     "--solver", "euler", "--n-warmup", "8", "--format", "list"]) == 0
    sigmas = torch.tensor(eval(capsys.readouterr().out))
    gs.schedules.check_sigmas(sigmas)
    assert len(sigmas) == 4
    with pytest.raises(SystemExit):
        cli.main(["search", "--model", "kde", "--method", "nope"])


def test_read_merges_split_runs_and_keeps_only_complete_seeds(tmp_path):
    import json

    def run(seeds, methods, extra=()):
        cells = {"euler 5": {m: {"sigmas": [80, 1, 0.002], "errors": [1.0, 2.0 + k]}
                             for k, m in enumerate(harness.FIXED)}}
        for m in methods:
            cells["euler 5"][m] = {"seeds": {str(s): {"sigmas": [80, 1, 0.002], "errors": [0.5, s + 1.0],
                                                      "evaluations": 10, "seconds": 1.0} for s in seeds}}
        for m in extra:
            cells["euler 5"][m]["seeds"]["9"] = {"sigmas": [80, 1, 0.002], "errors": [0, 0], "evaluations": 1,
                                                 "seconds": 0.0}
        return {"settings": {"model": "kde"}, "reference": {}, "cells": cells, "headroom": {}, "wall_time_s": 2.0}

    searched = [m for m in harness.METHODS if m not in harness.FIXED]
    (tmp_path / "a.json").write_text(json.dumps(run([0, 2], searched, extra=("gits",))))
    (tmp_path / "b.json").write_text(json.dumps(run([3], searched)))
    res = harness.read([tmp_path / "a.json", tmp_path / "b.json"])
    assert res["wall_time_s"] == 4.0
    assert harness.errors(res, "euler 5", "gits").shape == (3, 2)      # seed 9 only in gits: dropped
    assert res["dropped"] == {"euler 5": ["9"]}
    np.testing.assert_array_equal(harness.errors(res, "euler 5", "oss")[:, 1], [1.0, 3.0, 4.0])
    assert harness.errors(res, "euler 5", "polynomial").shape == (2,)
    assert harness.cost(res, "euler 5", "gits") == (10.0, 1.0) and harness.cost(res, "euler 5", "polynomial") == (0, 0)
    assert harness.best(res, "euler 5", ["polynomial", "gits"]) == "polynomial"  # 1.5 against 9.5 / 6
    np.testing.assert_array_equal(harness.per_sample_best(res, "euler 5", ["polynomial", "gits"]), [0.5, 1.0])
    # a cell missing a method its solver can run is left out; other settings refuse to merge
    partial = run([0], searched[:-1])
    (tmp_path / "c.json").write_text(json.dumps(partial))
    assert harness.read([tmp_path / "c.json"])["cells"] == {}
    (tmp_path / "d.json").write_text(json.dumps(dict(run([4], searched), settings={"model": "fmnist"})))
    with pytest.raises(ValueError, match="other settings"):
        harness.read([tmp_path / "a.json", tmp_path / "d.json"])
    iv = harness.change(harness.errors(res, "euler 5", "polynomial"), harness.errors(res, "euler 5", "gits"),
                        n_boot=200)
    assert iv.estimate == pytest.approx(np.mean([0.5, 1.0, 0.5, 3.0, 0.5, 4.0]) / 1.5 - 1)
