"""GITS on diffusers pipelines end to end: the README's code run as written on tiny random models built offline.

The models are tiny and randomly initialised (a CLIP text encoder with a byte-level tokenizer written to a
temporary folder, a cross-attention UNet, a VAE; a DDPM UNet): nothing is downloaded. What is checked is
the plumbing and the maths, not image quality: the README's blocks run, the pipeline receives exactly the
searched sigmas, the number of UNet calls is the documented one, and gitscore's Euler on the adapter is the
pipeline's own guided Euler loop to float32 rounding (epsilon and v-prediction).
"""
import functools
import json
import re
from pathlib import Path

import diffusers  # the dev extra installs diffusers and transformers: these tests run, never skip
import pytest
import torch
import transformers

import gitscore as gs
from gitscore.solvers import sample_euler

# diffusers' EulerDiscreteScheduler.set_timesteps under numpy 2 (inside diffusers, harmless).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT_HEADING = "### A diffusers text pipeline (Stable Diffusion, with guidance)"
UNCOND_HEADING = "### An unconditional diffusers pipeline (DDPM)"


# ---------------------------------------------------------------- tiny offline models

def byte_chars() -> list[str]:
    """The printable stand-ins byte-level BPE (GPT-2, CLIP) uses for the bytes 0..255."""
    keep = {*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)}
    extra = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(extra)) for b in range(256)]


def tiny_tokenizer(folder: Path, max_length: int = 32):
    """A CLIPTokenizer over single bytes (no merges), written as vocab.json / merges.txt and loaded offline."""
    chars = byte_chars()
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return transformers.CLIPTokenizer.from_pretrained(folder, model_max_length=max_length)


def tiny_text_pipeline(folder: Path, prediction_type: str = "epsilon", scheduler: str = "pndm"):
    """A StableDiffusionPipeline of random tiny parts: 4x8x8 latents, 16x16 images, SD's beta schedule."""
    tok = tiny_tokenizer(folder)
    torch.manual_seed(0)
    text = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=32, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id)).eval()
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4).eval()
    vae = diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8), norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, sample_size=16).eval()
    beta = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
                prediction_type=prediction_type)
    # SD checkpoints ship a PNDMScheduler; the README swaps in EulerDiscreteScheduler itself.
    sched = (diffusers.PNDMScheduler(skip_prk_steps=True, **beta) if scheduler == "pndm"
             else diffusers.EulerDiscreteScheduler(**beta))
    pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=sched,
                                             safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_ddpm_pipeline():
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4).eval()
    pipe = diffusers.DDPMPipeline(unet=unet, scheduler=diffusers.DDPMScheduler(num_train_timesteps=1000))
    pipe.set_progress_bar_config(disable=True)
    return pipe


class UNetSpy:
    """Counts UNet forward calls and records what the scheduler was given by set_timesteps."""

    def __init__(self, pipe):
        self.calls, self.set_sigmas, self.pipe = 0, [], pipe
        pipe.unet.register_forward_hook(self._count)

    def _count(self, module, args, output):
        self.calls += 1

    def watch_scheduler(self):
        """Wrap the pipeline's current scheduler's set_timesteps (call again after the scheduler is swapped)."""
        sched = self.pipe.scheduler
        if getattr(sched, "_spied", False):
            return
        inner = sched.set_timesteps

        @functools.wraps(inner)  # keeps the signature: pipelines inspect it for `sigmas`
        def set_timesteps(*args, **kwargs):
            self.set_sigmas.append(kwargs.get("sigmas"))
            return inner(*args, **kwargs)

        sched.set_timesteps, sched._spied = set_timesteps, True


def readme_blocks(heading: str) -> list[str]:
    """The fenced python blocks of README.md between `heading` and the next heading, in order."""
    text = README.read_text()
    assert heading in text, f"README.md lost its section {heading!r}"
    section = text.split(heading, 1)[1]
    section = re.split(r"^#{1,3} ", section, maxsplit=1, flags=re.M)[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, flags=re.S | re.M)
    assert blocks, f"no python blocks under {heading!r}"
    return blocks


def run_blocks(blocks, namespace, spy, before_each=lambda: None):
    """exec each block as written; the UNet calls each made."""
    calls = []
    for code in blocks:
        before_each()
        start = spy.calls
        exec(compile(code, str(README), "exec"), namespace)
        calls.append(spy.calls - start)
    return calls


# ---------------------------------------------------------------- the README, as written

