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
# # The denoising trajectory
#
# ## Overview
#
# Every step of an ODE sampler evaluates the denoiser, and the outputs $D(x_t;\sigma_t)$ form a
# second trajectory next to the sampling trajectory $x_t$. {cite}`chen2024trajectory` (Sec. 4 and
# Fig. 5) make two claims about it:
#
# 1. **It converges much faster.** The denoising outputs approach the final sample $x_0$ long
#    before the noisy states do.
# 2. **It steers the sampling trajectory.** By Proposition 4.1 (checked numerically in Chapter 1)
#    an Euler step from $\sigma_{n+1}$ to $\sigma_n$ is the convex combination
#    $x_n = \frac{\sigma_n}{\sigma_{n+1}} x_{n+1} + \bigl(1 - \frac{\sigma_n}{\sigma_{n+1}}\bigr) D(x_{n+1})$:
#    the sampler always moves along the segment towards the current denoising output. The paper's
#    Fig. 5 draws this in 2-D: blue sampling points, red denoising points.
#
# We record both trajectories for 30 latents on the three models of this book (the trained network,
# the exact KDE denoiser over all 60,000 Fashion-MNIST training images, a 10-class Gaussian
# mixture), look at them as images, measure at which noise level each one settles on the final
# sample, and draw the 2-D picture of Fig. 5 on a small Gaussian mixture.
#
# **Prerequisites.** Chapter 1 (the PF-ODE, solvers, Proposition 4.1). The recorder and the distance
# curves come from `gitscore.trajectory`.

# %%
# NBVAL_IGNORE_OUTPUT
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import torch

import gitscore as gs

torch.set_num_threads(1)  # one fixed thread count: float32 round-off, hence every printed digit, repeats
sns.set_theme(style="whitegrid", context="notebook")


@dataclass
class Params:
    n_traj: int = 30                  # trajectories per model
    n_steps: int = 60                 # fine grid: EDM's polynomial schedule (rho = 7), 80 -> 0.002
    solver: str = "ipndm"             # 4th-order multistep, 1 NFE per step (the GITS teacher)
    seed: int = 0                     # latents z_j = gs.gits.latents(..., seed, j, j + 1); x_T = 80 z
    eps: tuple = (0.1, 0.05)          # "settled": distance to x_0 stays below eps * ||D(x_T) - x_0||
    show_sigmas: tuple = (80, 20, 5, 2, 1, 0.5, 0.2, 0.05, 0.01)  # columns of the image figure (nearest grid point)
    gmm_ridge: float = 1e-3           # added to each class covariance (border pixels are constant)
    sigma_max_2d: float = 3.0         # 2-D picture: start at a noise level comparable to the data
    n_steps_2d: int = 6               # 2-D picture: Euler steps (polynomial schedule)
    n_traj_2d: int = 3                # 2-D picture: trajectories drawn
    device: str = "cuda" if torch.cuda.is_available() else "cpu"


P = Params()
T = gs.trajectory
sigmas = gs.schedules.polynomial(P.n_steps)
shape = (1, 28, 28)
print(P)

# %% [markdown]
# ## Recording both trajectories
#
# A `gs.trajectory.Recorder`, passed as the solver's `callback`, stores $x_{t_n}$ and
# $D(x_{t_n};\sigma_n)$ at every grid point; `gs.trajectory.record` runs a solver with one and
# returns a `Trajectory` with `xs` (the $N+1$ sampling points, the last one the sample $x_0$) and
# `denoised` (the $N$ denoising outputs). We use iPNDM on a 60-step polynomial grid — the teacher
# of GITS, accurate enough that its trajectories stand for the exact ODE solution — and the same
# 30 latents $x_T = 80 z$ for all three models. The network and the KDE run in float32, the
# mixture in float64. The KDE uses all 60,000 training images, no subsampling.

