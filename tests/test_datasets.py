"""The rendered data sets, their KDE models, the per-trajectory regularity statistics and the results reader."""
import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gitscore import claims, controls, data, datasets, models, regularity, trajectory

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- gitscore.data

@pytest.mark.parametrize("name", ["emoji", "glyphs"])
def test_smaller_sizes_are_exact_area_averages(name):
    base = data.load(name)
    assert base.dtype == torch.float32 and base.shape[1:] == data.base_shape(name)
    assert base.min() >= -1 and base.max() <= 1 and len(base) == data.card(name)["count"] > 1000
    for size in (32, 16):
        k = base.shape[-1] // size
        brute = base.reshape(len(base), base.shape[1], size, k, size, k).mean((3, 5))
        assert torch.allclose(data.load(name, size), brute, atol=1e-6)


def test_grey_emoji_is_the_luma_of_the_colour_ones():
    rgb, grey = data.load("emoji", 16), data.load("emoji", 16, colour=False)
    assert grey.shape == (len(rgb), 1, 16, 16)
    luma = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    assert torch.allclose(grey[:, 0], luma, atol=1e-6)
    assert (rgb[:, 0] - rgb[:, 2]).abs().max() > 0.5  # truly colour


def test_images_are_distinct():
    for name in ("emoji", "glyphs"):
        x = data.load(name).numpy()
        assert len({row.tobytes() for row in x}) == len(x)


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "cifar10"}, "name must be one of"), ({"name": "emoji", "size": 28}, r"size must be one of \[8, 16"),
    ({"name": "fmnist", "size": 32}, r"size must be one of \[7, 14, 28\]"), ({"name": "glyphs", "colour": True},
                                                                          "grey"),
    ({"name": "emoji", "colour": "yes"}, "colour must be None, True or False")])
def test_bad_arguments_name_the_allowed_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)


def test_missing_font_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GITSCORE_EMOJI_FONT", str(tmp_path / "nowhere.ttf"))
    with pytest.raises(data.DataNotFoundError) as e:
        data.load("emoji", 16)
    msg = str(e.value)
    assert "apt-get install fonts-noto-color-emoji" in msg and "GITSCORE_EMOJI_FONT" in msg


def test_cache_is_written_atomically_keyed_by_the_font_and_rebuilt_when_damaged(tmp_path, monkeypatch):
    font = tmp_path / "copy.ttf"
    shutil.copy(data.source_file("emoji"), font)
    monkeypatch.setenv("GITSCORE_EMOJI_FONT", str(font))
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(data, "_RENDERED", {})
    first = data.load("emoji", 16)
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and data.card("emoji")["source_sha256"][:16] in files[0].name
    files[0].write_bytes(b"damaged")                       # a damaged cache is rendered again, the same
    monkeypatch.setattr(data, "_RENDERED", {})
    assert torch.equal(data.load("emoji", 16), first)
    assert data.fingerprint("emoji") == data.card("emoji")["sha256"]


# ---------------------------------------------------------------- gitscore.models

def test_data_models_are_the_exact_kde_of_their_images():
    assert set(models.DATA_MODELS) <= set(models.MODELS)
    m = models.load_model("emoji16", kde_size=50)
    shape, dtype = models.sample_spec("emoji16")
    assert m.shape == shape == (3, 16, 16) and m.dtype == dtype and m.denoiser.N == 50
    subset = models.kde_subset(models.data_images("emoji16"), 50)
    x = subset[:3].double() + 0.5 * torch.randn(3, *shape, generator=torch.Generator().manual_seed(0),
                                                    dtype=torch.float64)
    for s in (0.05, 1.0, 20.0):  # brute force (softmax formula, float64) against the blocked KDE
        ref = controls.softmax_denoiser(x, subset, s)
        out = m.denoiser(x.float(), torch.full((3,), s)).double()
        assert (out - ref).norm() / ref.norm() < 1e-4
    assert models.sample_spec("emoji64-grey")[0] == (1, 64, 64) and models.sample_spec("glyphs32")[0] == (1, 32, 32)


