import pytest
import torch

from gitscore import controls, schedules, solvers, trajectory


def _data(n=50, seed=0):
    return torch.randn(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_null_denoiser_ignores_x_and_repeats():
    data = _data()
    D = controls.NullDenoiser(data, seed=3)
    x = torch.randn(6, 1, 4, 4, dtype=torch.float64)
    a, b = D(x, 2.5), D(100 * x + 7, 2.5)
    assert torch.equal(a, b), "the output does not depend on x"
    assert torch.equal(D(x[:3], 2.5), a[:3]), "rows are identified by their position"
    # every output is a training image, the one index() names
    assert all(torch.equal(a[i], data[D.index(2.5, i)]) for i in range(6))
    # a new sigma or another seed draws other images (50 images: equal for all 6 rows by chance ~ 50**-6)
    assert not torch.equal(D(x, 2.4), a)
    assert not torch.equal(controls.NullDenoiser(data, seed=4)(x, 2.5), a)


def test_null_denoiser_per_sample_sigma_and_dtype():
    D = controls.NullDenoiser(_data(), seed=0)
    x = torch.zeros(3, 1, 4, 4, dtype=torch.float32)
    out = D(x, torch.tensor([1.0, 2.0, 3.0]))
    assert out.dtype == torch.float32
    assert torch.equal(out[1], D(x, 2.0)[1])


def test_null_model_breaks_straightness():
    """Euler trajectories of the null model wander (each step pulls towards a new image); an exact
    Gaussian denoiser's stay far straighter."""
    data = _data(200)
    x_T = 80 * torch.randn(8, 1, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    sig = schedules.polynomial(40)
    null = trajectory.record(solvers.sample_euler, controls.NullDenoiser(data), x_T, sig)
    from gitscore.denoisers import GaussianDenoiser
    gauss = trajectory.record(solvers.sample_euler, GaussianDenoiser(data.mean(0), data.var(0)), x_T, sig)
    dev = {k: (trajectory.deviation(t).amax(1) / trajectory.sample_distance(t).amax(1)).amax().item()
           for k, t in (("null", null), ("gauss", gauss))}
    assert dev["null"] > 3 * dev["gauss"], dev


def test_null_denoiser_bad_input():
    with pytest.raises(ValueError, match="data"):
        controls.NullDenoiser(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="seed"):
        controls.NullDenoiser(_data(), seed=-1)
    with pytest.raises(ValueError, match="x must have samples"):
        controls.NullDenoiser(_data())(torch.zeros(2, 3), 1.0)


def test_hybrid_switches_at_sigma_c_per_sample():
    from gitscore.denoisers import GaussianDenoiser
    data = _data()
    a, b = GaussianDenoiser(data.mean(0), data.var(0)), GaussianDenoiser(0.0, 1.0)
    h = controls.HybridDenoiser(a, b, sigma_c=1.0)
    x = torch.randn(4, 1, 4, 4, dtype=torch.float64)
    assert torch.equal(h(x, 2.0), a(x, 2.0)) and torch.equal(h(x, 1.0), a(x, 1.0))
    assert torch.equal(h(x, 0.5), b(x, 0.5))
    s = torch.tensor([2.0, 0.5, 3.0, 0.1], dtype=torch.float64)
    out = h(x, s)
    for i in range(4):
        ref = (a if s[i] >= 1 else b)(x[i:i + 1], s[i:i + 1])
        assert torch.allclose(out[i:i + 1], ref)
    with pytest.raises(ValueError, match="sigma_c"):
        controls.HybridDenoiser(a, b, 0.0)
    with pytest.raises(TypeError, match="denoisers"):
        controls.HybridDenoiser(a, None, 1.0)
