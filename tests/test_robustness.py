"""Hostile inputs and faults (issue 11) and the sigma contract (issue 10): nothing lost, nothing replaced,
a clear message for every bad input."""
import csv
import itertools
import math
import os
import shutil
import subprocess
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from gitscore import bench, checkpoints, files, dist, gits, nets, schedules, solvers
from gitscore.denoisers import GaussianDenoiser, KDEDenoiser
from gitscore.train import TrainConfig, export_ema, train
from cli_run import run

TINY = dict(channels=[8, 16], blocks=1, emb_dim=32, attention=False, patch=2)
QUIET = dict(device="cpu", progress=False, log=lambda *_: None)


# ---------------------------------------------------------------- sigma contract (issue 10)

VAR = 0.3


def kdiff_denoiser(x, s):
    """A denoiser written as k-diffusion writes them: sigma a (B,) tensor in x's dtype and device."""
    assert torch.is_tensor(s) and s.shape == (x.shape[0],) and s.dtype == x.dtype and s.device == x.device
    s = s.reshape(-1, 1, 1, 1)
    return x * VAR / (VAR + s ** 2) + 0 * s.log()  # exact D of N(0, VAR I); log() must work


class EDMStyle(nn.Module):
    """EDM's `net(x, sigma)` form: c_skip, c_out from sigma.reshape(-1, 1, 1, 1), c_noise = sigma.log() / 4."""

    def forward(self, x, sigma):
        sigma = sigma.to(torch.float64).reshape(-1, 1, 1, 1)
        c_noise = sigma.log() / 4
        return (x * VAR / (VAR + sigma ** 2) + 0 * c_noise).to(x.dtype)


@pytest.mark.parametrize("name", sorted(solvers.SOLVERS))
def test_every_solver_hands_sigma_as_a_batch_tensor(name):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 1, 4, 4, dtype=torch.float64, generator=g) * 10.0
    sigmas = schedules.polynomial(40, 0.05, 10.0)
    exact = GaussianDenoiser(torch.zeros(1, 4, 4), VAR).exact_solution(x, 10.0, 0.05)
    for D in (kdiff_denoiser, EDMStyle()):
        y = solvers.SOLVERS[name](D, x, sigmas)
        assert (y - exact).abs().max() < 0.05, name  # the ODE really was solved


def test_network_results_unchanged_by_the_tensor_sigma():
    """EDMPrecond turns a float sigma into the same tensor: samples are bit-identical to the float contract."""
    torch.manual_seed(0)
    net = nets.build_denoiser({"unet": TINY}).eval()
    for p in net.parameters():
        p.data.normal_(0, 0.05)
    x = 80 * torch.randn(2, 1, 28, 28)
    sigmas = schedules.polynomial(3)
    with torch.no_grad():
        a = solvers.sample_heun(net, x, sigmas)
        b = solvers.sample_heun(lambda y, s: net(y, float(s[0])), x, sigmas)
    assert torch.equal(a, b)


# ---------------------------------------------------------------- 8: the denoiser's output is checked

@pytest.mark.parametrize("name", sorted(solvers.SOLVERS))
def test_denoiser_output_is_checked(name):
    x = torch.randn(4, 2, dtype=torch.float64)
    sigmas = schedules.polynomial(3, 0.1, 10.0)
    with pytest.raises(ValueError, match=rf"sample_{name}: .*shape \(4, 1\) at step 0 \(sigma=10\).*\(4, 2\)"):
        solvers.SOLVERS[name](lambda y, s: y[:, :1], x, sigmas)
    with pytest.raises(TypeError, match=rf"sample_{name}: the denoiser returned NoneType at step 0"):
        solvers.SOLVERS[name](lambda y, s: None, x, sigmas)
    calls = []  # a wrong shape from a later call (Heun's correction, UniPC's corrector, ...) names the solver too
    late = lambda y, s: calls.append(1) or (y if len(calls) == 1 else y[:, :1])
    with pytest.raises(ValueError, match=rf"sample_{name}: the denoiser returned shape \(4, 1\)"):
        solvers.SOLVERS[name](late, x, sigmas)


