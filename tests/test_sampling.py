"""gitscore.sampling: seeded latents, batches, torchrun shards, the callback; same bits as the code it replaced."""
import numpy as np
import pytest
import torch

from gitscore import dist, gits, sampling, schedules
from gitscore.denoisers import GaussianDenoiser
from gitscore.solvers import SOLVER_INFO, SOLVERS


class TinyNet(torch.nn.Module):
    """A deterministic float32 network denoiser whose matmuls round per batch, like a real one."""

    def __init__(self, d=5):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(0.3 * torch.randn(d, d, generator=g))

    def forward(self, x, sigma):
        c = 1 / (1 + sigma.reshape(-1, 1) ** 2)
        return torch.tanh((c.sqrt() * x) @ self.w) * c + (1 - c) * x.mean(dim=1, keepdim=True)


# The loops sampling.sample replaced (bench.sample_many and gits.warmup's loop, single process),
# kept here verbatim in substance as the reference the new code must reproduce bit for bit.
def old_latents(shape, seed, start, stop, dtype=torch.float64):
    z = torch.empty((stop - start, *shape), dtype=torch.float64)
    for row, j in enumerate(range(start, stop)):
        s = int(np.random.SeedSequence([seed, j]).generate_state(1, dtype=np.uint64)[0])
        z[row] = torch.randn(tuple(shape), generator=torch.Generator().manual_seed(s), dtype=torch.float64)
    return z.to(dtype)


def old_sample_many(denoiser, solver, sigmas, n, seed, shape, batch_size, dtype=torch.float32, **options):
    out = []
    for b in range(0, n, batch_size):
        e = min(b + batch_size, n)
        x = float(sigmas[0]) * old_latents(shape, seed, b, e, dtype)
        out.append(SOLVERS[solver](denoiser, x, sigmas, **options).cpu())
    return torch.cat(out)


def old_warmup(denoiser, shape, n, grid, teacher, seed, batch_size, dtype):
    M = len(grid)
    xs = torch.empty((M, n, *shape), dtype=dtype)
    ds = torch.empty((M - 1, n, *shape), dtype=dtype)
    for a in range(0, n, batch_size):
        b = min(a + batch_size, n)

        def record(info):
            xs[info["i"], a:b] = info["x"]
            ds[info["i"], a:b] = (info["x"] - info["denoised"]) / float(grid[info["i"]])

        x = float(grid[0]) * old_latents(shape, seed, a, b, dtype)
        xs[M - 1, a:b] = SOLVERS[teacher](denoiser, x, grid, callback=record)
    return xs, ds


def test_latents_are_the_old_ones_and_gits_reexports_them():
    assert gits.latents is sampling.latents
    for seed, (a, b) in [(0, (0, 5)), (7, (3, 9)), (123456789, (100, 101))]:
        assert torch.equal(sampling.latents((2, 3), seed, a, b), old_latents((2, 3), seed, a, b))
        assert torch.equal(sampling.latents((4,), seed, a, b, torch.float32),
                           old_latents((4,), seed, a, b, torch.float32))


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_sample_gives_the_old_samples_bit_for_bit(solver):
    torch.set_num_threads(1)
    net, sigmas = TinyNet(), schedules.polynomial(4)
    new = sampling.sample(net, solver, sigmas, 11, seed=3, shape=(5,), batch_size=4)
    assert new.dtype == torch.float32 and new.shape == (11, 5)
    assert torch.equal(new, old_sample_many(net, solver, sigmas, 11, 3, (5,), 4))


def test_warmup_gives_the_old_states_bit_for_bit():
    torch.set_num_threads(1)
    net, grid = TinyNet(), gits.teacher_grid(9)
    w = gits.warmup(net, (5,), 10, grid=grid, seed=2, batch_size=3)
    xs, ds = old_warmup(net, (5,), 10, grid, "ipndm", 2, 3, torch.float32)
    assert torch.equal(w.xs, xs) and torch.equal(w.ds, ds)
    assert torch.equal(gits.search(net, (5,), 3, n_warmup=10, grid=grid, seed=2, batch_size=3),
                       grid[gits.dp(gits.cost_matrix(xs, ds, grid), 3)])


def test_batched_equals_one_batch_for_a_per_row_denoiser():
    gauss = GaussianDenoiser(torch.zeros(3), torch.tensor([0.1, 1.0, 2.0]))
    sigmas = schedules.polynomial(4)
    one = sampling.sample(gauss, "heun", sigmas, 11, seed=0, shape=(3,), batch_size=11, dtype=torch.float64)
    for B in (1, 4, 10):
        assert torch.equal(sampling.sample(gauss, "heun", sigmas, 11, seed=0, shape=(3,), batch_size=B,
                                           dtype=torch.float64), one)
    # Each sample is the solver's output from its own latent.
    x_T = float(sigmas[0]) * sampling.latents((3,), 0, 0, 11)
    assert torch.equal(one, SOLVERS["heun"](gauss, x_T, sigmas))


