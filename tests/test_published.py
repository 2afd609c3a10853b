"""gitscore.published against the sources' digits, copied here once, and against what the sources do with them.

The SD 1.5 tables are ComfyUI's GITSScheduler noise levels (comfyanonymous/ComfyUI, comfy_extras/nodes_gits.py at
commit 349c5aa265078956999c045398b5030a8973c6a0, NOISE_LEVELS[coeff][steps - 2], the coefficients 1.15 and 1.20);
the CIFAR-10 list is the --t_steps of zju-pi/diff-sampler gits-main/README.md (and launch.sh) at commit
20a0e1d096960b908824bb137391e146b57b9ce0.
"""
# ruff: noqa: E501  (the source rows, one per line as in the source)
import json

import pytest
import torch

import gitscore as gs
from cli_run import run

COMFYUI_NOISE_LEVELS = {
    1.15: [
        [14.61464119, 0.83188516, 0.02916753],
        [14.61464119, 1.84880662, 0.59516323, 0.02916753],
        [14.61464119, 5.85520077, 1.56271636, 0.52423614, 0.02916753],
        [14.61464119, 5.85520077, 1.91321158, 0.83188516, 0.34370604, 0.02916753],
        [14.61464119, 5.85520077, 2.45070267, 1.24153244, 0.59516323, 0.25053367, 0.02916753],
        [14.61464119, 5.85520077, 2.84484982, 1.51179266, 0.803307, 0.41087446, 0.17026083, 0.02916753],
        [14.61464119, 5.85520077, 2.84484982, 1.56271636, 0.89115214, 0.50118381, 0.25053367, 0.09824532, 0.02916753],
        [14.61464119, 6.77309084, 3.07277966, 1.84880662, 1.12534678, 0.72133851, 0.43325692, 0.22545385, 0.09824532, 0.02916753],
        [14.61464119, 6.77309084, 3.07277966, 1.91321158, 1.24153244, 0.803307, 0.52423614, 0.34370604, 0.19894916, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 2.95596409, 1.91321158, 1.24153244, 0.803307, 0.52423614, 0.34370604, 0.19894916, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.07277966, 2.05039096, 1.36964464, 0.95350921, 0.69515091, 0.4783645, 0.32104823, 0.19894916, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.07277966, 2.12350607, 1.51179266, 1.08895338, 0.803307, 0.59516323, 0.43325692, 0.29807833, 0.19894916, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.07277966, 2.12350607, 1.51179266, 1.08895338, 0.803307, 0.59516323, 0.45573691, 0.34370604, 0.25053367, 0.17026083, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.07277966, 2.19988537, 1.61558151, 1.24153244, 0.95350921, 0.74807048, 0.59516323, 0.45573691, 0.34370604, 0.25053367, 0.17026083, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.1956799, 2.45070267, 1.78698075, 1.32549286, 1.01931262, 0.803307, 0.64427125, 0.50118381, 0.38853383, 0.29807833, 0.22545385, 0.17026083, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.1956799, 2.45070267, 1.78698075, 1.32549286, 1.01931262, 0.803307, 0.64427125, 0.52423614, 0.41087446, 0.32104823, 0.25053367, 0.19894916, 0.13792117, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.1956799, 2.45070267, 1.84880662, 1.41535246, 1.12534678, 0.89115214, 0.72133851, 0.59516323, 0.4783645, 0.38853383, 0.32104823, 0.25053367, 0.19894916, 0.13792117, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.1956799, 2.45070267, 1.84880662, 1.41535246, 1.12534678, 0.89115214, 0.72133851, 0.59516323, 0.50118381, 0.41087446, 0.34370604, 0.27464288, 0.22545385, 0.17026083, 0.13792117, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.86714602, 3.1956799, 2.45070267, 1.84880662, 1.41535246, 1.12534678, 0.89115214, 0.72133851, 0.59516323, 0.50118381, 0.41087446, 0.34370604, 0.29807833, 0.25053367, 0.19894916, 0.17026083, 0.13792117, 0.09824532, 0.02916753],
    ],
    1.20: [
        [14.61464119, 0.803307, 0.02916753],
        [14.61464119, 1.56271636, 0.52423614, 0.02916753],
        [14.61464119, 2.36326075, 0.92192322, 0.36617002, 0.02916753],
        [14.61464119, 2.84484982, 1.24153244, 0.59516323, 0.25053367, 0.02916753],
        [14.61464119, 5.85520077, 2.05039096, 0.95350921, 0.45573691, 0.17026083, 0.02916753],
        [14.61464119, 5.85520077, 2.45070267, 1.24153244, 0.64427125, 0.29807833, 0.09824532, 0.02916753],
        [14.61464119, 5.85520077, 2.45070267, 1.36964464, 0.803307, 0.45573691, 0.25053367, 0.09824532, 0.02916753],
        [14.61464119, 5.85520077, 2.84484982, 1.61558151, 0.95350921, 0.59516323, 0.36617002, 0.19894916, 0.09824532, 0.02916753],
        [14.61464119, 5.85520077, 2.84484982, 1.67050016, 1.08895338, 0.74807048, 0.50118381, 0.32104823, 0.19894916, 0.09824532, 0.02916753],
        [14.61464119, 5.85520077, 2.95596409, 1.84880662, 1.24153244, 0.83188516, 0.59516323, 0.41087446, 0.27464288, 0.17026083, 0.09824532, 0.02916753],
        [14.61464119, 5.85520077, 3.07277966, 1.98035145, 1.36964464, 0.95350921, 0.69515091, 0.50118381, 0.36617002, 0.25053367, 0.17026083, 0.09824532, 0.02916753],
        [14.61464119, 6.77309084, 3.46139455, 2.36326075, 1.56271636, 1.08895338, 0.803307, 0.59516323, 0.45573691, 0.34370604, 0.25053367, 0.17026083, 0.09824532, 0.02916753],
        [14.61464119, 6.77309084, 3.46139455, 2.45070267, 1.61558151, 1.162866, 0.86115354, 0.64427125, 0.50118381, 0.38853383, 0.29807833, 0.22545385, 0.17026083, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.65472794, 3.07277966, 2.12350607, 1.51179266, 1.08895338, 0.83188516, 0.64427125, 0.50118381, 0.38853383, 0.29807833, 0.22545385, 0.17026083, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.65472794, 3.07277966, 2.12350607, 1.51179266, 1.08895338, 0.83188516, 0.64427125, 0.50118381, 0.41087446, 0.32104823, 0.25053367, 0.19894916, 0.13792117, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.65472794, 3.07277966, 2.12350607, 1.51179266, 1.08895338, 0.83188516, 0.64427125, 0.50118381, 0.41087446, 0.34370604, 0.27464288, 0.22545385, 0.17026083, 0.13792117, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.65472794, 3.07277966, 2.19988537, 1.61558151, 1.20157266, 0.92192322, 0.72133851, 0.57119018, 0.45573691, 0.36617002, 0.29807833, 0.25053367, 0.19894916, 0.17026083, 0.13792117, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.65472794, 3.07277966, 2.19988537, 1.61558151, 1.24153244, 0.95350921, 0.74807048, 0.59516323, 0.4783645, 0.38853383, 0.32104823, 0.27464288, 0.22545385, 0.19894916, 0.17026083, 0.13792117, 0.09824532, 0.02916753],
        [14.61464119, 7.49001646, 4.65472794, 3.07277966, 2.19988537, 1.61558151, 1.24153244, 0.95350921, 0.74807048, 0.59516323, 0.50118381, 0.41087446, 0.34370604, 0.29807833, 0.25053367, 0.22545385, 0.19894916, 0.17026083, 0.13792117, 0.09824532, 0.02916753],
    ],
}
GITS_MAIN_T_STEPS = [80, 10.9836, 3.8811, 1.584, 0.5666, 0.1698, 0.002]  # "--t_steps=[80,10.9836,...,0.002]"


