"""Denoisers D(x, sigma) -> E[x0 | x]: exact closed forms (Gaussian, GMM, KDE) and network wrappers.

The KDE (the exact denoiser of an empirical distribution) lives here once: `KDEDenoiser` (chunked, no_grad,
for sampling) and its autograd twin `DifferentiableKDE` (`KDEDenoiser.differentiable()`), the same function."""
from __future__ import annotations

import math

import torch
from torch import nn

from .checks import resolve_device
from .schedules import SIGMA_MAX, SIGMA_MIN

__all__ = ["as_sigma", "GaussianDenoiser", "GMMDenoiser", "KDEDenoiser", "DifferentiableKDE", "EDMPrecond",
           "CallCounter", "Autocast"]


def as_sigma(sigma, x: torch.Tensor) -> torch.Tensor:
    """sigma as a tensor of shape (B, 1, ..., 1) broadcastable against x of shape (B, ...)."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if sigma.ndim == 0:
        sigma = sigma.expand(x.shape[0])
    sigma = sigma.reshape(-1)
    if sigma.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"sigma must be a scalar or have one entry per sample ({x.shape[0]}), "
                         f"got shape {tuple(sigma.shape)}")
    return sigma.expand(x.shape[0]).reshape(-1, *([1] * (x.ndim - 1)))


class GaussianDenoiser:
    """Exact denoiser of N(mean, cov): D = mean + cov (cov + sigma^2 I)^-1 (x - mean).

    `var` is a scalar (isotropic), a vector of per-coordinate variances (diagonal) or a full
    (d, d) covariance matrix; `mean` has the sample shape (or is broadcastable to it).
    """

    sigma_min, sigma_max = SIGMA_MIN, SIGMA_MAX  # exact at every sigma: EDM's range, the searches' default

    def __init__(self, mean, var):
        self.mean = torch.as_tensor(mean, dtype=torch.float64)
        var = torch.as_tensor(var, dtype=torch.float64)
        d = self.mean.numel()
        if var.ndim == 2:
            if var.shape != (d, d):
                raise ValueError(f"var as a full covariance must be ({d}, {d}), got {tuple(var.shape)}")
            if not torch.allclose(var, var.T):
                raise ValueError("var (covariance) must be symmetric")
            self.eigval, self.eigvec = torch.linalg.eigh(var)
        else:
            if var.numel() not in (1, d):
                raise ValueError(f"var must be a scalar, a vector of {d} variances or a ({d}, {d}) matrix, "
                                 f"got shape {tuple(var.shape)}")
            self.eigval, self.eigvec = var.reshape(-1).expand(d).clone(), None
        if not (self.eigval >= 0).all():
            raise ValueError("var must be positive semi-definite")

    def _to_eig(self, v):  # (B, d) -> coordinates in the eigenbasis
        return v if self.eigvec is None else v @ self.eigvec.to(v)

    def _from_eig(self, v):
        return v if self.eigvec is None else v @ self.eigvec.to(v).T

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        B = x.shape[0]
        s = as_sigma(sigma, x).reshape(B, 1)
        lam = self.eigval.to(x)
        z = self._to_eig((x - self.mean.to(x)).reshape(B, -1))
        return (self.mean.to(x) + self._from_eig(z * lam / (lam + s ** 2)).reshape(x.shape))

    def exact_solution(self, x: torch.Tensor, sigma_from: float, sigma_to: float) -> torch.Tensor:
        """Exact PF-ODE flow: in the eigenbasis, (x - mean)_i / sqrt(lambda_i + sigma^2) is constant."""
        B = x.shape[0]
        lam = self.eigval.to(x)
        z = self._to_eig((x - self.mean.to(x)).reshape(B, -1))
        z = z * torch.sqrt((lam + sigma_to ** 2) / (lam + sigma_from ** 2))
        return self.mean.to(x) + self._from_eig(z).reshape(x.shape)


# Floor for log-weights relative to the running max: exp below about -87 gives float32 denormals, which the
# vectorised exp handles some 30x slower than the matmuls; the floor moves the result by at most N e^-80.
_LOG_TINY = -80.0


def _sigma_vector(sigma, B: int, device) -> torch.Tensor:
    """sigma as a float64 vector (B,), checked positive and finite."""
    s = torch.as_tensor(sigma, dtype=torch.float64, device=device).reshape(-1)
    if s.numel() not in (1, B):
        raise ValueError(f"sigma must be a scalar or have one entry per sample ({B}), got {s.numel()} entries")
    if not bool(((s > 0) & torch.isfinite(s)).all()):
        raise ValueError(f"sigma must be positive and finite, got values in [{s.min().item():g}, {s.max().item():g}]")
    return s.expand(B)


def _flatten(x, d: int) -> torch.Tensor:
    """x of shape (B, ...) with d values per sample, as (B, d)."""
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {type(x).__name__}")
    if x.ndim < 2 or math.prod(x.shape[1:]) != d:
        raise ValueError(f"x must have shape (B, ...) with {d} values per sample, got {tuple(x.shape)}")
    return x.reshape(x.shape[0], d)


class KDEDenoiser:
    """Exact optimal denoiser D* of the empirical distribution of `data` (the paper's KDE model; EDM's ideal denoiser).

    D*(x; sigma) = sum_i w_i y_i, w = softmax_i(-||x - y_i||^2 / (2 sigma^2)): one mean-shift step with
    bandwidth sigma. The N data rows are scanned in blocks of `block_size` with an online log-sum-exp,
    so a call holds O(B * block_size) numbers whatever N, and costs two matmuls per block. The default
    block is 8192 rows on CPU (1024-8192 all run near the matmul rate on one core; fewer, larger blocks
    suffer less when threads share busy cores) and 32768 on CUDA, where small blocks would leave the GPU
    waiting on kernel launches.
    """

    sigma_min, sigma_max = SIGMA_MIN, SIGMA_MAX

    def __init__(self, data, block_size: int | None = None, device=None, dtype=None):
        data = torch.as_tensor(data)
        if data.ndim < 1 or data.shape[0] == 0 or data[0].numel() == 0:
            raise ValueError(f"data must have shape (N, ...) with N >= 1 non-empty samples, got {tuple(data.shape)}")
        dtype = torch.float32 if dtype is None else dtype
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        self.device = resolve_device(device)
        block_size = (32768 if self.device.type == "cuda" else 8192) if block_size is None else block_size
        if not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be a positive int, got {block_size!r}")
        self.dtype, self.block_size, self.shape = dtype, block_size, tuple(data.shape[1:])
        self.N, self.d = data.shape[0], data[0].numel()
        flat = data.reshape(self.N, self.d)
        self.mean = flat.to(self.device, torch.float64).mean(0)
        if not bool(torch.isfinite(self.mean).all()):
            raise ValueError("data must be finite")
        # Rows [y - mean, 1, ||y - mean||^2]: against [x - mean, 0, -1/2] / sigma^2 they give the logits
        # -(||x - y||^2 - ||x - mean||^2) / (2 sigma^2) in one matmul (the dropped ||x - mean||^2 cancels in
        # the softmax), and their first d + 1 columns give sum_i w_i (y_i - mean) and sum_i w_i in another.
        # Centring shrinks the norms, hence the cancellation error of this expansion at small sigma.
        d, ld = self.d, -(-(self.d + 2) // 16) * 16  # rows padded to 64 bytes
        self._Y = torch.zeros(self.N, ld, dtype=dtype, device=self.device)
        for lo in range(0, self.N, block_size):
            Y = self._Y[lo:lo + block_size]
            Y[:, :d] = flat[lo:lo + block_size].to(self.device, torch.float64) - self.mean
            Y[:, d] = 1
            Y[:, d + 1] = Y[:, :d].double().square().sum(1)  # norm of the stored (rounded) point

    def _augment(self, xc: torch.Tensor, s2: torch.Tensor) -> torch.Tensor:
        """[x - mean, 0, -1/2] / sigma^2 in the storage dtype (xc = x - mean in float64)."""
        s2 = s2[:, None]
        return torch.cat([xc / s2, torch.zeros_like(s2), -0.5 / s2], 1).to(self.dtype)

    def _centred(self, x, sigma=1.0):
        xf = _flatten(x, self.d)
        s2 = _sigma_vector(sigma, xf.shape[0], self.device) ** 2
        return xf.to(self.device, torch.float64) - self.mean, s2

    @torch.no_grad()
    def _scan(self, xa: torch.Tensor, mean: bool = True, k: int = 0):
        """Online log-sum-exp over the data blocks.

        Returns m (B, 1), the running max logit, and acc = sum_i exp(l_i - m) [y_i - mean, 1] (B, d + 1)
        (only its last column if not `mean`), plus the k largest logits and their indices if k > 0.
        """
        B, d = xa.shape[0], self.d
        m = xa.new_full((B, 1), -math.inf)
        acc = xa.new_zeros(B, d + 1 if mean else 1)
        buf = xa.new_empty(B * min(self.block_size, self.N))
        top = None
        for lo in range(0, self.N, self.block_size):
            Y = self._Y[lo:lo + self.block_size]
            L = torch.mm(xa, Y[:, :d + 2].T, out=buf[:B * len(Y)].view(B, len(Y)))
            if k:
                top = _merge_topk(top, L, lo, k)
            m_new = torch.maximum(m, L.amax(1, keepdim=True))
            acc.mul_(torch.exp(m - m_new))
            L.sub_(m_new).clamp_min_(_LOG_TINY).exp_()
            if mean:
                acc.addmm_(L, Y[:, :d + 1])
            else:
                acc.add_(L.sum(1, keepdim=True))
            m = m_new
        return m, acc, top

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        xc, s2 = self._centred(x, sigma)
        _, acc, _ = self._scan(self._augment(xc, s2))
        D = (acc[:, :self.d] / acc[:, self.d:]).double() + self.mean
        bad = ~torch.isfinite(D).all(1)
        if bad.any():  # logits overflowed (sigma ~ 1e-19 in float32): the sigma -> 0 limit, the nearest point
            x_bad = x.reshape(len(D), -1)[bad.to(x.device)].reshape(-1, *x.shape[1:])
            D[bad] = self.points(self.nearest(x_bad)[1][:, 0]
                                 ).reshape(-1, self.d)
        return D.to(x.device, x.dtype).reshape(x.shape)

    def log_density(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """log p_sigma(x), p_sigma = mean_i N(y_i, sigma^2 I); differentiable in x (the graph then holds B x N)."""
        xc, s2 = self._centred(x, sigma)
        xa, d = self._augment(xc, s2), self.d
        m = xa.new_full((len(xa),), -math.inf).detach()
        s, idx = torch.zeros_like(m), torch.zeros(len(xa), dtype=torch.long, device=self.device)
        for lo in range(0, self.N, self.block_size):
            L = xa @ self._Y[lo:lo + self.block_size, :d + 2].T
            m_blk, i_blk = L.detach().max(1)
            m_new = torch.maximum(m, m_blk)
            s = s * torch.exp(m - m_new) + torch.exp((L - m_new[:, None]).clamp_min(_LOG_TINY)).sum(1)
            idx = torch.where(m_blk > m, i_blk + lo, idx)
            m = m_new
        # log sum_i exp(-||x - y_i||^2 / 2 sigma^2) = log s + m + t, t = -||x - mean||^2 / 2 sigma^2; m + t is
        # -||x - y*||^2 / 2 sigma^2 for the arg-max point y*, evaluated directly (no cancellation at small sigma).
        t = -xc.square().sum(1) / (2 * s2)
        d2 = (xc - self._Y[idx, :d].double()).square().sum(1)
        lse = s.double().log() + t + (-d2 / (2 * s2) - t).detach()
        logp = lse - math.log(self.N) - 0.5 * d * torch.log(2 * math.pi * s2)
        return logp.to(x.device, x.dtype)

    def weights_topk(self, x: torch.Tensor, sigma, k: int = 1):
        """The k largest softmax weights w_i(x, sigma) and their data indices, each (B, k)."""
        self._check_k(k)
        xc, s2 = self._centred(x, sigma)
        m, acc, (v, i) = self._scan(self._augment(xc, s2), mean=False, k=k)
        return torch.exp(v - m - acc.log()).to(x.device, x.dtype), i.to(x.device)

    def nearest(self, x: torch.Tensor, k: int = 1):
        """Distances (B, k), ascending, and indices (B, k) of the k nearest data points (exact distances)."""
        self._check_k(k)
        xc, ones = self._centred(x)
        _, _, (_, i) = self._scan(self._augment(xc, ones), mean=False, k=k)
        dist = (xc[:, None, :] - self._Y[i, :self.d].double()).norm(dim=-1)
        dist, j = dist.sort(1)
        return dist.to(x.device, x.dtype), i.gather(1, j).to(x.device)

    def points(self, idx) -> torch.Tensor:
        """The data points with indices `idx`, shape ``(*idx.shape, *data.shape[1:])``, float64."""
        idx = torch.as_tensor(idx, device=self.device)
        return (self._Y[idx, :self.d].double() + self.mean).reshape(*idx.shape, *self.shape)

    def differentiable(self) -> DifferentiableKDE:
        """The same denoiser in plain autograd ops (differentiable in x and sigma), over the same data."""
        return DifferentiableKDE(self.points(torch.arange(self.N)))

    def _check_k(self, k):
        if not isinstance(k, int) or not 1 <= k <= self.N:
            raise ValueError(f"k must be an int in [1, {self.N}], got {k!r}")


def _merge_topk(top, L: torch.Tensor, lo: int, k: int):
    """Running top-k (values, indices) of the logits merged with block L, whose first row is data index lo."""
    v, i = L.topk(min(k, L.shape[1]), dim=1)
    if top is not None:
        v, i = torch.cat([top[0], v], 1), torch.cat([top[1], i + lo], 1)
        v, j = v.topk(min(k, v.shape[1]), dim=1)  # fewer than k rows seen so far when k > block_size
        return v, i.gather(1, j)
    return v, i + lo


class DifferentiableKDE:
    """The KDE denoiser of `data` in plain autograd ops, differentiable in x and sigma (KDEDenoiser.differentiable):
    D = sum_i softmax_i(-||x - y_i||^2 / 2 sigma^2) y_i, computed in x's dtype on centred data.

    The same function as KDEDenoiser (chunked, no_grad, for sampling); this one holds a (B, N) graph per call,
    so it suits N up to a few 10^4 (the oracle schedule of gitscore.optimal trains through it).
    """

    sigma_min, sigma_max = SIGMA_MIN, SIGMA_MAX

    def __init__(self, data):
        data = torch.as_tensor(data)
        if data.ndim < 2 or len(data) == 0:
            raise ValueError(f"data must have shape (N, ...) with N >= 1, got {tuple(data.shape)}")
        flat = data.reshape(len(data), -1).double()
        self.mean = flat.mean(0)
        self.Y = flat - self.mean
        self.half_sq = 0.5 * self.Y.square().sum(1)

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        B = x.shape[0]
        s2 = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1) ** 2
        Y, mean = self.Y.to(x.dtype), self.mean.to(x.dtype)
        xc = x.reshape(B, -1) - mean
        logits = (xc @ Y.T - self.half_sq.to(x.dtype)) / s2     # -||x - y||^2 / 2 s2 up to a per-row constant
        return (torch.softmax(logits, 1) @ Y + mean).reshape(x.shape)


class GMMDenoiser:
    """Exact denoiser E[x0 | x] of the Gaussian mixture sum_k pi_k N(mu_k, Sigma_k) (JSTAT version, Sec. GMM).

    Under x = x0 + sigma eps, component k has evidence N(x; mu_k, Sigma_k + sigma^2 I) and posterior mean
    mu_k + Sigma_k (Sigma_k + sigma^2 I)^-1 (x - mu_k); D sums these weighted by the responsibilities.
    `means` is (K, ...); `covs` is (K,) isotropic variances, (K, d) diagonal ones, (K, d, d) full matrices,
    or one scalar variance shared by all components.
    """

    sigma_min, sigma_max = SIGMA_MIN, SIGMA_MAX

    def __init__(self, weights, means, covs):
        w = torch.as_tensor(weights, dtype=torch.float64)
        if w.ndim != 1 or w.numel() == 0:
            raise ValueError(f"weights must be a non-empty vector (K,), got shape {tuple(w.shape)}")
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or abs(w.sum().item() - 1) > 1e-6:
            raise ValueError(f"weights must be finite, non-negative and sum to 1, got sum {w.sum().item():g}, "
                             f"min {w.min().item():g}")
        K = w.numel()
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.ndim < 2 or means.shape[0] != K:
            raise ValueError(f"means must have shape (K={K}, ...), got {tuple(means.shape)}")
        self.shape, d = tuple(means.shape[1:]), means[0].numel()
        covs = torch.as_tensor(covs, dtype=torch.float64)
        self.eigvec = None
        if covs.ndim <= 1 and covs.numel() in (1, K):
            lam = covs.reshape(-1, 1).expand(K, d)
        elif covs.shape == (K, d):
            lam = covs
        elif covs.shape == (K, d, d):
            if not torch.allclose(covs, covs.mT):
                raise ValueError("covs (full covariances) must be symmetric")
            lam, self.eigvec = torch.linalg.eigh(covs)
        else:
            raise ValueError(f"covs must be a scalar or have shape (K,), (K, d) or (K, d, d) with K={K}, d={d}, "
                             f"got {tuple(covs.shape)}")
        if not bool(torch.isfinite(lam).all()) or bool((lam < -1e-10 * lam.abs().max().clamp_min(1)).any()):
            raise ValueError("covs must be finite and positive semi-definite")
        self.weights, self.means, self.eigval = w, means.reshape(K, d), lam.clamp_min(0).contiguous()
        self.d = d

    def _components(self, x, sigma):
        """log pi_k N(x; mu_k, Sigma_k + sigma^2 I) (B, K), eigen-coordinates z of x - mu_k and the variances."""
        xf = _flatten(x, self.d)
        s2 = (_sigma_vector(sigma, xf.shape[0], xf.device) ** 2).to(xf.dtype)
        z = xf[:, None, :] - self.means.to(xf)
        if self.eigvec is not None:
            z = torch.einsum("bkd,kde->bke", z, self.eigvec.to(xf))
        var = self.eigval.to(xf) + s2[:, None, None]
        logp = self.weights.to(xf).log() - 0.5 * ((z ** 2 / var).sum(-1) + var.log().sum(-1)
                                                   + self.d * math.log(2 * math.pi))
        return logp, z, var

    def __call__(self, x: torch.Tensor, sigma) -> torch.Tensor:
        logp, z, var = self._components(x, sigma)
        post = z * (self.eigval.to(z) / var)  # Sigma_k (Sigma_k + sigma^2 I)^-1 (x - mu_k), eigen-coordinates
        if self.eigvec is not None:
            post = torch.einsum("bke,kde->bkd", post, self.eigvec.to(z))
        D = torch.einsum("bk,bkd->bd", torch.softmax(logp, 1), self.means.to(z) + post)
        return D.reshape(x.shape)

    def log_density(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """log p_sigma(x) = log sum_k pi_k N(x; mu_k, Sigma_k + sigma^2 I), shape (B,)."""
        return torch.logsumexp(self._components(x, sigma)[0], 1)

    @classmethod
    def from_classes(cls, images: torch.Tensor, labels: torch.Tensor, ridge: float = 1e-3,
                     covariance: str = "full") -> "GMMDenoiser":
        """One Gaussian per class (float64): class frequencies, class means, and the class covariance + ridge * I
        (covariance="full") or the per-pixel class variance + ridge (covariance="diag").

        The ridge keeps covariances positive definite where pixels never vary within a class.
        """
        if len(images) != len(labels):
            raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
        if not ridge >= 0:
            raise ValueError(f"ridge must be >= 0, got {ridge!r}")
        if covariance not in ("full", "diag"):
            raise ValueError(f"covariance must be one of ['full', 'diag'], got {covariance!r}")
        X = images.reshape(len(images), -1).double()
        classes = labels.unique()
        means = torch.stack([X[labels == c].mean(0) for c in classes])
        if covariance == "full":
            covs = torch.stack([torch.cov(X[labels == c].T) for c in classes])
            covs = (covs + covs.mT) / 2 + ridge * torch.eye(X.shape[1], dtype=torch.float64)
        else:
            covs = torch.stack([X[labels == c].var(0) for c in classes]) + ridge
        weights = torch.stack([(labels == c).double().mean() for c in classes])
        return cls(weights, means.reshape(len(classes), *images.shape[1:]), covs)

    def sample(self, n: int, generator: torch.Generator | None = None, dtype=torch.float64) -> torch.Tensor:
        """n draws x0 ~ sum_k pi_k N(mu_k, Sigma_k), shape (n, ...)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.d, generator=generator, dtype=torch.float64) * self.eigval[k].sqrt()
        if self.eigvec is not None:
            for c in k.unique().tolist():
                z[k == c] = z[k == c] @ self.eigvec[c].T
        return (self.means[k] + z).reshape(n, *self.shape).to(dtype)


