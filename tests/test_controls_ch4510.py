"""The controls of chapters 4, 5 and 10 (gitscore.controls' last block, diagnostics.denoising_errors per image):
each reference matches the library, and each control fails its registered claim on a small case."""
import dataclasses

import numpy as np
import pytest
import torch

from gitscore import claims, controls, denoisers, schedules, solvers, stats, trajectory
from gitscore.diagnostics import denoising_errors


def _data(n=40, shape=(1, 3, 3), seed=0):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _queries(data, sigmas, seed=1):
    g = torch.Generator().manual_seed(seed)
    s = torch.tensor(sigmas, dtype=torch.float64).repeat_interleave(4)
    y = data[torch.arange(len(s)) % len(data)]
    return y + s.reshape(-1, *[1] * (data.ndim - 1)) * torch.randn(y.shape, generator=g, dtype=torch.float64), s


def _rel(a, b, x=None):
    a, b = a.flatten(1), b.flatten(1)
    scale = b if x is None else b - x.flatten(1)
    return ((a - b).norm(dim=1) / scale.norm(dim=1)).max().item()


def _one_model(claim_id, name):
    return dataclasses.replace(claims.get(claim_id), models=(name,))


def test_softmax_denoiser_is_the_kde_and_a_wrong_bandwidth_fails_kde_exact():
    data = _data()
    kde = denoisers.KDEDenoiser(data, dtype=torch.float64)
    x, s = _queries(data, (0.1, 1.0, 10.0))
    ref = controls.softmax_denoiser(x, data, s)
    assert ref.dtype == torch.float64 and ref.shape == x.shape
    err = _rel(kde(x, s), ref)
    ctrl = _rel(controls.softmax_denoiser(x, data, s, bandwidth=1.01), ref)
    assert err < 1e-12 and ctrl > 1e-4
    v = claims.verdict(_one_model("kde_exact", "KDE 40 points"), {"KDE 40 points": stats.point(err)},
                       control=stats.point(ctrl))
    assert v.word == claims.HOLDS and v.control.fails and v.control.separable, v.text
    # a scalar sigma is one bandwidth for every row
    assert torch.allclose(controls.softmax_denoiser(x[:4], data, 0.1), kde(x[:4], 0.1), atol=1e-12)


def test_mean_shift_step_is_the_kde_denoiser_and_a_wrong_bandwidth_fails_the_identity():
    data = _data(shape=(2,))
    kde = denoisers.KDEDenoiser(data, dtype=torch.float64)
    x, s = _queries(data, (0.3, 3.0, 30.0))
    D = kde(x, s)
    err = _rel(controls.mean_shift_step(kde, x, s), D, x)
    ctrl = _rel(controls.mean_shift_step(kde, x, s, bandwidth=1.01), D, x)
    assert err < 1e-10 and ctrl > 1e-3
    v = claims.verdict(_one_model("meanshift_identity", "toy"), {"toy": stats.point(err)}, control=stats.point(ctrl))
    assert v.word == claims.HOLDS and v.control.separable, v.text
    assert not x.requires_grad  # the caller's tensor is left alone


def test_random_direction_step_keeps_the_length_and_repeats():
    x, t = _data(8, (1, 4, 4)), _data(8, (1, 4, 4), seed=3)
    a, b = controls.random_direction_step(x, t, seed=5), controls.random_direction_step(x, t, seed=5)
    assert torch.equal(a, b) and a.shape == x.shape
    assert torch.allclose((a - x).flatten(1).norm(dim=1), (t - x).flatten(1).norm(dim=1), rtol=1e-12)
    assert not torch.allclose(a, controls.random_direction_step(x, t, seed=6))
    with pytest.raises(ValueError, match="same shape"):
        controls.random_direction_step(x, t[:4])
    with pytest.raises(ValueError, match="seed"):
        controls.random_direction_step(x, t, seed=-1)


