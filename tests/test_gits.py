"""GITS: DP against brute force, cost matrix by hand and against a naive loop, warm-up, search on Gaussian data."""
import itertools
import math

import numpy as np
import pytest
import torch

from gitscore import gits
from gitscore.denoisers import GaussianDenoiser
from gitscore.schedules import polynomial


def objective(C, path, coeff):
    return sum(coeff ** k * C[a, b] for k, (a, b) in enumerate(zip(path[:-1], path[1:])))


def brute_force(C, K, coeff):
    M = C.shape[0]
    paths = ([0, *mid, M - 1] for mid in itertools.combinations(range(1, M - 1), K - 1))
    return min(paths, key=lambda p: objective(C, p, coeff))


# ---- dynamic programme ----

@pytest.mark.parametrize("M", [2, 3, 5, 8, 10])
@pytest.mark.parametrize("coeff", [1.0, 1.15, 1.3, 0.8])
def test_dp_equals_brute_force(M, coeff):
    rng = np.random.default_rng(M * 100 + int(coeff * 100))
    for K in range(1, M):
        for _ in range(3):
            C = rng.uniform(-1, 2, size=(M, M))  # negative costs allowed (the dev metric can be < 0)
            path = gits.dp(C, K, coeff)
            best = brute_force(C, K, coeff)
            assert path == best, (M, K, coeff)
            assert len(path) == K + 1 and path[0] == 0 and path[-1] == M - 1
            assert all(a < b for a, b in zip(path[:-1], path[1:]))


def test_dp_hand_checked():
    # Squared gaps on an integer grid, coeff 1: equal spacing is optimal.
    s = np.arange(10.0)
    C = (s[:, None] - s[None, :]) ** 2
    assert gits.dp(C, 3, coeff=1.0) == [0, 3, 6, 9]
    assert gits.dp(C[:7, :7], 3, coeff=1.0) == [0, 2, 4, 6]
    assert gits.dp(C, 9, coeff=1.0) == list(range(10))
    assert gits.dp(C, 1, coeff=1.0) == [0, 9]
    # M=5, K=2, coeff 2: p^2 + 2 (4 - p)^2 is 12, 11, 16 at p = 2, 3, 1 -> p = 3 (later steps cost more).
    assert gits.dp(C[:5, :5], 2, coeff=2.0) == [0, 3, 4]
    assert gits.dp(C[:5, :5], 2, coeff=0.5) == [0, 1, 4]


def test_dp_ignores_lower_triangle_and_accepts_inf_there():
    rng = np.random.default_rng(0)
    C = rng.uniform(size=(7, 7))
    C2 = C.copy()
    C2[np.tril_indices(7)] = np.inf
    C3 = C.copy()
    C3[np.tril_indices(7)] = -1e9
    assert gits.dp(C, 3) == gits.dp(C2, 3) == gits.dp(C3, 3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_steps=0), "n_steps"), (dict(n_steps=6), "n_steps"), (dict(n_steps=2.0), "n_steps"),
    (dict(n_steps=True), "n_steps"), (dict(n_steps=2, coeff=0.0), "coeff"), (dict(n_steps=2, coeff=-1), "coeff"),
    (dict(n_steps=2, coeff=math.inf), "coeff"), (dict(n_steps=2, coeff=math.nan), "coeff"),
])
def test_dp_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gits.dp(np.ones((6, 6)), **kwargs)


def test_dp_bad_cost():
    with pytest.raises(ValueError, match="cost"):
        gits.dp(np.ones((4, 5)), 2)
    with pytest.raises(ValueError, match="cost"):
        gits.dp(np.ones(4), 2)
    C = np.ones((4, 4))
    C[1, 2] = np.nan
    with pytest.raises(ValueError, match="cost"):
        gits.dp(C, 2)


# ---- cost matrix ----

