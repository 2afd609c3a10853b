"""FD bootstrap: the fast moment formula against torchmetrics, replicates against brute force, pairing."""
import numpy as np
import pytest
import torch

from gitscore import metrics


def _feats(n, d, seed, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64) / d ** 0.5
    return metrics.FeatureStats(torch.randn(n, d, generator=g, dtype=torch.float64) @ a + shift)


def _fd_brute(x, ref):
    """FD with an explicit matrix square root of S_1 S_2 (its eigen-decomposition), no shortcut."""
    mu1, mu2, s1, s2 = x.mean(0), ref.mean(0), torch.cov(x.T), torch.cov(ref.T)
    ev = torch.linalg.eigvals(s1 @ s2)
    return ((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * ev.sqrt().real.sum()).item()


def test_moment_formula_matches_torchmetrics_and_brute_force():
    pytest.importorskip("torchmetrics")
    d = 256  # the classifier's feature width (torchmetrics' FID checks it)
    x, ref = _feats(600, d, 0, shift=0.3), _feats(800, d, 1)
    e, v = torch.linalg.eigh(ref.sigma)
    fast = metrics._frechet_from_moments(x.mu, x.sigma, ref.mu, (v * e.clamp(min=0).sqrt()) @ v.T).item()
    assert fast == pytest.approx(_fd_brute(x.features, ref.features), rel=1e-9)
    assert fast == pytest.approx(metrics.frechet_distance(x, ref), rel=1e-5)


def test_replicates_are_the_fd_of_the_resampled_sets():
    x, ref = _feats(300, 8, 2, shift=0.5), _feats(400, 8, 3)
    reps = metrics.frechet_bootstrap(x, ref, n_boot=5, seed=7)
    for r, idx in zip(reps, metrics.bootstrap_indices(300, 5, 7)):
        assert r.item() == pytest.approx(_fd_brute(x.features[idx], ref.features), rel=1e-9)


def test_paired_replicates_share_draws():
    x, ref = _feats(300, 8, 2, shift=0.5), _feats(400, 8, 3)
    a = metrics.frechet_bootstrap(x, ref, n_boot=50)
    assert torch.equal(a, metrics.frechet_bootstrap(x, ref, n_boot=50))  # same latents, same draws: zero spread
    # a set differing from x only by a constant shift: its replicates move together with x's (paired),
    # so the interval of the difference is far narrower than the replicates' own spread
    y = metrics.FeatureStats(x.features + 0.05)
    diff = metrics.frechet_bootstrap(y, ref, n_boot=50) - a
    lo, hi = metrics.interval(diff)
    assert hi - lo < 0.2 * (a.max() - a.min()).item()


def test_basic_interval_undoes_the_bootstrap_shift_and_covers():
    # replicates sitting 3 above the estimate: the basic interval assumes the estimate sits 3 above the truth
    reps = torch.linspace(-1, 1, 2001) + 10.0 + 3.0  # estimate 10, bootstrap shifted by +3
    lo, hi = metrics.interval(reps, estimate=10.0)
    assert (lo + hi) / 2 == pytest.approx(10.0 - 3.0)  # 2 * estimate - centre of the replicates
    assert metrics.interval(reps) == pytest.approx((13 - 0.95, 13 + 0.95), abs=1e-3)
    with pytest.raises(ValueError, match="level"):
        metrics.interval(reps, level=1.5)
    with pytest.raises(ValueError, match="n_boot"):
        metrics.bootstrap_indices(10, 0)


def _run(rows):
    return {"rows": [dict(solver=s, schedule=sch, nfe=n, **v) for (s, sch, n), v in rows.items()]}


def test_paired_change_of_ref_error_is_the_ratio_of_means_with_a_joint_bootstrap():
    from gitscore import results
    g = torch.Generator().manual_seed(0)
    base = torch.rand(64, generator=g, dtype=torch.float64) + 0.5
    run = _run({("euler", "polynomial", 5): {"ref_errors": base.tolist()},
                ("euler", "gits_dev", 5): {"ref_errors": (0.8 * base).tolist()},  # exactly 20 % lower per latent
                ("euler", "noisy", 5): {"ref_errors": (base * (1 + 0.3 * torch.randn(64, generator=g,
                                                                                       dtype=torch.float64))).tolist()}})
    est, lo, hi = results.paired_change(run, ("euler", "gits_dev", 5), ("euler", "polynomial", 5), "ref_error")
    assert est == pytest.approx(-0.2) and lo == pytest.approx(-0.2) and hi == pytest.approx(-0.2)  # paired: no spread
    est, lo, hi = results.paired_change(run, ("euler", "noisy", 5), ("euler", "polynomial", 5), "ref_error",
                                        n_boot=2000)
    # brute force: the same draws (gitscore.stats' convention: numpy default_rng(seed)), resampled by hand
    import numpy as np
    idx = np.random.default_rng(0).integers(0, 64, size=(2000, 64))
    a, b = np.array(run["rows"][2]["ref_errors"]), base.numpy()
    reps = a[idx].mean(1) / b[idx].mean(1) - 1
    assert (lo, hi) == pytest.approx(tuple(np.quantile(reps, [0.025, 0.975]))) and lo < est < hi
    with pytest.raises(KeyError, match="not in this run"):
        results.paired_change(run, ("heun", "polynomial", 5), ("euler", "polynomial", 5), "ref_error")
    with pytest.raises(ValueError, match="fd_boot"):
        results.paired_change(run, ("euler", "noisy", 5), ("euler", "polynomial", 5), "fd")


def test_paired_change_of_fd_uses_shared_replicates():
    from gitscore import results
    x, ref = _feats(300, 8, 2, shift=0.5), _feats(400, 8, 3)
    y = metrics.FeatureStats(x.features * 1.1)
    fa, fb = _fd_brute(y.features, ref.features), _fd_brute(x.features, ref.features)
    run = _run({("euler", "gits_dev", 5): {"fd": fa, "fd_boot": metrics.frechet_bootstrap(y, ref, 100).tolist()},
                ("euler", "polynomial", 5): {"fd": fb, "fd_boot": metrics.frechet_bootstrap(x, ref, 100).tolist()}})
    est, lo, hi = results.paired_change(run, ("euler", "gits_dev", 5), ("euler", "polynomial", 5))
    assert est == pytest.approx(fa / fb - 1) and lo < est < hi


def test_fd_with_replicates_is_fd_and_bootstrap_of_the_clamped_images():
    pytest.importorskip("torchmetrics")
    x = 1.2 * torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1.2  # beyond [-1, 1]
    fd, reps = metrics.fd_with_replicates(x, n_boot=3)
    feats = metrics.image_features(x.clamp(-1, 1))
    assert fd == metrics.frechet_distance(feats)
    assert torch.equal(reps, metrics.frechet_bootstrap(feats, n_boot=3))
    est, lo, hi = metrics.fd_ratio_change(2.0, 1.0, reps, reps)
    assert est == 1.0 and (lo, hi) == metrics.interval(torch.zeros(3, dtype=torch.float64), estimate=1.0)


def _seed_sets(S=3, N=40, d=6, seed=0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(S, N, d, generator=g, dtype=torch.float64) + shift


def test_two_level_fd_estimate_and_replicates_are_brute_force_fds(monkeypatch):
    from gitscore import stats
    ref = _feats(500, 6, 9)
    a, b = _seed_sets(seed=1, shift=0.4), _seed_sets(seed=2, shift=0.1)
    seen = {}
    real_two_level = stats.two_level

    def spy(statistic, *args, **kw):
        seen["stat"] = statistic
        return real_two_level(statistic, *args, **kw)

    monkeypatch.setattr(stats, "two_level", spy)
    iv = metrics.frechet_two_level({"a": a, "b": b}, lambda fd: fd["a"] / fd["b"] - 1, ref, n_boot=20)
    pooled = lambda x: x.reshape(-1, 6)
    assert iv.estimate == pytest.approx(_fd_brute(pooled(a), ref.features) / _fd_brute(pooled(b), ref.features) - 1,
                                        rel=1e-4)  # float32 moments
    assert iv.n_seeds == 3 and iv.n_samples == 40 and iv.method.startswith("two-level basic")
    # one replicate, drawn by hand: seeds (2, 2, 0), each with its own sample draw (nested)
    s = np.array([2, 2, 0])
    j = np.random.default_rng(5).integers(0, 40, size=(3, 40))
    gathered = lambda x: torch.cat([x[k][j[r]] for r, k in enumerate(s)])
    want = _fd_brute(gathered(a), ref.features) / _fd_brute(gathered(b), ref.features) - 1
    assert seen["stat"](s, j) == pytest.approx(want, rel=1e-4)


def test_two_level_fd_of_a_set_against_itself_is_exactly_zero():
    ref = _feats(300, 6, 4)
    a = _seed_sets(seed=3)
    iv = metrics.frechet_two_level({"a": a, "b": a.clone()}, lambda fd: fd["a"] / fd["b"] - 1, ref, n_boot=10)
    assert (iv.estimate, iv.low, iv.high) == (0.0, 0.0, 0.0)


def test_two_level_fd_widens_with_the_seed_spread():
    """Sets whose seeds differ (a searched schedule's warm-up randomness) get a wider interval than sets
    whose seeds agree, at the same per-sample noise: the seed level is resampled."""
    ref = _feats(400, 6, 5)
    base = _seed_sets(S=5, N=60, seed=6)
    calm = base + 0.5
    wild = base + 0.5 + torch.tensor([0.0, 0.6, -0.6, 1.2, -1.2], dtype=torch.float64)[:, None, None]
    stat = lambda fd: fd["x"] / fd["base"] - 1
    w_calm = metrics.frechet_two_level({"x": calm, "base": base}, stat, ref, n_boot=100).width
    w_wild = metrics.frechet_two_level({"x": wild, "base": base}, stat, ref, n_boot=100).width
    assert w_wild > 2 * w_calm


def test_two_level_fd_rejects_bad_input():
    ref = _feats(100, 6, 4)
    with pytest.raises(ValueError, match="one shape"):
        metrics.frechet_two_level({"a": _seed_sets(), "b": _seed_sets(N=30)}, lambda fd: 0.0, ref)
    with pytest.raises(ValueError, match="width"):
        metrics.frechet_two_level({"a": _seed_sets(d=5)}, lambda fd: 0.0, ref)
    with pytest.raises(ValueError, match="at least 2 warm-up seeds"):
        metrics.frechet_two_level({"a": _seed_sets(S=1)}, lambda fd: fd["a"], ref)
    with pytest.raises(ValueError, match="non-empty"):
        metrics.frechet_two_level({}, lambda fd: 0.0, ref)
