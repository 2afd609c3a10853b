# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Annealed mean shift
#
# ## Overview
#
# *Mean shift* {cite}`comaniciu2002meanshift` climbs a kernel density estimate
# $p_h(x) = \frac1N\sum_i \mathcal N(x; y_i, h^2 I)$ by repeating the update
#
# $$
# m_h(x) = \frac{\sum_i \exp\!\left(-\lVert x - y_i\rVert^2 / 2h^2\right) y_i}
#               {\sum_i \exp\!\left(-\lVert x - y_i\rVert^2 / 2h^2\right)}
#        = x + h^2\, \nabla_x \log p_h(x),
# $$
#
# a weighted mean of the data that moves $x$ uphill. The right-hand side is exactly the optimal
# denoiser of Chapter 4 with $h = \sigma$. {cite}`chen2024trajectory` draw from this that
#
# 1. $D^*(x;\sigma)$ **is one mean-shift step** with bandwidth $\sigma$;
# 2. ODE sampling with $D^*$ is **annealed mean shift**: an Euler step from $\sigma_n$ to
#    $\sigma_{n+1}$ is the convex combination
#    $x_{n+1} = \frac{\sigma_{n+1}}{\sigma_n} x_n + \left(1 - \frac{\sigma_{n+1}}{\sigma_n}\right) m_{\sigma_n}(x_n)$
#    of the current point and its mean-shift update, with a bandwidth that shrinks at every step;
# 3. the KDE **likelihood increases** along the way;
# 4. the sampling trajectory has **length $\approx \sigma_T\sqrt d$**, and the vector field keeps a
#    nearly **constant magnitude $\lVert dx/d\sigma\rVert \approx \sqrt d$** along it.
#
# We check 1-3 on KDEs of three sizes (a 2-D toy, Fashion-MNIST downsampled to $8 \times 8$, and the
# full $28 \times 28$ images) and measure 4 across dimensions from $d = 2$ to $d = 12{,}288$, on the
# KDEs, the trained network and isotropic Gaussian mixtures.
#
# **Prerequisites.** Chapter 3 (the convex-combination form of an Euler step, Proposition 4.1) and
# Chapter 4 (the KDE denoiser).
#
# :::{admonition} Rerun this chapter
# :class: note dropdown
#
# - **command:** `OMP_NUM_THREADS=1 .venv/bin/jupytext --to ipynb --execute book/05_meanshift.py`
#   (or `make book`, which re-executes changed chapters)
# - **run time:** 279 s to re-execute, measured on 2 CPU cores shared with other jobs
# - **reads:** nothing from `results/`; Fashion-MNIST (`make data`) and the shipped network
#   `gitscore/weights/fmnist_edm.safetensors`, which `make weights STEPS=fmnist_edm`
#   retrains from scratch: 262 min on 2 CPU cores (its recorded time, `results/README.md`)
# :::

# %% tags=["hide-input", "nbval-ignore-output"]
import math
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
import torch.nn.functional as F

import gitscore as gs

t_start = time.perf_counter()
# one fixed thread count: float32 round-off, hence every printed digit,
# repeats
torch.set_num_threads(2)
gs.report.book_style()


@dataclass
class Params:
    # Euler steps on EDM's polynomial grid 80 -> 0.002 (rho = 7)
    n_steps: int = 18
    sigma_max: float = 80.0  # sigma_T
    # latents z_j = gs.sampling.latents(..., seed, j, j + 1); x_T =
    # 80 z
    seed: int = 0
    # trajectories per model, in the order of `models` below
    n_traj: tuple = (64, 32, 8, 8, 16, 16)
    # bandwidths of the mean-shift identity check
    check_sigmas: tuple = (0.3, 3.0, 30.0)
    n_check: int = 4  # query points per bandwidth
    # bandwidths of classic (non-annealed) mean shift in 2-D
    h_fixed: tuple = (0.3, 1.5)
    ms_iters: int = 100  # classic mean-shift iterations
    # fixed bandwidth at which the likelihood is also tracked
    h_ll: float = 1.0
    # components of the isotropic Gaussian mixtures
    gmm_k: int = 8
    # variance of each component (per coordinate)
    gmm_var: float = 0.05


P = Params()
T = gs.trajectory
sigmas = gs.schedules.polynomial(P.n_steps, sigma_max=P.sigma_max)
gs.report.show_params(P)

# %% [markdown]
# ## The models
#
# - a **2-D toy**: 400 points in 8 clusters on a circle of radius 2 (KDE, float64);
# - **Fashion-MNIST at $8\times 8$** ($d = 64$): the 60,000 training images area-averaged down to
#   $8 \times 8$ (KDE, float32);
# - **Fashion-MNIST at $28 \times 28$** ($d = 784$): the KDE over the 60,000 training images, and the
#   trained network;
# - **isotropic Gaussian mixtures** at $d = 64 \times 64 = 4096$ and $d = 3 \times 64 \times 64 =
#   12{,}288$: 8 components with means drawn from $\mathcal N(0, 0.25 I)$ and covariance $0.05\,I$,
#   whose denoiser is exact (`GMMDenoiser`, float64).
#
# As a control, each KDE has a **null model** beside it (`gs.controls.NullDenoiser`, as in Chapters
# 2-4): a denoiser that returns, at every $\sigma$ and for every sample, a data point drawn at
# random from the same data, independently of $x$; the mixture at $64 \times 64$ has one too, over
# 400 draws from the mixture. It is no mean-shift step and has no structure, so a check that it
# passes says nothing about mean shift. Each claim below is decided by the registry's rule
# (`gs.claims`) from 95 % intervals, with its registered control run through the same statistic.