class EDMPrecond(nn.Module):
    """EDM preconditioning (Karras et al. 2022, Table 1): D = c_skip x + c_out F(c_in x, c_noise)."""

    def __init__(self, net: nn.Module, sigma_data: float = 0.5, sigma_min: float = SIGMA_MIN,
                 sigma_max: float = SIGMA_MAX):
        super().__init__()
        self.net, self.sigma_data = net, sigma_data
        self.sigma_min, self.sigma_max = sigma_min, sigma_max

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sigma = as_sigma(sigma, x)
        sd = self.sigma_data
        c_skip = sd ** 2 / (sigma ** 2 + sd ** 2)
        c_out = sigma * sd / (sigma ** 2 + sd ** 2).sqrt()
        c_in = 1 / (sigma ** 2 + sd ** 2).sqrt()
        c_noise = sigma.log().reshape(-1) / 4
        F = self.net((c_in * x).to(torch.float32), c_noise.to(torch.float32))
        return c_skip * x + c_out * F.to(x.dtype)


def _keep_range(wrapper, denoiser) -> None:
    """A wrapper keeps the wrapped denoiser's sigma_min / sigma_max (where it has them): searches read them."""
    for attr in ("sigma_min", "sigma_max"):
        if hasattr(denoiser, attr):
            setattr(wrapper, attr, getattr(denoiser, attr))


