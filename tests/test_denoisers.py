"""Closed-form denoisers: chunked KDE against the naive full softmax, Tweedie's identity, GMM brute force."""
import math

import pytest
import torch

from gitscore.denoisers import GaussianDenoiser, GMMDenoiser, KDEDenoiser

SIGMAS = [0.002, 0.01, 0.1, 1.0, 10.0, 80.0]
f64 = torch.float64


def naive_kde(x, Y, sigma):
    """D*(x; sigma) = softmax_i(-||x - y_i||^2 / 2 sigma^2) @ Y with the whole (B, N) matrix, float64."""
    xf, Yf = x.reshape(len(x), -1), Y.reshape(len(Y), -1)
    d2 = (xf[:, None, :] - Yf[None]).square().sum(-1)
    w = torch.softmax(-d2 / (2 * torch.as_tensor(sigma, dtype=f64).reshape(-1, 1) ** 2), 1)
    return (w @ Yf).reshape(x.shape), w


def naive_log_density(x, Y, sigma):
    xf, Yf = x.reshape(len(x), -1), Y.reshape(len(Y), -1)
    d2 = (xf[:, None, :] - Yf[None]).square().sum(-1)
    s2 = torch.as_tensor(sigma, dtype=f64).reshape(-1) ** 2
    return (torch.logsumexp(-d2 / (2 * s2[:, None]), 1) - math.log(len(Y))
            - 0.5 * xf.shape[1] * torch.log(2 * math.pi * s2))


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    Y = torch.randn(1000, 2, 3, generator=g, dtype=f64)  # 1000 = 7 full blocks of 128 + 104
    Y[10:14] = Y[6:10] + 0.01 * torch.randn(4, 2, 3, generator=g, dtype=f64)  # close pairs
    x = torch.cat([Y[:6] + 0.3 * torch.randn(6, 2, 3, generator=g, dtype=f64),
                   (Y[6:10] + Y[10:14]) / 2,  # midpoints of close pairs: two equal weights at sigma = 0.002
                   3 * torch.randn(6, 2, 3, generator=g, dtype=f64),
                   80 * torch.randn(4, 2, 3, generator=g, dtype=f64)])
    return Y, x, KDEDenoiser(Y, block_size=128, device="cpu", dtype=f64)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_kde_matches_naive_softmax(data, sigma):
    Y, x, kde = data
    D = kde(x, sigma)
    assert D.shape == x.shape and D.dtype == f64 and torch.isfinite(D).all()
    torch.testing.assert_close(D, naive_kde(x, Y, sigma)[0], rtol=1e-9, atol=1e-9)


def test_kde_midpoints_split_evenly_at_small_sigma(data):
    Y, x, kde = data
    torch.testing.assert_close(kde(x[6:10], 0.002), x[6:10], rtol=0, atol=1e-9)


def test_kde_per_sample_sigma_and_block_size_invariance(data):
    Y, x, kde = data
    sigma = torch.tensor(SIGMAS * 4, dtype=f64)[:len(x)]
    D = kde(x, sigma)
    torch.testing.assert_close(D, naive_kde(x, Y, sigma)[0], rtol=1e-9, atol=1e-9)
    for block in (1, 999, 1000, 5000):
        torch.testing.assert_close(KDEDenoiser(Y, block_size=block, device="cpu", dtype=f64)(x, sigma), D)


def test_kde_recovers_training_point_at_sigma_min():
    g = torch.Generator().manual_seed(1)
    Y = torch.rand(300, 1, 4, 4, generator=g, dtype=f64) * 2 - 1
    x = Y[[5, 123, 299]] + 1e-4 * torch.randn(3, 1, 4, 4, generator=g, dtype=f64)
    for dtype in (torch.float32, f64):
        D = KDEDenoiser(Y, block_size=64, device="cpu", dtype=dtype)(x.to(dtype), 0.002)
        torch.testing.assert_close(D.double(), Y[[5, 123, 299]], rtol=0, atol=1e-6)


def test_kde_float32_agrees_with_float64(data):
    Y, x, kde64 = data
    kde32 = KDEDenoiser(Y, block_size=300, device="cpu")
    assert kde32.dtype == torch.float32 and kde32._Y.dtype == torch.float32
    # float32 logits carry errors ~ eps ||y||^2 / sigma^2, so at small sigma they cannot split the
    # equidistant pairs of the midpoint queries 6:10; every other query has one clear nearest point.
    clear = torch.ones(len(x), dtype=torch.bool)
    clear[6:10] = False
    for sigma in SIGMAS:
        D32 = kde32(x.float(), sigma)
        assert D32.dtype == torch.float32 and torch.isfinite(D32).all()
        torch.testing.assert_close(D32.double()[clear], kde64(x, sigma)[clear], rtol=0, atol=1e-4)
        torch.testing.assert_close(kde32.log_density(x.float(), sigma).double()[clear],
                                   kde64.log_density(x, sigma)[clear], rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0, 10.0])