def test_kde_size_is_checked_against_the_data_model():
    with pytest.raises(ValueError, match="kde_size"):
        models.load_model("glyphs16", kde_size=10 ** 5)
    with pytest.raises(ValueError, match="kde_size applies to"):
        models.load_model("gmm-toy", kde_size=10)


# ---------------------------------------------------------------- gitscore.regularity

def test_settling_sigma_against_a_hand_count():
    grid = torch.tensor([8.0, 4.0, 2.0, 1.0])
    curve = torch.tensor([[1.0, 0.05, 0.2, 0.01], [0.01, 0.01, 0.01, 0.01], [1.0, 1.0, 1.0, 1.0]])
    assert regularity.settling_sigma(curve, grid, 0.1).tolist() == [1.0, 8.0, 0.0]


def test_statistics_of_a_straight_trajectory():
    # x(sigma) = a + sigma u on a line: no deviation, an exact 1-D reconstruction, length = chord.
    d, sig = 50, torch.tensor([80.0, 20.0, 5.0, 1.0, 0.2])
    g = torch.Generator().manual_seed(0)
    a, u = torch.randn(3, 1, d, generator=g, dtype=torch.float64), torch.randn(3, 1, d, generator=g,
                                                                                dtype=torch.float64)
    xs = a + sig.double().reshape(1, -1, 1) * u
    tr = trajectory.Trajectory(xs, a.expand(3, 4, d).clone(), sig.double(), (d,))
    st = regularity.trajectory_statistics(tr)
    assert np.abs(st["deviation_ratio"]).max() < 1e-12 and np.abs(st["recon3"]).max() < 1e-10
    chord = (79.8 * u[:, 0].norm(dim=1)).numpy()
    assert np.allclose(st["length"], chord) and np.allclose(st["length_ratio"], chord / (80 * math.sqrt(d)))
    # |x - D| / sigma = |u| at every step: the field magnitude is exact
    assert np.allclose(st["field"], u[:, 0].norm(dim=1).numpy()[:, None].repeat(4, 1))
    assert st["proj"].shape == (3, 5, 3) and regularity.spread(st["proj"]) < 1e-12


def test_loglog_slope_and_exponent_recover_a_power_law():
    d = np.array([256.0, 784, 3072, 12288])
    assert regularity.loglog_slope(d, 3 * d ** 0.5) == pytest.approx(0.5, abs=1e-12)
    rows = np.random.default_rng(0).uniform(0.9, 1.1, (40, 1)) * d ** 0.5  # the same latent factor at every d
    iv = regularity.exponent(d, rows, n_boot=200)
    assert iv.estimate == pytest.approx(0.5) and iv.high - iv.low < 1e-9
    assert regularity.exponent(d, rows, target=0.5, n_boot=200).estimate < 1e-12
    with pytest.raises(ValueError, match="values must have shape"):
        regularity.exponent(d, rows[:, :1].T)


def test_meanshift_identity_and_likelihood_on_a_small_kde():
    kde = models.load_model("glyphs16", kde_size=40).denoiser
    assert regularity.meanshift_identity(kde) < 1e-5 < regularity.meanshift_identity(kde, bandwidth=1.01)
    x_T = 80 * torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    from gitscore.solvers import SOLVERS
    tr = trajectory.record(SOLVERS["euler"], kde, x_T, torch.tensor([80.0, 10.0, 1.0, 0.1, 0.01]).double())
    up, rand = regularity.likelihood_rises(kde, tr)
    assert up.shape == rand.shape == (3,) and (up == 1).all() and (rand < up).all()


# ---------------------------------------------------------------- gitscore.datasets

def _fake_run():
    rng = np.random.default_rng(0)
    cells = {"euler 5": 1.0, "ipndm 5": 0.5}
    run = {"data": {}, "gits": {}}
    for t in ("a", "b"):
        poly = {c: list(rng.uniform(0.9, 1.1, 8) * v) for c, v in cells.items()}
        gits = {s: {c: list(rng.uniform(0.6, 0.8, 8) * v) for c, v in cells.items()} for s in ("0", "2", "3")}
        run["gits"][t] = {"polynomial": poly, "gits": gits, "random_dp": gits}
    for t, s in (("a", "b"), ("b", "a")):
        run["gits"][t]["transfer"] = {s: {k: {c: [1.1 * e for e in v] for c, v in r.items()}
                                          for k, r in run["gits"][t]["gits"].items()}}
    return run