def test_half_precision_state_warns():
    x = torch.randn(2, 3).to(torch.bfloat16)
    with pytest.warns(UserWarning, match="float32"):
        solvers.sample_euler(lambda y, s: 0 * y, x, schedules.polynomial(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solvers.sample_euler(lambda y, s: 0 * y, x.float(), schedules.polynomial(2))


# ---------------------------------------------------------------- 9: schedules check what they return

@pytest.mark.parametrize("fn, kw, name", [
    (schedules.polynomial, dict(rho=math.inf), "rho"), (schedules.polynomial, dict(rho=1e-3), "rho"),
    (schedules.time_uniform, dict(rho=math.inf), "rho"), (schedules.time_uniform, dict(sigma_max=1e200), "sigma_max"),
    (schedules.polynomial, dict(sigma_max=1e200), "sigma_max"),
    (schedules.time_uniform, dict(sigma_min=1e-300), "sigma_min"),
])
def test_schedules_refuse_what_they_cannot_compute(fn, kw, name):
    with pytest.raises(ValueError, match=name):
        fn(5, **kw)


def test_schedule_refuses_repeated_sigmas():
    # 1e6 steps between two neighbouring doubles cannot be strictly decreasing.
    with pytest.raises(ValueError, match="strictly decreasing"):
        schedules.logsnr(1000, 1.0, 1.0 + 1e-13)


# ---------------------------------------------------------------- 7: the GITS DP never returns an invalid path

def _brute_force(C, K, coeff):
    """Exact minimum over all paths, in rational arithmetic (no overflow)."""
    M, c = len(C), Fraction(coeff)
    best = None
    for mid in itertools.combinations(range(1, M - 1), K - 1):
        p = [0, *mid, M - 1]
        v = sum(c ** k * Fraction(C[p[k], p[k + 1]]) for k in range(K))
        best = min(best, (v, p)) if best else (v, p)
    return best[1]


@pytest.mark.parametrize("scale, coeff, K", [(1.5e308, 1.15, 6), (1.0, 1e120, 4), (1e300, 1e100, 4),
                                             (-1.5e308, 1.15, 6), (1e307, 1e-200, 4), (1.0, 1.15, 6)])
def test_dp_overflow_still_finds_the_optimum(scale, coeff, K):
    rng = np.random.default_rng(1)
    M = 9
    C = np.full((M, M), np.inf)
    iu = np.triu_indices(M, 1)
    C[iu] = scale * (0.1 + rng.random(len(iu[0])))
    path = gits.dp(C, K, coeff)
    assert path == _brute_force(C, K, coeff)


# ---------------------------------------------------------------- 6, 12: KDE top-k and tiny sigma

def test_kde_nearest_any_k_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    Y = torch.randn(60, 6, dtype=torch.float64, generator=g)
    kde = KDEDenoiser(Y, block_size=4, device="cpu", dtype=torch.float64)
    x = torch.randn(5, 6, dtype=torch.float64, generator=g)
    full = torch.cdist(x, Y)
    for k in (9, 25, 60):  # > 2 x block_size, up to N
        d, i = kde.nearest(x, k)
        want_d, want_i = full.topk(k, largest=False)
        assert torch.equal(i, want_i)
        torch.testing.assert_close(d, want_d, rtol=1e-12, atol=1e-12)
    w, i = kde.weights_topk(x, 0.5, k=30)
    logits = -full ** 2 / (2 * 0.25)
    want_w, want_i = torch.softmax(logits, 1).topk(30)
    assert torch.equal(i, want_i)
    torch.testing.assert_close(w, want_w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kde_at_vanishing_sigma_is_the_nearest_point(dtype):
    g = torch.Generator().manual_seed(0)
    Y = torch.randn(40, 1, 3, 3, generator=g)
    kde = KDEDenoiser(Y, block_size=8, device="cpu", dtype=dtype)
    x = (Y[[3, 17, 30]] + 0.01 * torch.randn(3, 1, 3, 3, generator=g)).to(dtype)
    for sigma in (1e-19, 1e-30, 1e-200 if dtype == torch.float64 else 1e-44):
        D = kde(x, torch.full((3,), sigma, dtype=dtype))
        assert torch.equal(D, kde.points(torch.tensor([3, 17, 30])).to(dtype)), sigma


# ---------------------------------------------------------------- 10: batch split (see also tests/test_sampling.py)

def test_shard_by_batches():
    for n, B, world in itertools.product((0, 1, 7, 10, 257), (1, 3, 256), (1, 2, 3, 8)):
        parts = [dist.shard(n, r, world, batch_size=B) for r in range(world)]
        assert parts[0][0] == 0 and parts[-1][1] == n and all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
        assert all(a % B == 0 or a == n for a, _ in parts)  # every rank starts on a batch boundary


# ---------------------------------------------------------------- 2: writers never replace links or devices

def test_atomic_write_follows_symlinks_and_never_replaces_devices(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    files.atomic_write_bytes(link, b"new")
    assert link.is_symlink() and target.read_text() == "new"
    with pytest.raises(ValueError, match="not a regular file"):
        files.atomic_write_bytes("/dev/null", b"x")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="not a regular file"):
        files.atomic_write_bytes(tmp_path / "fifo", b"x")
    (tmp_path / "dev").symlink_to("/dev/null")
    with pytest.raises(ValueError, match="symlink to /dev/null"):
        files.check_output_file(tmp_path / "dev")
    with pytest.raises(ValueError, match="is a folder"):
        files.atomic_write_bytes(tmp_path, b"x")


# ---------------------------------------------------------------- 1, 4: training checkpoints

def _data(n=32):
    g = torch.Generator().manual_seed(0)
    return torch.tanh(torch.nn.functional.interpolate(torch.randn(n, 1, 7, 7, generator=g), size=28, mode="bilinear"))


def _cfg(**kw):
    return TrainConfig(**({"steps": 24, "batch_size": 4, "lr": 2e-3, "warmup": 5, "checkpoint_every": 8,
                           "ema_decay": 0.5, "unet": TINY} | kw))


def _log_steps(run):
    rows = list(csv.reader(open(run / "train_log.csv")))
    assert rows[0] == ["step", "loss", "lr", "elapsed_s"]
    return [int(r[0]) for r in rows[1:]], {int(r[0]): r[1] for r in rows[1:]}


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("ref")
    ema, _ = train(_data(), run, _cfg(), **QUIET)
    return ema, _log_steps(run)[1]


def test_checkpoint_is_one_unit_and_the_previous_is_kept(tmp_path, reference_run):
    run = tmp_path / "run"
    train(_data(), run, _cfg(), stop_after=16, **QUIET)
    assert sorted(p.name for p in run.glob("ckpt-*")) == ["ckpt-00000008", "ckpt-00000016"]
    assert (run / "LATEST").read_text().strip() == "ckpt-00000016"
    # A kill that corrupted the newest checkpoint: resume from the previous one, same result, log exact.
    blob = run / "ckpt-00000016" / "checkpoint.safetensors"
    blob.write_bytes(blob.read_bytes()[:-100])
    messages = []
    ema, step = train(_data(), run, _cfg(), device="cpu", progress=False, log=messages.append)
    assert step == 24 and _same(ema, reference_run[0])
    assert any("skipping checkpoint" in m and "ckpt-00000016" in m for m in messages)
    steps, losses = _log_steps(run)
    assert steps == list(range(1, 25)) and losses == reference_run[1]


def test_kill_between_log_and_checkpoint_loses_and_repeats_nothing(tmp_path, monkeypatch, reference_run):
    import gitscore.train as T

    run = tmp_path / "run"
    real = T.save_training
    calls = []

    def dying(*a, **kw):  # the second checkpoint never lands: killed after the log rows were appended
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(T, "save_training", dying)
    with pytest.raises(KeyboardInterrupt):
        train(_data(), run, _cfg(), **QUIET)
    assert _log_steps(run)[0] == list(range(1, 17))  # rows ahead of the checkpoint (step 8)
    monkeypatch.setattr(T, "save_training", real)
    ema, _ = train(_data(), run, _cfg(), **QUIET)
    steps, losses = _log_steps(run)
    assert steps == list(range(1, 25)) and losses == reference_run[1] and _same(ema, reference_run[0])
    assert not list(run.glob(".ckpt-*"))


def test_large_weights_are_split_into_verified_parts(tmp_path):
    """Weights over part_bytes go to several files; loading joins them exactly, the first file's sha256
    covers every part, and a changed or missing part is refused by name."""
    g = torch.Generator().manual_seed(0)
    tensors = {f"t{i}": torch.randn(100, generator=g) for i in range(7)}  # 400 bytes each
    path = tmp_path / "w.safetensors"
    checkpoints.save_weights(path, tensors, {"k": 1}, part_bytes=1000)  # 2 tensors per part: 4 files
    assert sorted(p.name for p in tmp_path.glob("w*.safetensors")) == [
        "w-part2.safetensors", "w-part3.safetensors", "w-part4.safetensors", "w.safetensors"]
    loaded, config = checkpoints.load_weights(path)
    assert config == {"k": 1} and loaded.keys() == tensors.keys()
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())
    first = path.read_bytes()
    tensors["t6"] = tensors["t6"] + 1  # only the last part changes ...
    checkpoints.save_weights(path, tensors, {"k": 1}, part_bytes=1000)
    assert path.read_bytes() != first  # ... and the first file's digest with it
    part = tmp_path / "w-part3.safetensors"
    blob = part.read_bytes()
    part.write_bytes(blob[:-4] + b"\0\0\0\1")
    with pytest.raises(checkpoints.CheckpointError, match="sha256 of .*w-part3.safetensors"):
        checkpoints.load_weights(path)
    part.unlink()
    with pytest.raises(checkpoints.CheckpointError, match="w-part3.safetensors not found.*copy the whole folder"):
        checkpoints.load_weights(path)
    checkpoints.save_weights(path, tensors, {"k": 1})  # small enough for one file: the parts go
    assert [p.name for p in tmp_path.glob("w*.safetensors")] == ["w.safetensors"]
    assert all(torch.equal(checkpoints.load_weights(path)[0][k], v) for k, v in tensors.items())


def test_checkpoint_in_parts_resumes_bit_identically(tmp_path, monkeypatch, reference_run):
    monkeypatch.setattr(checkpoints, "PART_BYTES", 4096)
    run = tmp_path / "run"
    train(_data(), run, _cfg(), stop_after=16, **QUIET)
    assert len(list((run / "ckpt-00000016").glob("checkpoint-part*.safetensors"))) >= 2
    ema, step = train(_data(), run, _cfg(), **QUIET)
    assert step == 24 and _same(ema, reference_run[0])
    export_ema(run, tmp_path / "m.safetensors")
    assert nets.load_checkpoint(tmp_path / "m.safetensors").config["training"]["steps"] == 24


def test_legacy_checkpoint_resumes_and_exports(tmp_path, reference_run):
    """A run folder in the pre-versioned layout (checkpoint.safetensors + .json + MANIFEST.json, log appended
    after the checkpoint) resumes bit-identically and exports."""
    run = tmp_path / "legacy"
    train(_data(), run, _cfg(), stop_after=8, **QUIET)
    for f in (run / "ckpt-00000008").iterdir():
        shutil.move(f, run / f.name)
    shutil.rmtree(run / "ckpt-00000008")
    (run / "LATEST").unlink()
    assert sorted(p.name for p in run.iterdir() if p.name != ".lock") == [
        "MANIFEST.json", "checkpoint.json", "checkpoint.safetensors", "train_log.csv"]
    export_ema(run, tmp_path / "legacy_model.safetensors")
    assert nets.load_checkpoint(tmp_path / "legacy_model.safetensors").config["training"]["steps"] == 8
    export_ema(run / "checkpoint.safetensors", tmp_path / "m2.safetensors")
    ema, step = train(_data(), run, _cfg(), **QUIET)
    assert step == 24 and _same(ema, reference_run[0]) and _log_steps(run)[0] == list(range(1, 25))


def test_resume_refuses_changed_hyperparameters_and_export_onto_itself(tmp_path):
    run = tmp_path / "run"
    train(_data(), run, _cfg(steps=8), **QUIET)
    with pytest.raises(ValueError, match=r"lr: 0.002 -> 0.001.*--allow-config-change"):
        train(_data(), run, _cfg(steps=8, lr=1e-3), **QUIET)
    with pytest.raises(ValueError, match="different network"):
        train(_data(), run, _cfg(steps=8, unet=TINY | {"blocks": 2}), allow_config_change=True, **QUIET)
    _, step = train(_data(), run, _cfg(steps=10, checkpoint_every=5), **QUIET)  # longer: allowed
    assert step == 10
    _, step = train(_data(), run, _cfg(steps=12, lr=1e-3), allow_config_change=True, **QUIET)
    tensors, meta = checkpoints.load_weights(run / "ckpt-00000012" / "checkpoint.safetensors")
    assert step == 12 and meta["config_changes"] == [{"step": 10, "changed": {"lr": [2e-3, 1e-3]}}]
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for dest in (run / "checkpoint.safetensors", run / "ckpt-00000012" / "checkpoint.safetensors", run / "LATEST"):
        with pytest.raises(ValueError, match="would overwrite the training checkpoint"):
            export_ema(run, dest)
    assert before == {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


def test_checkpoint_for_another_network_is_a_clear_error(tmp_path):
    checkpoints.save_weights(tmp_path / "m.safetensors", {"w": torch.zeros(3)}, {"unet": {"channels": [8, 16]}})
    with pytest.raises(checkpoints.CheckpointError, match="does not match its config"):
        nets.load_checkpoint(tmp_path / "m.safetensors")
    checkpoints.save_weights(tmp_path / "b.safetensors", {"w": torch.zeros(3)}, {"unet": {"wings": 2}})
    with pytest.raises(checkpoints.CheckpointError, match="config this U-Net cannot be built from"):
        nets.load_checkpoint(tmp_path / "b.safetensors")
    (tmp_path / "c.json").write_text("{not json")
    from safetensors.torch import save
    (tmp_path / "c.safetensors").write_bytes(save({"w": torch.zeros(3)}))
    with pytest.raises(checkpoints.CheckpointError, match="not valid JSON"):
        checkpoints.load_weights(tmp_path / "c.safetensors", verify=False)
    from gitscore import metrics
    with pytest.raises(checkpoints.CheckpointError, match="classifier"):
        metrics.load_classifier(tmp_path / "m.safetensors")


# ---------------------------------------------------------------- 3: bench locks its folder

def test_bench_refuses_a_second_run_into_the_same_folder(tmp_path):
    cfg = bench.BenchConfig(model="kde", kde_size=50, solvers=["euler"], schedules=["polynomial"], nfes=[2],
                            n_fd=0, n_ref=2, ref_steps=4, batch_size=2)
    # another process holds the folder's lock (filelock, as bench takes it) and names itself in .lock.owner
    holder = subprocess.Popen([sys.executable, "-c", "import time\nfrom filelock import FileLock\n"
                               f"lock = FileLock({str(tmp_path / '.lock')!r}); lock.acquire()\n"
                               f"open({str(tmp_path / '.lock.owner')!r}, 'w')"
                               ".write('pid 4242 (gitscore bench --out x)')\n"
                               "print('locked', flush=True)\ntime.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=r"in use by pid 4242 \(gitscore bench --out x\)"):
            bench.run_bench(cfg, tmp_path, progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("kw, match", [
    (dict(batch_size=0), "--batch-size must be an integer >= 1, got 0"),
    (dict(batch_size=-1), "--batch-size must be an integer >= 1, got -1"),
    (dict(coeff=math.nan), "--coeff must be a finite number > 0, got nan"),
    (dict(coeff=math.inf), "--coeff must be a finite number > 0, got inf"),
    (dict(solvers=["heun"], nfes=[3]), "--nfe 3 is not reachable by --solvers heun"),
    (dict(nfes=[12], grid_points=9), "--nfe 12 needs 12 steps"),
])
def test_bench_config_is_checked(kw, match):
    cfg = bench.BenchConfig(**({"solvers": ["euler", "heun"], "schedules": ["gits_dev"], "nfes": [4]} | kw))
    with pytest.raises(ValueError, match=match):
        cfg.validate()


# ---------------------------------------------------------------- 11: the CLI validates before any work

TOY = ["--model", "gmm-toy", "--steps", "2", "--n-warmup", "4", "--grid-points", "5"]


@pytest.fixture
def no_work(monkeypatch):
    """Loading a model counts as work: every bad input must be refused before it."""
    import gitscore.cli
    monkeypatch.setattr(gitscore.cli, "load_model", lambda *a, **k: pytest.fail("work started before validation"))


def _bad_inputs(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "binary.json").write_bytes(bytes(range(256)))
    (tmp_path / "null.png").symlink_to("/dev/null")
    return [
        (["search", *TOY, "--out", tmp_path / "folder"], "--out .*folder is a folder"),
        (["search", *TOY, "--out", tmp_path / "file" / "s.json"], "--out .*file is a file, not a folder"),
        (["search", *TOY, "--out", "/proc/gitscore-test.json"],
         "--out /proc/gitscore-test.json: cannot write in /proc"),
        (["sample", *TOY, "--out", tmp_path / "null.png"], "--out .*symlink to /dev/null.* not a regular file"),
        (["sample", *TOY, "--out", tmp_path / "folder" / "g.npy"], "--out must be a .png"),
        (["search", *TOY, "--device", "foo"], "--device must be auto, cpu, cuda, cuda:N or mps, got 'foo'"),
        (["sample", *TOY, "--sigmas-file", tmp_path / "folder", "--out", tmp_path / "g.png"],
         "--sigmas-file .* is a folder"),
        (["sample", "--model", "fmnist", "--checkpoint", tmp_path / "folder", "--out", tmp_path / "g.png"],
         "--checkpoint .*folder is a folder"),
        (["train", "--out", tmp_path / "file"], "--out .*file exists and is not a folder"),
        (["train", "--out", tmp_path / "run", "--export", tmp_path / "run" / "checkpoint.safetensors"],
         "--export .* would overwrite the training checkpoint"),
        (["bench", "--out", tmp_path / "b", "--batch-size", "0"], "--batch-size must be an integer >= 1, got 0"),
        (["bench", "--out", tmp_path / "b", "--batch-size", "-1"], "--batch-size must be an integer >= 1, got -1"),
        (["bench", "--out", tmp_path / "b", "--coeff", "nan"], "--coeff must be a finite number > 0, got nan"),
        (["bench", "--out", tmp_path / "b", "--coeff", "inf"], "--coeff must be a finite number > 0, got inf"),
        (["bench", "--out", tmp_path / "b", "--solvers", "heun", "--nfe", "3"], "--nfe 3 is not reachable"),
        (["bench", "--out", tmp_path / "file"], "--out .*file exists and is not a folder"),
    ]


def test_bad_inputs_are_one_line_messages_before_any_work(tmp_path, capsys, no_work):
    import re
    for argv, match in _bad_inputs(tmp_path):
        code, out, err = run(capsys, *argv)
        assert code == 2 and re.search(match, err), (argv, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "b").exists() and not (tmp_path / "run").exists() and not (tmp_path / "g.npy").exists()


def test_bad_files_read_at_load_time_are_messages(tmp_path, capsys, monkeypatch):
    (tmp_path / "binary.json").write_bytes(bytes(range(256)))
    code, _, err = run(capsys, "sample", *TOY, "--sigmas-file", tmp_path / "binary.json", "--out", tmp_path / "g.png")
    assert code == 2 and "--sigmas-file" in err and "not a text file" in err
    # A checkpoint for another network.
    cfg = {"unet": dict(TINY, channels=[16, 32]), "sigma_data": 0.5}
    nets.save_weights(tmp_path / "other.safetensors", nets.build_denoiser({"unet": TINY}).state_dict(), cfg)
    code, _, err = run(capsys, "sample", "--model", "fmnist", "--checkpoint", tmp_path / "other.safetensors",
                        "--device", "cpu", "--out", tmp_path / "g.png")
    assert code == 2 and "does not match its config" in err and len(err.strip().splitlines()) == 1
    # cuda on a build or machine without it.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = run(capsys, "search", *TOY, "--device", "cuda")
    assert code == 2 and "--device cuda: CUDA is not available" in err
    # A data file that is not gzip.
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes(b"not gzip at all")
    monkeypatch.setenv("GITSCORE_DATA", str(tmp_path))
    code, _, err = run(capsys, "sample", "--model", "kde", "--kde-size", "5", "--out", tmp_path / "g.png")
    assert code == 2 and "GITSCORE_DATA" in err and "gzip" in err and "Traceback" not in err


def test_bench_bad_input_exits_2_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gitscore", "bench", "--out", str(tmp_path / "b"), "--coeff", "nan"],
                       capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip() == "gitscore bench: error: --coeff must be a finite number > 0, got nan"


# ---------------------------------------------------------------- 5: sample draws bounded batches

def test_sample_draws_bounded_batches_into_the_npy(tmp_path, capsys, monkeypatch):
    import gitscore.cli as cli

    sizes = []
    real = cli.load_model

    def counted(*a, **k):
        model = real(*a, **k)
        D = model.denoiser
        model.denoiser = lambda x, s: sizes.append(len(x)) or D(x, s)
        return model

    monkeypatch.setattr(cli, "load_model", counted)
    code, out, _ = run(capsys, "sample", "--model", "gmm-toy", "--solver", "euler", "--steps", "2", "--n", "600",
                        "--out", tmp_path / "big.png")
    assert code == 0 and max(sizes) == 256 and sum(sizes) == 2 * 600
    big = np.load(tmp_path / "big.npy")
    assert big.shape == (600, 2) and big.dtype == np.float32
    run(capsys, "sample", "--model", "gmm-toy", "--solver", "euler", "--steps", "2", "--n", "5", "--batch-size", "2",
         "--out", tmp_path / "few.png")
    np.testing.assert_array_equal(np.load(tmp_path / "few.npy"), big[:5])  # sample j depends on (seed, j) only
    assert not list(tmp_path.glob("*.tmp"))


def test_learning_rate_warmup_then_inverse_sqrt_decay():
    from gitscore.train import learning_rate
    cfg = TrainConfig(lr=1e-3, warmup=10, lr_decay_from=100)
    assert learning_rate(0, cfg) == pytest.approx(1e-4) and learning_rate(9, cfg) == pytest.approx(1e-3)
    assert learning_rate(99, cfg) == pytest.approx(1e-3)  # step 100 is the last at full rate
    for k in (2, 4, 9):  # lr * sqrt(lr_decay_from / (step + 1)): halves when the step count quadruples
        assert learning_rate(100 * k - 1, cfg) == pytest.approx(1e-3 / math.sqrt(k))
    assert learning_rate(10**6, TrainConfig(lr=1e-3, warmup=10)) == 1e-3  # lr_decay_from = 0: constant
    with pytest.raises(ValueError, match="lr_decay_from"):
        TrainConfig(lr_decay_from=-1)


def test_checkpoint_without_a_newer_field_resumes_with_its_default(tmp_path):
    """A checkpoint written before a TrainConfig field existed ran with that field's default."""
    run = tmp_path / "run"
    train(_data(), run, _cfg(steps=8), **QUIET)
    tensors, meta = checkpoints.load_weights(run / "ckpt-00000008" / "checkpoint.safetensors")
    del meta["train_config"]["lr_decay_from"]
    checkpoints.save_training(run, tensors, meta)  # re-saved as that older version would have
    _, step = train(_data(), run, _cfg(steps=10), **QUIET)  # same config: no change to allow
    assert step == 10
    with pytest.raises(ValueError, match="lr_decay_from: 0 -> 5"):
        train(_data(), run, _cfg(steps=12, lr_decay_from=5), **QUIET)
