"""gitscore.stats: coverage on simulated data with a known mean, the two-level bootstrap against the one-level
one and against a brute-force loop, reproducibility from the seed, and the errors for bad input."""
import numpy as np
import pytest
import torch

from gitscore import stats


@pytest.mark.parametrize("method", ["percentile", "basic", "bca"])
def test_bootstrap_mean_covers_the_true_mean(method):
    rng = np.random.default_rng(11)
    reps = 200
    hits = sum(stats.bootstrap(rng.exponential(1.0, 40), n_boot=500, seed=r, method=method).contains(1.0)
               for r in range(reps))
    assert 0.86 <= hits / reps <= 0.99  # nominal 0.95; skewed data, n = 40: a little under


def test_paired_change_covers_the_true_change():
    rng = np.random.default_rng(12)
    reps, hits = 200, 0
    for r in range(reps):
        base = rng.exponential(1.0, 60)                 # per-latent errors of a baseline schedule
        cand = 0.8 * base + rng.normal(0, 0.05, 60)     # paired: true change -20 %
        hits += stats.paired_change(base, cand, n_boot=500, seed=r).contains(-0.2)
    assert 0.88 <= hits / reps <= 0.99


def _crossed(rng, n_seeds, n_samples, seed_sd, sample_sd=1.0, noise_sd=0.3):
    """y_sj = 10 + a_s + b_j + e_sj: seed effects a, sample effects b shared by all seeds (crossed)."""
    a = seed_sd * rng.normal(size=(n_seeds, 1))
    b = sample_sd * rng.normal(size=(1, n_samples))
    return 10 + a + b + noise_sd * rng.normal(size=(n_seeds, n_samples))


@pytest.mark.parametrize("design", ["crossed", "nested"])
def test_two_level_covers_the_mean_with_five_seeds(design):
    rng = np.random.default_rng(13)
    reps, hits = 150, 0
    for r in range(reps):
        y = _crossed(rng, 5, 40, seed_sd=1.0)
        if design == "nested":  # each seed its own samples
            y = 10 + rng.normal(size=(5, 1)) + rng.normal(size=(5, 40))
        hits += stats.two_level_mean(y, design=design, n_boot=300, seed=r).contains(10.0)
    assert 0.88 <= hits / reps <= 1.0


def test_two_level_wider_with_seed_variance_equal_without():
    rng = np.random.default_rng(14)
    y = _crossed(rng, 6, 200, seed_sd=0.5)
    two = stats.two_level_mean(y, n_boot=1000, few_seeds=False)
    one = stats.two_level_mean(y, n_boot=1000, resample_seeds=False)
    assert two.width > 2 * one.width and (two.n_seeds, one.n_seeds) == (6, 1)
    assert stats.two_level_mean(y, n_boot=1000).width > two.width  # the few-seed correction widens it
    flat = _crossed(rng, 6, 200, seed_sd=0.0, noise_sd=0.05)
    two = stats.two_level_mean(flat, n_boot=1000)
    one = stats.two_level_mean(flat, n_boot=1000, resample_seeds=False)
    assert 0.9 < two.width / one.width < 1.15


def _brute_two_level(base, cand, design, n_boot, seed):
    """The two-level change by explicit loops over the documented draws (plain percentile)."""
    rng = np.random.default_rng(seed)
    n_seeds, n = cand.shape
    reps = []
    for _ in range(n_boot):
        s = rng.integers(0, n_seeds, size=n_seeds)
        j = rng.integers(0, n, size=n if design == "crossed" else (n_seeds, n))
        num = den = 0.0
        for k in range(n_seeds):
            for i in range(n):
                jj = j[i] if design == "crossed" else j[k, i]
                num += cand[s[k], jj]
                den += base[jj]
        reps.append(num / den - 1)
    return np.quantile(reps, [0.025, 0.975])


@pytest.mark.parametrize("design", ["crossed", "nested"])
def test_two_level_change_equals_brute_force(design):
    rng = np.random.default_rng(15)
    base = rng.exponential(1.0, 12)
    cand = 0.7 * base + 0.1 * rng.normal(size=(3, 12))
    iv = stats.two_level_change(base, cand, design=design, n_boot=200, seed=4, few_seeds=False)
    assert np.allclose([iv.low, iv.high], _brute_two_level(base, cand, design, 200, 4), rtol=0, atol=1e-12)
    assert iv.estimate == pytest.approx(cand.mean() / base.mean() - 1, abs=1e-12)
    assert (iv.n_seeds, iv.n_samples, iv.n_boot) == (3, 12, 200)


def test_one_level_equals_brute_force_and_searched_baseline_pairs_by_seed():
    rng = np.random.default_rng(16)
    x = rng.normal(size=25)
    iv = stats.bootstrap(x, n_boot=300, seed=9)
    r = np.random.default_rng(9)
    reps = [x[r.integers(0, 25, size=25)].mean() for _ in range(300)]
    assert np.allclose([iv.low, iv.high], np.quantile(reps, [0.025, 0.975]), rtol=0, atol=1e-12)
    base2 = rng.exponential(1.0, (3, 10))  # a searched baseline on the same seeds: pairs (seed, sample)
    iv2 = stats.two_level_change(base2, base2 * 0.5, n_boot=100)
    assert iv2.low == pytest.approx(-0.5) and iv2.high == pytest.approx(-0.5)


def test_reproducible_from_seed_and_inputs_of_any_kind():
    rng = np.random.default_rng(17)
    base, cand = rng.exponential(1.0, 30), rng.exponential(1.0, (4, 30))
    a = stats.two_level_change(base, cand, n_boot=200, seed=3)
    assert a == stats.two_level_change(torch.tensor(base), cand.tolist(), n_boot=200, seed=3)
    assert a != stats.two_level_change(base, cand, n_boot=200, seed=4)
    assert stats.paired_change(base, cand[0], n_boot=200, seed=1) == stats.paired_change(
        list(base), torch.tensor(cand[0]), n_boot=200, seed=1)


