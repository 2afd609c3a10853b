"""The `gitscore` command line, run in-process on the closed-form toy (and a 2-step training run)."""
import json

import numpy as np
import pytest
import torch

from gitscore.cli import FORMATS, read_schedule
from gitscore.models import toy_gmm
from gitscore.gits import teacher_grid
from cli_run import run

TINY = ["--model", "gmm-toy", "--steps", "4", "--n-warmup", "16", "--grid-points", "13"]




@pytest.mark.parametrize("cmd", [[], ["search"], ["sample"], ["train"]])
def test_help(capsys, cmd):
    code, out, _ = run(capsys, *cmd, "--help")
    assert code == 0 and out.startswith("usage: gitscore")
    if not cmd:
        assert all(c in out for c in ("search", "sample", "train", "bench", "examples:"))
    if cmd == ["search"]:
        assert "--teacher" in out and "comfyui" in out and "--n-warmup" in out


def test_search_json(tmp_path, capsys):
    out = tmp_path / "s.json"
    code, stdout, err = run(capsys, "search", *TINY, "--format", "json", "--out", str(out))
    assert code == 0 and stdout == "" and "wrote" in err and "Traceback" not in err
    doc = json.loads(out.read_text())
    s = torch.tensor(doc["sigmas"], dtype=torch.float64)
    assert len(s) == 5 and (s[1:] < s[:-1]).all() and doc["n_steps"] == 4
    grid = teacher_grid(13)
    assert s[0] == 80.0 and s[-1] == 0.002 and torch.equal(s, grid[doc["indices"]])
    assert doc["model"] == "gmm-toy" and doc["metric"] == "dev" and doc["seed"] == 0
    # Same seed, same bytes; the schedule comes back from the file exactly.
    out2 = tmp_path / "again.json"
    run(capsys, "search", *TINY, "--format", "json", "--out", str(out2))
    assert out2.read_bytes() == out.read_bytes()
    assert torch.equal(read_schedule(out)[0], s)


def test_search_formats_read_back(tmp_path, capsys):
    code, stdout, _ = run(capsys, "search", *TINY)  # stdout by default
    assert code == 0
    ref = torch.tensor(json.loads(stdout)["sigmas"], dtype=torch.float64)
    for fmt in FORMATS:
        path = tmp_path / f"s.{fmt}"
        assert run(capsys, "search", *TINY, "--format", fmt, "--out", str(path))[0] == 0
        back, meta = read_schedule(path)
        if fmt in ("json", "list"):
            assert torch.equal(back, ref), fmt
        else:  # the sampler forms: the same 4 steps, the last sigma replaced by 0 (read back as the step to 0)
            torch.testing.assert_close(back, ref[:-1], rtol=1e-7, atol=0)
            assert meta["to_zero"] is True
    # list: the N+1 sigmas; k-diffusion / comfyui / diffusers: the last sigma replaced by 0 (N calls).
    assert json.loads((tmp_path / "s.list").read_text()) == ref.tolist()
    assert json.loads((tmp_path / "s.k-diffusion").read_text()) == ref.tolist()[:-1] + [0.0]
    assert json.loads((tmp_path / "s.diffusers").read_text())["kwargs"]["sigmas"] == ref.tolist()[:-1] + [0.0]
    assert (tmp_path / "s.comfyui").read_text().strip().endswith(", 0")


@pytest.mark.parametrize("flag, bad, valid", [("--metric", "l3", "'dev', 'l2', 'l1'"),
                                              ("--solver", "rk4", "'deis', 'dpm2'"),
                                              ("--format", "yaml", "'json', 'diffusers'"),
                                              ("--model", "sd15", "'fmnist', 'kde', 'gmm-toy'")])
def test_bad_choice_lists_valid_ones(capsys, flag, bad, valid):
    code, _, err = run(capsys, "search", *TINY, flag, bad)
    assert code == 2 and "invalid choice" in err and valid in err