# %%
# NBVAL_IGNORE_OUTPUT
images, labels = gs.data.fashion_mnist("train")
X = images.reshape(len(images), -1)
net = gs.nets.load_pretrained(device=P.device)
kde = gs.denoisers.KDEDenoiser(images, device=P.device)
gmm = gs.denoisers.GMMDenoiser.from_classes(images, labels, P.gmm_ridge)  # one Gaussian per class

# %%
# NBVAL_CHECK_OUTPUT
x_T = 80 * gs.gits.latents(shape, P.seed, 0, P.n_traj)  # float64
solver = gs.solvers.SOLVERS[P.solver]
with torch.no_grad():
    trajs = {
        "trained network": T.record(solver, net, x_T.float().to(P.device), sigmas),
        "KDE (60k images)": T.record(solver, kde, x_T.float().to(P.device), sigmas),
        "GMM (10 classes)": T.record(solver, gmm, x_T, sigmas),
    }
for name, tr in trajs.items():
    print(f"{name:>18}: xs {tuple(tr.xs.shape)}, denoised {tuple(tr.denoised.shape)}")

# %% [markdown]
# ## Both trajectories as images
#
# The next figure follows the first latent on each model: the sampling trajectory $x_t$ (clipped to
# the pixel range $[-1, 1]$, so large noise shows as black-and-white speckle) and the denoising
# output $D(x_t)$ at the same noise levels.

