"""gitscore.fdruns: blocks of the evaluation latents, their cached features, the pooled FD, ratio intervals."""
import math

import pytest
import torch

import gitscore as gs
from gitscore import fdruns, metrics, sampling, schedules


class TinyImageNet(torch.nn.Module):
    """A deterministic denoiser on 1x28x28 images (the classifier's input), cheap enough for a test."""

    def forward(self, x, sigma):
        c = 1 / (1 + sigma.reshape(-1, 1, 1, 1) ** 2)
        return torch.tanh(x * c.sqrt()) * (1 - c) + c * x.mean(dim=(2, 3), keepdim=True)


@pytest.fixture()
def blocks(tmp_path):
    return fdruns.BlockFeatures(TinyImageNet(), (1, 28, 28), eval_seed=3, block=6, cache=tmp_path, tag="t",
                                batch_size=6)


def test_block_k_is_those_rows_of_the_whole_run(blocks):
    sig = schedules.polynomial(3)
    whole = sampling.sample(TinyImageNet(), "euler", sig, 12, seed=3, shape=(1, 28, 28), batch_size=6)
    want = metrics.image_features(whole.clamp(-1, 1)).features.float()
    for k in (0, 1):
        torch.testing.assert_close(blocks.features("euler", sig, k), want[6 * k:6 * k + 6])
    torch.testing.assert_close(blocks.features("euler", sig, 1, n=4), want[6:10])


def test_features_are_read_back_not_sampled_again(blocks, tmp_path):
    sig = schedules.polynomial(3)
    a = blocks.features("euler", sig, 0)
    assert blocks.sampled == 6
    assert torch.equal(blocks.features("euler", sig, 0), a) and blocks.sampled == 6  # from the cache
    other = fdruns.BlockFeatures(TinyImageNet(), (1, 28, 28), eval_seed=3, block=6, cache=tmp_path, tag="t")
    assert torch.equal(other.features("euler", sig.tolist(), 0), a) and other.sampled == 0  # a list: same key
    blocks.features("euler", schedules.polynomial(4), 0)  # another schedule: sampled
    blocks.features("ipndm", sig, 0)                       # another solver: sampled
    assert blocks.sampled == 18
    retagged = fdruns.BlockFeatures(TinyImageNet(), (1, 28, 28), eval_seed=3, block=6, cache=tmp_path, tag="u")
    retagged.features("euler", sig, 0)  # other weights (tag): sampled
    assert retagged.sampled == 6


def test_stack_puts_schedule_k_on_block_k_and_pooled_fd_is_the_fd_of_all(blocks):
    s1, s2 = schedules.polynomial(3), schedules.polynomial(4)
    st = blocks.stack("euler", [s1, s2], n=5)
    assert st.shape == (2, 5, 256)
    torch.testing.assert_close(st[1], blocks.features("euler", s2, 1, n=5))
    fd = fdruns.pooled_fd(st)
    assert fd == pytest.approx(metrics.frechet_distance(metrics.FeatureStats(st.reshape(10, 256).double())))
    assert fdruns.ratio({"x": 3.0, "base": 2.0}) == pytest.approx(1.5)
    iv = gs.stats.Interval(0.1, 0.0, 0.2, n_seeds=5, n_samples=10, n_boot=4, method="basic")
    assert gs.stats.Interval(**fdruns.interval_dict(iv)) == iv


def test_bad_arguments(blocks, tmp_path):
    with pytest.raises(ValueError, match="block must be an integer"):
        fdruns.BlockFeatures(TinyImageNet(), (1, 28, 28), eval_seed=0, block=1, cache=tmp_path)
    with pytest.raises(ValueError, match="n must be an integer in \\[2, 6\\]"):
        blocks.features("euler", schedules.polynomial(3), 0, n=7)
    with pytest.raises(ValueError, match="k must be an integer"):
        blocks.features("euler", schedules.polynomial(3), -1)
    with pytest.raises(TypeError, match="tag must be a str"):
        fdruns.BlockFeatures(TinyImageNet(), (1, 28, 28), eval_seed=0, block=4, cache=tmp_path, tag=3)


REF = metrics.FeatureStats(torch.randn(300, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64))


def _sets(S, N, spread, seed=0, d=4):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(S, N, d, generator=g, dtype=torch.float64)
    # x: each seed's samples shifted by a seed-level amount of very different sizes (a skewed seed level)
    shift = spread * torch.linspace(0, 1, S, dtype=torch.float64) ** 3
    return {"x": base + 0.3 + shift[:, None, None], "base": base}


def test_ratio_interval_is_the_log_interval_mapped_back():
    sets = _sets(5, 40, 3.0)
    iv = fdruns.ratio_interval(sets, reference=REF, n_boot=50)
    log_iv = metrics.frechet_two_level(sets, lambda fd: math.log(fd["x"] / fd["base"]), REF, n_boot=50)
    lin_iv = metrics.frechet_two_level(sets, lambda fd: fd["x"] / fd["base"] - 1, REF, n_boot=50)
    assert iv.estimate == pytest.approx(lin_iv.estimate, rel=1e-9)  # the same change
    assert (iv.low, iv.high) == pytest.approx((math.expm1(log_iv.low), math.expm1(log_iv.high)), rel=1e-9)
    assert iv.low > -1 and iv.method.endswith("log scale")
    # the linear basic interval of this skewed seed level reaches below -100 %: the defect the log scale removes
    assert lin_iv.low < -1


def test_ratio_interval_of_a_best_of_statistic():
    sets = _sets(3, 30, 0.5, d=256)  # pooled_fd goes through torchmetrics, which takes the classifier's width
    sets["base2"] = sets["base"] + 0.1
    ref = metrics.FeatureStats(torch.randn(400, 256, generator=torch.Generator().manual_seed(8), dtype=torch.float64))
    iv = fdruns.ratio_interval(sets, lambda fd: fd["x"] / min(fd["base"], fd["base2"]), ref, n_boot=20)
    fd = {k: fdruns.pooled_fd(v, ref) for k, v in sets.items()}
    assert iv.estimate == pytest.approx(fd["x"] / min(fd["base"], fd["base2"]) - 1, rel=1e-3)  # float32 moments