def test_random_direction_step_fails_the_likelihood_claim_where_mean_shift_passes():
    data = _data(200, (1, 4, 4))
    kde = denoisers.KDEDenoiser(data, dtype=torch.float64)
    sigmas = schedules.polynomial(10)
    x_T = 80 * torch.randn(12, 1, 4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    tr = trajectory.record(solvers.sample_euler, kde, x_T, sigmas)
    n, steps = tr.xs.shape[0], len(sigmas) - 1
    s = sigmas[:-1].repeat(n)
    xs = tr.xs[:, :-1].reshape(-1, 1, 4, 4)
    D = tr.denoised.reshape(-1, 1, 4, 4)
    with torch.no_grad():
        L_x = kde.log_density(xs, s).reshape(n, steps)
        L_D = kde.log_density(D, s).reshape(n, steps)
        L_r = kde.log_density(controls.random_direction_step(xs, D, seed=0), s).reshape(n, steps)
    real = (L_D > L_x).double().mean(1)
    ctrl = (L_r > L_x).double().mean(1)
    v = claims.evaluate(_one_model("meanshift_likelihood", "4x4 KDE"), {"4x4 KDE": real}, ctrl, n_boot=500)
    assert v.word == claims.HOLDS and v.control.fails and v.control.separable, v.text


def test_bad_bandwidth_and_shapes_are_refused():
    data = _data()
    with pytest.raises(ValueError, match="bandwidth"):
        controls.softmax_denoiser(data[:2], data, 1.0, bandwidth=0)
    with pytest.raises(ValueError, match="same size"):
        controls.softmax_denoiser(data[:2, :, :2], data, 1.0)
    with pytest.raises(TypeError, match="log_density"):
        controls.mean_shift_step(lambda x, s: x, data[:2], 1.0)


def test_denoising_errors_per_image_average_to_the_per_sigma_values():
    x0 = _data(6, (4,))
    eps = _data(6, (4,), seed=9)
    D = denoisers.GaussianDenoiser(torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
    grid = [0.1, 1.0, 10.0]
    agg = denoising_errors(D, x0, eps, grid, torch.zeros(4, dtype=torch.float64), reference=D, batch_size=4)
    per = denoising_errors(D, x0, eps, grid, torch.zeros(4, dtype=torch.float64), reference=D, batch_size=4,
                           per_image=True)
    assert per.model.shape == (6, 3) and per.data_mean.shape == (6, 3) and agg.model.shape == (3,)
    for a, b in ((agg.model, per.model), (agg.data_mean, per.data_mean), (agg.reference, per.reference)):
        assert torch.allclose(a, b.mean(0), rtol=1e-12)
    with pytest.raises(TypeError, match="per_image"):
        denoising_errors(D, x0, eps, grid, torch.zeros(4, dtype=torch.float64), per_image=1)


def test_a_denoiser_worse_than_the_data_mean_fails_network_beats_mean():
    # the exact denoiser of N(0, I) never does worse than the mean; one that adds a bias of 1.5 does. (Up to
    # sigma = 1 only: as sigma grows the optimum tends to the mean, ratio 1 - 1 / (1 + sigma^2), and 64 images
    # cannot resolve that from 1.)
    x0, eps = _data(64, (4,)), _data(64, (4,), seed=9)
    exact = denoisers.GaussianDenoiser(torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
    grid = [0.01, 0.3, 1.0]
    mean = torch.zeros(4, dtype=torch.float64)

    def per_image(den):
        e = denoising_errors(den, x0, eps, grid, mean, per_image=True)
        return np.stack([e.model.numpy(), e.data_mean.numpy()], -1)

    def worst_ratio(a):
        return float((a[..., 0].mean(0) / a[..., 1].mean(0)).max())

    claim = _one_model("network_beats_mean", "Gaussian 4-D")
    v = claims.evaluate(claim, {"Gaussian 4-D": per_image(exact)}, per_image(lambda x, s: exact(x, s) + 1.5),
                        statistic=worst_ratio, n_boot=500)
    assert v.word == claims.HOLDS and v.control.fails and v.control.separable, v.text