# %% tags=["hide-input"]
cols = [int((sigmas - s).abs().argmin()) for s in P.show_sigmas]
fig, axes = plt.subplots(2 * len(trajs), len(cols) + 1, figsize=(1.3 * (len(cols) + 1), 1.45 * 2 * len(trajs)))
for m, (name, tr) in enumerate(trajs.items()):
    for r, (which, label) in enumerate([("xs", "$x_t$"), ("denoised", "$D(x_t)$")]):
        row = axes[2 * m + r]
        imgs = tr.images(which)[0, :, 0].float()
        for j, i in enumerate(cols):
            row[j].imshow(imgs[i].clamp(-1, 1), cmap="gray", vmin=-1, vmax=1)
            if m == 0 and r == 0:
                row[j].set_title(f"$\\sigma$={sigmas[i].item():.3g}", fontsize=9)
        row[0].set_ylabel(f"{name}\n{label}", rotation=0, ha="right", va="center", fontsize=9)
        if r == 0:
            row[-1].imshow(tr.images("xs")[0, -1, 0].float().clamp(-1, 1), cmap="gray", vmin=-1, vmax=1)
            if m == 0:
                row[-1].set_title("$x_0$ (final)", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Figure 3.1.** One latent, three models: rows alternate the sampling trajectory $x_t$ and the
# denoising trajectory $D(x_t)$ at the noise levels on top (nearest points of the 60-step grid);
# the last column is the final sample. The denoising outputs go from the blurry average image to
# a recognisable garment at moderate noise, while $x_t$ is still dominated by noise; below
# $\sigma \approx 0.2$ the denoising outputs hardly change. The KDE denoiser snaps to one training
# image already at $\sigma$ around 1-2 (Chapter 4).
#
# ## How fast each trajectory settles
#
# We measure the distance of both trajectories to the final sample, $\lVert x_t - x_0 \rVert$ and
# $\lVert D(x_t) - x_0 \rVert$, with `gs.trajectory.convergence_curve`, on **one common scale** per
# trajectory. Which scale matters:
#
# - Divided by the initial distance of the sampling trajectory, $\lVert x_T - x_0 \rVert \approx 80\sqrt{784}$,
#   the denoising trajectory starts below 1% and is "within 10%" from its first step — true but
#   uninformative (printed below).
# - We therefore divide both by $s = \lVert D(x_T) - x_0 \rVert$, the initial distance of the
#   *denoising* trajectory: roughly how far the sample is from the blurry average image that the
#   denoiser outputs at $\sigma = 80$. On this scale the denoising trajectory starts at 1 and the
#   sampling trajectory at over 100.
#
# (Dividing each curve by its *own* initial distance would measure something else: the fraction
# of its way a trajectory has covered. The sampling trajectory's distance shrinks like
# $\sigma\sqrt{d}$, so by that measure it is "within 10%" already at $\sigma \approx 8$ while
# still far from the sample in absolute terms; we print that number too, for completeness.)
#
# A trajectory has *settled* at level $\epsilon$ from the largest noise level after which its
# distance stays below $\epsilon s$ until the end. We report the median settling $\sigma$ over the
# 30 trajectories and the fraction of trajectories whose denoising trajectory settles at a larger
# $\sigma$ (earlier) than their sampling trajectory.

# %%
# NBVAL_CHECK_OUTPUT
def settling_sigma(curve, grid, eps):
    """Largest grid sigma from which the curve stays <= eps to its end, per trajectory (B,)."""
    above = curve > eps
    last_above = torch.where(above.any(1), above.shape[1] - 1 - above.flip(1).int().argmax(1), -1)
    return grid[(last_above + 1).clamp(max=len(grid) - 1)]


curves, settle = {}, {}
for name, tr in trajs.items():
    x_0 = tr.xs[:, -1]
    s = T.convergence_curve(tr.denoised, target=x_0, normalize=False)[:, 0]   # ||D(x_T) - x_0||
    curves[name] = {"x": T.convergence_curve(tr.xs, target=x_0, normalize=s),
                    "D": T.convergence_curve(tr.denoised, target=x_0, normalize=s)}
    start_on_x_scale = (curves[name]["D"][:, 0] * s / T.sample_distance(tr)[:, 0]).median().item()
    print(f"{name}: ||D(x_T) - x_0|| / ||x_T - x_0|| = {start_on_x_scale:.3f} (median); "
          f"||x_T - x_0|| / s = {curves[name]['x'][:, 0].median().item():.0f} (median)")
    own = settling_sigma(T.convergence_curve(tr.xs, target=x_0), sigmas, P.eps[0]).median().item()
    print(f"    x_t within {P.eps[0]} of its own initial distance from sigma {own:.3g} (median)")
    for eps in P.eps:
        sx = settling_sigma(curves[name]["x"], sigmas, eps)
        sd = settling_sigma(curves[name]["D"], sigmas[:-1], eps)
        settle[name, eps] = (sx, sd)
        print(f"    eps = {eps:<4}: settles at sigma (median) x_t {sx.median().item():.3g}, "
              f"D(x_t) {sd.median().item():.3g} ({sd.median().item() / sx.median().item():.3g}x larger); "
              f"D earlier on {(sd > sx).double().mean().item():.0%} of trajectories")

# %%
for (name, eps), (sx, sd) in settle.items():
    assert sd.median() > sx.median(), f"{name}, eps={eps}: the denoising trajectory settles earlier"
    assert (sd > sx).double().mean() >= 0.9, f"{name}, eps={eps}: on at least 90% of trajectories"

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, len(trajs), figsize=(5 * len(trajs), 4), sharey=True)
for ax, (name, c) in zip(axes, curves.items()):
    for key, grid, color, label in (("x", sigmas, "C0", r"$\|x_t - x_0\| / s$"),
                                    ("D", sigmas[:-1], "C3", r"$\|D(x_t) - x_0\| / s$")):
        lo, med, hi = np.quantile(c[key].numpy(), [0.1, 0.5, 0.9], axis=0)
        ax.plot(grid, med, color=color, label=label + " (median)")
        ax.fill_between(grid, lo, hi, color=color, alpha=0.2)
        sig = settle[name, P.eps[0]][0 if key == "x" else 1].median().item()
        ax.axvline(sig, color=color, ls=":", lw=1.5)
    ax.axhline(P.eps[0], color="gray", ls="--", lw=1, label=f"$\\epsilon$ = {P.eps[0]}")
    ax.set(xscale="log", yscale="log", xlabel=r"$\sigma$", title=name, xlim=(100, 1e-3), ylim=(1e-4, 500))
