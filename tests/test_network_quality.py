"""The network issue's properties: EDM's noise embedding is smooth in sigma, training covers the
samplers' sigma interval, and both shipped networks load (the smooth one and the rough first one)."""
import math

import pytest
import torch

import gitscore as gs
from gitscore.diagnostics import denoising_errors, sigma_roughness
from gitscore.nets import FourierEmbedding, build_denoiser
from gitscore.train import TrainConfig, sample_train_sigma

UNET = dict(channels=[16, 32], blocks=1, emb_dim=64, attention=False, patch=2)


def _random_net(embedding, seed=0):
    """A freshly initialised network whose zero-initialised layers are made non-zero, so F depends on sigma."""
    torch.manual_seed(seed)
    net = build_denoiser({"unet": dict(UNET, embedding=embedding)})
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1:
                p.normal_(0, 1 / p[0].numel() ** 0.5)
    return net.eval()


def test_positional_embedding_is_edms():
    # EDM's PositionalEmbedding(endpoint=True): frequencies (1/10000)^(i / (n/2 - 1)), i = 0..n/2-1: 1 down to 1e-4.
    emb = FourierEmbedding(8, kind="positional")
    assert torch.allclose(emb.freqs, torch.tensor([1.0, 10000 ** (-1 / 3), 10000 ** (-2 / 3), 1e-4]))
    c = torch.tensor([0.3])
    out = emb(c)
    assert torch.allclose(out, torch.cat([torch.cos(c * emb.freqs), torch.sin(c * emb.freqs)])[None])


def test_embedding_kind_is_validated():
    with pytest.raises(ValueError, match="embedding must be one of"):
        FourierEmbedding(8, kind="fourier")


@pytest.mark.parametrize("sigma", [0.05, 1.0, 10.0, 60.0])
def test_fresh_network_smooth_in_sigma_and_control_is_rough(sigma):
    # The same random network with EDM's embedding is smooth in ln sigma; with the first network's
    # embedding (c_noise x 1000) it ripples: the measurement can fail, and does on the control.
    x = sigma * torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    smooth = sigma_roughness(_random_net("positional"), x, sigma)
    rough = sigma_roughness(_random_net("scaled1000"), x, sigma)
    assert smooth < 0.01, smooth
    assert rough > 0.2, rough


def test_roughness_of_an_analytic_function_converges():
    # D(x, s) = x * s^2 / (s^2 + 1) is analytic: the quadratic fit's residual falls like half_width^3.
    D = lambda x, s: x * (s ** 2 / (s ** 2 + 1)).reshape(-1, 1)
    x = torch.ones(2, 3, dtype=torch.float64)
    r1, r2 = sigma_roughness(D, x, 1.0, half_width=0.2), sigma_roughness(D, x, 1.0, half_width=0.1)
    # relative to a change that is itself linear in the width: ratio ~ 2^2
    assert 3.0 < r1 / r2 < 5.0


def test_train_sigma_distribution_matches_its_mixture_and_covers_the_sampling_interval():
    cfg = TrainConfig()
    g = torch.Generator().manual_seed(0)
    n = 200_000
    s = sample_train_sigma(n, g, cfg.p_mean, cfg.p_std, cfg.p_uniform, cfg.sigma_min, cfg.sigma_max)
    lo, hi = math.log(cfg.sigma_min), math.log(cfg.sigma_max)

    def cdf(t):  # the mixture's CDF in t = ln sigma
        normal = 0.5 * (1 + math.erf((t - cfg.p_mean) / (cfg.p_std * math.sqrt(2))))
        uniform = min(max((t - lo) / (hi - lo), 0.0), 1.0)
        return (1 - cfg.p_uniform) * normal + cfg.p_uniform * uniform

    t = s.log().sort().values
    grid = torch.linspace(lo - 1, hi + 1, 200).tolist()
    emp = [torch.searchsorted(t, torch.tensor(v)).item() / n for v in grid]
    ks = max(abs(e - cdf(v)) for e, v in zip(emp, grid))
    assert ks < 4 / math.sqrt(n)  # Kolmogorov-Smirnov: far beyond the 0.1% critical value 1.95/sqrt(n)
    # every unit of ln sigma in [ln 0.002, ln 80] gets at least p_uniform / (hi - lo) of the draws
    for a in range(math.ceil(lo), math.floor(hi)):
        frac = ((t >= a) & (t < a + 1)).double().mean().item()
        assert frac >= 0.95 * cfg.p_uniform / (hi - lo)
    assert (s > 10).double().mean() > 0.04  # EDM's log-normal alone: 0.2%


