"""FD at infinitely many samples (linear in 1/N) and the power-law extrapolation of a training curve."""
import math

import pytest
import torch

import gitscore as gs
from gitscore.diagnostics import power_law_extrapolation
from gitscore.metrics import fd_infinity


def test_power_law_is_recovered_exactly_and_extrapolated():
    x = torch.tensor([1e5, 3e5, 1e6, 2e6], dtype=torch.float64)
    fit = power_law_extrapolation(x, 40.0 * (x / 1e5) ** -0.5, target=10.0)
    assert math.isclose(fit.alpha, 0.5, rel_tol=1e-12)
    assert math.isclose(fit.x_target, 1.6e6, rel_tol=1e-10)  # 40 (x / 1e5)^-0.5 = 10 at x = 16e5
    # A curve that does not fall never reaches a lower target.
    assert power_law_extrapolation([1, 2, 4], [5.0, 5.0, 6.0], target=1.0).x_target == math.inf
    with pytest.raises(ValueError, match="at least two different x"):
        power_law_extrapolation([2, 2], [3.0, 1.0], target=1.0)
    with pytest.raises(ValueError, match="finite and > 0"):
        power_law_extrapolation([1, 2], [3.0, -1.0], target=1.0)
    with pytest.raises(ValueError, match="target must be a finite number > 0"):
        power_law_extrapolation([1, 2], [3.0, 1.0], target=0)


def test_fd_infinity_fits_the_1_over_n_line():
    ns = [1000, 2000, 5000]
    fd_inf, b = fd_infinity(ns, [5.0 + 2000.0 / n for n in ns])
    assert math.isclose(fd_inf, 5.0, rel_tol=1e-10) and math.isclose(b, 2000.0, rel_tol=1e-10)
    with pytest.raises(ValueError, match="at least two different sizes"):
        fd_infinity([1000, 1000], [1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        fd_infinity([1000], [1.0])


def test_fd_infinity_of_real_images_removes_the_small_sample_bias():
    # Training images against the test split: the same distribution, so FD -> ~0 as N grows and every
    # finite-N FD sits above the extrapolated value by about b / N (b > 0).
    train = gs.data.fashion_mnist("train")[0]
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
    feats = gs.metrics.image_features(train[perm[:4000]])
    ns = [500, 1000, 2000, 4000]
    fds = [gs.metrics.frechet_distance(gs.metrics.FeatureStats(feats.features[:n])) for n in ns]
    fd_inf, b = fd_infinity(ns, fds)
    assert b > 0 and all(f > fd_inf for f in fds)
    assert abs(fd_inf) < 0.25 * fds[-1]  # the bias is most of the finite-N value for identical distributions
