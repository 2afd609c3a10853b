"""`gitscore search / sample` on users' models: a diffusers pipeline folder and a denoiser module of the user's own.

The pipeline is tests/test_pipelines.py's tiny random text pipeline (CLIP text encoder, cross-attention UNet,
VAE; nothing downloaded), written with save_pretrained and loaded back offline by the CLI. The user's module is
written to tmp_path: an exact Gaussian denoiser with its own sigma range and shape, and a bare function without.
What is checked: the schedule printed lies in the model's own range (its endpoints are the range's), options the
model does not say are demanded in one line, and values outside the range are refused.
"""
import json
import re
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import diffusers  # the dev extra installs diffusers and transformers: these tests run, never skip
import numpy as np
import pytest
import torch
from test_pipelines import UNetSpy, tiny_ddpm_pipeline, tiny_text_pipeline

import gitscore as gs
from gitscore import cli
from cli_run import run

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--n-warmup", "4", "--grid-points", "21"]  # a small search: the plumbing, not the schedule's quality



def run_subprocess(*argv, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "gitscore", *map(str, argv)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    """The tiny text pipeline with EulerDiscreteScheduler, saved as a user's pipeline folder."""
    folder = tmp_path_factory.mktemp("sd")
    pipe = tiny_text_pipeline(tmp_path_factory.mktemp("tok"), scheduler="euler")
    pipe.save_pretrained(folder)
    return folder


def load_offline(folder):
    pipe = diffusers.DiffusionPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_search_on_a_pipeline_folder_prints_a_schedule_in_its_range(sd_folder):
    """The done-when of issue 30, as a user runs it: a subprocess, `--format diffusers`, then the pipeline."""
    r = run_subprocess("search", "--diffusers", sd_folder, "--prompt", "a cat", "--steps", 8, "--format",
                       "diffusers", *SMALL)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["scheduler"] == "EulerDiscreteScheduler" and doc["n_steps"] == doc["unet_calls"] == 8
    sigmas = doc["kwargs"]["sigmas"]
    pipe = load_offline(sd_folder)
    D = gs.adapters.from_pipeline(pipe, "a cat")
    # 8 steps: 8 positive sigmas, then 0 in place of sigma_min (the step convention of every export)
    assert len(sigmas) == 9 and sigmas[-1] == 0
    body = sigmas[:-1]
    # In the model's own range (SD's beta schedule: [0.029, 14.6]), starting at its top.
    assert body[0] == pytest.approx(D.sigma_max, rel=1e-12)
    assert all(D.sigma_min * (1 - 1e-12) <= s <= D.sigma_max * (1 + 1e-12) for s in body)
    assert body == sorted(body, reverse=True)
    # The pipeline run with the export's keyword arguments as they are: exactly 8 UNet calls.
    spy = UNetSpy(pipe)
    pipe("a cat", **doc["kwargs"], output_type="latent")
    assert spy.calls == 8


def test_pipeline_search_in_process_matches_the_library(sd_folder, capsys):
    """The CLI's schedule is gits.search on the adapter of the same pipeline, same settings (seeded)."""
    code, out, err = run(capsys, "search", "--diffusers", sd_folder, "--prompt", "a cat", "--guidance-scale", 3,
                         "--steps", 5, "--format", "list", *SMALL)
    assert code == 0, err
    D = gs.adapters.from_pipeline(load_offline(sd_folder), "a cat", guidance_scale=3.0)
    want = gs.gits.search(D, (4, 8, 8), 5, n_warmup=4, grid_points=21)
    torch.testing.assert_close(torch.tensor(json.loads(out), dtype=torch.float64), want, rtol=1e-6, atol=0)


def test_sample_on_a_pipeline_folder(sd_folder, tmp_path, capsys):
    out = tmp_path / "grid.png"
    code, stdout, err = run(capsys, "sample", "--diffusers", sd_folder, "--prompt", "a cat", "--steps", 3, "--n", 2,
                            "--solver", "euler", "--out", out)
    assert code == 0, err
    latents = np.load(tmp_path / "grid.npy")
    assert latents.shape == (2, 4, 8, 8) and np.isfinite(latents).all()
    from PIL import Image
    assert Image.open(out).size == (2 * 16 + 1, 16)  # decoded by the pipeline's VAE: two 16x16 images, a gap


@pytest.mark.parametrize("argv, match", [
    (["--prompt", "x", "--sigma-max", "80"], "--sigma-max 80 is outside --diffusers .*'s own range"),
    ([], "is a text pipeline .*: give --prompt"),
    (["--prompt", "x", "--shape", "1", "4", "8", "8"], "drop it|batch"),
])
def test_pipeline_errors_are_one_line(sd_folder, capsys, argv, match):
    code, out, err = run(capsys, "search", "--diffusers", sd_folder, "--steps", 3, *SMALL, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert re.search(match, err), err


def test_a_ddpm_folder_takes_no_prompt(tmp_path, capsys):
    tiny_ddpm_pipeline().save_pretrained(tmp_path / "ddpm")
    code, _, err = run(capsys, "search", "--diffusers", tmp_path / "ddpm", "--prompt", "x", "--steps", 3, *SMALL)
    assert code == 2 and "takes no prompt" in err
    code, out, err = run(capsys, "search", "--diffusers", tmp_path / "ddpm", "--steps", 3, "--format", "list",
                         *SMALL)
    assert code == 0, err
    D = gs.adapters.from_pipeline(load_offline(tmp_path / "ddpm"))
    s = json.loads(out)
    assert s[0] == pytest.approx(D.sigma_max) and s[-1] == pytest.approx(D.sigma_min)


def test_not_a_pipeline_folder(tmp_path, capsys):
    code, _, err = run(capsys, "search", "--diffusers", tmp_path, "--steps", 3)
    assert code == 2 and "not a diffusers pipeline folder (no model_index.json" in err


# ---------------------------------------------------------------- a user's denoiser module

MODULE = '''
import torch

C2 = 0.25  # data: N(0, C2 I) in shape (3, 4, 4)


class GaussianDenoiser(torch.nn.Module):
    """The exact denoiser of N(0, C2 I), trained (so to speak) on sigma in [0.01, 20]."""
    sigma_min, sigma_max, shape = 0.01, 20.0, (3, 4, 4)

    def forward(self, x, sigma):
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *[1] * (x.ndim - 1))
        return C2 / (C2 + s ** 2) * x


def make_denoiser():
    return GaussianDenoiser()


def bare(x, sigma):
    s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *[1] * (x.ndim - 1))
    return C2 / (C2 + s ** 2) * x
'''


@pytest.fixture
def user_pkg(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mymodel.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("mypkg", "mypkg.mymodel"):
        sys.modules.pop(name, None)


def test_search_on_a_user_factory_prints_a_schedule_in_its_range(user_pkg):
    r = run_subprocess("search", "--model", "mypkg.mymodel:make_denoiser", "--steps", 8, "--format", "list",
                       "--n-warmup", 8, cwd=user_pkg)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert len(s) == 9 and s[0] == 20.0 and s[-1] == 0.01 and s == sorted(s, reverse=True)


def test_user_denoiser_same_schedule_as_the_library(user_pkg, capsys):
    """A class (a factory), and the function of the same maths given its range and shape, give the library's
    schedule on that range."""
    from mypkg.mymodel import GaussianDenoiser
    want = gs.gits.search(GaussianDenoiser(), (3, 4, 4), 4, n_warmup=8, grid_points=21)
    code, out, err = run(capsys, "search", "--model", "mypkg.mymodel:GaussianDenoiser", "--steps", 4, "--format",
                         "list", "--n-warmup", 8, "--grid-points", 21)
    assert code == 0, err
    assert json.loads(out) == want.tolist()
    code, out, err = run(capsys, "search", "--model", "mypkg.mymodel:bare", "--sigma-min", 0.01, "--sigma-max", 20,
                         "--shape", 3, 4, 4, "--steps", 4, "--format", "list", "--n-warmup", 8, "--grid-points", 21)
    assert code == 0, err
    torch.testing.assert_close(torch.tensor(json.loads(out), dtype=torch.float64), want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("argv, match", [
    (["--model", "mypkg.mymodel:bare", "--shape", "3", "4", "4"],
     "does not say its sigma range .*: give --sigma-min and --sigma-max"),
    (["--model", "mypkg.mymodel:bare", "--sigma-min", "0.01", "--sigma-max", "20"],
     "does not say one sample's shape .*: give --shape"),
    (["--model", "mypkg.mymodel:make_denoiser", "--sigma-max", "80"],
     "--sigma-max 80 is outside --model mypkg.mymodel:make_denoiser's own range \\[0.01, 20\\]"),
    (["--model", "mypkg.mymodel:nothing"], "has no attribute 'nothing'"),
    (["--model", "nopkg.nomodule:f"], "cannot import nopkg.nomodule"),
    (["--model", "mypkg.mymodel:make_denoiser", "--shape", "1", "3", "4", "4"], "includes a batch dimension"),
    (["--model", "gmm-toy", "--shape", "2"], "--shape applies to --diffusers and --model package.module:name"),
    (["--model", "gmm-toy", "--prompt", "x"], "--prompt applies to --diffusers"),
    (["--model", "gmm-toy", "--sigma-max", "100"], "--sigma-max 100 is outside the model's range"),
])
def test_user_model_errors_are_one_line(user_pkg, capsys, argv, match):
    code, out, err = run(capsys, "search", *argv, "--steps", 3, "--n-warmup", 4, "--grid-points", 9)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert re.search(match, err), err


def test_sample_refuses_a_schedule_outside_the_model_range(user_pkg, tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text("[80, 5, 0.5, 0.01]")
    code, _, err = run(capsys, "sample", "--model", "mypkg.mymodel:make_denoiser", "--sigmas-file", path,
                       "--out", tmp_path / "x.png")
    assert code == 2 and "sigma 80 is outside the model's range [0.01, 20]" in err
    path.write_text("[20, 5, 0.5, 0.01]")
    code, out, err = run(capsys, "sample", "--model", "mypkg.mymodel:make_denoiser", "--sigmas-file", path,
                         "--n", 4, "--out", tmp_path / "x.png")
    assert code == 0, err
    assert np.load(tmp_path / "x.npy").shape == (4, 3, 4, 4)


def test_schedule_outside_the_range_is_refused_where_the_cli_prints_it():
    model = gs.models.Model(None, (2,), torch.float64, torch.device("cpu"), 0.1, 10.0, "toy")
    cli._check_in_range(torch.tensor([10.0, 1.0, 0.1, 0.0], dtype=torch.float64), model, "x")  # the final 0 is fine
    with pytest.raises(ValueError, match="sigma 80 is outside the model's range"):
        cli._check_in_range(torch.tensor([80.0, 1.0, 0.1], dtype=torch.float64), model, "the schedule")


# ---------------------------------------------------------------- the library's own errors

class ConvDenoiser(torch.nn.Module):
    """A 2-D convolution as a (bad) denoiser of 3x4x4 images: fails on a 5-D batch, as a real UNet does."""
    sigma_min, sigma_max = 0.01, 20.0

    def __init__(self, shape=None):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        if shape is not None:
            self.shape = shape

    def forward(self, x, sigma):
        return self.conv(x)


@pytest.mark.parametrize("declared, match", [((3, 4, 4), "includes a batch dimension: give one sample's shape"),
                                             (None, "if \\(1, 3, 4, 4\\) includes the batch dimension, drop it")])
def test_a_shape_with_the_batch_dimension_is_a_clear_error(declared, match):
    D = ConvDenoiser(declared).requires_grad_(False)
    with pytest.raises(ValueError, match=match):
        gs.sampling.sample(D, "euler", gs.schedules.polynomial(3, 0.01, 20.0), 2, seed=0, shape=(1, 3, 4, 4))
    with pytest.raises(ValueError, match=match):
        gs.gits.search(D, (1, 3, 4, 4), 2, n_warmup=2, grid_points=5)
    assert gs.gits.search(D, (3, 4, 4), 2, n_warmup=2, grid_points=5)[0] == 20.0  # one sample's shape: runs


def test_a_denoiser_without_a_sigma_range_is_a_clear_error():
    with pytest.raises(ValueError, match="no sigma_min / sigma_max attributes, so its sigma range is unknown"):
        gs.gits.search(lambda x, sigma: x, (2,), 2, n_warmup=2)
    # Given a grid, nothing is assumed: it runs.
    s = gs.gits.search(lambda x, sigma: 0 * x, (2,), 2, n_warmup=2, grid=gs.gits.teacher_grid(5, 0.1, 10.0))
    assert s[0] == 10.0 and s[-1] == 0.1