axes[0].set_ylabel("distance to the final sample / s")
axes[0].legend(fontsize=9, loc="lower left")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Figure 3.2.** Distance to the final sample along the sampling trajectory (blue) and the
# denoising trajectory (red), divided by $s = \lVert D(x_T) - x_0 \rVert$; median over 30
# trajectories with the 10-90% band, $\sigma$ decreasing from left to right. Dotted lines: the
# median $\sigma$ at which each settles below $\epsilon = 0.1$. The sampling trajectory's distance
# falls like $\sigma\sqrt{d}$ all the way down; the denoising trajectory's distance falls fast at
# moderate noise and then flattens near zero well before the end.
#
# The claim holds on all three models: on every model and both tolerances the denoising
# trajectory settles at a larger noise level than the sampling trajectory (see the ratios above).
# The margin is largest for the KDE denoiser, whose outputs lock onto a single training image at
# $\sigma$ of order 1, and smaller for the network and the mixture, whose outputs keep refining
# fine detail down to $\sigma \approx 0.1$-$0.3$.
#
# ## The 2-D picture (Fig. 5)
#
# For intuition we draw both trajectories in the plane, on a mixture of three Gaussians. To keep the
# picture readable we start at $\sigma = 3$ (a noise level comparable to the spread of the data)
# rather than 80, and take 6 Euler steps of a polynomial schedule down to 0.002. Each Euler step
# moves from $x_{n+1}$ (blue) along the dashed segment towards its denoising output $D(x_{n+1})$
# (red) and stops at the fraction $1 - \sigma_n/\sigma_{n+1}$ of the way: the next blue point.

# %%
# NBVAL_CHECK_OUTPUT
gmm2 = gs.denoisers.GMMDenoiser(
    torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64),
    torch.tensor([[-1.6, 0.6], [1.4, 1.1], [0.2, -1.3]], dtype=torch.float64),
    torch.tensor([[[0.10, 0.05], [0.05, 0.06]], [[0.05, -0.03], [-0.03, 0.08]], [[0.12, 0.0], [0.0, 0.03]]],
                 dtype=torch.float64))
sigmas_2d = gs.schedules.polynomial(P.n_steps_2d, sigma_max=P.sigma_max_2d)
x_T2 = P.sigma_max_2d * gs.gits.latents((2,), P.seed, 0, P.n_traj_2d)
tr2 = T.record(gs.solvers.sample_euler, gmm2, x_T2, sigmas_2d)
res2 = T.convex_combination_residual(tr2, sigmas=sigmas_2d)
print("2-D Euler steps: max ||x_n - convex combination|| below 1e-12:", bool(res2.max() < 1e-12))
assert res2.max() < 1e-12

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 6.2), gridspec_kw={"width_ratios": [1, 1]})
data2 = gmm2.sample(1500, generator=torch.Generator().manual_seed(P.seed))
xs2, ds2 = tr2.xs.numpy(), tr2.denoised.numpy()
w2 = (1 - sigmas_2d[1:] / sigmas_2d[:-1]).numpy()
for ax in axes:
    ax.scatter(data2[:, 0], data2[:, 1], s=3, color="0.75", label="data samples")
    for b in range(P.n_traj_2d):
        for n in range(P.n_steps_2d):
            ax.plot([xs2[b, n, 0], ds2[b, n, 0]], [xs2[b, n, 1], ds2[b, n, 1]], ls="--", lw=0.8, color="0.35")
        ax.plot(xs2[b, :, 0], xs2[b, :, 1], "-o", color="C0", ms=5, label="sampling trajectory $x_n$" if b == 0 else None)
        ax.plot(ds2[b, :, 0], ds2[b, :, 1], "-s", color="C3", ms=5,
                label="denoising trajectory $D(x_n)$" if b == 0 else None)