def test_library_errors_are_messages(capsys, tmp_path):
    code, _, err = run(capsys, "search", "--model", "gmm-toy", "--steps", "20", "--grid-points", "13")
    assert code == 2 and "--steps (20) must be smaller than --grid-points (13)" in err and "Traceback" not in err
    code, _, err = run(capsys, "search", *TINY, "--n-warmup", "0")
    assert code == 2 and "--n-warmup" in err and ">= 1" in err
    (tmp_path / "bad.json").write_text("[1.0, 2.0]")
    code, _, err = run(capsys, "sample", "--model", "gmm-toy", "--sigmas-file", str(tmp_path / "bad.json"))
    assert code == 2 and "strictly decreasing" in err and "Traceback" not in err
    code, _, err = run(capsys, "sample", "--model", "gmm-toy", "--solver", "euler", "--order", "2")
    assert code == 2 and "--order" in err
    code, _, err = run(capsys, "sample", "--model", "fmnist", "--checkpoint", str(tmp_path / "none.safetensors"))
    assert code == 2 and "not found" in err


def test_sample_writes_png_and_npy(tmp_path, capsys):
    sched = tmp_path / "s.json"
    run(capsys, "search", *TINY, "--out", str(sched))
    png = tmp_path / "grid.png"
    code, out, _ = run(capsys, "sample", "--model", "gmm-toy", "--sigmas-file", str(sched), "--solver", "heun",
                       "--n", "8", "--out", str(png))
    assert code == 0 and "NFE 8 per sample" in out  # heun: 2 per step, 4 steps
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    x = np.load(tmp_path / "grid.npy")
    assert x.shape == (8, 2) and np.isfinite(x).all()
    # Sample j depends only on (seed, j): a smaller batch gives the first rows again.
    run(capsys, "sample", "--model", "gmm-toy", "--sigmas-file", str(sched), "--solver", "heun", "--n", "3",
        "--batch-size", "2", "--out", str(tmp_path / "few.png"))
    np.testing.assert_array_equal(np.load(tmp_path / "few.npy"), x[:3])


def test_sample_runs_an_exported_sampler_form(tmp_path, capsys):
    """A k-diffusion / ComfyUI export read back: its N steps in N Euler calls, the last to 0 (= D at sigma_{N-1})."""
    sched = tmp_path / "s.k-diffusion"
    run(capsys, "search", *TINY, "--format", "k-diffusion", "--out", str(sched))
    png = tmp_path / "k.png"
    code, out, _ = run(capsys, "sample", "--model", "gmm-toy", "--sigmas-file", str(sched), "--solver", "euler",
                       "--n", "5", "--steps", "4", "--out", str(png))
    assert code == 0 and "4 steps (the last to 0), NFE 4 per sample" in out
    sigmas, _ = read_schedule(sched)
    want = sample_with_final_zero(toy_gmm(), sigmas)
    np.testing.assert_allclose(np.load(tmp_path / "k.npy"), want.float().numpy(), rtol=0, atol=0)
    code, _, err = run(capsys, "sample", "--model", "gmm-toy", "--sigmas-file", str(sched), "--steps", "3",
                       "--out", str(tmp_path / "x.png"))
    assert code == 2 and "which has 4 steps" in err


def sample_with_final_zero(D, sigmas):
    """Euler over the positive sigmas, then the step to 0 (the denoiser's output), for 5 samples of seed 0."""
    from gitscore.sampling import sample
    return sample(D, "euler", sigmas, 5, seed=0, shape=(2,), dtype=torch.float64, to_zero=True)