# %% tags=["hide-input", "nbval-check-output"]
gen = torch.Generator().manual_seed(P.seed)
angles = torch.arange(8) * 2 * math.pi / 8
centres = 2 * torch.stack([angles.cos(), angles.sin()], 1).double()
toy = centres[torch.arange(400) % 8] + 0.2 * torch.randn(400, 2, generator=gen, dtype=torch.float64)

images, _ = gs.data.fashion_mnist("train")
kde_data = {"2-D toy KDE": toy, "8x8 KDE": F.adaptive_avg_pool2d(images, 8), "28x28 KDE": images}
kdes = {name: gs.denoisers.KDEDenoiser(y, dtype=y.dtype) for name, y in kde_data.items()}
nulls = {name: gs.controls.NullDenoiser(y, seed=P.seed) for name, y in kde_data.items()}  # controls


def logp(kde, shape, pts, s, n):
    """log p_s under the KDE at bandwidth s of the points pts (n trajectories x k steps of `shape`, in any
    layout that reshapes to that): (n, k) float64."""
    return kde.log_density(pts.reshape(-1, *shape), s).double().reshape(n, -1)


def isotropic_gmm(shape, seed):
    """P.gmm_k equally weighted components N(mu_k, P.gmm_var I), mu_k ~ N(0, 0.25 I)."""
    g = torch.Generator().manual_seed(seed)
    means = 0.5 * torch.randn(P.gmm_k, *shape, generator=g, dtype=torch.float64)
    return gs.denoisers.GMMDenoiser(torch.full((P.gmm_k,), 1 / P.gmm_k, dtype=torch.float64), means,
                                    torch.full((P.gmm_k,), P.gmm_var, dtype=torch.float64))


models = {  # name: (denoiser, sample shape, dtype)
    "2-D toy KDE": (kdes["2-D toy KDE"], (2,), torch.float64),
    "8x8 KDE": (kdes["8x8 KDE"], (1, 8, 8), torch.float32),
    "28x28 KDE": (kdes["28x28 KDE"], gs.models.IMAGE, torch.float32),
    "28x28 network": (gs.models.load_model("fmnist", device="cpu").denoiser, gs.models.IMAGE, torch.float32),
    "GMM 64x64": (isotropic_gmm((1, 64, 64), P.seed + 1), (1, 64, 64), torch.float64),
    "GMM 3x64x64": (isotropic_gmm((3, 64, 64), P.seed + 2), (3, 64, 64), torch.float64),
}
nulls["GMM 64x64"] = gs.controls.NullDenoiser(models["GMM 64x64"][0].sample(400, gen), seed=P.seed)
for (name, (den, shape, dtype)), n in zip(models.items(), P.n_traj):
    print(f"{name:14s} d = {math.prod(shape):6d}, {n} trajectories, {dtype}")

# %% [markdown]
# ## The KDE denoiser is one mean-shift step
#
# We compute the mean-shift update from the *gradient* of the KDE, $m_\sigma(x) = x + \sigma^2
# \nabla_x \log p_\sigma(x)$ (`gs.controls.mean_shift_step`, autograd through
# `KDEDenoiser.log_density`), at data points noised with bandwidths 0.3, 3 and 30, and compare it
# with the denoiser's output $D^*(x;\sigma)$, relative to the length of the step
# $\lVert D^* - x\rVert$. The statistic is the largest such error per KDE, against the registry's
# threshold $10^{-5}$; the control is the mean-shift step at a 1 % wrong bandwidth, $1.01\,\sigma$.

# %% tags=["hide-input", "nbval-check-output"]
ident, ident_ctrl = {}, {}
for name, kde in kdes.items():
    shape = models[name][1]
    s = torch.tensor(P.check_sigmas, dtype=torch.float64).repeat_interleave(P.n_check)
    y = kde.points((torch.arange(P.n_check) * 997) % kde.N).repeat(len(P.check_sigmas), *[1] * len(shape))
    x = (y + s.reshape(-1, *[1] * len(shape)) * gs.sampling.latents(shape, P.seed + 3, 0, len(s))).to(kde.dtype)
    with torch.no_grad():
        D = kde(x, s).double()
    step = (D - x.double()).flatten(1).norm(dim=1)
    err = {bw: ((gs.controls.mean_shift_step(kde, x, s, bw) - D).flatten(1).norm(dim=1) / step).max().item()
           for bw in (1.0, 1.01)}
    ident[name], ident_ctrl[name] = gs.stats.point(err[1.0], len(s)), gs.stats.point(err[1.01], len(s))
    print(f"{name:12s} max ||m_sigma(x) - D*(x; sigma)|| / ||D* - x||: {err[1.0]:.1e}; "
          f"at bandwidth 1.01 sigma (control) {err[1.01]:.1e}")
v_ident = gs.claims.verdict("meanshift_identity", ident, control=ident_ctrl)
print(v_ident)