axes[0].set(xlabel="$x^{(1)}$", ylabel="$x^{(2)}$", aspect="equal",
            title=f"{P.n_traj_2d} Euler trajectories, $\\sigma$ from {P.sigma_max_2d:g} to 0.002")
axes[0].legend(loc="upper left", fontsize=9)
# Zoom: the first two steps of trajectory 0, labelled as in the paper's Fig. 5.
b, pts = 0, np.concatenate([xs2[0, :3], ds2[0, :2]])
pad = 0.15 * np.ptp(pts, 0).max()
axes[1].set(xlim=(pts[:, 0].min() - pad, pts[:, 0].max() + pad), ylim=(pts[:, 1].min() - pad, pts[:, 1].max() + pad),
            aspect="equal", xlabel="$x^{(1)}$", title="Two consecutive Euler steps (trajectory 1)")
N2 = P.n_steps_2d  # labels count down as in the paper: x_N = x_T is the start, x_0 the final sample
for n in range(3):
    axes[1].annotate(f"$x_{{{N2 - n}}}$", xs2[b, n], textcoords="offset points", xytext=(8, 6), color="C0", fontsize=13)
for n in range(2):
    axes[1].annotate(f"$D(x_{{{N2 - n}}})$", ds2[b, n], textcoords="offset points", xytext=(8, -16), color="C3",
                     fontsize=13)
    mid = xs2[b, n] + 0.5 * (xs2[b, n + 1] - xs2[b, n])
    axes[1].annotate(f"weight of $D$: {w2[n]:.2f}", mid, textcoords="offset points", xytext=(0, -20), fontsize=10,
                     ha="center")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Figure 3.3.** Left: three Euler trajectories on a 2-D mixture of three Gaussians (grey:
# samples of the data). Blue: the sampling trajectory $x_n$; red: the denoising trajectory
# $D(x_n)$; dashed: the segment from $x_n$ to $D(x_n)$, on which the next point $x_{n+1}$ lies (to
# round-off, as checked above). Right: the first two steps of one trajectory, with the weight
# $1 - \sigma_n/\sigma_{n+1}$ of the denoising output in each step (indices count down as in the
# paper: $x_6 = x_T$ is the start, $x_0$ the final sample). The red points reach the neighbourhood of the
# final sample within a step or two and then stay there, while the blue points approach it step
# by step, pulled along the dashed segments: the denoising trajectory steers the sampling
# trajectory.

# %% [markdown]
# ## Verdicts

# %%
# NBVAL_CHECK_OUTPUT
ratios = {name: (settle[name, P.eps[0]][1].median() / settle[name, P.eps[0]][0].median()).item()
          for name in dict.fromkeys(n for n, _ in settle)}
gs.report.verdict("the denoising trajectory converges faster than the sampling trajectory", "Fig. 5",
                  "settles within 10% at a larger sigma: " + ", ".join(f"{k} {v:.2g}x" for k, v in ratios.items()),
                  "holds")

# %% [markdown]
# ## Summary
#
# In this chapter we
#
# - recorded sampling and denoising trajectories for 30 latents on three models (iPNDM, 60 steps)
#   with `gs.trajectory.record`, and looked at both as images: the denoising outputs show the final
#   garment at noise levels where $x_t$ is still mostly noise;
# - measured when each trajectory settles on the final sample with `gs.trajectory.convergence_curve`
#   on a common scale $s = \lVert D(x_T) - x_0\rVert$: on every model and both tolerances the
#   denoising trajectory settles at a larger $\sigma$ than the sampling trajectory, on at least 90%
#   of the trajectories — the paper's claim holds, by the largest margin for the KDE denoiser;
# - drew the 2-D picture of the paper's Fig. 5, where each Euler step moves along the segment
#   towards the current denoising output.
#
# **What's next.** Chapter 4 replaces the network by the closed-form KDE denoiser and shows why it
# memorises: its denoising output is a softmax-weighted average of training images that collapses
# onto one image as $\sigma$ shrinks.
