"""Schedule export: round trips, the formats diffusers / k-diffusion / ComfyUI take, log-linear resampling."""
import json
import math

import diffusers  # dev extra
import numpy as np
import pytest
import torch

from gitscore.adapters import vp_sigmas
from gitscore.export import (comfyui_string, from_json, loglinear_interp, nearest_timesteps, to_comfyui,
                             to_diffusers, to_json, to_k_diffusion)
from gitscore.schedules import logsnr, polynomial, time_uniform

GITS_LIKE = polynomial(60)[[0, 9, 19, 29, 40, 50, 60]]  # 6 steps picked from a teacher grid, as GITS returns


def test_json_round_trip_is_exact():
    for s in (GITS_LIKE, polynomial(10), time_uniform(7)):
        text = to_json(s, model="toy", coeff=1.15, indices=[0, 9, 19], grid=polynomial(3))
        back, meta = from_json(text)
        assert back.dtype == torch.float64 and torch.equal(back, s)
        assert meta == {"model": "toy", "coeff": 1.15, "indices": [0, 9, 19], "grid": polynomial(3).tolist()}
        assert json.loads(text)["n_steps"] == len(s) - 1


def test_from_json_reads_the_other_exports():
    s = GITS_LIKE
    for text in (json.dumps(to_diffusers(s)), json.dumps(to_k_diffusion(s).double().tolist()),
                 json.dumps(s.tolist()), json.dumps(to_diffusers(s, final_zero=False)["sigmas"])):
        back, _ = from_json(text)
        torch.testing.assert_close(back, s, rtol=1e-7, atol=0)  # k-diffusion's float32 rounds


def test_trailing_zero_formats():
    s = GITS_LIKE
    for t in (to_k_diffusion(s), to_comfyui(s)):
        assert t.dtype == torch.float32 and t.shape == (len(s) + 1,) and t[-1] == 0
        assert torch.equal(t[:-1], s.float())
    assert to_k_diffusion(s, dtype=torch.float64)[:-1].equal(s)
    text = comfyui_string(s)
    values = [float(v) for v in text.split(",")]
    assert values[-1] == 0 and torch.equal(torch.tensor(values[:-1], dtype=torch.float64), s)  # 17 digits: exact
    assert comfyui_string(s, digits=4).split(", ")[0] == "80"
    d = to_diffusers(s)
    assert d["sigmas"][-1] == 0.0 and d["num_inference_steps"] == len(s) and "timesteps" not in d
    assert to_diffusers(s, final_zero=False)["sigmas"] == s.tolist()


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside diffusers, numpy 2
def test_diffusers_schedulers_accept_the_export():
    """EulerDiscreteScheduler takes the sigmas verbatim; DDPM / Euler take the timesteps."""
    sched = diffusers.EulerDiscreteScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear")
    table = vp_sigmas(sched.alphas_cumprod)
    s = polynomial(60, float(table[0]) * 1.01, float(table[-1]) * 0.99)[[0, 12, 25, 40, 60]]
    d = to_diffusers(s, sched, timesteps=True)
    sched.set_timesteps(sigmas=d["sigmas"])
    assert len(sched.timesteps) == len(s)
    torch.testing.assert_close(sched.sigmas, torch.tensor(d["sigmas"], dtype=torch.float32))
    # Our nearest timesteps are diffusers' fractional ones rounded.
    assert d["timesteps"] == sched.timesteps.round().long().tolist()
    t = torch.tensor(d["timesteps"])
    assert (t[1:] < t[:-1]).all() and ((table[t].log() - s.log()).abs() <= (table[t + 1] / table[t]).log()).all()
    ddpm = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear")
    ddpm.set_timesteps(timesteps=d["timesteps"])
    assert ddpm.timesteps.tolist() == d["timesteps"]
    sched.set_timesteps(timesteps=d["timesteps"])  # Euler from timesteps: the table sigmas plus a final 0
    torch.testing.assert_close(sched.sigmas[:-1], table[t].float())


def test_nearest_timesteps_errors():
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
    table = vp_sigmas(abar)
    assert nearest_timesteps(table[[999, 500, 3]], abar) == [999, 500, 3]
    with pytest.raises(ValueError, match="timestep"):  # too fine for the grid near t = 0
        nearest_timesteps(torch.tensor([float(table[10]), float(table[0]) * 1.0001, float(table[0])]), abar)
    with pytest.raises(ValueError, match="cover only"):
        nearest_timesteps(polynomial(5), abar)  # sigma_min 0.002 < sigma_0 = 0.01 of this table