# %% [markdown]
# The identity is exact to float64 (2-D) and float32 (images) round-off, orders of magnitude below
# the error of a 1 % wrong bandwidth: the optimal denoiser *is* a mean-shift step whose bandwidth is
# the noise level.
#
# ## Sampling is annealed mean shift
#
# We run Euler's method (18 steps, $\sigma$ from 80 to 0.002) on every model; for the KDEs each step
# moves $x_n$ towards its mean-shift update $m_{\sigma_n}(x_n)$ with a bandwidth that shrinks from
# step to step.

# %% tags=["nbval-ignore-output"]
runs = {}
for (name, (den, shape, dtype)), n in zip(models.items(), P.n_traj):
    t0 = time.perf_counter()
    x_T = P.sigma_max * gs.sampling.latents(
        shape, P.seed, 0, n, dtype=dtype
    )
    runs[name] = T.record(
        gs.solvers.sample_euler, den, x_T, sigmas, dtype=torch.float64
    )
    print(
        f"{name:14s} {n:3d} trajectories:",
        f"{time.perf_counter() - t0:5.1f} s",
    )
null_runs = {}  # the null model on each KDE's data, from the same latents
for (name, (den, shape, dtype)), n in zip(models.items(), P.n_traj):
    if name in nulls:
        x_T = P.sigma_max * gs.sampling.latents(
            shape, P.seed, 0, n, dtype=dtype
        )
        null_runs[name] = T.record(
            gs.solvers.sample_euler,
            nulls[name],
            x_T,
            sigmas,
            dtype=torch.float64,
        )

# %% [markdown]
# In 2-D we can watch it, and compare with *classic* mean shift, which iterates $x \leftarrow
# m_h(x)$ at one fixed bandwidth $h$ from the same starting points.

# %% tags=["hide-input", "nbval-check-output"]
kde2, tr2 = kdes["2-D toy KDE"], runs["2-D toy KDE"]
classic = {}
for h in P.h_fixed:
    path = [tr2.xs[:, 0]]
    for _ in range(P.ms_iters):
        path.append(kde2(path[-1], h))
    classic[h] = torch.stack(path, 1)                            # (B, iters + 1, 2)
spacing = kde2.nearest(kde2.points(torch.arange(kde2.N)), k=2)[0][:, 1].median().item()
d_end, i_end = kde2.nearest(tr2.xs[:, -1])
print(f"annealed (Euler ODE): {gs.trajectory.count_distinct(tr2.xs[:, -1])} distinct end points out of {len(tr2.xs)}, "
      f"{len(i_end.unique())} distinct training points reached; max distance to the nearest one "
      f"{d_end.max().item() / spacing:.2f} x the median spacing of the data")
for h, path in classic.items():
    print(f"classic mean shift, h = {h}: {gs.trajectory.count_distinct(path[:, -1])} distinct end points")
END_MAX = 0.5  # "on a training point": within half the median spacing of the data
d_null, _ = kde2.nearest(null_runs["2-D toy KDE"].xs[:, -1])
near_null = (d_null < END_MAX * spacing).double().mean().item()
near = (d_end < END_MAX * spacing).double().mean().item()
print(f"null model: distance to the nearest training point median "
      f"{d_null.median().item() / spacing:.2g} x the spacing; ends within {END_MAX} x the spacing "
      f"on {near_null:.0%} of trajectories (annealed: {near:.0%})")
assert len(i_end.unique()) > 0.5 * len(tr2.xs) and d_end.max() < END_MAX * spacing
assert near_null < 0.5 < near, "the null model fails: most of its end points are off the data"
assert gs.trajectory.count_distinct(classic[max(P.h_fixed)][:, -1]) <= 2 < gs.trajectory.count_distinct(tr2.xs[:, -1])

# %% tags=["remove-input"]
fig, axes = plt.subplots(1, 2, figsize=(6.6, 4.4), layout="constrained")
lim = 3.3
ax = axes[0]
ax.scatter(toy[:, 0], toy[:, 1], s=4, color="0.6", label="data $y_i$")
for b in range(16):
    xs, ds = tr2.xs[b].numpy(), tr2.denoised[b].numpy()
    ax.plot(xs[:, 0], xs[:, 1], color="tab:blue", lw=1, alpha=0.8, label="sampling trajectory $x_n$" if b == 0 else None)
    ax.plot(ds[:, 0], ds[:, 1], ":", color="tab:orange", lw=1)
    ax.scatter(ds[:, 0], ds[:, 1], c=np.log10(tr2.sigmas[:-1].numpy()), cmap="viridis", s=10, zorder=3,
               label=r"mean-shift targets $m_{\sigma_n}(x_n)$" if b == 0 else None)
ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title="annealed mean shift (Euler, PF-ODE)")
ax = axes[1]
ax.scatter(toy[:, 0], toy[:, 1], s=4, color="0.6")
for h, c in zip(P.h_fixed, sns.color_palette("rocket", len(P.h_fixed))):
    path = classic[h].numpy()
    for b in range(16):
        ax.plot(path[b, :, 0], path[b, :, 1], color=c, lw=1, alpha=0.7, label=f"h = {h}" if b == 0 else None)
    ax.scatter(path[:16, -1, 0], path[:16, -1, 1], color=c, s=40, marker="x", zorder=3)
ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title="classic mean shift, fixed bandwidth h")
handles, labels = (sum(x, []) for x in zip(*(a.get_legend_handles_labels() for a in axes)))
fig.legend(handles, labels, loc="outside upper center", ncol=3)
gs.report.figure(fig, "fig-meanshift-1")

