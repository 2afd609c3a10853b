"""One step convention: an N-step schedule is N denoiser calls of a first-order solver in every anchor's own loop.

The anchors: k-diffusion's `sample_euler` / `sample_heun` (its sampling.py from the installed `k-diffusion`
package, loaded without its package __init__, which needs torchvision), a diffusers pipeline and scheduler loop
on tiny UNets built here, and ComfyUI's ManualSigmas pattern (reimplemented: re.findall of
[-+]?(?:\\d*\\.*\\d+), then float32: ComfyUI comfy_extras/nodes_custom_sampler.py,
ManualSigmas.execute, at commit 065c1df017d017aaffce13e2666b2b6eb56393d6) on the ComfyUI string. And gitscore's own
`sample(..., to_zero=True)` is the anchors' loop to rounding.
"""
import importlib.util
import re
import sys
import types

import diffusers  # dev extra
import pytest
import torch

import gitscore as gs
from gitscore.export import (COMFYUI_DIGITS, comfyui_string, sampler_sigmas, to_comfyui, to_diffusers,
                             to_k_diffusion)
from gitscore.schedules import polynomial

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # diffusers, numpy 2

MANUAL_SIGMAS = r"[-+]?(?:\d*\.*\d+)"  # ComfyUI's ManualSigmas: every match is one float


def manual_sigmas(text: str) -> torch.Tensor:
    """ComfyUI's ManualSigmas node: the floats its pattern finds, as a FloatTensor."""
    return torch.FloatTensor([float(v) for v in re.findall(MANUAL_SIGMAS, text)])


@pytest.fixture(scope="module")
def k_sampling():
    """k_diffusion/sampling.py of the installed package, under a bare `k_diffusion` package: its `utils`
    import is given append_dims (the one helper sample_euler / sample_heun use) and the ODE/SDE packages
    it imports at the top, for samplers not run here, are given empty modules when absent."""
    spec = importlib.util.find_spec("k_diffusion")
    assert spec is not None, "k-diffusion is not installed: pip install --no-deps k-diffusion (make setup does)"
    folder = spec.submodule_search_locations[0]
    saved = {k: sys.modules.get(k) for k in ("k_diffusion", "k_diffusion.utils", "k_diffusion.sampling",
                                             "torchdiffeq", "torchsde")}
    package = types.ModuleType("k_diffusion")
    package.__path__ = [folder]
    utils = types.ModuleType("k_diffusion.utils")
    utils.append_dims = lambda x, n: x[(...,) + (None,) * (n - x.ndim)]
    package.utils = utils
    sys.modules.update({"k_diffusion": package, "k_diffusion.utils": utils})
    for name, attrs in (("torchdiffeq", {"odeint": None}), ("torchsde", {"BrownianTree": None})):
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.SimpleNamespace(**attrs)
    try:
        mod_spec = importlib.util.spec_from_file_location("k_diffusion.sampling", f"{folder}/sampling.py")
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        yield module
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class Counting:
    """A closed-form denoiser (Gaussian data) that counts its calls."""

    def __init__(self, dim=6):
        g = torch.Generator().manual_seed(0)
        self.inner = gs.denoisers.GaussianDenoiser(torch.randn(dim, generator=g, dtype=torch.float64),
                                                   torch.rand(dim, generator=g, dtype=torch.float64) + 0.1)
        self.calls = 0

    def __call__(self, x, sigma):
        self.calls += 1
        return self.inner(x, sigma)


