"""What a denoiser must get right for GITS: smoothness in sigma and accuracy at every noise level.

Two measurements used by the model card and the tests:

- `sigma_roughness`: how far D(x, sigma), as a function of ln sigma on a short interval, departs from
  the best quadratic through it, relative to how much it changes over the interval. An exact
  denoiser is analytic in sigma (roughness ~ 0 up to the quadratic's own truncation error); a noise
  embedding with frequencies far above 1 per unit of ln sigma makes a network ripple instead.
- `denoising_errors`: the mean squared error of D(x0 + sigma eps, sigma) against x0 at each sigma,
  beside the data mean's (the best constant denoiser) and, optionally, an exact reference denoiser's.

And one for a training curve: `power_law_extrapolation`, how much longer a run must train to reach a
target, if its quality keeps falling as the power law of its last points.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .checks import float64_vector

__all__ = ["sigma_roughness", "DenoisingErrors", "denoising_errors", "PowerLaw", "power_law_extrapolation"]


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


@torch.no_grad()
def sigma_roughness(denoiser, x: torch.Tensor, sigma: float, half_width: float = 0.1, n_points: int = 21) -> float:
    """max_i norm(D(x, s_i) - q(s_i)) / norm(D(x, s_last) - D(x, s_first)) over ln s_i in ln sigma +- half_width.

    q is the least-squares quadratic in ln s through the n_points values (one per element of x), so a
    denoiser smooth on the interval scores ~0 and one that ripples scores the ripple's size as a
    fraction of its whole change there. x (B, ...) is held fixed while sigma moves.
    """
    sigma, half_width = _check_positive("sigma", sigma), _check_positive("half_width", half_width)
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 5:
        raise ValueError(f"n_points must be an int >= 5, got {n_points!r}")
    t = math.log(sigma) + torch.linspace(-half_width, half_width, n_points, dtype=torch.float64)
    ys = []
    for ti in t.tolist():
        s = torch.full((x.shape[0],), math.exp(ti), dtype=x.dtype, device=x.device)
        ys.append(denoiser(x, s).double().reshape(-1).cpu())
    Y = torch.stack(ys)                                        # (n_points, B * d)
    u = (t - t.mean()) / half_width                            # well-conditioned abscissa in [-1, 1]
    V = torch.stack([torch.ones_like(u), u, u * u], dim=1)     # Vandermonde (n_points, 3)
    coef = torch.linalg.lstsq(V, Y).solution
    resid = Y - V @ coef
    change, worst = (Y[-1] - Y[0]).norm(), resid.norm(dim=1).max()
    # Float round-off of a constant output (e.g. the exact KDE snapped to one training image) is no change.
    noise = 1e-9 * Y.abs().max() * math.sqrt(Y.shape[1])
    if change <= noise:
        return 0.0 if worst <= noise else math.inf
    return (worst / change).item()


class DenoisingErrors(NamedTuple):
    """Per-sigma mean squared errors against the clean images (float64 tensors of len(sigmas); with
    `denoising_errors(..., per_image=True)`, (n_images, len(sigmas)): one row per image)."""
    sigmas: torch.Tensor
    model: torch.Tensor        # E ||D(x0 + sigma eps, sigma) - x0||^2 / d
    data_mean: torch.Tensor    # the same for D = data mean (the best constant)
    reference: torch.Tensor | None  # the same for the reference denoiser, if one was given
    model_vs_reference: torch.Tensor | None  # E ||D - D_ref||^2 / d


@torch.no_grad()
def denoising_errors(denoiser, x0: torch.Tensor, eps: torch.Tensor, sigmas, data_mean: torch.Tensor,
                     reference=None, batch_size: int = 256, per_image: bool = False) -> DenoisingErrors:
    """MSE of `denoiser` (and of the data mean, and of `reference`) on x = x0 + sigma eps at each sigma.

    The same eps for every denoiser, so ratios between them are paired comparisons. per_image=True keeps
    each image's MSE: every field but sigmas is then (len(x0), len(sigmas)), its mean over images the
    per-sigma value (for a bootstrap over the images).
    """
    if not isinstance(per_image, bool):
        raise TypeError(f"per_image must be a bool, got {type(per_image).__name__}")
    if x0.shape != eps.shape:
        raise ValueError(f"x0 and eps must have the same shape, got {tuple(x0.shape)} and {tuple(eps.shape)}")
    if data_mean.shape != x0.shape[1:]:
        raise ValueError(f"data_mean must have the shape of one sample {tuple(x0.shape[1:])}, "
                         f"got {tuple(data_mean.shape)}")
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1)
    if len(sigmas) == 0 or not bool(torch.isfinite(sigmas).all() and (sigmas > 0).all()):
        raise ValueError("sigmas must be a non-empty list of finite numbers > 0")
    d = x0[0].numel()
    out = {k: torch.zeros(len(x0), len(sigmas), dtype=torch.float64) for k in ("model", "mean", "ref", "gap")}
    for k, s in enumerate(sigmas.tolist()):
        for b in range(0, len(x0), batch_size):
            c, e = x0[b:b + batch_size], eps[b:b + batch_size]
            x = c + s * e
            sig = torch.full((len(c),), s, dtype=x.dtype, device=x.device)
            Dm = denoiser(x, sig).double()
            out["model"][b:b + len(c), k] = (Dm - c.double()).square().flatten(1).sum(1).cpu()
            if reference is not None:
                Dr = reference(x, sig).double()
                out["ref"][b:b + len(c), k] = (Dr - c.double()).square().flatten(1).sum(1).cpu()
                out["gap"][b:b + len(c), k] = (Dm - Dr).square().flatten(1).sum(1).cpu()
    out["mean"][:] = (data_mean.double() - x0.double()).square().flatten(1).sum(1).cpu()[:, None]  # any sigma
    reduce = (lambda v: v / d) if per_image else (lambda v: v.sum(0) / (len(x0) * d))
    has_ref = reference is not None
    return DenoisingErrors(sigmas, reduce(out["model"]), reduce(out["mean"]),
                           reduce(out["ref"]) if has_ref else None, reduce(out["gap"]) if has_ref else None)


class PowerLaw(NamedTuple):
    """y = scale * x ** -alpha fitted in log-log; x_target: where it reaches the target (inf if alpha <= 0)."""
    alpha: float
    scale: float
    x_target: float


def power_law_extrapolation(x, y, target: float) -> PowerLaw:
    """Least-squares fit of ln y = ln scale - alpha ln x (x, y > 0, at least two distinct x) and the x at which
    the fitted law reaches `target` (e.g. training images at which an FD falls to a goal). An extrapolation,
    valid only as long as the law holds: a curve that is flattening reaches the target later than this says.
    """
    x, y = float64_vector(x), float64_vector(y)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"x and y must have the same length >= 2, got {len(x)} and {len(y)}")
    if not ((x > 0) & (y > 0) & torch.isfinite(x) & torch.isfinite(y)).all() or len(set(x.tolist())) < 2:
        raise ValueError("x and y must be finite and > 0, with at least two different x")
    target = _check_positive("target", target)
    A = torch.stack([torch.ones_like(x), -x.log()], dim=1)
    log_scale, alpha = torch.linalg.lstsq(A, y.log()[:, None]).solution.flatten().tolist()
    if alpha <= 0:
        x_target = math.inf
    else:
        x_target = math.exp((log_scale - math.log(target)) / alpha)
    return PowerLaw(alpha, math.exp(log_scale), x_target)
