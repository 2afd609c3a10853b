"""Trajectory geometry of ODE-based sampling (Chen et al. 2024, Sec. 3-4, Fig. 2-5).

A :class:`Recorder` passed as ``callback=`` to any ``gitscore.solvers.sample_*`` collects the
sampling trajectory x_{t_N}, ..., x_{t_0} and the denoising trajectory D(x_{t_n}; sigma_n).
The geometry functions take points of shape (B, T, d) -- B trajectories of T points each
(``xs[:, 0]`` is the start x_T, ``xs[:, -1]`` the final sample x_0); (T, d) is treated as B = 1,
trailing sample dimensions (B, T, C, H, W) are flattened, and a :class:`Trajectory` may be passed
in place of ``xs``. Everything is computed in float64 and batched: principal components come
from per-trajectory T x T Gram matrices, never from d x d covariances.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import check_int

__all__ = ["count_distinct", "Recorder", "Trajectory", "record", "deviation", "sample_distance", "path_length",
           "boomerang_basis", "reconstruct", "reconstruction_error", "explained_variance",
           "project_3d", "field_magnitude", "field_magnitude_exact", "step_angles",
           "convergence_curve", "convex_combination_residual"]

# A principal direction whose singular value is below REL_TOL times the trajectory's spread
# (Frobenius norm of its centred points) is round-off, and treated as absent.
REL_TOL = 1e-10


@dataclass
class Trajectory:
    """Recorded trajectories: xs (B, N+1, d) sampling, denoised (B, N, d) denoising, sigmas (N+1,)."""

    xs: torch.Tensor        # x at sigmas[0], ..., sigmas[N]; xs[:, -1] is the returned sample
    denoised: torch.Tensor  # D(xs[:, n], sigmas[n]) for n < N (NaN where a solver gave none)
    sigmas: torch.Tensor    # float64 noise levels of the points of xs
    sample_shape: tuple = ()  # shape of one sample, to view points as images again

    def images(self, which: str = "xs") -> torch.Tensor:
        """`xs` or `denoised` reshaped to ``(B, T, *sample_shape)``."""
        if which not in ("xs", "denoised"):
            raise ValueError(f"which must be 'xs' or 'denoised', got {which!r}")
        v = getattr(self, which)
        return v.reshape(*v.shape[:2], *self.sample_shape)


class Recorder:
    """Solver callback that stores x, sigma and D(x; sigma) at every step (on the CPU)."""

    def __init__(self, dtype: torch.dtype | None = None):
        self.dtype = dtype
        self._x, self._d, self._s = [], [], []
        self._x_final = self._sigma_final = self._sigma_next = None

    def _store(self, v) -> torch.Tensor:
        v = torch.as_tensor(v).detach().to("cpu")
        return v.to(self.dtype) if self.dtype is not None else v

    def __call__(self, info: dict) -> None:
        if self._x_final is not None:
            raise RuntimeError("Recorder already finished; make a new one for another run")
        if info.get("i", len(self._x)) != len(self._x):
            raise ValueError(f"callback info['i'] = {info['i']} but {len(self._x)} steps were recorded; "
                             "the callback must be called exactly once per step, in order")
        x = self._store(info["x"])
        d = info.get("denoised")
        self._x.append(x)
        self._d.append(torch.full_like(x, float("nan")) if d is None else self._store(d).reshape(x.shape))
        self._s.append(_scalar(info["sigma"], "info['sigma']"))
        if info.get("sigma_next") is not None:
            self._sigma_next = _scalar(info["sigma_next"], "info['sigma_next']")

    def finish(self, x_final, sigma_final: float | None = None) -> "Recorder":
        """Append the final point (the sampler's return value) at sigma_final (default: last sigma_next)."""
        if not self._x:
            raise RuntimeError("nothing recorded: pass the Recorder as callback= to a sampler first")
        sigma_final = self._sigma_next if sigma_final is None else _scalar(sigma_final, "sigma_final")
        if sigma_final is None:
            raise ValueError("sigma_final is required when the callback did not report 'sigma_next'")
        self._x_final, self._sigma_final = self._store(x_final).reshape(self._x[0].shape), sigma_final
        return self

    def _check_finished(self):
        if self._x_final is None:
            raise RuntimeError("call Recorder.finish(x_final) before reading the trajectory")

    @property
    def xs(self) -> torch.Tensor:
        """Sampling trajectory, (B, N+1, d)."""
        self._check_finished()
        return torch.stack(self._x + [self._x_final], 1).flatten(2)

    @property
    def denoised(self) -> torch.Tensor:
        """Denoising trajectory, (B, N, d)."""
        self._check_finished()
        return torch.stack(self._d, 1).flatten(2)

    @property
    def sigmas(self) -> torch.Tensor:
        """Noise levels of the points of `xs`, (N+1,) float64."""
        self._check_finished()
        return torch.tensor(self._s + [self._sigma_final], dtype=torch.float64)

    def trajectory(self) -> Trajectory:
        return Trajectory(self.xs, self.denoised, self.sigmas, tuple(self._x[0].shape[1:]))


def record(sampler, denoiser, x, sigmas, *, dtype: torch.dtype | None = None, **kwargs) -> Trajectory:
    """Run `sampler(denoiser, x, sigmas, callback=..., **kwargs)` and return the recorded Trajectory."""
    rec, user_callback = Recorder(dtype), kwargs.pop("callback", None)

    def callback(info):
        rec(info)
        if user_callback is not None:
            user_callback(info)

    x_final = sampler(denoiser, x, sigmas, callback=callback, **kwargs)
    return rec.finish(x_final, sigmas[-1]).trajectory()


# ---------------------------------------------------------------------------------------------
# Input handling.

def _scalar(s, name) -> float:
    # python floats stay float64 (torch.as_tensor would round them to float32)
    s = (s if torch.is_tensor(s) else torch.as_tensor(s, dtype=torch.float64)).detach().reshape(-1)
    if s.numel() == 0 or not bool((s == s[0]).all()):
        raise ValueError(f"{name} must be one noise level for the whole batch, got {s.tolist()}")
    return float(s[0])


def _points(xs, name: str = "xs") -> torch.Tensor:
    """(B, T, d) float64 view of xs (a tensor, array or Trajectory)."""
    if isinstance(xs, Trajectory):
        xs = xs.xs
    if not isinstance(xs, torch.Tensor):
        try:
            xs = torch.as_tensor(xs)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{name} must be a tensor, an array or a Trajectory, got {type(xs).__name__}") from e
    if xs.ndim < 2:
        raise ValueError(f"{name} must have shape (T, d) or (B, T, ...), got {tuple(xs.shape)}")
    xs = xs.to(torch.float64)
    return xs.unsqueeze(0) if xs.ndim == 2 else xs.flatten(2)


def _sigmas(sigmas, xs, T: int) -> torch.Tensor:
    if sigmas is None:
        if not isinstance(xs, Trajectory):
            raise ValueError("sigmas is required unless xs is a Trajectory")
        sigmas = xs.sigmas
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1)
    if sigmas.numel() != T:
        raise ValueError(f"sigmas must have one entry per point ({T}), got {sigmas.numel()}")
    return sigmas