def test_readme_text_pipeline(tmp_path):
    pipe = tiny_text_pipeline(tmp_path)
    spy = UNetSpy(pipe)
    ns = {"pipe": pipe}
    # The first block swaps in EulerDiscreteScheduler: watch whichever scheduler is there before each block.
    calls = run_blocks(readme_blocks(TEXT_HEADING), ns, spy, before_each=spy.watch_scheduler)
    assert isinstance(pipe.scheduler, diffusers.EulerDiscreteScheduler)
    sigmas, D = ns["sigmas"], ns["D"]
    n_steps = len(sigmas) - 1
    assert n_steps == 10 and sigmas.dtype == torch.float64
    # The search stayed inside the model's range: the default grid follows D.sigma_min / D.sigma_max.
    assert sigmas[0] == D.sigma_max and sigmas[-1] == D.sigma_min
    assert D.is_guided and D.guidance_scale == 7.5  # StableDiffusionPipeline's default scale
    # Warm-up: ipndm on the 61-point teacher grid, one batch of 64 (x2 for guidance) per step.
    assert calls[0] == len(gs.gits.model_grid(D)) - 1 == 60
    # Sampling: n_steps UNet calls (the export replaces sigma_min by 0: the last step goes to 0).
    assert calls[1] == n_steps
    # The pipeline's scheduler ran exactly the searched sigmas, the last one replaced by 0.
    assert spy.set_sigmas[-1] == sigmas.tolist()[:-1] + [0.0]
    assert torch.equal(pipe.scheduler.sigmas, gs.export.sampler_sigmas(sigmas).float())
    assert ns["image"].size == (16, 16)


def test_readme_unconditional_pipeline():
    pipe = tiny_ddpm_pipeline()
    spy = UNetSpy(pipe)
    ns = {"pipe": pipe}
    calls = run_blocks(readme_blocks(UNCOND_HEADING), ns, spy)
    sigmas, D, images = ns["sigmas"], ns["D"], ns["images"]
    n_steps = len(sigmas) - 1
    assert n_steps == 6 and sigmas[0] == D.sigma_max and sigmas[-1] == D.sigma_min
    assert calls[0] == 60  # warm-up: 60 teacher steps, one batch
    assert calls[1] == n_steps  # 6 steps, 6 calls: the last step goes to 0 (the denoiser's output), as exports do
    # The schedule is the GITS result of the library call itself (seeded, default grid).
    torch.testing.assert_close(sigmas, gs.gits.search(D, ns["shape"], n_steps=6, n_warmup=64), rtol=0, atol=0)
    assert images.shape == (16, 1, 8, 8) and images.abs().max() <= 1
    assert images.numpy().shape == (16, 1, 8, 8)  # no grad attached: the tensor converts as written (issue 30)


def test_every_python_block_of_the_readme_is_run_here():
    """The two sections above run their blocks as written; no python block of the README lies elsewhere."""
    text = README.read_text()
    every = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert sorted(every) == sorted(readme_blocks(TEXT_HEADING) + readme_blocks(UNCOND_HEADING))


# ---------------------------------------------------------------- our Euler = the pipeline's Euler

def relative_difference(prediction_type, timestep_mode, tmp_path):
    """Pipeline (EulerDiscreteScheduler, guidance 7.5) vs gitscore's Euler on the adapter, same sigmas and noise."""
    pipe = tiny_text_pipeline(tmp_path, prediction_type, scheduler="euler")
    D = gs.adapters.from_pipeline(pipe, "a cat", timestep_mode=timestep_mode)
    # Off the training grid, so the timesteps are fractional (diffusers interpolates log sigma).
    sigmas = gs.schedules.polynomial(8, D.sigma_min, D.sigma_max).float().double()
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    ref = pipe("a cat", **gs.export.to_diffusers(sigmas, pipe), latents=z, num_images_per_prompt=2,
               output_type="latent").images
    assert torch.equal(pipe.scheduler.sigmas[:-1].double(), sigmas[:-1])
    assert not torch.equal(pipe.scheduler.timesteps, pipe.scheduler.timesteps.round())
    x = sample_euler(D, pipe.scheduler.init_noise_sigma * z, sigmas[:-1])
    with torch.no_grad():
        x0 = D(x, sigmas[-2])  # the pipeline's last step sigma_{N-1} -> 0
    return float((x0 - ref).norm() / ref.norm())


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_euler_on_adapter_is_the_pipeline_loop(prediction_type, tmp_path):
    """Measured: 3e-7 (epsilon), 1.3e-6 (v); float32 rounding, as the timesteps differ in their last bit."""
    assert relative_difference(prediction_type, "interp", tmp_path) < 1e-5