# %% [markdown]
# ```{glue:figure} fig-meanshift-1
# :name: fig-meanshift-1
#
# Left: 16 Euler trajectories (blue) of the KDE over the 2-D toy data (grey) from
# $x_T = 80\,z$, zoomed on the data; dots are the mean-shift targets $m_{\sigma_n}(x_n) =
# D^*(x_n;\sigma_n)$, coloured by $\log_{10}\sigma_n$ (yellow: large). Right: classic mean shift from
# the same 16 starting points at two fixed bandwidths; crosses mark where it stops.
# ```
#
# The annealed version starts with a bandwidth so large that every target is the data mean, and
# ends with one so small that the target is the nearest data point, so each trajectory ends on a
# training point and different starts end on different points. Classic mean shift stops at the modes
# of one smoothed density $p_h$: one per cluster for a small $h$, a single one for a large $h$; it
# never produces a training point, and its output does not depend on where it starts beyond the
# basin it starts in. The null model, which steps towards a random data point at every step, ends
# *between* data points: its last Euler step mixes the current point with an unrelated data point,
# so most of its trajectories end far from any training point (printed above). Landing on the data
# is the work of the annealed mean-shift targets.
#
# ## Each Euler step is a convex combination
#
# `convex_combination_residual` measures how far $x_{n+1}$ is from
# $\frac{\sigma_{n+1}}{\sigma_n} x_n + \left(1 - \frac{\sigma_{n+1}}{\sigma_n}\right) D(x_n;\sigma_n)$,
# relative to the step length:
#
# :::{admonition} The source: `convex_combination_residual`
# :class: dropdown
#
# ```{literalinclude} ../gitscore/trajectory.py
# :pyobject: convex_combination_residual
# ```
# :::

# %% tags=["hide-output", "hide-input", "nbval-check-output"]
weights = 1 - sigmas[1:] / sigmas[:-1]
print(
    "weight of the mean-shift target, 1 - sigma_{n+1}/sigma_n:",
    [round(w, 3) for w in weights.tolist()],
)
for name, tr in runs.items():
    r = (
        T.convex_combination_residual(
            tr.xs, tr.denoised, sigmas, relative=True
        )
        .max()
        .item()
    )
    tol = 1e-12 if models[name][2] == torch.float64 else 1e-4
    print(
        f"{name:14s} max relative residual",
        f"< {tol:.0e}" if r < tol else f"{r:.1e}",
    )
    assert r < tol

# %% [markdown]
# Every Euler step lands on the segment between the current point and its mean-shift target, to
# round-off (float32 models: the recorded states are float32). For the KDEs this is annealed mean
# shift in the literal sense; for the network and the mixtures the same algebra applies with their
# denoiser in place of $m_\sigma$. The weight on the target is about a quarter for the large steps
# at high noise and rises to about 0.7 at the end of EDM's schedule. This check is an identity of
# the Euler step and is true for any denoiser (the null model too); it needs no control.
#
# ## Does the likelihood increase?
#
# We evaluate the KDE log-density (`KDEDenoiser.log_density`) along the KDE trajectories in four
# ways, and report the fraction of steps where it increases:
#
# - **(a) the mean-shift step**: $\log p_{\sigma_n}(m_{\sigma_n}(x_n)) > \log p_{\sigma_n}(x_n)$,
#   target against current point at the same bandwidth (classic mean shift guarantees this for a
#   Gaussian kernel);
# - **(b) the annealed sequence** $L_n = \log p_{\sigma_n}(D^*(x_n;\sigma_n))$ along the denoising
#   trajectory, each point at its own bandwidth;
# - **(c) successive targets at one bandwidth**: $\log p_{\sigma_n}(D_n) \ge \log p_{\sigma_n}(D_{n-1})$;
# - **(d) a fixed bandwidth** $h = 1$: $\log p_h(D_n) > \log p_h(D_{n-1})$.
#
# The registry tests (a), the paper's "each step raises the likelihood": the fraction of (trajectory,
# step) pairs where it rises, against 0.95, with a bootstrap interval over trajectories. Its control
# is a step of the same length in a random direction, $x_n + \lVert D^* - x_n\rVert\, u$ with $u$
# uniform on the sphere (`gs.controls.random_direction_step`), scored the same way: a statistic that
# such a step passes cannot see that mean shift moves uphill.