def _denoised(denoised, xs, B: int, d: int) -> torch.Tensor:
    if denoised is None:
        if not isinstance(xs, Trajectory):
            raise ValueError("denoised is required unless xs is a Trajectory")
        denoised = xs.denoised
    denoised = _points(denoised, "denoised")
    if denoised.shape[0] != B or denoised.shape[2] != d:
        raise ValueError(f"denoised must have shape ({B}, N, {d}) to match xs, got {tuple(denoised.shape)}")
    return denoised


def _norm(v: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(v, dim=-1)


def _unit(v: torch.Tensor) -> torch.Tensor:
    """v / ||v|| along the last dim; zero vectors stay zero."""
    n = _norm(v).unsqueeze(-1)
    return torch.where(n > 0, v / torch.where(n > 0, n, 1.0), 0.0)


# ---------------------------------------------------------------------------------------------
# Distances (Fig. 2).

def deviation(xs) -> torch.Tensor:
    """Distance of each point to the line through x_T and x_0 (trajectory deviation, Fig. 2), (B, T)."""
    xs = _points(xs)
    u = _unit(xs[:, 0] - xs[:, -1]).unsqueeze(1)
    v = xs - xs[:, -1:]
    return _norm(v - (v @ u.transpose(1, 2)) * u)


def sample_distance(xs, ref: str = "final") -> torch.Tensor:
    """The distance ``norm(x_t - x_0)`` (ref='final', the 'sample distance' of Fig. 2 as diff-analyzer computes
    it) or ``norm(x_t - x_T)`` (ref='start'), shape (B, T)."""
    if ref not in ("final", "start"):
        raise ValueError(f"ref must be 'final' or 'start', got {ref!r}")
    xs = _points(xs)
    return _norm(xs - (xs[:, -1:] if ref == "final" else xs[:, :1]))


def path_length(xs) -> torch.Tensor:
    """Cumulative arc length of the polygonal trajectory, 0 at x_T, (B, T)."""
    xs = _points(xs)
    steps = _norm(xs[:, 1:] - xs[:, :-1])
    return torch.cat([steps.new_zeros(steps.shape[0], 1), steps.cumsum(1)], 1)


# ---------------------------------------------------------------------------------------------
# Low-dimensional structure (Fig. 3-4).

def _eigh(G: torch.Tensor):
    """Batched eigh of small matrices; on CPU single-threaded, as threaded LAPACK on many tiny
    matrices can be 10-100x slower when the cores are busy."""
    if G.device.type != "cpu":
        return torch.linalg.eigh(G)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(G)
    finally:
        torch.set_num_threads(threads)


def _pca(P: torch.Tensor, scale2: torch.Tensor):
    """PCA of the rows of P (B, T, d), already centred: eigenvalues (B, T) and T-space eigenvectors (B, T, T),
    descending.

    Uses the Gram matrix P P^T: its eigenvalues are the squared singular values of P, the
    eigenvector w_j gives the principal score P v_j = sqrt(lambda_j) w_j, and v_j = P^T w_j / ||.||.
    Eigenvalues below REL_TOL**2 * scale2 (B,) (round-off of an exactly lower-rank P) are set to 0.
    """
    lam, W = _eigh(P @ P.transpose(1, 2))
    lam, W = lam.flip(-1), W.flip(-1)
    return torch.where(lam > REL_TOL ** 2 * scale2.reshape(-1, 1), lam, 0.0), W


def _chord_frame(xs: torch.Tensor):
    """Chord direction u (B, d), centred points C (B, T, d), their part R in the complement of u, ||C||_F^2 (B,)."""
    u = _unit(xs[:, 0] - xs[:, -1])
    C = xs - xs.mean(1, keepdim=True)
    R = C - (C @ u.unsqueeze(-1)) * u.unsqueeze(1)
    return u, C, R, C.square().sum((1, 2))


def _check_k(k, name="k"):
    return check_int(name, k, 1)


def boomerang_basis(xs, n_pcs: int = 2) -> torch.Tensor:
    """Orthonormal frame (B, 1 + n_pcs, d): the chord direction (x_T - x_0)/||.|| and the top PCs of its
    complement (Fig. 3a).

    PCs of the complement are taken over the T points of each trajectory, centred at their mean;
    a PC with zero variance is returned as a zero vector. Signs of the PCs are arbitrary here.
    """
    _check_k(n_pcs + 1, "n_pcs + 1")
    xs = _points(xs)
    u, _, R, scale2 = _chord_frame(xs)
    lam, W = _pca(R, scale2)
    n = min(n_pcs, W.shape[-1])
    V = W[:, :, :n].transpose(1, 2) @ R  # (B, n, d), orthogonal to u up to round-off
    V = _unit(V - (V @ u.unsqueeze(-1)) * u.unsqueeze(1)) * (lam[:, :n, None] > 0)
    V = torch.cat([V, V.new_zeros(V.shape[0], n_pcs - n, V.shape[2])], 1)
    return torch.cat([u.unsqueeze(1), V], 1)


def _recon_residuals(xs: torch.Tensor, ks) -> list[torch.Tensor]:
    """x - x_rec for each k in ks (each (B, T, d)); x_rec = mean + chord part + top (k-1) complement PCs."""
    _, _, R, scale2 = _chord_frame(xs)
    lam, W = _pca(R, scale2)
    W = W * (lam > 0).unsqueeze(1)
    out = []
    for k in ks:
        Wk = W[:, :, :min(k - 1, W.shape[-1])]
        out.append(R - Wk @ (Wk.transpose(1, 2) @ R))
    return out


def reconstruct(xs, k: int) -> torch.Tensor:
    """k-D reconstruction (Fig. 3a-b): project each trajectory, centred at its mean, onto span{x_T - x_0} plus
    the top (k-1) PCs of its orthogonal complement, (B, T, d)."""
    _check_k(k)
    xs = _points(xs)
    return xs - _recon_residuals(xs, [k])[0]


def reconstruction_error(xs, ks=range(1, 6), reduce: str = "mean") -> torch.Tensor:
    """L2 error ||x_t - x_rec,t|| of the k-D reconstructions (Fig. 3c), reduced over the T points: (B, len(ks)),
    or (B, len(ks), T) for reduce='none'.

    reduce='mean' (default) averages the per-point L2 distances, 'max' takes the worst point.
    """
    if reduce not in ("mean", "max", "none"):
        raise ValueError(f"reduce must be 'mean', 'max' or 'none', got {reduce!r}")
    ks = list(ks)
    for k in ks:
        _check_k(k, "each entry of ks")
    err = torch.stack([_norm(r) for r in _recon_residuals(_points(xs), ks)], 1)  # (B, K, T)
    return err if reduce == "none" else err.mean(-1) if reduce == "mean" else err.amax(-1)


def explained_variance(xs, k_max: int = 5, complement: bool = False) -> torch.Tensor:
    """Sum of the top-k eigenvalues over the sum of all, k = 1..k_max (Fig. 3d), (B, k_max).

    complement=False: PCA of the trajectory's points centred at their mean (plain PCA).
    complement=True: PCA of those points projected on the orthogonal complement of x_T - x_0
    (the PCs used by :func:`reconstruct`); a trajectory with no variance there gives 1.
    For sampling trajectories the plain ratio is ~1 already at k = 1 (the chord dominates);
    the complement ratio shows how many directions beyond the chord matter.
    """
    _check_k(k_max, "k_max")
    xs = _points(xs)
    _, C, R, scale2 = _chord_frame(xs)
    lam, _ = _pca(R if complement else C, scale2)
    lam = torch.cat([lam, lam.new_zeros(lam.shape[0], max(0, k_max - lam.shape[1]))], 1)
    total = lam.sum(1, keepdim=True)
    ratio = lam[:, :k_max].cumsum(1) / torch.where(total > 0, total, 1.0)
    return torch.where(total > 0, ratio, 1.0)


def project_3d(xs, normalize: bool = False) -> torch.Tensor:
    """Coordinates of x_t - x_0 in the boomerang frame (Fig. 4), (B, T, 3).

    Axis 1 is the chord: 0 at x_0 and ``norm(x_T - x_0)`` at x_T (1 with normalize=True, which divides
    all three coordinates by ||x_T - x_0||). Axes 2-3 are the top two PCs of the orthogonal
    complement; both endpoints sit at 0 there, and each PC's sign is chosen so that the mean
    coordinate along it is >= 0, so trajectories from different samples overlay.
    """
    xs = _points(xs)
    E = boomerang_basis(xs, 2)
    Y = (xs - xs[:, -1:]) @ E.transpose(1, 2)
    sign = torch.where(Y[:, :, 1:].mean(1, keepdim=True) < 0, -1.0, 1.0)
    Y = torch.cat([Y[:, :, :1], Y[:, :, 1:] * sign], 2)
    if normalize:
        chord = _norm(xs[:, 0] - xs[:, -1]).reshape(-1, 1, 1)
        Y = Y / torch.where(chord > 0, chord, 1.0)
    return Y


# ---------------------------------------------------------------------------------------------
# Vector field and the denoising trajectory (Sec. 4, Fig. 5).

def field_magnitude(xs, sigmas=None) -> torch.Tensor:
    """Finite-difference norm of dx/dsigma, ``norm(x_{n+1} - x_n) / abs(sigma_{n+1} - sigma_n)`` per step, (B, N)."""
    P = _points(xs)
    s = _sigmas(sigmas, xs, P.shape[1])
    return _norm(P[:, 1:] - P[:, :-1]) / (s[1:] - s[:-1]).abs()


def field_magnitude_exact(xs, denoised=None, sigmas=None) -> torch.Tensor:
    """The norm of dx/dsigma, norm(x_n - D(x_n; sigma_n)) / sigma_n, at the grid points that have a denoising
    output, (B, N)."""
    P = _points(xs)
    s = _sigmas(sigmas, xs, P.shape[1])
    D = _denoised(denoised, xs, P.shape[0], P.shape[2])
    n = D.shape[1]
    if n > P.shape[1]:
        raise ValueError(f"denoised has {n} points, more than xs ({P.shape[1]})")
    return _norm(P[:, :n] - D) / s[:n]


def step_angles(xs) -> torch.Tensor:
    """Angle in degrees between consecutive displacements x_{n+1} - x_n and x_{n+2} - x_{n+1}, (B, T-2);
    NaN at a zero step."""
    xs = _points(xs)
    dx = xs[:, 1:] - xs[:, :-1]
    a = dx / _norm(dx).unsqueeze(-1)
    a, b = a[:, :-1], a[:, 1:]
    # Kahan's form: accurate for angles near 0 and 180 degrees, unlike acos of a dot product.
    return torch.rad2deg(2 * torch.atan2(_norm(a - b), _norm(a + b)))


def convergence_curve(xs, target=None, normalize=True) -> torch.Tensor:
    """||x_t - target|| along a trajectory (target: its own last point by default), (B, T) (Fig. 5).

    normalize=True divides by the first value (the curve starts at 1), False keeps distances,
    and a number or (B,) tensor divides by that scale. To compare a denoising trajectory with
    its sampling trajectory, use target = the final sample and one common scale for both.
    """
    P = _points(xs)
    if target is None:
        target = P[:, -1]
    target = torch.as_tensor(target).to(torch.float64).reshape(P.shape[0], -1)
    if target.shape[1] != P.shape[2]:
        raise ValueError(f"target must hold one point of dimension {P.shape[2]} per trajectory, "
                         f"got {tuple(target.shape)}")
    dist = _norm(P - target.unsqueeze(1))
    if normalize is False or normalize is None:
        return dist
    scale = dist[:, :1] if normalize is True else torch.as_tensor(normalize, dtype=torch.float64).reshape(-1, 1)
    if scale.shape[0] not in (1, P.shape[0]):
        raise ValueError(f"normalize must be a bool, a number or one scale per trajectory ({P.shape[0]}), "
                         f"got shape {tuple(scale.shape)}")
    return dist / torch.where(scale > 0, scale, 1.0)


def convex_combination_residual(xs, denoised=None, sigmas=None, relative: bool = False) -> torch.Tensor:
    """Residual of Prop. 4.1, ||x_{n+1} - [(s_{n+1}/s_n) x_n + (1 - s_{n+1}/s_n) D(x_n)]|| per step, (B, N);
    ~0 for Euler.

    Indices follow the recorded order (sigmas decreasing); relative=True divides by ||x_{n+1} - x_n||.
    """
    P = _points(xs)
    s = _sigmas(sigmas, xs, P.shape[1])
    D = _denoised(denoised, xs, P.shape[0], P.shape[2])
    N = P.shape[1] - 1
    if D.shape[1] < N:
        raise ValueError(f"denoised needs one output per step ({N}), got {D.shape[1]}")
    r = (s[1:] / s[:-1]).reshape(1, N, 1)
    res = _norm(P[:, 1:] - (r * P[:, :-1] + (1 - r) * D[:, :N]))
    if relative:
        step = _norm(P[:, 1:] - P[:, :-1])
        res = res / torch.where(step > 0, step, 1.0)
    return res


def count_distinct(points: torch.Tensor, scale: float = 1e3) -> int:
    """How many distinct points (rows of `points`, (n, ...)) there are when each coordinate is rounded to
    1 / scale (mean shift's end points: those of one mode coincide, those of different modes do not)."""
    if not torch.is_tensor(points) or points.ndim < 1 or len(points) == 0:
        raise ValueError(f"points must be a non-empty tensor (n, ...), got {points!r:.60}")
    return len(torch.unique(torch.round(points.reshape(len(points), -1) * scale), dim=0))
