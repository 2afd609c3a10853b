"""Trajectory geometry: exact cases (lines, 3-D subspaces), brute-force PCA, invariances, Prop. 4.1."""
import math

import numpy as np
import pytest
import torch

from gitscore import trajectory as tr
from gitscore.denoisers import GaussianDenoiser
from gitscore.schedules import polynomial


@pytest.fixture(autouse=True)
def float64():
    """Exactness checks need float64; restore the default afterwards (other test modules)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def random_walks(B=5, T=15, d=40, seed=0):
    """Generic trajectories: a drift plus a random walk, so every PCA eigenvalue is distinct."""
    g = gen(seed)
    drift = torch.randn(B, 1, d, generator=g) * 3
    steps = torch.randn(B, T, d, generator=g)
    return torch.arange(T).reshape(1, T, 1) * drift + steps.cumsum(1)


def euler_loop(denoiser, x, sigmas, callback=None):
    """Minimal Euler sampler with the solver callback contract."""
    for i in range(len(sigmas) - 1):
        s, s_next = float(sigmas[i]), float(sigmas[i + 1])
        D = denoiser(x, s)
        if callback is not None:
            callback({"i": i, "x": x, "sigma": s, "sigma_next": s_next, "denoised": D})
        x = x + (s_next - s) * (x - D) / s
    return x


def samplers():
    out = [euler_loop]
    try:
        from gitscore.solvers import sample_euler
        out.append(sample_euler)
    except ImportError:
        pass
    return out


def gaussian(shape=(16,), seed=0):
    g = gen(seed)
    d = math.prod(shape)
    return GaussianDenoiser(torch.randn(shape, generator=g), torch.rand(d, generator=g) * 2 + 0.1)


# ---------------------------------------------------------------------------------------------
# Exact geometric cases.

def test_straight_line():
    g = gen(1)
    B, T, d = 3, 12, 50
    x_T, x_0 = torch.randn(B, 1, d, generator=g) * 80, torch.randn(B, 1, d, generator=g)
    s = torch.linspace(1, 0, T).reshape(1, T, 1) ** 3  # non-uniform spacing along the chord
    xs = x_0 + s * (x_T - x_0)
    chord = (x_T - x_0).norm(dim=-1)
    scale = chord.max().item()
    assert tr.deviation(xs).abs().max() < 1e-12 * scale
    assert tr.reconstruction_error(xs, [1]).max() < 1e-12 * scale
    assert tr.reconstruction_error(xs, [1], reduce="max").max() < 1e-12 * scale
    torch.testing.assert_close(tr.reconstruct(xs, 1), xs)
    torch.testing.assert_close(tr.sample_distance(xs), s.squeeze(-1) * chord)
    torch.testing.assert_close(tr.sample_distance(xs, ref="start"), (1 - s.squeeze(-1)) * chord)
    torch.testing.assert_close(tr.path_length(xs)[:, -1:], chord)
    assert tr.step_angles(xs).abs().max() < 1e-5  # degrees
    # Along the chord only: complement coordinates vanish, chord coordinate is s * ||x_T - x_0||.
    Y = tr.project_3d(xs)
    torch.testing.assert_close(Y[..., 0], s.squeeze(-1) * chord)
    assert Y[..., 1:].abs().max() < 1e-10 * scale
    torch.testing.assert_close(tr.explained_variance(xs, 3), torch.ones(B, 3))
    torch.testing.assert_close(tr.explained_variance(xs, 3, complement=True), torch.ones(B, 3))


def test_three_dim_subspace():
    g = gen(2)
    B, T, d = 4, 20, 64
    frame, _ = torch.linalg.qr(torch.randn(B, d, 3, generator=g))  # orthonormal u, e1, e2 per sample
    u, e1, e2 = frame.unbind(-1)
    x_0 = torch.randn(B, d, generator=g)
    t = torch.linspace(0, 1, T)
    a = 50 * t ** 2                                  # along u: x_T - x_0 = 50 u
    b = 4 * torch.sin(math.pi * t)                   # boomerang bulge, 0 at both ends
    c = 1.5 * torch.sin(2 * math.pi * t)
    xs = (x_0[:, None] + a[None, :, None] * u[:, None] + b[None, :, None] * e1[:, None]
          + c[None, :, None] * e2[:, None]).flip(1)  # xs[:, 0] = x_T, xs[:, -1] = x_0
    err = tr.reconstruction_error(xs, range(1, 6))
    assert err[:, 0].min() > 0.1 and err[:, 1].min() > 0.1
    assert err[:, 2:].max() < 1e-10 * 50
    torch.testing.assert_close(tr.reconstruct(xs, 3), xs)
    ev_c = tr.explained_variance(xs, 3, complement=True)
    assert (ev_c[:, 0] < 0.99).all()
    torch.testing.assert_close(ev_c[:, 1], torch.ones(B))
    torch.testing.assert_close(tr.explained_variance(xs, 3)[:, 2], torch.ones(B))
    # The boomerang frame recovers (a, +-b, +-c) with the sign convention making means >= 0.
    Y = tr.project_3d(xs)
    torch.testing.assert_close(Y[..., 0], a.flip(0).expand(B, T))
    torch.testing.assert_close(Y[..., 1], b.flip(0).expand(B, T))  # mean b > 0
    assert (Y[..., 1:].mean(1) >= -1e-12).all()
    torch.testing.assert_close(Y[..., 2].abs(), c.flip(0).abs().expand(B, T))
    torch.testing.assert_close(tr.project_3d(xs, normalize=True), Y / 50)


def test_reconstruction_error_non_increasing_and_exact_at_full_rank():
    xs = random_walks(T=10)
    err = tr.reconstruction_error(xs, range(1, 12))
    assert (err[:, 1:] <= err[:, :-1] + 1e-10).all()
    # T centred points span at most T-1 dimensions; the chord plus T-1 complement PCs is exact.
    assert err[:, 9:].max() < 1e-9
    emax = tr.reconstruction_error(xs, range(1, 6), reduce="max")
    assert (emax >= tr.reconstruction_error(xs, range(1, 6)) - 1e-12).all()
    assert tr.reconstruction_error(xs, [1, 2], reduce="none").shape == (5, 2, 10)


def test_gram_pca_equals_brute_force_dxd_pca():
    xs = random_walks(B=3, T=12, d=30, seed=3)
    k = 3
    rec = tr.reconstruct(xs, k).numpy()
    basis = tr.boomerang_basis(xs, 2).numpy()
    ev = tr.explained_variance(xs, 5).numpy()
    ev_c = tr.explained_variance(xs, 5, complement=True).numpy()
    for b, X in enumerate(xs.numpy()):
        u = X[0] - X[-1]
        u /= np.linalg.norm(u)
        C = X - X.mean(0)
        R = C - np.outer(C @ u, u)
        lam_c, _ = np.linalg.eigh(C.T @ C)       # d x d covariances
        lam_r, V = np.linalg.eigh(R.T @ R)
        lam_c, lam_r, V = lam_c[::-1], lam_r[::-1], V[:, ::-1]
        np.testing.assert_allclose(ev[b], np.cumsum(lam_c[:5]) / lam_c.sum(), rtol=1e-10)
        np.testing.assert_allclose(ev_c[b], np.cumsum(lam_r[:5]) / lam_r.sum(), rtol=1e-10)
        Vk = V[:, :k - 1]
        expected = X.mean(0) + np.outer(C @ u, u) + R @ Vk @ Vk.T
        np.testing.assert_allclose(rec[b], expected, atol=1e-9)
        np.testing.assert_allclose(basis[b, 0], u)
        for j in range(2):  # PCs agree up to sign
            np.testing.assert_allclose(abs(basis[b, 1 + j] @ V[:, j]), 1.0, atol=1e-10)


def test_project_3d_invariant_to_rotation_and_translation():
    B, T, d = 6, 16, 48
    xs = random_walks(B, T, d, seed=4)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=gen(5)))
    shift = torch.randn(d, generator=gen(6)) * 10
    Y = tr.project_3d(xs)
    torch.testing.assert_close(tr.project_3d(xs @ Q.T + shift), Y, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(tr.reconstruction_error(xs @ Q.T), tr.reconstruction_error(xs))
    # Endpoints: x_0 at the origin, x_T at (||x_T - x_0||, 0, 0).
    assert Y[:, -1].abs().max() < 1e-9
    torch.testing.assert_close(Y[:, 0, 0], (xs[:, 0] - xs[:, -1]).norm(dim=-1))
    assert Y[:, 0, 1:].abs().max() < 1e-9


def test_single_trajectory_and_image_shapes():
    xs = random_walks(B=1, T=8, d=12)
    torch.testing.assert_close(tr.deviation(xs[0]), tr.deviation(xs))
    imgs = xs.reshape(1, 8, 3, 2, 2)
    torch.testing.assert_close(tr.project_3d(imgs), tr.project_3d(xs))


# ---------------------------------------------------------------------------------------------
# Vector field, angles, recorder, Prop. 4.1.

def test_field_magnitude_straight_line_known_speed():
    g = gen(7)
    v = torch.randn(2, 1, 20, generator=g)
    sigmas = polynomial(9, 0.002, 80.0)
    xs = torch.randn(2, 1, 20, generator=g) + sigmas.reshape(1, -1, 1) * v  # dx/dsigma = v
    torch.testing.assert_close(tr.field_magnitude(xs, sigmas), v.norm(dim=-1).expand(2, 9))


def test_step_angles():
    xs = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    torch.testing.assert_close(tr.step_angles(xs), torch.tensor([[90.0, 90.0, 180.0]]))


@pytest.mark.parametrize("sampler", samplers())
def test_recorder_euler_convex_combination(sampler):
    B, d, N = 4, 16, 10
    D = gaussian((1, 4, 4))
    sigmas = polynomial(N, 0.002, 80.0)
    x = torch.randn(B, 1, 4, 4, generator=gen(8)) * sigmas[0]
    rec = tr.Recorder()
    x_final = sampler(D, x, sigmas, callback=rec)
    rec.finish(x_final)
    assert rec.xs.shape == (B, N + 1, d) and rec.denoised.shape == (B, N, d)
    torch.testing.assert_close(rec.sigmas, sigmas)
    torch.testing.assert_close(rec.xs[:, 0], x.flatten(1))
    torch.testing.assert_close(rec.xs[:, -1], x_final.flatten(1))
    traj = rec.trajectory()
    assert traj.images().shape == (B, N + 1, 1, 4, 4)
    res = tr.convex_combination_residual(traj, relative=True)
    assert res.shape == (B, N) and res.max() < 1e-12
    # For Euler the finite-difference field equals ||x - D|| / sigma exactly.
    torch.testing.assert_close(tr.field_magnitude(traj), tr.field_magnitude_exact(traj))
    # Gaussian data: ||D(x_n) - x_0|| < ||x_n - x_0|| at every step (the denoising trajectory is
    # ahead, Fig. 5), since in each eigendirection 1 - 1/s < s - 1 for s = sqrt(1 + sigma^2/lambda) > 1.
    samp = tr.convergence_curve(traj)
    torch.testing.assert_close(samp[:, 0], torch.ones(B))
    assert samp[:, -1].abs().max() == 0
    chord = (traj.xs[:, 0] - traj.xs[:, -1]).norm(dim=-1)
    samp = tr.convergence_curve(traj, normalize=chord)
    den = tr.convergence_curve(traj.denoised, target=traj.xs[:, -1], normalize=chord)
    assert (den < samp[:, :N]).all()


def test_record_matches_manual_recorder_and_chains_callback():
    D, sigmas = gaussian(), polynomial(6, 0.002, 80.0)
    x = torch.randn(3, 16, generator=gen(9)) * 80
    seen = []
    traj = tr.record(euler_loop, D, x, sigmas, callback=lambda info: seen.append(info["i"]),
                     dtype=torch.float32)
    assert seen == list(range(6)) and traj.xs.dtype == torch.float32
    torch.testing.assert_close(traj.xs[:, -1], euler_loop(D, x, sigmas).float())
    # A Trajectory works in place of (xs, denoised, sigmas).
    torch.testing.assert_close(tr.deviation(traj), tr.deviation(traj.xs))


def test_bad_arguments():
    xs = random_walks()
    with pytest.raises(ValueError, match="k"):
        tr.reconstruct(xs, 0)
    with pytest.raises(ValueError, match="reduce"):
        tr.reconstruction_error(xs, reduce="median")
    with pytest.raises(ValueError, match="ref"):
        tr.sample_distance(xs, ref="middle")
    with pytest.raises(ValueError, match="sigmas"):
        tr.field_magnitude(xs)
    with pytest.raises(ValueError, match="sigmas"):
        tr.field_magnitude(xs, torch.ones(3))
    with pytest.raises(ValueError, match="denoised"):
        tr.convex_combination_residual(xs, sigmas=torch.linspace(2, 1, 15))
    with pytest.raises(TypeError, match="xs"):
        tr.deviation(object())
    rec = tr.Recorder()
    with pytest.raises(RuntimeError):
        rec.xs
    rec({"i": 0, "x": xs[:, 0], "sigma": 1.0, "denoised": xs[:, 0]})
    with pytest.raises(ValueError, match="once per step"):
        rec({"i": 2, "x": xs[:, 0], "sigma": 0.5, "denoised": xs[:, 0]})
    with pytest.raises(ValueError, match="sigma_final"):
        rec.finish(xs[:, 1])


def test_count_distinct_rounds_each_coordinate():
    from gitscore.trajectory import count_distinct
    x = torch.tensor([[0.1, 0.2], [0.1001, 0.2002], [0.5, 0.2], [0.1, 0.2]], dtype=torch.float64)
    assert count_distinct(x) == 2 and count_distinct(x, scale=1e4) == 3 and count_distinct(x[:1]) == 1
    with pytest.raises(ValueError, match="points"):
        count_distinct(torch.empty(0, 2))