def test_p_uniform_zero_is_edms_lognormal_draw_for_draw():
    a = sample_train_sigma(1000, torch.Generator().manual_seed(3), -1.2, 1.2, 0.0)
    b = (torch.randn(1000, generator=torch.Generator().manual_seed(3)) * 1.2 - 1.2).exp()
    assert torch.equal(a, b)


def test_train_config_validates_sigma_range():
    with pytest.raises(ValueError, match="p_uniform"):
        TrainConfig(p_uniform=1.5)
    with pytest.raises(ValueError, match="sigma_min"):
        TrainConfig(sigma_min=1.0, sigma_max=0.5)


def test_denoising_errors_of_exact_gaussian_denoiser():
    # Gaussian data N(0, v I): the exact denoiser has MSE v sigma^2 / (v + sigma^2) per dimension;
    # the data mean (0) has MSE v.
    v, n = 0.25, 20000
    g = torch.Generator().manual_seed(0)
    x0 = math.sqrt(v) * torch.randn(n, 4, generator=g, dtype=torch.float64)
    eps = torch.randn(n, 4, generator=g, dtype=torch.float64)
    D = gs.denoisers.GaussianDenoiser(torch.zeros(4, dtype=torch.float64), v)
    sig = [0.1, 1.0, 10.0]
    e = denoising_errors(D, x0, eps, sig, torch.zeros(4, dtype=torch.float64), reference=D)
    for k, s in enumerate(sig):
        assert abs(e.model[k] / (v * s * s / (v + s * s)) - 1) < 0.05
        assert abs(e.data_mean[k] / v - 1) < 0.05
    assert torch.equal(e.model, e.reference) and float(e.model_vs_reference.max()) == 0.0


@pytest.mark.parametrize("name,kind", [("fmnist_edm", "positional"), ("fmnist_edm_rough", "scaled1000")])
def test_both_shipped_networks_load(name, kind):
    net = gs.nets.load_pretrained(name, device="cpu")
    assert net.net.embed[0].kind == kind
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = net(x, torch.tensor([1.0, 10.0]))
    assert out.shape == x.shape and bool(torch.isfinite(out).all())


def test_shipped_network_is_smooth_in_sigma_and_the_rough_one_is_not():
    x0 = gs.data.fashion_mnist("test")[0][:16]
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    smooth = gs.nets.load_pretrained("fmnist_edm", device="cpu")
    rough = gs.nets.load_pretrained("fmnist_edm_rough", device="cpu")
    for s in (0.05, 1.0, 10.0, 60.0):
        x = x0 + s * eps
        assert sigma_roughness(smooth, x, s) < 0.05
    assert sigma_roughness(rough, x0 + 10 * eps, 10.0) > 0.2


def test_roughness_of_a_constant_denoiser_is_zero_despite_round_off():
    # D(x, s) = c + 1e-17 * noise: no change in sigma beyond float round-off is no roughness (not inf).
    g = torch.Generator().manual_seed(0)
    c = torch.randn(2, 5, dtype=torch.float64, generator=g)
    D = lambda x, s: c + 1e-17 * torch.randn(c.shape, dtype=torch.float64, generator=g)
    assert sigma_roughness(D, c, 0.01) == 0.0