def test_nearest_timesteps_integrate_another_ode(tmp_path):
    """Rounding the timesteps (k-diffusion's quantize) moves the result far beyond rounding: interp is the default."""
    assert gs.adapters.from_pipeline(tiny_ddpm_pipeline()).timestep_mode == "interp"
    nearest = relative_difference("epsilon", "nearest", tmp_path)
    assert nearest > 100 * relative_difference("epsilon", "interp", tmp_path)


# ---------------------------------------------------------------- conditioning and guidance

def test_guided_adapter_matches_two_unet_calls(tmp_path):
    """One batched call (uncond first) equals out_u + w (out_c - out_u) from two separate conditioned calls."""
    pipe = tiny_text_pipeline(tmp_path, scheduler="euler")
    cond, uncond = pipe.encode_prompt("a cat", "cpu", 1, True, None)
    pipe.unet.double()  # float64: the identity holds to rounding of 1e-16, not float32's
    cond, uncond = cond.double(), uncond.double()
    D = gs.adapters.from_pipeline(pipe, prompt_embeds=cond, negative_prompt_embeds=uncond, guidance_scale=3.0)
    Dc = gs.adapters.from_pipeline(pipe, prompt_embeds=cond, guidance_scale=1.0)
    Du = gs.adapters.from_pipeline(pipe).bind(encoder_hidden_states=uncond)
    x = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    sigma = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)
    with torch.no_grad():
        # D is affine in the model output, so guiding the output is guiding D.
        want = Du(x, sigma) + 3.0 * (Dc(x, sigma) - Du(x, sigma))
        torch.testing.assert_close(D(x, sigma), want, rtol=1e-12, atol=1e-12)
        # The prompt path encodes the same embeddings.
        pipe.unet.float()
        D32 = gs.adapters.from_pipeline(pipe, prompt_embeds=cond.float(), negative_prompt_embeds=uncond.float(),
                                        guidance_scale=3.0)
        torch.testing.assert_close(gs.adapters.from_pipeline(pipe, "a cat", guidance_scale=3.0)(x.float(), sigma),
                                   D32(x.float(), sigma), rtol=0, atol=0)
    assert not Dc.is_guided and D.is_guided


def test_from_pipeline_conditioning_errors(tmp_path):
    pipe = tiny_text_pipeline(tmp_path, scheduler="euler")
    cond, _ = pipe.encode_prompt("a cat", "cpu", 1, False, None)
    with pytest.raises(ValueError, match="prompt_embeds"):
        gs.adapters.from_pipeline(pipe, "a cat", prompt_embeds=cond)
    with pytest.raises(ValueError, match="negative_prompt_embeds"):
        gs.adapters.from_pipeline(pipe, prompt_embeds=cond)  # the default scale 7.5 needs the unconditional half
    with pytest.raises(ValueError, match="conditioning"):
        gs.adapters.from_pipeline(tiny_ddpm_pipeline(), guidance_scale=7.5)
    with pytest.raises(TypeError, match="prompt"):
        gs.adapters.from_pipeline(pipe, ["a cat", "a dog"])
    with pytest.raises(ValueError, match="guidance_scale"):
        gs.adapters.from_pipeline(pipe, "a cat", guidance_scale=float("nan"))
    # Without conditioning the cross-attention UNet cannot run: the error is the model's own.
    with pytest.raises(TypeError, match="encoder_hidden_states"):
        gs.adapters.from_pipeline(pipe)(torch.zeros(1, 4, 8, 8), 1.0)


def test_export_refuses_the_edm_range_for_sd(tmp_path):
    """The failure of the issue: EDM's [0.002, 80] is outside SD's [0.029, 14.6]; the export says what to do."""
    pipe = tiny_text_pipeline(tmp_path, scheduler="euler")
    with pytest.raises(ValueError, match="D.sigma_min"):
        gs.export.to_diffusers(gs.schedules.polynomial(10), pipe)
    D = gs.adapters.from_pipeline(pipe, "a cat")
    inside = gs.gits.model_grid(D)[::6]
    assert gs.export.to_diffusers(inside, pipe)["sigmas"][:-1] == inside.tolist()[:-1]