def hand_case():
    # Sample a: x_T = (4, 0), x_1 = (1, 1), x_0 = (0, 0); chord = first axis. Sample b = 2 * sample a.
    sigmas = torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64)
    xa = torch.tensor([[4.0, 0.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    da = torch.tensor([[1.0, -1.0], [1.0, 2.0]], dtype=torch.float64)
    xs = torch.stack([xa, 2 * xa], dim=1)  # (M=3, n=2, 2)
    ds = torch.stack([da, 2 * da], dim=1)
    return xs, ds, sigmas


def test_cost_matrix_by_hand():
    xs, ds, sigmas = hand_case()
    # Sample a: 0->1: x_hat = (4,0) - 2 (1,-1) = (2,2); 0->2: (4,0) - 3 (1,-1) = (1,3); 1->2: (1,1) - (1,2) = (0,-1).
    # Chord distances: x_hat 2, 3, 1; teacher x_1 1, x_0 0. Sample b doubles every distance -> mean = 1.5 * a.
    want = {
        "l2": {(0, 1): math.sqrt(2), (0, 2): math.sqrt(10), (1, 2): 1.0},
        "l1": {(0, 1): 2.0, (0, 2): 4.0, (1, 2): 1.0},
        "dev": {(0, 1): 2.0 - 1.0, (0, 2): 3.0 - 0.0, (1, 2): 1.0 - 0.0},
    }
    for metric, entries in want.items():
        C = gits.cost_matrix(xs, ds, sigmas, metric)
        assert C.dtype == np.float64 and C.shape == (3, 3)
        for (i, j), v in entries.items():
            assert C[i, j] == pytest.approx(1.5 * v, rel=1e-12), (metric, i, j)
        assert np.isinf(C[np.tril_indices(3)]).all()


def test_dev_cost_is_signed():
    # An Euler point closer to the chord than the teacher point gives a negative cost (no abs, as gits-main).
    xs, ds, sigmas = hand_case()
    ds[0] = torch.tensor([1.0, 0.0], dtype=torch.float64) * torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    C = gits.cost_matrix(xs, ds, sigmas, "dev")
    assert C[0, 1] == pytest.approx(1.5 * (0.0 - 1.0))


def naive_cost(xs, ds, sigmas, metric):
    # The official double loop, one entry at a time.
    M, n = xs.shape[:2]
    X, Dd = xs.reshape(M, n, -1), ds.reshape(M - 1, n, -1)

    def chord_dist(p):
        b, c = X[0], X[-1]
        u = (c - b) / (c - b).norm(dim=-1, keepdim=True)
        ac = c - p
        return (ac - (ac * u).sum(-1, keepdim=True) * u).norm(dim=-1)

    C = np.full((M, M), np.inf)
    for i in range(M - 1):
        for j in range(i + 1, M):
            x_hat = X[i] + (sigmas[j] - sigmas[i]) * Dd[i]
            if metric == "dev":
                C[i, j] = float(chord_dist(x_hat).mean() - chord_dist(X[j]).mean())
            else:
                C[i, j] = float((x_hat - X[j]).norm(p=2 if metric == "l2" else 1, dim=-1).mean())
    return C


@pytest.mark.parametrize("metric", gits.METRICS)
def test_cost_matrix_matches_naive_loop(metric):
    g = torch.Generator().manual_seed(1)
    M, n = 9, 5
    xs = torch.randn(M, n, 2, 3, generator=g, dtype=torch.float64)
    ds = torch.randn(M - 1, n, 2, 3, generator=g, dtype=torch.float64)
    sigmas = polynomial(M - 1, 0.01, 10.0)
    want = naive_cost(xs, ds, sigmas, metric)
    for max_elements in (2 ** 24, 6, 1):  # one chunk, a few, one j at a time
        got = gits.cost_matrix(xs, ds, sigmas, metric, max_elements=max_elements)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # ds may carry a direction for the last point as well; it is ignored.
    got = gits.cost_matrix(xs, torch.cat([ds, ds[:1]]), sigmas, metric)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_cost_matrix_bad_arguments():
    xs, ds, sigmas = hand_case()
    with pytest.raises(ValueError, match="metric"):
        gits.cost_matrix(xs, ds, sigmas, "linf")
    with pytest.raises(ValueError, match="xs"):
        gits.cost_matrix(xs[:2], ds, sigmas)
    with pytest.raises(ValueError, match="ds"):
        gits.cost_matrix(xs, ds[:1], sigmas)
    with pytest.raises(ValueError, match="decreasing"):
        gits.cost_matrix(xs, ds, sigmas.flip(0))


# ---- warm-up and search on Gaussian data ----

D_DIM = 16
VAR = torch.logspace(-4, 0, D_DIM, dtype=torch.float64)  # strongly anisotropic: std 0.01 .. 1
GAUSS = GaussianDenoiser(torch.zeros(D_DIM, dtype=torch.float64), VAR)


def test_teacher_grid():
    assert torch.equal(gits.teacher_grid(), polynomial(60, 0.002, 80.0, 7.0))
    assert len(gits.teacher_grid(11)) == 11
    with pytest.raises(ValueError, match="n_points"):
        gits.teacher_grid(1)


def test_latents_do_not_depend_on_batching():
    z = gits.latents((3, 2), 7, 0, 10)
    assert torch.equal(torch.cat([gits.latents((3, 2), 7, a, b) for a, b in [(0, 4), (4, 5), (5, 10)]]), z)
    assert not torch.equal(gits.latents((3, 2), 8, 0, 10), z)


def test_warmup_records_teacher_states_and_directions():
    from gitscore.solvers import SOLVERS

    grid = gits.teacher_grid(13)
    w = gits.warmup(GAUSS, (D_DIM,), 7, grid=grid, teacher="ipndm", seed=3, batch_size=3, dtype=torch.float64)
    assert w.xs.shape == (13, 7, D_DIM) and w.ds.shape == (12, 7, D_DIM) and torch.equal(w.sigmas, grid)
    # Same states from one batch (per-sample seeds), and the final state is the solver's output.
    w1 = gits.warmup(GAUSS, (D_DIM,), 7, grid=grid, teacher="ipndm", seed=3, batch_size=7, dtype=torch.float64)
    torch.testing.assert_close(w.xs, w1.xs, rtol=1e-14, atol=0)
    x_T = grid[0] * gits.latents((D_DIM,), 3, 0, 7)
    assert torch.equal(w.xs[0], x_T)
    torch.testing.assert_close(w.xs[-1], SOLVERS["ipndm"](GAUSS, x_T, grid), rtol=1e-14, atol=1e-14)
    # Directions are the PF-ODE field at the teacher's own states.
    for i in range(12):
        d = (w.xs[i] - GAUSS(w.xs[i], float(grid[i]))) / grid[i]
        torch.testing.assert_close(w.ds[i], d, rtol=1e-12, atol=1e-12)


def euler_rmse(sigmas, n=200, seed=12345):
    from gitscore.solvers import SOLVERS

    x_T = float(sigmas[0]) * gits.latents((D_DIM,), seed, 0, n)
    ref = GAUSS.exact_solution(x_T, float(sigmas[0]), float(sigmas[-1]))
    return float(((SOLVERS["euler"](GAUSS, x_T, sigmas) - ref) ** 2).mean().sqrt())


@pytest.mark.parametrize("metric", gits.METRICS)
def test_gits_beats_polynomial_for_euler_on_anisotropic_gaussian(metric):
    # Paper Table 1 / Fig. 5 direction: GITS improves Euler (DDIM) at low NFE. Held-out noise seeds.
    r = gits.search_info(GAUSS, (D_DIM,), 5, n_warmup=32, metric=metric, seed=0, dtype=torch.float64)
    e_gits, e_poly = euler_rmse(r.sigmas), euler_rmse(polynomial(5))
    print(f"\n{metric}: indices {r.indices}, Euler 5-step RMSE GITS {e_gits:.4g} vs polynomial {e_poly:.4g}"
          f" ({100 * (1 - e_gits / e_poly):.0f}% lower)")
    assert e_gits < 0.85 * e_poly
    assert torch.equal(r.sigmas, r.grid[r.indices]) and r.sigmas.dtype == torch.float64
    assert set(r.timings) == {"warmup", "cost", "dp"}


def test_result_rederives_other_steps_and_coeffs_without_a_new_warmup():
    kw = dict(n_warmup=8, grid=gits.teacher_grid(21), dtype=torch.float64, seed=4)
    r = gits.search_info(GAUSS, (D_DIM,), 5, **kw)
    assert torch.equal(r.schedule(5), r.sigmas)
    for n, coeff in [(3, 1.15), (7, 1.0), (4, 1.5)]:
        assert torch.equal(r.schedule(n, coeff), gits.search(GAUSS, (D_DIM,), n, coeff=coeff, **kw))
    with pytest.raises(ValueError, match="n_steps"):
        r.schedule(21)


def test_kept_warmup_derives_other_metrics_and_warmup_sizes_exactly():
    # with_metric / first must equal a fresh search with that metric / that many trajectories (same seed:
    # the first k latents of a seeded warm-up are the k latents of a k-trajectory warm-up).
    kw = dict(grid=gits.teacher_grid(21), dtype=torch.float64, seed=3, batch_size=4)
    r = gits.search_info(GAUSS, (D_DIM,), 5, n_warmup=12, keep_warmup=True, **kw)
    assert r.warmup is not None and r.warmup.xs.shape[1] == 12
    assert gits.search_info(GAUSS, (D_DIM,), 5, n_warmup=12, **kw).warmup is None  # not kept by default
    for m in gits.METRICS:
        fresh = gits.search_info(GAUSS, (D_DIM,), 5, n_warmup=12, metric=m, **kw)
        derived = r.with_metric(m)
        assert np.array_equal(derived.cost, fresh.cost) and derived.indices == fresh.indices
        assert derived.metric == m and derived.path(3, 1.3) == fresh.path(3, 1.3)
    for k in (4, 8):
        fresh = gits.search_info(GAUSS, (D_DIM,), 5, n_warmup=k, **kw)
        assert np.array_equal(r.first(k).cost, fresh.cost) and r.first(k).indices == fresh.indices
    assert r.path(5) == r.indices and r.path(4) == gits.dp(r.cost, 4, r.coeff)
    assert r.with_metric(r.metric) is r  # its own metric: nothing to recompute
    with pytest.raises(ValueError, match="k must"):
        r.first(13)
    with pytest.raises(ValueError, match="metric must be one of"):
        r.with_metric("l3")
    with pytest.raises(ValueError, match="keep_warmup=True"):
        gits.search_info(GAUSS, (D_DIM,), 5, n_warmup=4, **kw).with_metric("l2")


def test_search_is_deterministic():
    kw = dict(n_warmup=8, grid=gits.teacher_grid(21), dtype=torch.float64)
    s0 = gits.search(GAUSS, (D_DIM,), 4, seed=0, **kw)
    assert isinstance(s0, torch.Tensor) and s0.dtype == torch.float64 and s0.shape == (5,)
    assert torch.equal(s0, gits.search(GAUSS, (D_DIM,), 4, seed=0, batch_size=3, **kw))
    assert s0[0] == 80.0 and s0[-1] == 0.002 and (s0[1:] < s0[:-1]).all()
    # Another seed, float32 states (the default dtype): runs, same grid, may differ.
    s1 = gits.search(GAUSS, (D_DIM,), 4, seed=1, n_warmup=8, grid=kw["grid"])
    assert all(float(v) in kw["grid"].tolist() for v in s1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(metric="linf"), "metric"), (dict(teacher="rk45"), "teacher"), (dict(coeff=0), "coeff"),
    (dict(n_warmup=0), "n_warmup"), (dict(seed=-1), "seed"), (dict(batch_size=0), "batch_size"),
    (dict(grid=torch.tensor([1.0, 2.0])), "decreasing"),
])
def test_search_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gits.search(GAUSS, (D_DIM,), 2, **{"n_warmup": 2, "grid": gits.teacher_grid(5), **kwargs})
    with pytest.raises(ValueError, match="n_steps"):
        gits.search(GAUSS, (D_DIM,), 5, n_warmup=2, grid=gits.teacher_grid(5))


def test_gits_beats_polynomial_for_euler_on_gmm():
    # Three-component GMM with anisotropic components; reference: Heun on a 60-step polynomial grid.
    from gitscore.denoisers import GMMDenoiser
    from gitscore.solvers import SOLVERS

    d, K = 8, 3
    means = 0.5 * torch.randn(K, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gmm = GMMDenoiser(torch.full((K,), 1 / K, dtype=torch.float64), means,
                      torch.logspace(-3, -1, d, dtype=torch.float64).expand(K, d))
    x_T = 80 * gits.latents((d,), 12345, 0, 64)  # held-out noise (warm-up uses seed 0)
    ref = SOLVERS["heun"](gmm, x_T, polynomial(60))
    rmse = lambda x: float(((x - ref) ** 2).mean().sqrt())
    sigmas = gits.search(gmm, (d,), 5, n_warmup=32, seed=0, dtype=torch.float64)
    e_gits, e_poly = rmse(SOLVERS["euler"](gmm, x_T, sigmas)), rmse(SOLVERS["euler"](gmm, x_T, polynomial(5)))
    # The reference is converged far below the errors compared: Heun at half the steps agrees with it.
    assert rmse(SOLVERS["heun"](gmm, x_T, polynomial(30))) < 0.05 * e_gits
    print(f"\nGMM dev: Euler 5-step RMSE GITS {e_gits:.4g} vs polynomial {e_poly:.4g} "
          f"({100 * (1 - e_gits / e_poly):.0f}% lower)")
    assert e_gits < 0.9 * e_poly