# %% tags=["hide-output", "hide-input", "nbval-check-output"]
ll, fractions, step_up, random_up = {}, {}, {}, {}
for name, kde in kdes.items():
    tr, shape = runs[name], models[name][1]
    n, N = tr.xs.shape[0], P.n_steps
    with torch.no_grad():
        L_D = logp(kde, shape, tr.denoised, sigmas[:-1].repeat(n), n)                # log p_{sigma_n}(D_n)
        L_x = logp(kde, shape, tr.xs[:, :-1], sigmas[:-1].repeat(n), n)              # log p_{sigma_n}(x_n)
        L_prev = logp(kde, shape, tr.denoised[:, :-1], sigmas[1:-1].repeat(n), n)    # log p_{sigma_n}(D_{n-1})
        L_h = logp(kde, shape, tr.denoised, P.h_ll, n)                               # log p_h(D_n)
        x_rand = gs.controls.random_direction_step(tr.xs[:, :-1].reshape(n * N, -1), tr.denoised.reshape(n * N, -1),
                                                   seed=P.seed)
        L_rand = logp(kde, shape, x_rand, sigmas[:-1].repeat(n), n)                  # log p_{sigma_n}(random step from x_n)
    step_up[name], random_up[name] = (L_D > L_x).double().mean(1), (L_rand > L_x).double().mean(1)
    kernel = L_D + 0.5 * kde.d * torch.log(2 * math.pi * sigmas[:-1] ** 2)  # L_n without the normaliser
    ll[name] = {"L_D": L_D, "L_x": L_x, "kernel": kernel, "L_h": L_h}
    fractions[name] = {
        "(a) step": (L_D > L_x).double().mean().item(),
        "(a) random direction": (L_rand > L_x).double().mean().item(),
        "(b) annealed": (L_D[:, 1:] > L_D[:, :-1]).double().mean().item(),
        "(b') kernel part": (kernel[:, 1:] > kernel[:, :-1]).double().mean().item(),
        "(c) one bandwidth": (L_D[:, 1:] >= L_prev).double().mean().item(),
        "(d) h = 1": (L_h[:, 1:] > L_h[:, :-1]).double().mean().item(),
    }
    print(f"{name:12s} " + "  ".join(f"{k} {v:.2f}" for k, v in fractions[name].items()))
null_fractions, null_up = {}, {}
for name, kde in kdes.items():
    tr, shape = null_runs[name], models[name][1]
    n = tr.xs.shape[0]
    with torch.no_grad():
        L_D = logp(kde, shape, tr.denoised, sigmas[:-1].repeat(n), n)
        L_x = logp(kde, shape, tr.xs[:, :-1], sigmas[:-1].repeat(n), n)
    null_fractions[name] = {"(a) step": (L_D > L_x).double().mean().item(),
                            "(b) annealed": (L_D[:, 1:] > L_D[:, :-1]).double().mean().item()}
    null_up[name] = (L_D > L_x).double().mean(1)
    print(f"{'null, ' + name.split()[0]:12s} "
          + "  ".join(f"{k} {v:.2f}" for k, v in null_fractions[name].items()))
iv_up, iv_random, iv_null = ({m: gs.stats.bootstrap(v) for m, v in per_traj.items()}
                             for per_traj in (step_up, random_up, null_up))
v_like = gs.claims.verdict("meanshift_likelihood", iv_up, control=iv_random)
null_like = gs.claims.check_control("meanshift_likelihood", iv_null, iv_up)
print(v_like)
print(f"the null model as a control of (a): {null_like.closest} {null_like.interval}, {null_like.side}: "
      f"{null_like.word}")
gs.report.glue_text("likelihood_verdict", v_like.word)
gs.report.glue_text("likelihood_null", null_like.word)

# %% tags=["remove-input"]
fig, axes = plt.subplots(1, 3, figsize=(6.6, 3.3), layout="constrained")
L = ll["28x28 KDE"]
sig = sigmas[:-1].numpy()
for key, label, c in (("L_x", r"$\log p_{\sigma_n}(x_n)$", "tab:blue"), ("L_D", r"$\log p_{\sigma_n}(D_n)$", "tab:orange")):
    axes[0].plot(sig, L[key].median(0).values, "o-", ms=3, color=c, label=label)
axes[0].set(title="(a), (b): bandwidth $\\sigma_n$", ylabel="log-density (median)")
axes[1].plot(sig, L["kernel"].median(0).values, "o-", ms=3, color="tab:orange")
axes[1].set(title="(b'): kernel part", ylabel=r"$\log p_{\sigma_n}(D_n) + \frac{d}{2}\log(2\pi\sigma_n^2)$")
for b in range(L["L_h"].shape[0]):
    axes[2].plot(sig, L["L_h"][b], color="tab:purple", alpha=0.6, lw=1)
axes[2].set(title=f"(d): bandwidth h = {P.h_ll}", ylabel=r"$\log p_h(D_n)$")
for ax in axes:
    ax.set(xscale="log", xlabel=r"$\sigma_n$")
    ax.invert_xaxis()
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncol=2)
gs.report.figure(fig, "fig-meanshift-2")