def test_sample_lands_on_the_toy_data(tmp_path, capsys):
    """A fine Heun solve maps noise onto the 8 modes (std 0.1) on the unit circle."""
    code, out, _ = run(capsys, "sample", "--model", "gmm-toy", "--solver", "heun", "--schedule", "polynomial",
                       "--steps", "40", "--n", "64", "--out", str(tmp_path / "t.png"))
    assert code == 0 and "NFE 80" in out
    r = np.linalg.norm(np.load(tmp_path / "t.npy"), axis=1)
    assert np.abs(r - 1).max() < 0.5 and abs(np.median(r) - 1) < 0.1
    D = toy_gmm(5)
    assert D.means.shape == (8, 5) and torch.allclose(D.means[:, :2].norm(dim=1), torch.ones(8, dtype=torch.float64))
    with pytest.raises(ValueError, match="dim"):
        toy_gmm(1)


def test_bench_is_a_subcommand(capsys):
    code, out, _ = run(capsys, "bench", "--help")
    assert code == 0 and "usage: gitscore bench" in out
    assert all(opt in out for opt in ("--solvers", "--schedules", "--nfe", "--kde-size", "--reference-from", "--out"))
    code, _, err = run(capsys, "bench", "--out", "x", "--nfe", "0")
    assert code == 2 and "gitscore bench: error: --nfe values must be integers >= 1" in err and "Traceback" not in err
    code, _, err = run(capsys, "bench", "--solvers", "rk4", "--out", "x")
    assert code == 2 and "invalid choice: 'rk4'" in err


def test_bench_command_lines_of_the_results_give_their_configs():
    """Every `gitscore bench ...` line in results/README.md parses to the config stored in its run."""
    import re
    import shlex
    from dataclasses import asdict
    from pathlib import Path

    from gitscore.cli import bench_config, build_parser

    results = Path(__file__).resolve().parents[1] / "results"
    lines = re.findall(r"`(gitscore bench [^`]*)`", (results / "README.md").read_text())
    assert lines
    for line in lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        assert args.func.__name__ == "cmd_bench"
        stored = json.loads((results.parent / args.out / "results.json").read_text())["config"]
        assert asdict(bench_config(args)) == stored, line


def test_train_wiring(monkeypatch, tmp_path, capsys):
    """`train` hands its flags to gitscore.train.train and exports the run's checkpoint (training: test_train)."""
    import gitscore.data
    import gitscore.train

    calls = {}
    images = torch.zeros(8, 1, 28, 28)
    monkeypatch.setattr(gitscore.data, "fashion_mnist", lambda split="train": (images, torch.zeros(8)))
    monkeypatch.setattr(gitscore.train, "train", lambda data, out_dir, config, **kw: calls.update(
        data=data, out_dir=out_dir, config=config, **kw) or (None, config.steps))
    monkeypatch.setattr(gitscore.train, "export_ema", lambda ckpt, out: calls.update(export=(ckpt, out)))
    code, out, _ = run(capsys, "train", "--out", str(tmp_path), "--steps", "7", "--batch-size", "4", "--lr", "2e-4",
                       "--seed", "3", "--checkpoint-every", "5", "--export", str(tmp_path / "m.safetensors"),
                       "--device", "cpu", "--no-progress", "--precision", "bf16")
    assert code == 0 and "step 7" in out and calls["data"] is images and calls["progress"] is False
    c = calls["config"]
    assert (c.steps, c.batch_size, c.lr, c.seed, c.checkpoint_every, c.precision) == (7, 4, 2e-4, 3, 5, "bf16")
    assert calls["export"] == (tmp_path, str(tmp_path / "m.safetensors"))  # the run folder: its newest checkpoint