def test_gits_change_and_transfer_loss_are_the_ratios_of_means():
    run = _fake_run()
    poly = np.array(run["gits"]["a"]["polynomial"]["euler 5"])
    g = np.array([run["gits"]["a"]["gits"][s]["euler 5"] for s in ("0", "2", "3")])
    iv = datasets.gits_change(run, "a", "euler 5")
    assert iv.estimate == pytest.approx(g.mean() / poly.mean() - 1) and iv.low < iv.estimate < iv.high
    assert iv.n_seeds == 3
    assert datasets.transfer_loss(run, "b", "a").estimate == pytest.approx(0.1)  # every error x1.1
    own = np.mean([[run["gits"]["a"]["gits"][s][c] for s in ("0", "2", "3")] for c in ("euler 5", "ipndm 5")], 0)
    pol = np.mean([run["gits"]["a"]["polynomial"][c] for c in ("euler 5", "ipndm 5")], 0)
    assert datasets.transfer_loss(run, None, "a").estimate == pytest.approx(pol.mean() / own.mean() - 1)
    with pytest.raises(ValueError, match="must differ"):
        datasets.transfer_loss(run, "a", "a")


def test_results_made_from_other_images_are_refused(tmp_path):
    (tmp_path / datasets.RESULTS_FILE).write_text(json.dumps({"data": {"emoji": {"sha256": "0" * 64}}}))
    with pytest.raises(ValueError, match="scripts/datasets_runs.py"):
        datasets.load_runs(tmp_path)


def test_claims_name_three_kinds_of_image_and_d_to_12288():
    dims = [math.prod(models.sample_spec(m)[0]) if m in models.DATA_MODELS else 784 for m in claims.DATASET_MODELS]
    assert min(dims) == 784 and max(dims) == 12288
    for cid in ("datasets_deviation", "datasets_low_dim", "datasets_one_shape", "datasets_denoising_faster",
                "datasets_meanshift_identity", "datasets_meanshift_likelihood", "datasets_field_constant"):
        c = claims.get(cid)
        base = claims.get({"datasets_deviation": "regularity_deviation", "datasets_low_dim": "regularity_low_dim",
                           "datasets_one_shape": "regularity_one_shape", "datasets_denoising_faster":
                           "denoising_faster", "datasets_meanshift_identity": "meanshift_identity",
                           "datasets_meanshift_likelihood": "meanshift_likelihood",
                           "datasets_field_constant": "meanshift_field"}[cid])
        assert c.models == claims.DATASET_MODELS and (c.threshold, c.direction) == (base.threshold, base.direction)


def test_the_script_runs_in_small_and_the_reader_takes_its_output(tmp_path):
    spec = importlib.util.spec_from_file_location("datasets_runs", ROOT / "scripts" / "datasets_runs.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    threads = torch.get_num_threads()
    assert script.main(["--smoke", "--out", str(tmp_path / datasets.RESULTS_FILE)]) == 0
    assert torch.get_num_threads() == threads  # in-process (results-smoke): the thread count is left alone
    run = datasets.load_runs(tmp_path)
    assert "wall_time_s" in run  # complete: every part is there
    assert datasets.values(run, "glyphs16", "proj").shape == (4, 41, 3)
    assert datasets.values(run, "emoji16", "settle", "null").shape == (4, 2)
    assert datasets.gits_values(run, "emoji32", "transfer", "euler 5", "glyphs32").shape == (2, 4)
    assert datasets.gits_change(run, "glyphs32", "ipndm 6").n_seeds == 2


def test_bench_and_cli_take_the_data_models():
    from gitscore import bench, cli

    bench.BenchConfig(model="emoji32", n_fd=0).validate()
    with pytest.raises(ValueError, match="model must be one of"):
        bench.BenchConfig(model="emoji").validate()
    assert cli.build_parser().parse_args(["bench", "--model", "glyphs64", "--out", "x"]).model == "glyphs64"
    assert cli.build_parser().parse_args(["search", "--model", "emoji64-grey"]).model == "emoji64-grey"