# %% [markdown]
# ```{glue:figure} fig-meanshift-2
# :name: fig-meanshift-2
#
# Log-density of the 28x28 KDE along its 8 Euler trajectories ($\sigma$ decreases from
# left to right). Left: at the current bandwidth, current point (blue) and mean-shift target
# (orange). Middle: the target's log-density without the Gaussian normaliser
# $-\frac d2 \log(2\pi\sigma_n^2)$. Right: every trajectory's targets at one fixed bandwidth.
# ```
#
# Reading the fractions:
#
# - **(a)**, the registered claim, is true at every step on all three KDEs (fraction 1.00): each
#   mean-shift target is more likely than the point it came from, at the bandwidth of the step, the
#   mean-shift ascent property. A step of the same length in a random direction raises the
#   likelihood far less often (the "(a) random direction" fractions), so the rule's verdict, with
#   that control, is **{glue:text}`likelihood_verdict`**.
# - **(b)** is true on all steps of the image KDEs and nearly all in 2-D, but mostly because the
#   bandwidth shrinks: the normaliser $-\frac d2\log(2\pi\sigma_n^2)$ grows by
#   $d\log(\sigma_n/\sigma_{n+1})$ per step. Without it (b', middle) the density of the target
#   *falls* as the bandwidth shrinks, and only comes back up to $\log(1/N)$ (about $-11$ for
#   $N = 60{,}000$) when the target becomes a single training image; it increases on few steps (the
#   (b') fractions).
# - **(c) and (d)** are false as monotone statements: at one bandwidth, the next target is often
#   slightly *less* likely than the previous one at high noise (the targets drift away from the data
#   mean, which is the most likely point of a wide KDE), and more likely once the KDE starts
#   choosing training images; at a fixed $h$ the curves first fall, then rise.
#
# The increase along the annealed sequence (b) reflects the annealing of the bandwidth as much as
# the motion of the points; the registry does not count it as evidence.
#
# **The null model is no control here**: it passes (b) on every KDE and (a) on the image KDEs (its
# rows above; its check against (a): {glue:text}`likelihood_null`). (a) is a theorem for mean-shift
# targets, and in high dimension any data point is more likely than a point $\sigma\sqrt d$ away
# from the data, which is all (a) asks of the null model's random targets; only in 2-D, where
# $\sigma\sqrt d$ is small at the end, does a random target sometimes lose. (b) follows the
# shrinking normaliser for any targets that sit on the data. The random-direction step keeps the
# length of the mean-shift step and drops its direction, which is what (a) is about.
#
# ## Sampling length $\approx \sigma_T\sqrt d$ and a constant field magnitude
#
# The sampling trajectory starts at $x_T = \sigma_T z$ with $\lVert z\rVert \approx \sqrt d$, and
# Chapter 2 showed it is nearly straight, so its length should be about $\sigma_T\sqrt d$ plus the
# small size of the data. Its speed is the predicted noise, $\lVert dx/d\sigma\rVert = \lVert x -
# D(x;\sigma)\rVert / \sigma$ (`field_magnitude_exact`), which the paper finds nearly constant at
# $\approx\sqrt d$. We measure, per model:
#
# - the path length (`path_length`, polygon through the 19 states) against $\sigma_T \sqrt d$, and the
#   expected ratio from the start alone, $E\lVert z\rVert/\sqrt d =
#   \sqrt{2/d}\,\Gamma(\frac{d+1}2)/\Gamma(\frac d2)$;
# - $\lVert dx/d\sigma\rVert / \sqrt d$ at the 18 grid points: mean, coefficient of variation (CV)
#   along each trajectory, and its smallest value, each averaged over trajectories.

# %% tags=["hide-input", "nbval-check-output"]
rows, table = {}, []
for name, tr in runs.items():
    d = tr.xs.shape[-1]
    length = T.path_length(tr)[:, -1]
    ratio = length / (P.sigma_max * math.sqrt(d))
    speed = T.field_magnitude_exact(tr.xs, tr.denoised, sigmas) / math.sqrt(d)  # (B, N)
    chi = math.exp(0.5 * math.log(2 / d) + math.lgamma((d + 1) / 2) - math.lgamma(d / 2))
    cv = speed.std(1) / speed.mean(1)                                              # per trajectory
    rows[name] = dict(d=d, ratio=ratio, chi=chi, speed=speed, mean=speed.mean(1).mean().item(), cv_traj=cv,
                      cv=cv.mean().item(), min=speed.amin(1).mean().item())
    r = rows[name]
    table.append({"model": name, "d": d, "sigma_T sqrt(d)": P.sigma_max * math.sqrt(d), "E[z]/sqrt(d)": chi,
                  "length": length.mean().item(), "ratio": ratio.mean().item(), "ratio sd": ratio.std().item(),
                  "field / sqrt(d)": r["mean"], "CV": r["cv"], "min": r["min"]})
null_rows = {}
for name, tr in null_runs.items():
    d = tr.xs.shape[-1]
    speed = T.field_magnitude_exact(tr.xs, tr.denoised, sigmas) / math.sqrt(d)
    ratio = T.path_length(tr)[:, -1] / (P.sigma_max * math.sqrt(d))
    cv = speed.std(1) / speed.mean(1)
    null_rows[name] = dict(ratio=ratio.mean().item(), ratio_traj=ratio, mean=speed.mean(1).mean().item(),
                           cv_traj=cv, cv=cv.mean().item(), high=speed[:, sigmas[:-1] >= 1.0].mean().item())
    r = null_rows[name]
    table.append({"model": "null, " + name.split()[0], "d": d, "ratio": r["ratio"], "field / sqrt(d)": r["mean"],
                  "CV": r["cv"]})
