"""FD bootstrap: the fast moment formula against torchmetrics, replicates against brute force, pairing."""
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
