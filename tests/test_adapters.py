"""DiffusersVPDenoiser: exact against closed forms (Gaussian data) and against diffusers' own DDIM loop."""
import math

import diffusers  # the dev extra installs it: these tests run, never skip
import pytest
import torch

from gitscore.adapters import DiffusersVPDenoiser, from_pipeline, vp_sigmas
from gitscore.denoisers import GaussianDenoiser
from gitscore.solvers import sample_euler

T = 1000
C2 = 0.7 ** 2  # data variance of the Gaussian toy


def linear_alphas_cumprod(n=T):
    betas = torch.linspace(1e-4, 0.02, n, dtype=torch.float64)
    return torch.cumprod(1 - betas, 0)


class GaussianVPModel(torch.nn.Module):
    """Exact VP-space prediction for data N(0, C2 I) at (possibly fractional) timestep t."""

    def __init__(self, sigma_of_t, prediction_type):
        super().__init__()
        self.sigma_of_t, self.prediction_type = sigma_of_t, prediction_type

    def forward(self, x_vp, t):
        a = (1 / (1 + self.sigma_of_t(t) ** 2)).reshape(-1, 1, 1, 1)
        den = a * C2 + 1 - a
        eps, x0 = (1 - a).sqrt() * x_vp / den, a.sqrt() * C2 * x_vp / den  # E[eps | x_vp], E[x0 | x_vp]
        outputs = {"epsilon": eps, "sample": x0, "v_prediction": a.sqrt() * eps - (1 - a).sqrt() * x0}
        return outputs[self.prediction_type]


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("mode", ["nearest", "interp"])
def test_exact_on_gaussian_data(prediction_type, mode):
    """The optimal VP model of N(0, c^2 I), converted, is the exact EDM denoiser of that Gaussian."""
    abar = linear_alphas_cumprod()
    D = DiffusersVPDenoiser(lambda x, t: x, abar, prediction_type, mode)
    D.unet = GaussianVPModel(D.t_to_sigma, prediction_type)
    ref = GaussianDenoiser(torch.zeros(1, 4, 4), C2)
    x = torch.randn(6, 1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 5
    if mode == "nearest":  # table sigmas only (elsewhere the model sees the nearest t's sigma)
        sigma = D.sigmas[torch.tensor([0, 3, 100, 500, 998, 999])]
    else:  # any sigma inside the table
        sigma = torch.exp(torch.linspace(math.log(D.sigma_min), math.log(D.sigma_max), 6, dtype=torch.float64))
    torch.testing.assert_close(D(x, sigma), ref(x, sigma), rtol=1e-10, atol=1e-10)


def test_sigma_t_maps():
    D = DiffusersVPDenoiser(lambda x, t: x, linear_alphas_cumprod(), timestep_mode="interp")
    t = torch.tensor([0, 1, 17, 500, 999])
    assert torch.equal(D.sigma_to_t(D.sigmas[t]), t.double())
    # Midpoints in log sigma are half-timesteps; t_to_sigma inverts sigma_to_t.
    mid = (0.5 * (D.log_sigmas[t[1:-1]] + D.log_sigmas[t[1:-1] + 1])).exp()
    torch.testing.assert_close(D.sigma_to_t(mid), t[1:-1].double() + 0.5, rtol=0, atol=1e-9)
    s = torch.tensor([0.05, 1.0, 30.0], dtype=torch.float64)
    torch.testing.assert_close(D.t_to_sigma(D.sigma_to_t(s)), s, rtol=1e-12, atol=0)
    # Out of range: clamped to the first / last timestep.
    assert D.sigma_to_t(torch.tensor([1e-5, 1e5])).tolist() == [0.0, 999.0]
    Dn = DiffusersVPDenoiser(lambda x, t: x, linear_alphas_cumprod(), timestep_mode="nearest")
    assert torch.equal(Dn.sigma_to_t(Dn.sigmas[t]), t)
    assert torch.equal(Dn.sigma_to_t(mid * 0.999), t[1:-1])
    assert Dn.sigma_min == pytest.approx(math.sqrt(1e-4 / (1 - 1e-4)))
    assert Dn.sigma_max == float(vp_sigmas(linear_alphas_cumprod())[-1])


def test_learned_variance_channels_are_dropped():
    D = DiffusersVPDenoiser(lambda x, t: torch.cat([torch.zeros_like(x), torch.full_like(x, 7.0)], 1),
                            linear_alphas_cumprod())
    x = torch.ones(2, 3, 4, 4, dtype=torch.float64)
    assert torch.equal(D(x, 1.0), x)  # eps = 0 from the first 3 channels


def test_bad_arguments():
    abar = linear_alphas_cumprod()
    with pytest.raises(ValueError, match="prediction_type"):
        DiffusersVPDenoiser(lambda x, t: x, abar, prediction_type="x0")
    with pytest.raises(ValueError, match="timestep_mode"):
        DiffusersVPDenoiser(lambda x, t: x, abar, timestep_mode="round")
    with pytest.raises(ValueError, match="alphas_cumprod"):
        DiffusersVPDenoiser(lambda x, t: x, torch.cat([abar[:-1], torch.zeros(1, dtype=abar.dtype)]))
    with pytest.raises(ValueError, match="alphas_cumprod"):
        DiffusersVPDenoiser(lambda x, t: x, abar.flip(0))
    with pytest.raises(TypeError, match="unet"):
        DiffusersVPDenoiser(3, abar)


# ---------------------------------------------------------------- against diffusers' DDIM

def tiny_unet():
    torch.manual_seed(0)
    return diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).double().eval()