def test_every_published_schedule_is_the_source():
    for coeff, rows in COMFYUI_NOISE_LEVELS.items():
        entry = gs.published.get(f"sd15-gits-{coeff:.2f}")
        assert entry.coeff == coeff and entry.steps == tuple(range(2, 21))
        assert entry.source.path == "comfy_extras/nodes_gits.py" and entry.source.commit.startswith("349c5aa2")
        for steps in range(2, 21):
            s = gs.published.schedule(entry.name, steps)
            assert s.dtype == torch.float64 and s.tolist() == COMFYUI_NOISE_LEVELS[coeff][steps - 2]
            assert gs.schedules.check_sigmas(s) is not None  # a valid gitscore schedule: decreasing, > 0
    s = gs.published.schedule("cifar10-edm-gits", 6)
    assert s.tolist() == [float(v) for v in GITS_MAIN_T_STEPS]


def test_exports_are_comfyui_gitsscheduler_output():
    """GITSScheduler: sigmas = NOISE_LEVELS[coeff][steps - 2][:]; sigmas[-1] = 0; FloatTensor(sigmas)."""
    for coeff, rows in COMFYUI_NOISE_LEVELS.items():
        for steps in range(2, 21):
            node = list(rows[steps - 2])
            node[-1] = 0
            s = gs.published.schedule(f"sd15-gits-{coeff:.2f}", steps)
            assert torch.equal(gs.export.to_comfyui(s), torch.FloatTensor(node))
            assert len(node) - 1 == steps  # the node's steps: its Euler calls