def test_k_diffusion_counts_n_calls(k_sampling):
    for n in (1, 2, 5, 10):
        s = gs.schedules.polynomial(n)
        sigmas = to_k_diffusion(s, dtype=torch.float64)
        D = Counting()
        x = 80.0 * torch.randn(4, 6, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
        k_out = k_sampling.sample_euler(D, x, sigmas, disable=True)
        assert D.calls == n  # Euler: N steps, N calls
        D.calls = 0
        k_sampling.sample_heun(D, x, sigmas, disable=True)
        assert D.calls == 2 * n - 1  # Heun: 2 per step, the step to 0 an Euler step
        # k-diffusion's own n-step schedule costs the same n calls.
        D.calls = 0
        k_sampling.sample_euler(D, x, k_sampling.get_sigmas_karras(n, 0.002, 80.0).double(), disable=True)
        assert D.calls == n
        if n >= 2:  # gitscore's loop for the sampler form: Euler on s[:-1], then the step to 0
            D.calls = 0
            ours = gs.solvers.sample_euler(D, x, s[:-1])
            ours = D(ours, torch.full((4,), float(s[-2]), dtype=torch.float64))
            assert D.calls == n
            torch.testing.assert_close(ours, k_out, rtol=1e-12, atol=1e-12)


def test_sample_to_zero_is_the_export_loop(k_sampling):
    """gitscore.sampling.sample(to_zero=True) on s[:-1] = k-diffusion's sample_euler on to_k_diffusion(s),
    sample by sample, with N calls per sample; nfe() counts the step to 0."""
    s, n = gs.schedules.polynomial(6), 6
    D = Counting()
    ours = gs.sampling.sample(D, "euler", s[:-1], 5, seed=3, shape=(6,), dtype=torch.float64, to_zero=True)
    assert D.calls == n  # one batch
    x = float(s[0]) * gs.sampling.latents((6,), 3, 0, 5)
    theirs = k_sampling.sample_euler(D, x, to_k_diffusion(s, dtype=torch.float64), disable=True)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    assert gs.sampling.nfe("euler", n - 1, to_zero=True) == n
    with pytest.raises(TypeError, match="to_zero"):
        gs.sampling.sample(D, "euler", s, 2, seed=0, shape=(6,), to_zero="yes")


def tiny_unet():
    torch.manual_seed(0)
    return diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).eval()


@pytest.mark.parametrize("scheduler", ["EulerDiscreteScheduler", "DPMSolverMultistepScheduler"])
@torch.no_grad()
def test_diffusers_loop_counts_n_calls(scheduler):
    """The DDPMPipeline-style loop (scale_model_input, UNet, step) on the export: N UNet calls, ending at 0."""
    unet = tiny_unet()
    calls = []
    unet.register_forward_hook(lambda *a: calls.append(1))
    sched = getattr(diffusers, scheduler)(num_train_timesteps=1000, beta_schedule="scaled_linear")
    D = gs.adapters.from_pipeline(types.SimpleNamespace(unet=unet, scheduler=sched))
    for n in (3, 5, 8):
        s = gs.gits.model_grid(D)[torch.linspace(0, 60, n + 1).round().long()]
        sched.set_timesteps(**to_diffusers(s, sched))
        assert sched.sigmas[-1] == 0 and len(sched.timesteps) == n
        x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(n)) * sched.init_noise_sigma
        calls.clear()
        for t in sched.timesteps:
            x = sched.step(unet(sched.scale_model_input(x, t), t).sample, t, x).prev_sample
        assert len(calls) == n
        if scheduler == "EulerDiscreteScheduler":  # the sigmas it ran are the export's
            torch.testing.assert_close(sched.sigmas, sampler_sigmas(s, torch.float32))


@torch.no_grad()
def test_pipeline_call_unpacks_the_export(tmp_path):
    """pipe(prompt, **to_diffusers(s, pipe)) on a tiny StableDiffusionPipeline: N UNet calls (guided: batched)."""
    from test_pipelines import tiny_text_pipeline

    pipe = tiny_text_pipeline(tmp_path, scheduler="euler")
    calls = []
    pipe.unet.register_forward_hook(lambda *a: calls.append(1))
    D = gs.adapters.from_pipeline(pipe, "a cat")
    s = gs.gits.model_grid(D)[[0, 15, 30, 45, 60]]
    pipe("a cat", **to_diffusers(s, pipe), output_type="latent")
    assert len(calls) == len(s) - 1


def test_comfyui_string_parses_as_manual_sigmas():
    for s in (polynomial(5), polynomial(8, 1e-5, 80.0), gs.published.schedule("sd15-gits-1.20", 10)):
        n = len(s) - 1
        got = manual_sigmas(comfyui_string(s))
        assert got.shape == (n + 1,) and got[-1] == 0  # N + 1 numbers: N Euler steps in SamplerCustom
        want = to_comfyui(s)
        assert ((got[:-1].double() / want[:-1].double() - 1).abs() <= 5 * 10.0 ** -COMFYUI_DIGITS + 1e-7).all()
    # Why plain decimals: Python's shortest repr of a small sigma has an exponent, which the pattern splits.
    assert manual_sigmas(f"{2e-05!r}, 0").tolist() == [2.0, -5.0, 0.0]
    assert manual_sigmas(comfyui_string(torch.tensor([1.0, 2e-5, 1e-5], dtype=torch.float64))).tolist() == \
        torch.FloatTensor([1.0, 2e-5, 0.0]).tolist()