gs.report.glue_table("tab-meanshift-length", pd.DataFrame(table),
                     {"sigma_T sqrt(d)": "{:.4g}", "length": "{:.4g}", **{k: "{:.3f}" for k in (
                         "E[z]/sqrt(d)", "ratio", "ratio sd", "field / sqrt(d)", "CV", "min")}},
    caption="Sampling length and field magnitude per model, over its trajectories: "
            "the dimension $d$, $\\sigma_T\\sqrt d$, the expected $E\\lVert "
            "z\\rVert/\\sqrt d$, the mean path length and its ratio to $\\sigma_T\\sqrt "
            "d$ (mean and standard deviation over trajectories), the field "
            "magnitude $\\lVert dx/d\\sigma\\rVert/\\sqrt d$ averaged along the "
            "trajectory, its coefficient of variation (CV) along each trajectory "
            "and its minimum; the null model's rows on each KDE's data (a dash: "
            "not measured).",
)

# %% [markdown]
# ::::{dropdown} Table: sampling length against sigma_T sqrt(d) (click to open)
# ```{glue:md} tab-meanshift-length
# :format: myst
# ```
# ::::

# %% [markdown]
# The registry's two claims, each against the null model on the model's own data (the 28x28 null
# for the network): the length error $\lvert \text{length} / (\sigma_T\sqrt d) - 1\rvert$ averaged
# over trajectories, against 10 %, and the coefficient of variation (CV) of the field magnitude
# along each trajectory, averaged over trajectories, against 0.1; intervals by bootstrap over
# trajectories.

# %% tags=["hide-output", "hide-input", "nbval-check-output"]
high = sigmas[:-1] >= 1.0
v = P.gmm_var
own_null = {m: "28x28 KDE" if m == "28x28 network" else m for m in rows}  # the null model on the model's data
claim_len, claim_field = gs.claims.get("meanshift_length"), gs.claims.get("meanshift_field")
v_len = gs.claims.verdict(claim_len, {m: gs.stats.bootstrap((rows[m]["ratio"] - 1).abs()) for m in claim_len.models},
                          control={m: gs.stats.bootstrap((null_rows[own_null[m]]["ratio_traj"] - 1).abs())
                                   for m in claim_len.models})
v_field = gs.claims.verdict(claim_field, {m: gs.stats.bootstrap(rows[m]["cv_traj"]) for m in claim_field.models},
                            control={m: gs.stats.bootstrap(null_rows[own_null[m]]["cv_traj"])
                                     for m in claim_field.models})
for vv in (v_len, v_field):
    for m, iv in vv.intervals:
        print(f"{vv.claim.statistic}, {m}: {iv}")
    print(vv)
gs.report.glue_text("length_verdict", v_len.word)
gs.report.glue_text("field_verdict", v_field.word)
speed_high = {name: r["speed"][:, high].mean().item() for name, r in rows.items()}
print("mean |dx/dsigma| / sqrt(d) over sigma >= 1:", {k: round(x, 3) for k, x in speed_high.items()})
print("null models, mean |dx/dsigma| / sqrt(d) over sigma >= 1:",
      {k: round(r["high"], 3) for k, r in null_rows.items()})
# GMM: exact profile of one Gaussian component, |dx/dsigma| / |dx/dsigma|_T = sigma sqrt(v + sigma_T^2) / (sigma_T sqrt(v + sigma^2))
profile = sigmas[:-1] * math.sqrt(v + P.sigma_max ** 2) / (P.sigma_max * (v + sigmas[:-1] ** 2).sqrt())
for name in ("GMM 64x64", "GMM 3x64x64"):
    rel = rows[name]["speed"] / rows[name]["speed"][:, :1] / profile
    print(f"{name}: measured / one-component profile in [{rel.min().item():.2f}, {rel.max().item():.2f}]")
    assert abs(speed_high[name] - 1) < 0.05 and 0.75 < rel.min() and rel.max() < 1.05

# %% tags=["remove-input"]
fig, axes = plt.subplots(2, 1, figsize=(6.6, 6.4), layout="constrained")
palette = dict(zip(rows, sns.color_palette("tab10", len(rows))))
for name, r in rows.items():
    med = r["speed"].median(0).values
    axes[0].plot(sigmas[:-1], med, "o-", ms=3, color=palette[name], label=f"{name} (d = {r['d']})")
    axes[0].fill_between(sigmas[:-1], r["speed"].amin(0), r["speed"].amax(0), color=palette[name], alpha=0.12, lw=0)
axes[0].plot(sigmas[:-1], (sigmas[:-1] / (v + sigmas[:-1] ** 2).sqrt()), "k:", lw=1,
             label=r"one Gaussian: $\sigma/\sqrt{v + \sigma^2}$")
axes[0].axhline(1, color="gray", lw=0.8)
axes[0].set(ylim=(0, 2.2), xscale="log", xlabel=r"$\sigma$", ylabel=r"$\|dx/d\sigma\| / \sqrt{d}$", title="vector-field magnitude")
axes[0].invert_xaxis()
axes[0].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
names = list(rows)
for k, name in enumerate(names):
    ratio = rows[name]["ratio"].numpy()
    axes[1].scatter(np.full(len(ratio), k) + np.linspace(-0.2, 0.2, len(ratio)), ratio, s=10, color=palette[name])
    axes[1].plot([k - 0.3, k + 0.3], [rows[name]["chi"]] * 2, "k-", lw=1)
axes[1].axhline(1, color="gray", lw=0.8)
axes[1].set(xticks=range(len(names)), ylabel=r"path length / $\sigma_T\sqrt{d}$", title="sampling length")
axes[1].set_xticklabels([f"{n}\nd = {rows[n]['d']}".replace(" ", "\n", 1) for n in names], fontsize=8)
gs.report.figure(fig, "fig-meanshift-3")