class CallCounter:
    """Wraps a denoiser and counts its calls (NFE) and the samples it saw."""

    def __init__(self, denoiser):
        self.denoiser, self.calls, self.samples = denoiser, 0, 0
        _keep_range(self, denoiser)

    def __call__(self, x, sigma):
        self.calls += 1
        self.samples += x.shape[0]
        return self.denoiser(x, sigma)

    def reset(self):
        self.calls = self.samples = 0


class Autocast:
    """A denoiser run under torch.autocast: its convolutions and matmuls in bfloat16 (or float16), its input and
    output in x's dtype (the solver's state stays float32).

    For speed where the hardware has fast low-precision kernels (CPUs with AMX or AVX512-BF16, GPUs): on this
    project's 2-core AMX CPU the shipped U-Net's forward pass at batch 64 is about 1.7x faster in bfloat16, and its
    output differs from float32's by about 0.6 % (relative L2), bfloat16's rounding. `gitscore search --precision
    bf16` uses it for the warm-up; benchmarks/bench_search.py measures what it changes in the schedule.
    """

    DTYPES = (torch.bfloat16, torch.float16)

    def __init__(self, denoiser, dtype: torch.dtype = torch.bfloat16):
        if dtype not in self.DTYPES:
            raise ValueError(f"dtype must be one of torch.bfloat16, torch.float16, got {dtype!r}")
        self.denoiser, self.dtype = denoiser, dtype
        _keep_range(self, denoiser)

    def __call__(self, x, sigma):
        with torch.autocast(x.device.type, dtype=self.dtype):
            out = self.denoiser(x, sigma)
        return out.to(x.dtype)

    @staticmethod
    def fast_on(device) -> bool:
        """Whether `device` has fast bfloat16 kernels: a CUDA GPU that supports bfloat16, or a CPU with AMX tiles
        (Intel Sapphire Rapids and later; on other CPUs bfloat16 is emulated and slower than float32)."""
        device = torch.device(device)
        if device.type == "cuda":
            return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        if device.type == "cpu":
            probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # torch's own CPU probe (private API)
            try:
                return bool(probe()) if probe else False
            except RuntimeError:
                return False
        return False