@torch.no_grad()
def ddim_loop(unet, scheduler, x_T):
    """diffusers' deterministic DDIM (eta=0): every state, x_T first."""
    xs = [x_T]
    for t in scheduler.timesteps:
        xs.append(scheduler.step(unet(xs[-1], t).sample, t, xs[-1], eta=0.0).prev_sample)
    return xs


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("set_alpha_to_one", [False, True])
def test_euler_on_adapter_is_ddim(prediction_type, set_alpha_to_one):
    """Euler on the adapter at the sigmas of DDIM's timesteps reproduces diffusers' DDIM states.

    DDIM ("leading" spacing) steps t -> t - T/n and its last step goes to final_alpha_cumprod:
    set_alpha_to_one=False, steps_offset=1: timesteps (..., 201, 1), last step to abar[0], i.e. to
      sigma_0 > 0 -- the schedule sigma(timesteps) + [sigma_0] has no zero and every state matches;
    set_alpha_to_one=True, steps_offset=0: timesteps (..., 200, 0), last step to abar = 1 (sigma = 0), not
      a gitscore schedule; the states match up to sigma(0), and DDIM's output is the Euler step to
      sigma = 0 from there, x - sigma (x - D) / sigma = D(x_last, sigma(0)).
    """
    unet, n = tiny_unet(), 5
    sched = diffusers.DDIMScheduler(num_train_timesteps=T, beta_schedule="linear", clip_sample=False,
                                    set_alpha_to_one=set_alpha_to_one, steps_offset=0 if set_alpha_to_one else 1,
                                    prediction_type=prediction_type)
    sched.set_timesteps(n)
    D = DiffusersVPDenoiser(unet, sched.alphas_cumprod, prediction_type)
    sigmas = D.sigmas[sched.timesteps]
    if not set_alpha_to_one:
        sigmas = torch.cat([sigmas, D.sigmas[:1]])
    x_T = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref = ddim_loop(unet, sched, x_T)

    states = []
    x_end = sample_euler(D, x_T * (1 + sigmas[0] ** 2).sqrt(), sigmas, callback=lambda d: states.append(d["x"]))
    states.append(x_end)
    vp = [x / (1 + s ** 2).sqrt() for x, s in zip(states, sigmas)]  # back to VP scale
    assert len(vp) == len(sigmas) == n + (0 if set_alpha_to_one else 1)
    # diffusers keeps alphas_cumprod in float32 and forms its step coefficients there: ~1e-7 relative.
    for k, x in enumerate(vp):
        torch.testing.assert_close(x, ref[k], rtol=1e-5, atol=1e-5, msg=lambda m: f"state {k}: {m}")
    if set_alpha_to_one:
        torch.testing.assert_close(D(x_end, sigmas[-1]), ref[-1], rtol=1e-5, atol=1e-5)
    assert (ref[-1] - ref[0]).abs().mean() > 0.1  # the network did move the state (a non-trivial test)


def test_from_pipeline():
    unet = tiny_unet()
    sched = diffusers.DDPMScheduler(num_train_timesteps=T, prediction_type="v_prediction")
    D = from_pipeline(diffusers.DDPMPipeline(unet=unet, scheduler=sched), timestep_mode="interp")
    assert D.prediction_type == "v_prediction" and D.timestep_mode == "interp" and D.unet is unet
    torch.testing.assert_close(D.sigmas, vp_sigmas(sched.alphas_cumprod))
    out = D(torch.randn(2, 1, 8, 8, dtype=torch.float64), torch.tensor([0.5, 3.0]))
    assert out.shape == (2, 1, 8, 8) and out.dtype == torch.float64
    with pytest.raises(ValueError, match="unet"):
        from_pipeline(object())