# %% [markdown]
# ```{glue:figure} fig-meanshift-3
# :name: fig-meanshift-3
#
# Top: $\lVert dx/d\sigma\rVert/\sqrt d$ along the trajectories (median and range)
# for every model, with the exact profile of a single Gaussian component of variance $v = 0.05$
# (dotted); the 2-D band is clipped at 2.2. Bottom: path length over $\sigma_T\sqrt d$ for each
# trajectory; black bars mark the expectation $E\lVert z\rVert/\sqrt d$.
# ```
#
# Reading the two claims:
#
# - **Sampling length** (the rule's verdict: **{glue:text}`length_verdict`**). For $d \ge 64$ the
#   length is $\sigma_T\sqrt d$ to within a few percent on average, and the spread across
#   trajectories shrinks like $1/\sqrt{2d}$: the length is set by the starting point,
#   $\lVert x_T\rVert = \sigma_T\lVert z\rVert$, because the trajectory is nearly straight and the
#   data ($\lVert x_0\rVert \ll \sigma_T\sqrt d$) barely adds to it. At $d = 64$ one trajectory's
#   $\lVert z\rVert/\sqrt d$ still varies by about 10 %, which is the size of the threshold. For the
#   same reason the null models' lengths (printed rows) are close to $\sigma_T\sqrt d$ too: the
#   statistic cannot separate a structured denoiser from one without structure, and the rule says so.
#   No control is known that fails it: the length is a property of $x_T$. In 2-D there is no
#   concentration of measure: $\lVert z\rVert/\sqrt 2$ ranges from near 0 to about 2, and the mean
#   ratio is $E\lVert z\rVert/\sqrt 2 \approx 0.89$ rather than 1.
# - **Constant magnitude** (the rule's verdict: **{glue:text}`field_verdict`**). On the image KDEs
#   the magnitude stays within a few percent of $\sqrt d$ all the way (CV under 0.1): with isolated
#   data points the denoiser keeps removing the whole noise, and near the end $x - y_i \propto
#   \sigma$, so the speed freezes. In 2-D it wanders by about half (CV $\approx 0.5$). The null
#   models are far on the wrong side (CV in {numref}`tab-meanshift-length`): their steps at small $\sigma$ jump between
#   unrelated data points, so $\lVert x - D\rVert/\sigma$ blows up.
# - **But only for point masses.** The speed is the norm of the predicted noise
#   $E[\varepsilon \mid x]$, and $E\lVert E[\varepsilon\mid x]\rVert^2 \le E\lVert\varepsilon\rVert^2 = d$
#   for any data, with equality only when $x$ determines the noise, as it does near an isolated
#   training point at small $\sigma$. For the Gaussian mixtures the magnitude is $\approx\sqrt d$
#   while $\sigma^2 \gg v$ and then falls roughly as $\sigma/\sqrt{v + \sigma^2}$ (within the printed
#   range of the one-component profile): each component has volume, and the noise along it cannot be
#   told apart from the data. The trained network, which generalises rather than memorising points,
#   keeps $\approx\sqrt d$ for $\sigma \ge 1$ (printed above) and falls below it at smaller
#   $\sigma$ (its `min` column in {numref}`tab-meanshift-length`). That number cannot separate: for $\sigma \ge 1$ the noise dominates
#   $x$, and the 28x28 null model's mean magnitude there is close to $\sqrt d$ as well.

# %% [markdown]
# ## Verdicts

# %% [markdown]
# (meanshift-identity)=
# (meanshift-likelihood)=
# (meanshift-length)=
# (meanshift-field)=
#
# The rule's verdicts on these measurements:

# %% tags=["nbval-check-output"]
for vv in (v_ident, v_like, v_len, v_field):
    gs.report.verdict(vv)
_ = gs.report.glue_verdicts("05_meanshift")

# %% [markdown]
# ## Summary
#
# In this chapter we
#
# - verified that the optimal KDE denoiser equals the mean-shift update computed from the KDE's
#   gradient, on KDEs in $d = 2, 64, 784$, where a 1 % wrong bandwidth does not;
# - watched annealed mean shift in 2-D reach distinct training points, where fixed-bandwidth mean
#   shift collapses onto a few modes;
# - checked that every Euler step is the convex combination of the current point and its mean-shift
#   target, on every model;
# - found that each mean-shift step raises the KDE likelihood at its own bandwidth, where a step of
#   the same length in a random direction does not ({glue:text}`likelihood_verdict`), and that the
#   annealed sequence rises too, largely through the shrinking bandwidth, while at one fixed
#   bandwidth it is not monotone;
# - measured the sampling length $\approx\sigma_T\sqrt d$, which the null model matches as well
#   ({glue:text}`length_verdict`), and a field magnitude $\approx\sqrt d$ that is constant for KDEs in
#   high dimension, but decays once $\sigma$ falls below the data's own spread for the mixtures and,
#   in part, for the network ({glue:text}`field_verdict`).
#
# **What's next.** {doc}`06_gits` uses the shared shape of the trajectories to fit a time schedule by
# dynamic programming: GITS.

# %% tags=["nbval-ignore-output"]
print(f"chapter executed in {time.perf_counter() - t_start:.0f} s")