def test_from_replicates_basic_and_point():
    reps = np.linspace(1.0, 2.0, 1001)
    assert stats.from_replicates(reps, 1.4).low == pytest.approx(1.025)
    basic = stats.from_replicates(reps, 1.4, method="basic")
    assert (basic.low, basic.high) == pytest.approx((2 * 1.4 - 1.975, 2 * 1.4 - 1.025))
    p = stats.point(3e-7, n_samples=64)
    assert p.low == p.high == p.estimate and p.method == "exact" and "exact" in str(p)


def test_format_shows_seeds_and_samples():
    iv = stats.Interval(-0.38, -0.42, -0.34, n_seeds=5, n_samples=10000, n_boot=10000)
    assert iv.format(100, "{:+.0f}", " %") == "-38 % [-42, -34] (95 %, 5 seeds x 10000 samples)"
    assert iv.scaled(100).low == pytest.approx(-42) and iv.contains(-0.42) and not iv.contains(-0.3)


@pytest.mark.parametrize("call, argument", [
    (lambda: stats.bootstrap([]), "values"),
    (lambda: stats.bootstrap([1.0]), "values"),
    (lambda: stats.bootstrap([1.0, float("nan")]), "values"),
    (lambda: stats.bootstrap([1.0, 2.0], level=1.0), "level"),
    (lambda: stats.bootstrap([1.0, 2.0], level=0), "level"),
    (lambda: stats.bootstrap([1.0, 2.0], n_boot=0), "n_boot"),
    (lambda: stats.bootstrap([1.0, 2.0], seed=-1), "seed"),
    (lambda: stats.bootstrap([1.0, 2.0], method="bc"), "method"),
    (lambda: stats.paired_change([1.0, 2.0], [1.0, 2.0, 3.0]), "same shape"),
    (lambda: stats.paired_change([1.0, -1.0], [1.0, 2.0]), "baseline"),
    (lambda: stats.two_level_change([1.0, 2.0], [[1.0, 2.0, 3.0]] * 2), "baseline must have shape"),
    (lambda: stats.two_level_change([1.0, 2.0], [[1.0, 2.0]]), "n_seeds"),
    (lambda: stats.two_level_mean([[1.0, 2.0]]), "n_seeds"),
    (lambda: stats.two_level_mean([1.0, 2.0]), "values must have 2"),
    (lambda: stats.two_level_mean([[1.0, 2.0]] * 3, design="mixed"), "design"),
    (lambda: stats.two_level_mean([[1.0, 2.0]] * 3, method="bca"), "method"),
    (lambda: stats.Interval(1.0, 2.0, 0.0), "low must be <= high"),
    (lambda: stats.Interval(1.0, 0.0, 2.0, level=95), "level"),
])
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_one_seed_allowed_for_samples_only():
    iv = stats.two_level_mean([[1.0, 2.0, 3.0]], resample_seeds=False, n_boot=50)
    assert iv.n_seeds == 1 and iv.method == "samples-only percentile"


def test_two_level_change_covers_the_true_change():
    rng = np.random.default_rng(18)
    reps, hits = 120, 0
    for r in range(reps):
        base = rng.exponential(1.0, 60)                                   # a fixed schedule's per-latent errors
        seed_effect = 0.1 * rng.normal(size=(5, 1))                       # what each warm-up seed's search gives
        cand = base * (0.7 + seed_effect) + 0.05 * rng.normal(size=(5, 60))  # true change: -30 % over seeds
        hits += stats.two_level_change(base, cand, n_boot=300, seed=r).contains(-0.3)
    assert 0.88 <= hits / reps <= 1.0


def test_two_level_with_any_statistic_equals_the_mean_version():
    rng = np.random.default_rng(19)
    y = _crossed(rng, 4, 30, seed_sd=0.5)
    generic = stats.two_level(lambda s, j: y[s][:, j].mean(), 4, 30, n_boot=200, seed=2)
    assert generic == stats.two_level_mean(y, n_boot=200, seed=2)
    spread = stats.two_level(lambda s, j: y[s][:, j].std(), 4, 30, n_boot=200, method="basic")
    assert spread.method == "two-level basic few-seed corrected" and spread.low < y.std() < spread.high
    with pytest.raises(TypeError, match="statistic"):
        stats.two_level("mean", 4, 30)
    with pytest.raises(ValueError, match="n_samples"):
        stats.two_level(lambda s, j: 0.0, 4, 1)


def test_paired_ratio_is_the_paired_change_plus_one_and_unpacks():
    rng = np.random.default_rng(3)
    a = rng.uniform(1, 2, 50)
    b = a * rng.uniform(0.7, 1.1, 50)
    r, c = stats.paired_ratio(a, b, n_boot=500), stats.paired_change(a, b, n_boot=500)
    q, lo, hi = r
    assert q == pytest.approx(b.mean() / a.mean()) and (lo, hi) == pytest.approx((1 + c.low, 1 + c.high))
    assert lo <= q <= hi and r.n_samples == 50


def test_a_value_that_rounds_to_zero_never_reads_minus_zero():
    iv = stats.Interval(-0.0004, -0.008, 0.008, n_samples=64)
    assert iv.format(100, "{:+.1f}", " %").startswith("+0.0 % [-0.8, +0.8]")
    assert iv.bounds(1000, "{:+.0f}") == "[-8, +8]"
    assert stats.Interval(-1e-9, -2e-9, 0.0).format().startswith("-1e-09")  # small but not zero: kept
    assert stats.Interval(-0.0, -0.0, 0.0).bounds() == "[0, 0]"