def test_diffusers_export_refuses_out_of_range_sigmas():
    """EDM's [0.002, 80] against a table of [0.01, 157]: the message names the range and the fix."""
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
    table = vp_sigmas(abar)
    sched = diffusers.EulerDiscreteScheduler(num_train_timesteps=1000)
    for model in (abar, sched):
        with pytest.raises(ValueError, match=r"cover only \[0.01.*teacher_grid\(61, D.sigma_min, D.sigma_max\)"):
            to_diffusers(polynomial(5), model)
    too_high = torch.tensor([float(table[-1]) * 1.001, 1.0, float(table[0])], dtype=torch.float64)
    with pytest.raises(ValueError, match="cover only"):
        to_diffusers(too_high, abar)
    # The table's own ends pass (float32 rounding of diffusers' sigmas included); no model, no check.
    ends = torch.tensor([float(table[-1]), 1.0, float(table[0])], dtype=torch.float64)
    own = vp_sigmas(sched.alphas_cumprod)  # diffusers' float32 table: its sigma_0 is 8e-5 above the float64 one
    own_ends = torch.tensor([float(own[-1]), 1.0, float(own[0])], dtype=torch.float64)
    assert to_diffusers(own_ends, sched)["sigmas"] == own_ends.tolist() + [0.0]
    with pytest.raises(ValueError, match="cover only"):
        to_diffusers(ends, sched)
    assert to_diffusers(ends.float().double(), abar, final_zero=False)["sigmas"] == ends.float().double().tolist()
    assert "timesteps" not in to_diffusers(polynomial(5))
    with pytest.raises(ValueError, match="alphas_cumprod"):
        to_diffusers(ends, timesteps=True)
    with pytest.raises(TypeError, match="timesteps"):
        to_diffusers(ends, abar, timesteps="yes")


def test_loglinear_interp_properties():
    s = GITS_LIKE
    for n in (1, 3, 6, 10, 25):
        out = loglinear_interp(s, n)
        assert out.dtype == torch.float64 and out.shape == (n + 1,)
        assert out[0] == s[0] and out[-1] == s[-1]            # endpoints exactly
        assert (out[1:] < out[:-1]).all()                      # strictly decreasing
    torch.testing.assert_close(loglinear_interp(s, len(s) - 1), s, rtol=1e-14, atol=0)  # same n: identity
    # A log-SNR schedule is log-linear in its index, so any resampling stays log-SNR.
    torch.testing.assert_close(loglinear_interp(logsnr(8, 0.002, 80.0), 13), logsnr(13, 0.002, 80.0),
                               rtol=1e-13, atol=0)
    # Doubling the steps keeps the old points and puts the geometric means between them.
    fine = loglinear_interp(s, 2 * (len(s) - 1))
    torch.testing.assert_close(fine[::2], s, rtol=1e-13, atol=0)
    torch.testing.assert_close(fine[1::2], (s[:-1] * s[1:]).sqrt(), rtol=1e-13, atol=0)


def test_loglinear_interp_matches_align_your_steps():
    """The AYS recipe (numpy, increasing order) on its published SD1.5 11-point schedule."""
    ays = np.array([14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029])
    xs, ys = np.linspace(0, 1, len(ays)), np.log(ays[::-1])
    want = np.exp(np.interp(np.linspace(0, 1, 21), xs, ys))[::-1]
    np.testing.assert_allclose(loglinear_interp(torch.from_numpy(ays), 20).numpy(), want, rtol=1e-14)


@pytest.mark.parametrize("bad", [[1.0], [1.0, 2.0], [3.0, 1.0, 0.0, 0.0], [3.0, float("nan")], [[3.0, 1.0]], "abc"])
def test_bad_sigmas_raise_value_error_naming_argument(bad):
    for f in (to_k_diffusion, to_comfyui, comfyui_string, to_json, to_diffusers, lambda s: loglinear_interp(s, 3)):
        with pytest.raises(ValueError, match="sigmas"):
            f(bad)


def test_bad_other_arguments():
    with pytest.raises(ValueError, match="n_steps"):
        loglinear_interp(GITS_LIKE, 0)
    with pytest.raises(ValueError, match="n_steps"):
        loglinear_interp(GITS_LIKE, 2.5)
    with pytest.raises(ValueError, match="digits"):
        comfyui_string(GITS_LIKE, digits=0)
    with pytest.raises(ValueError, match="reserved"):
        to_json(GITS_LIKE, sigmas=[1])
    with pytest.raises(ValueError, match="text"):
        from_json("{not json")
    with pytest.raises(ValueError, match="text"):
        from_json('{"steps": 3}')
    with pytest.raises(ValueError, match="text"):
        from_json("[80.0, 1.0, 2.0]")
    with pytest.raises(ValueError, match="n_steps"):
        from_json('{"n_steps": 5, "sigmas": [80.0, 1.0]}')
    with pytest.raises(TypeError, match="text"):
        from_json(GITS_LIKE)
    assert math.isclose(from_json("[80, 1, 0]")[0][-1].item(), 1.0)


def test_every_text_format_reads_back(tmp_path):
    from gitscore.export import FORMATS, format_schedule, read_schedule

    sigmas = polynomial(5)
    for fmt in FORMATS:
        path = tmp_path / f"s.{fmt}"
        path.write_text(format_schedule(sigmas, fmt, {"model": "m"}))
        back, meta = read_schedule(path)
        torch.testing.assert_close(back, sigmas, rtol=1e-15, atol=0)
        if fmt == "json":  # the one format with metadata
            assert meta["model"] == "m"
    with pytest.raises(ValueError, match="format must be one of"):
        format_schedule(sigmas, "yaml")
    with pytest.raises(ValueError, match="^schedule_file .* not found"):
        read_schedule(tmp_path / "missing.json", "schedule_file")