def test_a_block_of_latents_is_the_same_rows_of_the_whole_run():
    """sample(first=k) starts at latent k: a block sampled alone equals those rows of the whole set."""
    net = TinyNet()
    sigmas = schedules.polynomial(3)
    whole = sampling.sample(net, "ipndm", sigmas, 12, seed=3, shape=(5,), batch_size=4)
    for first, n in ((4, 4), (8, 4), (0, 12), (5, 3)):
        block = sampling.sample(net, "ipndm", sigmas, n, seed=3, shape=(5,), batch_size=4, first=first)
        if first % 4 == 0:
            assert torch.equal(block, whole[first:first + n])  # the same batches: bit for bit
        else:
            torch.testing.assert_close(block, whole[first:first + n])  # other batches: float32 round-off
    with pytest.raises(ValueError, match="first must be an integer >= 0"):
        sampling.sample(net, "euler", sigmas, 2, seed=0, shape=(5,), first=-1)


def test_sharded_ranks_concatenate_to_the_unsharded_result(monkeypatch):
    """Every sample is computed in the batch it has in one process, whatever the number of ranks."""
    seen = []

    def D(x, s):  # records the batch each latent is computed in
        seen.append(tuple(x[:, 0].tolist()))
        return 0.5 * x

    sigmas = schedules.polynomial(2)
    one = sampling.sample(D, "euler", sigmas, 11, seed=0, shape=(3,), batch_size=4, dtype=torch.float64)
    single = sorted(seen)
    for world in (2, 3, 5):
        seen.clear()
        parts = []
        for rank in range(world):
            monkeypatch.setattr(dist, "rank_world", lambda r=rank: (r, world))
            monkeypatch.setattr(dist, "gather", lambda t: t)
            parts.append(sampling.sample(D, "euler", sigmas, 11, seed=0, shape=(3,), batch_size=4,
                                         dtype=torch.float64))
        assert sorted(seen) == single and torch.equal(torch.cat(parts), one)


def test_callback_sees_every_step_of_every_batch_with_its_samples():
    gauss = GaussianDenoiser(torch.zeros(2), torch.tensor([0.5, 2.0]))
    sigmas = schedules.polynomial(3)
    got = []
    x = sampling.sample(gauss, "euler", sigmas, 7, seed=1, shape=(2,), batch_size=3, dtype=torch.float64,
                        callback=got.append)
    expected = [(a, min(a + 3, 7), i) for a in (0, 3, 6) for i in range(3)]
    assert [(g["start"], g["stop"], g["i"]) for g in got] == expected
    for g in got:
        assert g["x"].shape == (g["stop"] - g["start"], 2) and g["sigma"] == float(sigmas[g["i"]])
        if g["i"] == 0:  # the first state is sigma_max times the samples' own latents
            assert torch.equal(g["x"], float(sigmas[0]) * sampling.latents((2,), 1, g["start"], g["stop"]))
        torch.testing.assert_close(g["denoised"], gauss(g["x"], g["sigma"]), rtol=0, atol=0)
    # One Euler step from the last recorded state gives the returned samples.
    for g in (g for g in got if g["i"] == 2):
        step = g["x"] + (float(sigmas[3]) - g["sigma"]) * (g["x"] - g["denoised"]) / g["sigma"]
        assert torch.equal(x[g["start"]:g["stop"]], step)


def test_into_receives_every_batch():
    gauss = GaussianDenoiser(torch.zeros(2), torch.tensor([0.5, 2.0]))
    sigmas = schedules.polynomial(3)
    into = np.zeros((7, 2), dtype=np.float64)
    assert sampling.sample(gauss, "ipndm", sigmas, 7, seed=1, shape=(2,), batch_size=3, dtype=torch.float64,
                           into=into) is into
    assert np.array_equal(into, sampling.sample(gauss, "ipndm", sigmas, 7, seed=1, shape=(2,),
                                                dtype=torch.float64).numpy())


def test_nfe_from_the_registry():
    assert sampling.nfe("heun", 5) == 10 and sampling.nfe("ipndm", 5) == 5 and sampling.nfe("euler", 5, afs=True) == 4
    for name, info in SOLVER_INFO.items():
        assert sampling.nfe(name, 3) == 3 * info.calls_per_step


def test_bad_arguments():
    D, sigmas = GaussianDenoiser(torch.zeros(2), torch.ones(2)), schedules.polynomial(2)
    with pytest.raises(ValueError, match="solver must be one of"):
        sampling.sample(D, "rk4", sigmas, 2, seed=0, shape=(2,))
    for name, kw in [("n", dict(n=0)), ("seed", dict(seed=-1)), ("batch_size", dict(batch_size=0)),
                     ("batch_size", dict(batch_size=True)), ("n", dict(n=2.0))]:
        with pytest.raises(ValueError, match=f"{name} must be an integer"):
            sampling.sample(D, "euler", sigmas, **(dict(n=2, seed=0, shape=(2,)) | kw))
    with pytest.raises(TypeError, match="callback must be callable"):
        sampling.sample(D, "euler", sigmas, 2, seed=0, shape=(2,), callback=3)
    with pytest.raises(ValueError, match="seed must be an integer"):
        sampling.latents((2,), -1, 0, 2)
    with pytest.raises(ValueError, match="solver must be one of"):
        sampling.nfe("rk4", 2)


def test_default_device():
    assert sampling.default_device(TinyNet()) == torch.device("cpu")
    assert sampling.default_device(lambda x, s: x) == torch.device("cpu")
    kde_like = type("K", (), {"device": torch.device("meta")})()
    assert sampling.default_device(kde_like) == torch.device("meta")