def test_sources_are_the_models_they_name():
    """SD 1.5's ends are its discrete table's (scaled_linear betas 0.00085..0.012, float32 rounding); the CIFAR-10
    list is a path through gitscore's 61-point teacher grid (EDM's [0.002, 80], rho 7) rounded to 4 decimals."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    table = gs.adapters.vp_sigmas(torch.cumprod(1 - betas, 0))
    for name in ("sd15-gits-1.15", "sd15-gits-1.20"):
        for steps in range(2, 21):
            s = gs.published.schedule(name, steps)
            torch.testing.assert_close(s[[0, -1]], table[[-1, 0]], rtol=2e-5, atol=0)
    grid = gs.gits.teacher_grid(61)
    idx = [int((grid - v).abs().argmin()) for v in GITS_MAIN_T_STEPS]
    assert idx[0] == 0 and idx[-1] == 60 and all(a < b for a, b in zip(idx, idx[1:]))
    assert [round(float(grid[i]), 4) for i in idx] == [float(v) for v in GITS_MAIN_T_STEPS]


def test_bad_names_and_steps():
    with pytest.raises(ValueError, match="one of .*sd15-gits-1.20"):
        gs.published.get("sd15")
    with pytest.raises(ValueError, match="n_steps: sd15-gits-1.15 publishes 2 to 20 steps, not 21"):
        gs.published.schedule("sd15-gits-1.15", 21)
    with pytest.raises(ValueError, match="n_steps"):
        gs.published.schedule("cifar10-edm-gits", 0)




def test_cli_prints_published_schedules_without_a_model(capsys, monkeypatch, tmp_path):
    def no_model(*a, **k):
        raise AssertionError("--published must not load a model")

    monkeypatch.setattr("gitscore.cli.load_model", no_model)
    code, out, err = run(capsys, "search", "--published", "sd15-gits-1.20", "--steps", "8", "--format", "json")
    assert code == 0 and "nodes_gits.py" in err
    doc = json.loads(out)
    assert doc["sigmas"] == COMFYUI_NOISE_LEVELS[1.20][6] and doc["published"] == "sd15-gits-1.20"
    code, out, _ = run(capsys, "search", "--published", "sd15-gits-1.15", "--steps", "5", "--format", "comfyui")
    assert code == 0 and out.strip() == gs.export.comfyui_string(torch.tensor(COMFYUI_NOISE_LEVELS[1.15][3]))
    code, out, _ = run(capsys, "search", "--published", "cifar10-edm-gits", "--format", "diffusers")
    assert code == 0 and json.loads(out)["kwargs"]["sigmas"] == GITS_MAIN_T_STEPS[:-1] + [0]
    code, out, _ = run(capsys, "search", "--published", "list")
    assert code == 0 and all(name in out for name in gs.published.PUBLISHED) and "349c5aa26507" in out
    code, _, err = run(capsys, "search", "--published", "sd15-gits-1.20", "--steps", "25")
    assert code == 2 and "--steps: sd15-gits-1.20 publishes 19 step count(s), 2 to 20, not 25" in err
    code, _, err = run(capsys, "search", "--published", "sdxl")
    assert code == 2 and "--published must be 'list' or one of" in err
    out_file = tmp_path / "s.k-diffusion"
    assert run(capsys, "search", "--published", "sd15-gits-1.20", "--steps", "4", "--format", "k-diffusion",
               "--out", str(out_file))[0] == 0
    back, meta = gs.export.read_schedule(out_file)
    assert back.tolist() == COMFYUI_NOISE_LEVELS[1.20][2][:-1] and meta["to_zero"] is True
