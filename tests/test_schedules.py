import math

import pytest
import torch

from gitscore import schedules as S


@pytest.mark.parametrize("name", sorted(S.SCHEDULES))
@pytest.mark.parametrize("n", [1, 2, 5, 18, 60])
def test_shape_endpoints_monotone(name, n):
    s = S.get_schedule(name, n, 0.002, 80.0)
    assert s.dtype == torch.float64 and s.shape == (n + 1,)
    assert s[0].item() == 80.0 and s[-1].item() == 0.002
    assert (s[1:] < s[:-1]).all()
    S.check_sigmas(s)


def test_polynomial_is_uniform_in_root():
    rho = 7.0
    r = S.polynomial(10, 0.002, 80.0, rho) ** (1 / rho)
    d = r[1:] - r[:-1]
    assert torch.allclose(d, d[0].expand_as(d), rtol=1e-10, atol=0)


def test_rho_one_is_linear_and_logsnr_is_geometric():
    assert torch.allclose(S.polynomial(8, 0.5, 4.5, rho=1.0), torch.linspace(4.5, 0.5, 9, dtype=torch.float64))
    s = S.logsnr(8, 0.002, 80.0)
    ratios = s[1:] / s[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-10)


def test_vp_conversions_are_inverse():
    t = torch.linspace(1e-3, 1, 50, dtype=torch.float64)
    assert torch.allclose(S.vp_sigma_inv(S.vp_sigma(t)), t, rtol=1e-10, atol=1e-12)
    # EDM's VP-SDE: sigma(1) = sqrt(exp(beta_d/2 + beta_min) - 1)
    assert math.isclose(S.vp_sigma(1.0).item(), math.sqrt(math.exp(19.9 / 2 + 0.1) - 1), rel_tol=1e-12)


def test_time_uniform_uniform_in_vp_time():
    s = S.time_uniform(10, 0.002, 80.0, rho=1.0)
    t = S.vp_sigma_inv(s)
    d = t[1:] - t[:-1]
    assert torch.allclose(d, d[0].expand_as(d), rtol=1e-8)
    q = S.time_uniform(10, 0.002, 80.0, rho=2.0)
    d = S.vp_sigma_inv(q).sqrt().diff()
    assert torch.allclose(d, d[0].expand_as(d), rtol=1e-8)


@pytest.mark.parametrize("args, match", [
    ((0, 0.002, 80.0), "n"), ((-3, 0.002, 80.0), "n"), ((2.5, 0.002, 80.0), "n"),
    ((5, 80.0, 0.002), "sigma_min"), ((5, 0.0, 80.0), "sigma_min"), ((5, 0.002, float("inf")), "finite"),
])
def test_bad_arguments(args, match):
    for f in (S.polynomial, S.logsnr, S.time_uniform):
        with pytest.raises(ValueError, match=match):
            f(*args)


def test_bad_rho_and_name():
    with pytest.raises(ValueError, match="rho"):
        S.polynomial(5, rho=0)
    with pytest.raises(ValueError, match="schedule must be one of"):
        S.get_schedule("karras", 5)


@pytest.mark.parametrize("bad", [[1.0], [1.0, 2.0], [2.0, 0.0], [3.0, 3.0, 1.0], [[3.0, 1.0]], [float("nan"), 1.0]])
def test_check_sigmas_rejects(bad):
    with pytest.raises(ValueError, match="sigmas"):
        S.check_sigmas(torch.tensor(bad, dtype=torch.float64))


@pytest.mark.parametrize("nfe", sorted(S.PAPER_GITS_CIFAR10))
def test_published_gits_schedule_is_a_dp_path_on_the_teacher_grid(nfe):
    """The published CIFAR-10 GITS schedule: nfe steps from 80 to 0.002, strictly decreasing, and every
    sigma a point of the 61-point polynomial teacher grid (as printed, 4 decimals), in grid order."""
    s = S.check_sigmas(torch.tensor(S.PAPER_GITS_CIFAR10[nfe], dtype=torch.float64))
    assert len(s) == nfe + 1 and s[0].item() == 80.0 and s[-1].item() == 0.002
    grid = S.polynomial(60, 0.002, 80.0)  # gitscore.gits.teacher_grid(61)
    idx = (grid[None, :] - s[:, None]).abs().argmin(1)
    assert torch.allclose(grid[idx], s, rtol=0, atol=5e-5)  # equal up to the 4-decimal rounding
    assert idx[0] == 0 and idx[-1] == 60 and bool((idx.diff() > 0).all())