def test_sample_from_checkpoints(tmp_path, capsys):
    """--checkpoint takes an exported model and a training checkpoint (its EMA weights)."""
    from gitscore.nets import build_denoiser, save_weights

    config = {"unet": {"channels": [8, 16], "blocks": 1, "emb_dim": 16, "attention": False, "patch": 2},
              "sigma_data": 0.5}
    torch.manual_seed(0)
    net = build_denoiser(config)
    for p in net.parameters():  # the U-Net starts with zeroed output layers; make F non-trivial
        p.data.normal_(0, 0.05)
    state = net.state_dict()
    save_weights(tmp_path / "model.safetensors", state, config)
    both = {f"model.{k}": torch.zeros_like(v) for k, v in state.items()} | {f"ema.{k}": v for k, v in state.items()}
    save_weights(tmp_path / "run" / "checkpoint.safetensors", both, {"model_config": config, "step": 1})
    arrays = []
    for ckpt in (tmp_path / "model.safetensors", tmp_path / "run" / "checkpoint.safetensors"):
        png = tmp_path / f"{ckpt.parent.name}.png"
        code, out, _ = run(capsys, "sample", "--model", "fmnist", "--checkpoint", str(ckpt), "--device", "cpu",
                           "--solver", "euler", "--steps", "2", "--n", "2", "--out", str(png))
        assert code == 0 and "NFE 2" in out
        arrays.append(np.load(png.with_suffix(".npy")))
    assert arrays[0].shape == (2, 1, 28, 28)
    np.testing.assert_array_equal(arrays[0], arrays[1])  # the EMA weights, not the zeroed model ones


def test_search_precision_auto_is_bf16_only_for_our_unets_on_fast_devices(tmp_path, capsys, monkeypatch):
    from gitscore.denoisers import Autocast
    from gitscore.nets import build_denoiser, save_weights

    def precision(*args):
        out = tmp_path / "s.json"
        code, _, err = run(capsys, "search", *args, "--format", "json", "--out", str(out))
        assert code == 0, err
        return json.loads(out.read_text())["precision"]

    config = {"unet": {"channels": [8, 16], "blocks": 1, "emb_dim": 16, "attention": False, "patch": 2},
              "sigma_data": 0.5}
    torch.manual_seed(0)
    save_weights(tmp_path / "model.safetensors", build_denoiser(config).state_dict(), config)
    unet = ["--model", "fmnist", "--checkpoint", str(tmp_path / "model.safetensors"), "--device", "cpu",
            "--steps", "3", "--n-warmup", "4", "--grid-points", "9"]
    for fast in (True, False):
        monkeypatch.setattr(Autocast, "fast_on", staticmethod(lambda device, fast=fast: fast))
        assert precision(*unet) == ("bf16" if fast else "fp32")
        assert precision(*TINY) == "fp32"  # a closed form (here the 2-D GMM) is never autocast
        assert precision(*unet, "--precision", "fp32") == "fp32"
        assert precision(*unet, "--precision", "bf16") == "bf16"


def test_autocast_wrapper():
    from gitscore.denoisers import Autocast
    from gitscore.nets import build_denoiser

    torch.manual_seed(0)
    net = build_denoiser({"unet": {"channels": [8, 16], "blocks": 1, "emb_dim": 16, "attention": True, "patch": 2}})
    for p in net.parameters():
        p.data.normal_(0, 0.05)
    x, sigma = torch.randn(4, 1, 28, 28), torch.tensor([0.1, 1.0, 5.0, 40.0])
    with torch.no_grad():
        want, got = net(x, sigma), Autocast(net)(x, sigma)
    # float32 out, and float32's output up to bfloat16's rounding (8 mantissa bits)
    assert got.dtype == torch.float32 and not torch.equal(got, want)
    assert float((got - want).norm() / want.norm()) < 2 ** -5
    assert (Autocast(net).sigma_min, Autocast(net).sigma_max) == (net.sigma_min, net.sigma_max)
    with pytest.raises(ValueError, match="dtype must be one of torch.bfloat16, torch.float16"):
        Autocast(net, torch.float64)
    assert Autocast.fast_on("meta") is False


def test_the_cli_starts_without_fcntl():
    # fcntl exists on POSIX only: the CLI (and bench, which locks through filelock) must not need it to start
    import subprocess
    import sys
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "from gitscore import bench, cli\n"
            "cli.build_parser().parse_args(['bench', '--out', 'x']); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
