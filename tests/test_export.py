"""Schedule export: round trips, the formats diffusers / k-diffusion / ComfyUI take, log-linear resampling."""
import json
import math

import diffusers  # dev extra
import numpy as np
import pytest
import torch

from gitscore.adapters import vp_sigmas
from gitscore.export import (COMFYUI_DIGITS, comfyui_string, diffusers_document, diffusers_scheduler, from_json,
                             loglinear_interp, nearest_timesteps, sampler_sigmas, timestep_rounding, to_comfyui,
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
    """The sampler forms (last sigma replaced by 0) read back as their positive values plus the step to 0."""
    s = GITS_LIKE
    back, meta = from_json(json.dumps(s.tolist()))
    assert torch.equal(back, s) and meta == {}
    for text in (json.dumps(to_diffusers(s)), json.dumps(to_k_diffusion(s).double().tolist()),
                 json.dumps(diffusers_document(s))):
        back, meta = from_json(text)
        torch.testing.assert_close(back, s[:-1], rtol=1e-7, atol=0)  # k-diffusion's float32 rounds
        assert meta["to_zero"] is True and len(back) - 1 + 1 == len(s) - 1  # the same N steps


def test_sampler_forms_replace_the_last_sigma_by_zero():
    s = GITS_LIKE
    n = len(s) - 1
    want = torch.cat([s[:-1], s.new_zeros(1)])
    assert torch.equal(sampler_sigmas(s), want) and sampler_sigmas(s).dtype == torch.float64
    for t in (to_k_diffusion(s), to_comfyui(s)):
        assert t.dtype == torch.float32 and t.shape == (n + 1,) and t[-1] == 0 and (t[1:] < t[:-1]).all()
        assert torch.equal(t, want.float())
    assert torch.equal(to_k_diffusion(s, dtype=torch.float64), want)
    d = to_diffusers(s)
    assert d == {"sigmas": want.tolist()}  # pipeline keyword arguments only: pipe(prompt, **d)
    doc = diffusers_document(s)
    assert doc == {"scheduler": "EulerDiscreteScheduler", "kwargs": d, "n_steps": n, "unet_calls": n}
    # One step: straight to 0, one call.
    assert sampler_sigmas(polynomial(1)).tolist() == [80.0, 0.0]


def test_comfyui_string_plain_decimals():
    """Plain decimals (no exponent), COMFYUI_DIGITS significant digits, each value within half a unit."""
    s = logsnr(8, 1e-7, 80.0)  # its last positive sigma, 1.3e-6, is 1.3e-06 in Python's repr
    assert "e-06" in repr(float(s[-2]))
    for digits in (COMFYUI_DIGITS, 3):
        text = comfyui_string(s, digits)
        assert "e" not in text.lower() and text.endswith(", 0") and text.startswith("80, ")
        values = [float(v) for v in text.split(",")]
        want = sampler_sigmas(s)
        assert len(values) == len(s) and values[-1] == 0
        for got, v in zip(values[:-1], want[:-1].tolist()):
            assert abs(got / v - 1) <= 5 * 10.0 ** -digits
    exact = [float(v) for v in comfyui_string(GITS_LIKE, digits=17).split(",")]  # 17 digits: float64 round trip
    assert exact == sampler_sigmas(GITS_LIKE).tolist()


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # inside diffusers, numpy 2
def test_diffusers_schedulers_accept_the_export():
    """EulerDiscreteScheduler takes the sigmas verbatim; DPMSolverMultistep / DDPM take N timesteps and end in 0."""
    sched = diffusers.EulerDiscreteScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear")
    table = vp_sigmas(sched.alphas_cumprod)
    s = polynomial(60, float(table[0]) * 1.01, float(table[-1]) * 0.99)[[0, 12, 25, 40, 60]]
    n = len(s) - 1
    d = to_diffusers(s, sched)
    sched.set_timesteps(**d)
    assert len(sched.timesteps) == n
    torch.testing.assert_close(sched.sigmas, sampler_sigmas(s, torch.float32))
    for cls in (diffusers.DPMSolverMultistepScheduler, diffusers.DDPMScheduler):
        other = cls(num_train_timesteps=1000, beta_schedule="scaled_linear")
        d = to_diffusers(s, other)
        assert list(d) == ["timesteps"] and len(d["timesteps"]) == n
        other.set_timesteps(**d)
        assert other.timesteps.tolist() == d["timesteps"] == nearest_timesteps(s[:-1], other)
        if cls is diffusers.DPMSolverMultistepScheduler:  # its sigmas: the table's at the timesteps, then 0
            assert other.sigmas[-1] == 0 and len(other.sigmas) == n + 1
            torch.testing.assert_close(other.sigmas[:-1].double(), table[d["timesteps"]], rtol=1e-6, atol=0)
    # Rounding to the grid moves each sigma by at most half a grid spacing in log sigma.
    t = torch.tensor(nearest_timesteps(s[:-1], sched))
    shift = timestep_rounding(s, sched)
    assert shift == float((table[t] / s[:-1] - 1).abs().max()) > 0
    assert math.log1p(shift) <= 0.5 * float((table[1:] / table[:-1]).log().max()) + 1e-12
    assert diffusers_document(s, sched, scheduler="DPMSolverMultistepScheduler")["timestep_rounding"] == shift


def test_diffusers_scheduler_choice():
    assert diffusers_scheduler() == ("EulerDiscreteScheduler", "sigmas")
    assert diffusers_scheduler("DPMSolverMultistepScheduler") == ("DPMSolverMultistepScheduler", "timesteps")
    assert diffusers_scheduler(diffusers.DDPMScheduler()) == ("DDPMScheduler", "timesteps")
    for name in ("EulerAncestralDiscreteScheduler", "LMSDiscreteScheduler", "PNDMScheduler"):
        with pytest.raises(ValueError, match=f"{name} takes neither.*EulerDiscreteScheduler"):
            diffusers_scheduler(name)
    with pytest.raises(ValueError, match="give the model"):
        to_diffusers(GITS_LIKE, scheduler="DPMSolverMultistepScheduler")


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
    assert to_diffusers(own_ends, sched)["sigmas"] == own_ends.tolist()[:-1] + [0.0]
    with pytest.raises(ValueError, match="cover only"):
        to_diffusers(ends, sched)
    assert to_diffusers(ends.float().double(), abar)["sigmas"][:-1] == ends.float().double().tolist()[:-1]
    assert "timesteps" not in to_diffusers(polynomial(5))


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
        if fmt in ("json", "list"):  # the schedule itself
            torch.testing.assert_close(back, sigmas, rtol=1e-15, atol=0)
        else:  # a sampler form: the same 5 steps, the last to 0
            assert meta["to_zero"] is True
            torch.testing.assert_close(back, sigmas[:-1], rtol=5 * 10.0 ** -COMFYUI_DIGITS, atol=0)
        if fmt == "json":  # the one format with metadata
            assert meta["model"] == "m"
    with pytest.raises(ValueError, match="format must be one of"):
        format_schedule(sigmas, "yaml")
    with pytest.raises(ValueError, match="^schedule_file .* not found"):
        read_schedule(tmp_path / "missing.json", "schedule_file")
