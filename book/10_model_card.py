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
# # Model card: the trained diffusion network and the feature classifier
#
# ## Overview
#
# We could download no pretrained diffusion model, so we trained one: a small EDM U-Net
# {cite:p}`karras2022edm` on the 60,000 Fashion-MNIST training images {cite:p}`xiao2017fashion`,
# on two CPU cores. Its EMA weights ship in `gitscore/weights/fmnist_edm.safetensors` with a JSON
# config, a sha256 manifest and the training log; `gs.nets.load_pretrained()` verifies the hash and
# returns a ready denoiser `D(x, sigma)`. The Fréchet distance of this book is computed in the
# features of a second network shipped the same way, a Fashion-MNIST classifier: we call it
# **FD (Fashion-MNIST classifier features)**; it is not Inception FID.
#
# To retrain: `gitscore train --out runs/fmnist --steps 10000` (resumable; then `--export`).

# %%
import json
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import gitscore as gs

torch.set_num_threads(2)


@dataclass
class Params:
    n_samples: int = 64        # images in the sample grid
    heun_steps: int = 18       # deterministic Heun sampler (2 NFE on every step: 36)
    seed: int = 7              # latents of the grid (per-sample seeded)
    sigmas_check: tuple = (0.1, 0.5, 1.0, 2.0)  # noise levels of the denoising check


P = Params()
D = gs.nets.load_pretrained("fmnist_edm", device="cpu")
card = D.config

# %% [markdown]
# ## The network

# %%
# NBVAL_CHECK_OUTPUT
tc = card["training"]["train_config"]
n_params = sum(p.numel() for p in D.parameters())
print(f"U-Net {card['unet']}")
print(f"parameters: {n_params:,}; sigma_data {card['sigma_data']}")
print(f"training: {card['training']['steps']} steps, batch {tc['batch_size']}, Adam lr {tc['lr']} "
      f"(warm-up {tc['warmup']}), EMA {tc['ema_decay']}, ln sigma ~ N({tc['p_mean']}, {tc['p_std']}^2), seed {tc['seed']}")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"wall time {card['training']['wall_time_s'] / 60:.0f} min on 2 shared CPU cores")

# %% [markdown]
# The U-Net works on 2×2 patches (28×28×1 → 14×14×4 by space-to-depth), with residual blocks,
# GroupNorm, a sinusoidal embedding of $c_\text{noise} = \ln(\sigma)/4$ added in every block, and
# self-attention at 7×7; it is preconditioned as in EDM: $D = c_\text{skip} x + c_\text{out}
# F(c_\text{in} x, c_\text{noise})$.
#
# ```{literalinclude} ../gitscore/denoisers.py
# :pyobject: EDMPrecond.forward
# ```

# %% tags=["hide-input"]
log = pd.read_csv(gs.nets.WEIGHTS_DIR / "fmnist_edm_train_log.csv")
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(log["step"], log["loss"], lw=0.3, alpha=0.4, label="per step")
ax.plot(log["step"], log["loss"].rolling(200, min_periods=1).mean(), lw=1.5, label="mean of 200 steps")
ax.set(xlabel="training step", ylabel="EDM loss", ylim=(0, 1.0))
ax.legend()
plt.show()

# %% [markdown]
# **Figure 8.1.** The EDM training loss (a weighted denoising error, noisy by nature because
# $\sigma$ is drawn at random every step).

# %%
# NBVAL_CHECK_OUTPUT
tail = log["loss"].iloc[-1000:].mean()
head = log["loss"].iloc[:200].mean()
print(f"mean loss: first 200 steps {head:.3f}, last 1000 steps {tail:.3f}")
assert tail < 0.5 * head

# %% [markdown]
# ## Samples

# %%
x_T = 80.0 * gs.gits.latents((1, 28, 28), P.seed, 0, P.n_samples, torch.float32)
counter = gs.denoisers.CallCounter(D)
with torch.no_grad():
    samples = gs.solvers.sample_heun(counter, x_T, gs.schedules.polynomial(P.heun_steps)).clamp(-1, 1)

# %% tags=["hide-input"]
grid = samples.reshape(8, 8, 28, 28).permute(0, 2, 1, 3).reshape(8 * 28, 8 * 28)
plt.figure(figsize=(5, 5))
plt.imshow(grid.numpy(), cmap="gray_r", vmin=-1, vmax=1)
plt.axis("off")
plt.show()

# %% [markdown]
# **Figure 8.2.** 64 samples of the shipped network (Heun, 18 steps, 36 NFE, polynomial schedule
# $\rho = 7$), from fixed seeds.

# %%
# NBVAL_CHECK_OUTPUT
clf = gs.metrics.load_classifier(device="cpu")
with torch.no_grad():
    pred = clf(samples).argmax(1)
counts = torch.bincount(pred, minlength=10)
print(f"NFE per sample: {counter.calls}")
print("classes the classifier sees in the samples:", dict(zip(gs.data.CLASSES, counts.tolist())))
assert counter.calls == 2 * P.heun_steps and (counts > 0).sum() >= 7

# %% [markdown]
# ## The network denoises
#
# At every noise level the network's estimate $D(x_0 + \sigma\epsilon; \sigma)$ is much closer to
# the clean test image than the noisy input is (test images, never seen in training): by a factor
# of more than two from $\sigma = 0.5$ up, less at small $\sigma$ where little noise is left to remove.

# %%
# NBVAL_CHECK_OUTPUT
x0 = gs.data.fashion_mnist("test")[0][:256]
eps = gs.gits.latents((1, 28, 28), 123, 0, 256, torch.float32)
for s in P.sigmas_check:
    with torch.no_grad():
        err = (D(x0 + s * eps, s) - x0).square().mean().sqrt().item()
    print(f"sigma {s:4.1f}: RMSE noisy input {s:.2f}, denoised {err:.3f}")
    assert err < (0.5 if s >= 0.5 else 0.75) * s

# %% [markdown]
# ## The feature classifier

# %%
# NBVAL_CHECK_OUTPUT
ccard = json.loads((gs.nets.WEIGHTS_DIR / "fmnist_classifier.json").read_text())
xt, yt = gs.data.fashion_mnist("test")
acc = gs.metrics.classifier_accuracy(xt, yt, classifier=clf)
print(f"classifier test accuracy {acc:.4f} (stored with the weights: {ccard['test_accuracy']:.4f})")
assert acc >= 0.91 and abs(acc - ccard["test_accuracy"]) < 1e-3

# %% [markdown]
# Its 256 penultimate features define the FD (Fashion-MNIST classifier features). Two numbers frame
# every FD in this book: the distance of the test split to itself (zero) and the noise floor, the FD
# between 10,000 training images and the test split, which no finite sample set can beat by much.

# %%
# NBVAL_CHECK_OUTPUT
floor = gs.metrics.noise_floor(10000)
print(f"FD (Fashion-MNIST classifier features), 10k train vs test: {floor:.2f}")
assert 0 < floor < 2

# %% [markdown]
# ## Summary
#
# In this chapter we
#
# - described the shipped EDM network (architecture, training, loss curve) and showed samples;
# - checked that it denoises unseen test images at every noise level;
# - checked the feature classifier's test accuracy and the FD noise floor that frames every FD in
#   the book.