# ---------------------------------------------------------------- conditioning, guidance, search range

class ToyConditioned(torch.nn.Module):
    """eps = c x_vp + t / 1000 with a per-sample scalar conditioning c (shape (B, 1, 1, 1))."""

    def forward(self, x_vp, t, c):
        return c * x_vp + t.reshape(-1, 1, 1, 1) / 1000


def test_bind_broadcasts_and_checks_the_batch():
    D = DiffusersVPDenoiser(ToyConditioned(), linear_alphas_cumprod())
    x = torch.randn(4, 1, 2, 2, dtype=torch.float64)
    c = torch.full((1, 1, 1, 1), 0.3, dtype=torch.float64)
    Db = D.bind(c=c)
    assert Db.unet is D.unet and D.model_kwargs == {} and Db.timestep_mode == "interp"
    torch.testing.assert_close(Db(x, 2.0), D(x, 2.0, c=c.expand(4, 1, 1, 1)), rtol=0, atol=0)
    torch.testing.assert_close(Db(x, 2.0), D(x, 2.0, c=c), rtol=0, atol=0)
    with pytest.raises(ValueError, match="batch size 3"):
        D.bind(c=torch.ones(3, 1, 1, 1, dtype=torch.float64))(x, 2.0)
    with pytest.raises(TypeError, match="model_kwargs"):
        DiffusersVPDenoiser(ToyConditioned(), linear_alphas_cumprod(), model_kwargs=[1])


def test_guided_is_guidance_of_the_denoiser():
    """CFG on eps is CFG on D = x - sigma eps: D_u + w (D_c - D_u), one batched call (uncond first)."""
    calls = []
    unet = ToyConditioned()
    unet.register_forward_hook(lambda m, a, o: calls.append(a[0].shape[0]))
    D = DiffusersVPDenoiser(unet, linear_alphas_cumprod())
    cu, cc = (torch.full((1, 1, 1, 1), v, dtype=torch.float64) for v in (0.1, 0.8))
    G = D.bind(c=cc).guided(7.5, c=cu)
    x = torch.randn(3, 1, 2, 2, dtype=torch.float64)
    sigma = torch.tensor([0.05, 1.0, 40.0], dtype=torch.float64)
    calls.clear()
    out = G(x, sigma)
    assert calls == [6] and G.is_guided
    want = D(x, sigma, c=cu) + 7.5 * (D(x, sigma, c=cc) - D(x, sigma, c=cu))
    torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12)
    assert not G.guided(1.0).is_guided  # scale 1: the conditional denoiser
    torch.testing.assert_close(G.guided(1.0)(x, sigma), D(x, sigma, c=cc), rtol=0, atol=0)
    with pytest.raises(ValueError, match="uncond_kwargs"):
        DiffusersVPDenoiser(unet, linear_alphas_cumprod(), guidance_scale=2.0)
    with pytest.raises(ValueError, match="guidance_scale"):
        D.guided(float("inf"), c=cu)
    with pytest.raises(ValueError, match="batched tensor"):
        D.bind(c=cc, k=1).guided(2.0, c=cu, k=2)(x, sigma)


def test_search_stays_inside_the_model_range():
    """The default teacher grid follows D.sigma_min / D.sigma_max: EDM's 0.002 lies below this table's 0.01."""
    from gitscore.gits import model_grid, search, teacher_grid

    abar = linear_alphas_cumprod()
    D = DiffusersVPDenoiser(lambda x, t: x, abar, "epsilon")
    D.unet = GaussianVPModel(D.t_to_sigma, "epsilon")
    torch.testing.assert_close(model_grid(D), teacher_grid(61, D.sigma_min, D.sigma_max), rtol=0, atol=0)
    s = search(D, (1, 2, 2), n_steps=4, n_warmup=4)
    assert s[0] == D.sigma_max and s[-1] == D.sigma_min and ((s >= D.sigma_min) & (s <= D.sigma_max)).all()
    with pytest.raises(ValueError, match="no sigma_min / sigma_max attributes"):  # no range assumed (issue 30)
        model_grid(lambda x, sigma: x)
    with pytest.raises(ValueError, match="no sigma_min / sigma_max attributes"):
        search(lambda x, sigma: x, (1, 2, 2), n_steps=2, n_warmup=2)
    bad = lambda x, sigma: x
    bad.sigma_min, bad.sigma_max = 5.0, 1.0
    with pytest.raises(ValueError, match="sigma_min"):
        search(bad, (1, 2, 2), n_steps=2, n_warmup=2)