def test_kde_tweedie(data, sigma):
    """Tweedie: D(x; sigma) = x + sigma^2 grad log p_sigma(x), p_sigma the data convolved with N(0, sigma^2 I)."""
    Y, x, kde = data
    xg = x.clone().requires_grad_()
    logp = kde.log_density(xg, sigma)
    torch.testing.assert_close(logp.detach(), naive_log_density(x, Y, sigma), rtol=1e-10, atol=1e-9)
    (grad,) = torch.autograd.grad(logp.sum(), xg)
    torch.testing.assert_close(x + sigma ** 2 * grad, kde(x, sigma), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_kde_log_density_matches_naive(data, sigma):
    Y, x, kde = data
    torch.testing.assert_close(kde.log_density(x, sigma), naive_log_density(x, Y, sigma), rtol=1e-12, atol=1e-8)


def test_kde_nearest_and_topk_weights(data):
    Y, x, kde = data
    dist, idx = kde.nearest(x, k=5)
    d_all = torch.cdist(x.reshape(len(x), -1), Y.reshape(len(Y), -1))
    ref_d, ref_i = d_all.topk(5, dim=1, largest=False)
    torch.testing.assert_close(dist, ref_d)  # indices may differ between tied (midpoint) neighbours
    torch.testing.assert_close((x[:, None] - kde.points(idx)).flatten(2).norm(dim=-1), ref_d)
    w, widx = kde.weights_topk(x, 1.0, k=3)
    ref_w = naive_kde(x, Y, 1.0)[1]
    torch.testing.assert_close(w, ref_w.topk(3, dim=1).values)
    torch.testing.assert_close(ref_w.gather(1, widx), w)


def test_kde_bad_input(data):
    Y, x, kde = data
    with pytest.raises(ValueError, match="data"):
        KDEDenoiser(torch.empty(0, 3))
    with pytest.raises(ValueError, match="block_size"):
        KDEDenoiser(Y, block_size=0)
    with pytest.raises(ValueError, match="dtype"):
        KDEDenoiser(Y, dtype=torch.float16)
    with pytest.raises(ValueError, match="data must be finite"):
        KDEDenoiser(torch.tensor([[0.0, math.nan]]))
    with pytest.raises(ValueError, match="x must have shape"):
        kde(torch.zeros(2, 7, dtype=f64), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        kde(x, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        kde(x, torch.full((len(x),), -1.0))
    with pytest.raises(ValueError, match="sigma"):
        kde(x, torch.ones(3))
    with pytest.raises(ValueError, match="k must"):
        kde.nearest(x, k=0)


# Gaussian mixtures

def random_gmm(kind, K=3, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(K, generator=g, dtype=f64) + 0.2
    means = 2 * torch.randn(K, d, generator=g, dtype=f64)
    if kind == "isotropic":
        covs = torch.rand(K, generator=g, dtype=f64) + 0.1
    elif kind == "diagonal":
        covs = torch.rand(K, d, generator=g, dtype=f64) + 0.05
    else:
        A = torch.randn(K, d, d, generator=g, dtype=f64)
        covs = A @ A.mT / d + 0.05 * torch.eye(d, dtype=f64)
    return GMMDenoiser(w / w.sum(), means, covs)


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
def test_gmm_with_one_component_is_gaussian(kind):
    g = torch.Generator().manual_seed(2)
    mean = torch.randn(2, 3, generator=g, dtype=f64)
    var = {"isotropic": torch.tensor(0.7, dtype=f64), "diagonal": torch.rand(6, generator=g, dtype=f64) + 0.1,
           "full": (lambda A: A @ A.T + 0.1 * torch.eye(6, dtype=f64))(torch.randn(6, 6, generator=g, dtype=f64))}[kind]
    covs = var.reshape(1) if kind == "isotropic" else var[None]
    gmm, gauss = GMMDenoiser(torch.ones(1), mean[None], covs), GaussianDenoiser(mean, var)
    x = 3 * torch.randn(5, 2, 3, generator=g, dtype=f64)
    for sigma in (0.002, 0.5, 80.0):
        torch.testing.assert_close(gmm(x, sigma), gauss(x, sigma))


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
def test_gmm_tweedie(kind):
    """D = x + sigma^2 grad log p_sigma: the posterior means against autograd of the log density."""
    gmm = random_gmm(kind)
    x = gmm.sample(8, torch.Generator().manual_seed(3))
    for sigma in (0.002, 0.1, 1.0, torch.tensor([0.01, 0.3, 1, 2, 5, 10, 40, 80.0], dtype=f64)):
        s = torch.as_tensor(sigma, dtype=f64).reshape(-1, 1)
        xt = (x + s * torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=f64)).requires_grad_()
        (grad,) = torch.autograd.grad(gmm.log_density(xt, sigma).sum(), xt)
        D = gmm(xt.detach(), sigma)
        assert torch.isfinite(D).all()
        torch.testing.assert_close(D, xt.detach() + s ** 2 * grad, rtol=1e-9, atol=1e-9)


def test_gmm_matches_quadrature_in_1d():
    """E[x0 | x] and p_sigma(x) of a 1-D mixture by brute-force integration over x0."""
    gmm = GMMDenoiser(torch.tensor([0.2, 0.5, 0.3]), torch.tensor([[-2.0], [0.5], [3.0]]),
                      torch.tensor([0.3, 1.0, 0.1]))
    x0 = torch.linspace(-12, 14, 200001, dtype=f64)
    prior = torch.logsumexp(torch.log(gmm.weights)[:, None] - 0.5 * (x0 - gmm.means) ** 2 / gmm.eigval
                            - 0.5 * torch.log(2 * math.pi * gmm.eigval), 0)
    x = torch.tensor([[-3.0], [0.0], [1.7], [4.0]], dtype=f64)
    for sigma in (0.05, 0.7, 3.0):
        logw = prior - 0.5 * (x - x0) ** 2 / sigma ** 2 - 0.5 * math.log(2 * math.pi * sigma ** 2)  # (B, grid)
        dx = x0[1] - x0[0]
        torch.testing.assert_close(gmm.log_density(x, sigma), torch.logsumexp(logw, 1) + torch.log(dx),
                                   rtol=0, atol=1e-8)
        torch.testing.assert_close(gmm(x, sigma)[:, 0], torch.softmax(logw, 1) @ x0, rtol=0, atol=1e-8)


def test_gmm_sample_moments():
    gmm = random_gmm("full", K=2, d=3, seed=5)
    x = gmm.sample(200000, torch.Generator().manual_seed(6))
    mean = gmm.weights @ gmm.means
    cov = sum(w * (gmm.eigvec[k] * gmm.eigval[k]) @ gmm.eigvec[k].T + w * torch.outer(gmm.means[k], gmm.means[k])
              for k, w in enumerate(gmm.weights)) - torch.outer(mean, mean)
    assert x.shape == (200000, 3)
    torch.testing.assert_close(x.mean(0), mean, rtol=0, atol=0.03)
    torch.testing.assert_close(torch.cov(x.T), cov, rtol=0, atol=0.05 * cov.abs().max().item())


def test_gmm_bad_input():
    means, covs = torch.zeros(2, 3), torch.ones(2)
    for w in ([0.5, 0.6], [1.5, -0.5], [math.nan, 1.0]):
        with pytest.raises(ValueError, match="weights"):
            GMMDenoiser(torch.tensor(w), means, covs)
    with pytest.raises(ValueError, match="weights"):
        GMMDenoiser(torch.ones(0), torch.zeros(0, 3), torch.ones(0))
    with pytest.raises(ValueError, match="means"):
        GMMDenoiser(torch.tensor([0.5, 0.5]), torch.zeros(3, 3), covs)
    with pytest.raises(ValueError, match="covs"):
        GMMDenoiser(torch.tensor([0.5, 0.5]), means, torch.ones(2, 4))
    with pytest.raises(ValueError, match="covs"):
        GMMDenoiser(torch.tensor([0.5, 0.5]), means, -torch.ones(2))
    with pytest.raises(ValueError, match="symmetric"):
        GMMDenoiser(torch.tensor([1.0]), torch.zeros(1, 2), torch.tensor([[[1.0, 0.5], [0.0, 1.0]]]))
    gmm = GMMDenoiser(torch.tensor([0.5, 0.5]), means, covs)
    with pytest.raises(ValueError, match="x must have shape"):
        gmm(torch.zeros(4, 2), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        gmm(torch.zeros(4, 3), 0.0)
    with pytest.raises(ValueError, match="n must"):
        gmm.sample(0)


def test_gmm_from_classes_matches_manual_fit():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 1, 2, 2, generator=g, dtype=torch.float64)
    y = torch.arange(60) % 3
    gmm = GMMDenoiser.from_classes(x, y, ridge=0.01)
    X = x.reshape(60, -1)
    want_cov = torch.cov(X[y == 1].T) + 0.01 * torch.eye(4, dtype=torch.float64)
    # Against a GMM built by hand: identical denoiser outputs.
    means = torch.stack([X[y == c].mean(0) for c in range(3)])
    covs = torch.stack([torch.cov(X[y == c].T) + 0.01 * torch.eye(4, dtype=torch.float64) for c in range(3)])
    ref = GMMDenoiser(torch.full((3,), 1 / 3, dtype=torch.float64), means, covs)
    q = torch.randn(5, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(gmm(q.reshape(5, 1, 2, 2), 0.7).reshape(5, 4), ref(q, 0.7), atol=1e-12)
    assert torch.allclose(covs[1], want_cov)
    with pytest.raises(ValueError, match="same length"):
        GMMDenoiser.from_classes(x, y[:10])
