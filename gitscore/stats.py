"""Bootstrap intervals, the book's one statistics home (one interval type, one random-number convention).

Every verdict of the book is read off a 95 % interval of a statistic (`gitscore.claims`); this module
makes those intervals and nothing else.

- `Interval`: estimate, low, high, level, and how much randomness it covers (`n_seeds`, `n_samples`).
- `bootstrap`: one-level bootstrap of any statistic of independent samples (percentile, basic or BCa).
- `paired_change`: mean(candidate) / mean(baseline) - 1 over samples paired by index.
- `two_level_mean`, `two_level_change`: the same for a *searched* schedule, whose value depends on the
  search's warm-up seed as well as on the evaluation samples; the bootstrap resamples both levels.
  `two_level`: the same for any statistic of the resampled (seed, sample) indices (e.g. an FD).
- `from_replicates`: an Interval from replicates computed elsewhere (e.g. `metrics.frechet_bootstrap`).
- `point`: a degenerate Interval for a value computed exactly (an identity checked to round-off).

Random numbers: every function takes an int `seed` and draws from ONE `numpy.random.Generator`,
`numpy.random.default_rng(seed)`, replicate by replicate (the order is documented in each function), so
the same inputs and seed give the same interval on every machine. Inputs may be lists, NumPy arrays or
torch tensors; they are copied to float64 NumPy arrays.

Intervals: percentile (Efron & Tibshirani 1993, ch. 13), basic (Davison & Hinkley 1997, eq. 5.6) and
BCa (Efron 1987; Davison & Hinkley 1997, Sec. 5.3.2). The two-level bootstrap follows Davison & Hinkley
1997, Sec. 3.8 (hierarchical data: resample the top level with replacement, then the lower level) and
Field & Welsh 2007 (JRSS B 69, "Bootstrapping clustered data"); for the crossed design (the same
evaluation samples scored under every seed), McCullagh 2000 (Bernoulli 6) and Owen 2007 (Ann. Appl.
Stat. 1, "the pigeonhole bootstrap"): seeds and samples are resampled independently of each other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["N_BOOT", "LEVEL", "Interval", "bootstrap", "paired_change", "paired_ratio", "two_level", "two_level_mean",
           "two_level_change", "from_replicates", "point"]

N_BOOT = 10000  # bootstrap replicates unless told otherwise (Monte Carlo error of a 2.5 % quantile ~ 0.16 %)
LEVEL = 0.95    # the level of every interval the book shows
_BLOCK = 1 << 22  # values resampled at once in the one-level bootstrap (memory bound, does not change the draws)
_METHODS = ("percentile", "basic", "bca")
_DESIGNS = ("crossed", "nested")


@dataclass(frozen=True)
class Interval:
    """A statistic's estimate and its bootstrap interval [low, high] at `level`.

    n_seeds: warm-up seeds the interval resamples (1: the search's randomness is not covered);
    n_samples: evaluation samples per seed; n_boot: replicates (0 for `point`); method: how it was made.
    Example: ``Interval(-0.38, -0.42, -0.34, n_seeds=5, n_samples=10000).format(100, "{:+.0f}", " %")``
    gives ``'-38 % [-42, -34] (95 %, 5 seeds x 10000 samples)'``.
    """

    estimate: float
    low: float
    high: float
    level: float = LEVEL
    n_seeds: int = 1
    n_samples: int = 0
    n_boot: int = 0
    method: str = "percentile"

    def __post_init__(self):
        for name in ("estimate", "low", "high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            object.__setattr__(self, name, float(v))
        if not self.low <= self.high:
            raise ValueError(f"low must be <= high, got low={self.low!r}, high={self.high!r}")
        _check_level(self.level)
        for name, lo in (("n_seeds", 1), ("n_samples", 0), ("n_boot", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
            object.__setattr__(self, name, int(v))

    @property
    def width(self) -> float:
        return self.high - self.low

    def contains(self, value: float) -> bool:
        """Whether value lies in [low, high] (ends included)."""
        return self.low <= value <= self.high

    def scaled(self, factor: float) -> "Interval":
        """The same interval for factor * statistic (factor > 0), e.g. 100 for percent."""
        if not factor > 0:
            raise ValueError(f"factor must be > 0, got {factor!r}")
        return Interval(self.estimate * factor, self.low * factor, self.high * factor, self.level, self.n_seeds,
                        self.n_samples, self.n_boot, self.method)

    def format(self, scale: float = 1.0, fmt: str = "{:.3g}", unit: str = "") -> str:
        """'estimate unit [low, high] (95 %, S seeds x N samples)', the values multiplied by scale."""
        e, lo, hi = (_number(fmt, v * scale) for v in (self.estimate, self.low, self.high))
        if self.method == "exact":
            return f"{e}{unit} (exact)"
        cover = " x ".join(([f"{self.n_seeds} seeds"] if self.n_seeds > 1 else [])
                           + ([f"{self.n_samples} samples"] if self.n_samples else []))
        return f"{e}{unit} [{lo}, {hi}] ({100 * self.level:g} %" + (f", {cover})" if cover else ")")

    def __iter__(self):
        """(estimate, low, high), so ``q, lo, hi = interval`` unpacks it."""
        return iter((self.estimate, self.low, self.high))

    def bounds(self, scale: float = 1.0, fmt: str = "{:.3g}") -> str:
        """'[low, high]', the values multiplied by scale (for a table column beside the estimate)."""
        return f"[{_number(fmt, self.low * scale)}, {_number(fmt, self.high * scale)}]"

    def percent(self) -> str:
        """'+5 % [+2, +8]': the estimate and bounds in whole percent (a value just below 0 reads +0, not -0)."""
        pct = lambda v: f"{round(100 * v):+d}"
        return f"{pct(self.estimate)} % [{pct(self.low)}, {pct(self.high)}]"

    def __str__(self) -> str:
        return self.format()


def _number(fmt: str, value: float) -> str:
    """fmt.format(value), except that a value which rounds to zero reads 0 (or +0), never -0."""
    text = fmt.format(value)
    if text.lstrip().startswith("-") and not any(c in "123456789" for c in text.split("e")[0]):
        text = fmt.format(0.0)
    return text


def _check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    return float(level)


def _check_int(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
    return int(value)


def _array(name: str, values, ndim: int | tuple = None, min_len: int = 2) -> np.ndarray:
    """values as a float64 NumPy array (torch tensors, lists, arrays), checked: shape, length, finite."""
    if hasattr(values, "detach"):  # torch tensor, without importing torch
        values = values.detach().cpu().double().numpy()
    try:
        a = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers (a list, array or tensor), got {type(values).__name__}") from None
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if ndims is not None and a.ndim not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} dimension(s), got shape {a.shape}")
    if a.ndim == 0 or a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    if len(a) < min_len:
        raise ValueError(f"{name} must have at least {min_len} entries along its first axis, got {len(a)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return a


def _quantiles(reps: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def _ends(reps, estimate, level, method, jackknife=None) -> tuple[float, float]:
    """The interval's ends from bootstrap replicates: percentile, basic, or BCa (needs jackknife values)."""
    if method == "percentile":
        return _quantiles(reps, level)
    if method == "basic":
        lo, hi = _quantiles(reps, level)
        return 2 * estimate - hi, 2 * estimate - lo
    # BCa (Davison & Hinkley 1997, eq. 5.21-5.25): bias correction z0 and acceleration a from the jackknife.
    nd = NormalDist()
    frac = (np.sum(reps < estimate) + 0.5 * np.sum(reps == estimate)) / len(reps)
    frac = min(max(frac, 1 / (len(reps) + 1)), len(reps) / (len(reps) + 1))
    z0 = nd.inv_cdf(frac)
    d = jackknife.mean() - jackknife
    denom = 6 * np.sum(d ** 2) ** 1.5
    a = float(np.sum(d ** 3) / denom) if denom > 0 else 0.0
    ends = []
    for q in ((1 - level) / 2, (1 + level) / 2):
        z = nd.inv_cdf(q)
        ends.append(nd.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))
    lo, hi = np.quantile(reps, ends)
    return float(lo), float(hi)


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x))


def bootstrap(values, statistic=None, *, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0,
              method: str = "percentile") -> Interval:
    """One-level bootstrap interval of statistic(values), resampling values along its first axis.

    values: (n, ...) independent samples (n >= 2), e.g. one number per trajectory or per latent.
    statistic: a function of an (n, ...) array returning a number; default: the mean.
    method: "percentile", "basic" (2 estimate - quantiles) or "bca" (bias-corrected and accelerated;
    n extra jackknife calls of statistic). Draws: replicate r uses rng.integers(0, n, size=n), r = 0, 1, ...
    with rng = numpy.random.default_rng(seed).
    Example: ``bootstrap(torch.tensor(ratios), np.median, seed=0)`` -> Interval of the median ratio.
    """
    x = _array("values", values)
    n_boot, seed = _check_int("n_boot", n_boot, 1), _check_int("seed", seed, 0)
    level = _check_level(level)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}")
    stat = _mean if statistic is None else statistic
    if not callable(stat):
        raise TypeError(f"statistic must be callable, got {type(statistic).__name__}")
    n = len(x)
    estimate = float(stat(x))
    rng = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    block = max(1, _BLOCK // (n * max(1, x[0].size)))
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))  # the same stream as one call per replicate
        if statistic is None:
            reps[start:stop] = x[idx].reshape(stop - start, -1).mean(1)
        else:
            reps[start:stop] = [stat(x[i]) for i in idx]
    jack = None
    if method == "bca":
        jack = np.array([stat(np.delete(x, i, axis=0)) for i in range(n)])
    lo, hi = _ends(reps, estimate, level, method, jack)
    return Interval(estimate, lo, hi, level, 1, n, n_boot, method)


def paired_change(baseline, candidate, *, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0,
                  method: str = "percentile") -> Interval:
    """mean(candidate) / mean(baseline) - 1 with a paired bootstrap interval (pairs resampled jointly).

    baseline, candidate: (n,) values of the same n samples in the same order (e.g. per-latent errors of
    the polynomial schedule and of GITS from the same latents); mean(baseline) must be nonzero.
    Draws as in `bootstrap` (the pairs are the resampled units). A negative estimate: candidate lower.
    Example: ``paired_change(err_poly, err_gits).format(100, "{:+.1f}", " %")``.
    """
    a, b = _array("baseline", baseline, 1), _array("candidate", candidate, 1)
    if a.shape != b.shape:
        raise ValueError(f"baseline and candidate must have the same shape, got {a.shape} and {b.shape}")
    if a.mean() == 0:
        raise ValueError("baseline must have a nonzero mean (the change is relative to it)")

    def change(pairs):
        return float(pairs[:, 1].mean() / pairs[:, 0].mean() - 1)

    return bootstrap(np.stack([a, b], 1), change, n_boot=n_boot, level=level, seed=seed, method=method)


def paired_ratio(baseline, candidate, *, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0,
                 method: str = "percentile") -> Interval:
    """mean(candidate) / mean(baseline) with a paired bootstrap interval: paired_change + 1, the same draws.
    Example: ``q, lo, hi = paired_ratio(err_poly, err_gits)`` (below 1: the candidate's error is lower)."""
    iv = paired_change(baseline, candidate, n_boot=n_boot, level=level, seed=seed, method=method)
    return Interval(1 + iv.estimate, 1 + iv.low, 1 + iv.high, iv.level, iv.n_seeds, iv.n_samples, iv.n_boot,
                    iv.method)


def _t_quantile(q: float, df: int) -> float:
    """Student t quantile by the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5; < 1 % off for df >= 2)."""
    z = NormalDist().inv_cdf(q)
    g = ((z ** 3 + z) / 4, (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96,
         (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384,
         (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / 92160)
    return z + sum(gk / df ** (k + 1) for k, gk in enumerate(g))


def two_level(statistic, n_seeds: int, n_samples: int, *, design: str = "crossed", resample_seeds: bool = True,
              few_seeds: bool = True, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0,
              method: str = "percentile") -> Interval:
    """Two-level bootstrap interval of any statistic of a searched schedule's results (e.g. an FD).

    statistic(seeds, samples) -> float: the statistic on the resampled data, where seeds is an (S,) int
    array of warm-up seed indices and samples an (N,) int array of sample indices shared by those seeds
    (design "crossed") or an (S, N) array, row k for seed seeds[k] (design "nested"). It is called once
    with (arange(S), arange(N)) for the estimate, then once per replicate. design, resample_seeds, few_seeds,
    the draws and the correction: as in `two_level_mean`, which is this with the pooled mean as statistic.
    Example (FD of the pooled features of a searched schedule, feats of shape (S, N, F)):
    ``two_level(lambda s, j: fd(feats[s][:, j].reshape(-1, F)), S, N, method="basic", n_boot=1000)``.
    """
    if not callable(statistic):
        raise TypeError(f"statistic must be callable, got {type(statistic).__name__}")
    stat = lambda s, j: float(statistic(s, j))
    n_seeds, n_samples = _check_int("n_seeds", n_seeds, 1), _check_int("n_samples", n_samples, 2)
    n_boot, seed = _check_int("n_boot", n_boot, 1), _check_int("seed", seed, 0)
    level = _check_level(level)
    if design not in _DESIGNS:
        raise ValueError(f"design must be one of {list(_DESIGNS)}, got {design!r}")
    if method not in ("percentile", "basic"):
        raise ValueError(f"method must be 'percentile' or 'basic' for the two-level bootstrap, got {method!r}")
    if resample_seeds and n_seeds < 2:
        raise ValueError(f"the two-level bootstrap needs at least 2 warm-up seeds (n_seeds), got {n_seeds}; "
                         "pass resample_seeds=False for an interval over the samples only")
    rng = np.random.default_rng(seed)
    all_seeds = np.arange(n_seeds)
    shape = n_samples if design == "crossed" else (n_seeds, n_samples)

    def replicates(with_seeds):
        reps = np.empty(n_boot)
        for r in range(n_boot):
            s = rng.integers(0, n_seeds, size=n_seeds) if with_seeds else all_seeds
            reps[r] = stat(s, rng.integers(0, n_samples, size=shape))
        return reps

    estimate = stat(all_seeds, np.arange(n_samples))
    reps = replicates(resample_seeds)
    lo, hi = _ends(reps, estimate, level, method)
    if resample_seeds and few_seeds:
        # Inflate the seed part of the variance, var(two-level) - var(samples only), by S / (S - 1) (the
        # bootstrap's plug-in variance is biased by (S - 1) / S) and by (t_{S-1} / z)^2 (few seeds): with
        # seeds dominating this is the t interval over seed means; with samples dominating it changes nothing.
        v2, v1 = reps.var(), replicates(False).var()
        q = (1 + level) / 2
        inflate = n_seeds / (n_seeds - 1) * (_t_quantile(q, n_seeds - 1) / NormalDist().inv_cdf(q)) ** 2
        k = math.sqrt((v1 + max(v2 - v1, 0.0) * inflate) / v2) if v2 > 0 else 1.0
        lo, hi = estimate - k * (estimate - lo), estimate + k * (hi - estimate)
    kind = "two-level" if resample_seeds else "samples-only"
    return Interval(estimate, lo, hi, level, n_seeds if resample_seeds else 1, n_samples, n_boot,
                    f"{kind} {method}" + (" few-seed corrected" if resample_seeds and few_seeds else ""))


def _take(v: np.ndarray, s: np.ndarray, j: np.ndarray) -> np.ndarray:
    """v[s_k, j] (crossed: one j (N,) for all selected seeds) or v[s_k, j_k] (nested: j (S, N))."""
    return v[s][:, j] if j.ndim == 1 else np.take_along_axis(v[s], j, axis=1)


def two_level_mean(values, *, design: str = "crossed", resample_seeds: bool = True, few_seeds: bool = True,
                   n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0, method: str = "percentile") -> Interval:
    """Mean of a searched schedule's per-sample values over warm-up seeds and samples, two-level bootstrap.

    values: (n_seeds, n_samples), row k = the values of the schedule searched with warm-up seed k.
    design: "crossed" when every seed's schedule is scored on the SAME evaluation samples (column j is one
    latent): seeds and samples are resampled independently, one draw of sample indices shared by all
    selected seeds (pigeonhole bootstrap); "nested" when each seed has its own samples: within each
    selected seed the samples are drawn anew (Davison & Hinkley 1997, Sec. 3.8, strategy 1).
    resample_seeds=False keeps every seed once and resamples the samples only: the one-level interval that
    ignores the search's randomness (reported with n_seeds=1), for comparison.
    few_seeds=True (default): the plain two-level percentile interval covers too rarely with few seeds (about
    85 % for a nominal 95 % with S = 5 when the seeds dominate: the plug-in variance of S seed means is
    (S - 1) / S of the truth, and their mean is t- not normally distributed). The correction widens the
    interval about the estimate by k = sqrt((v1 + (v2 - v1) c) / v2), where v2 and v1 are the variances
    of the two-level and the samples-only replicates and c = S / (S - 1) (t_{S-1} / z)^2: the t interval
    over seed means when seeds dominate, unchanged when samples dominate. It costs a second n_boot loop.
    Draws, replicate by replicate: seeds rng.integers(0, S, size=S) (unless resample_seeds=False), then
    samples rng.integers(0, N, size=N) (crossed) or size=(S, N) (nested); with few_seeds, a second
    n_boot replicates of samples-only draws follow from the same generator.
    Example: ``two_level_mean(err_gits)`` with err_gits of shape (5, 2000).
    """
    v = _array("values", values, 2, min_len=1)
    if v.shape[1] < 2:
        raise ValueError(f"values must have at least 2 samples per seed, got shape {v.shape}")
    return two_level(lambda s, j: _take(v, s, j).mean(), v.shape[0], v.shape[1], design=design,
                      resample_seeds=resample_seeds, few_seeds=few_seeds, n_boot=n_boot, level=level, seed=seed,
                      method=method)


def two_level_change(baseline, candidate, *, design: str = "crossed", resample_seeds: bool = True,
                     few_seeds: bool = True, n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0,
                     method: str = "percentile") -> Interval:
    """mean(candidate) / mean(baseline) - 1 for a searched candidate, two-level bootstrap (seeds, samples).

    candidate: (n_seeds, n_samples), the searched schedule of warm-up seed k scored on sample j.
    baseline: (n_samples,), a fixed schedule on the same samples (paired by sample index), or
    (n_seeds, n_samples) when the baseline is searched too, on the same seeds (paired by seed and sample).
    In every replicate the baseline is taken at the same (seed,) sample indices as the candidate, so the
    statistic is the ratio of the pooled means of the resampled pairs. design, resample_seeds, few_seeds,
    draws: as in `two_level_mean`. Example: ``two_level_change(err_poly, err_gits)``, shapes (2000,) and (5, 2000).
    """
    c = _array("candidate", candidate, 2, min_len=1)
    b = _array("baseline", baseline, (1, 2), min_len=1)
    if c.shape[1] < 2:
        raise ValueError(f"candidate must have at least 2 samples per seed, got shape {c.shape}")
    if b.shape[-1] != c.shape[1] or (b.ndim == 2 and b.shape != c.shape):
        raise ValueError(f"baseline must have shape ({c.shape[1]},) or {c.shape} to pair with candidate "
                         f"{c.shape}, got {b.shape}")
    if b.mean() == 0:
        raise ValueError("baseline must have a nonzero mean (the change is relative to it)")
    b2 = np.broadcast_to(b, c.shape)
    return two_level(lambda s, j: _take(c, s, j).mean() / _take(b2, s, j).mean() - 1, c.shape[0],
                      c.shape[1], design=design, resample_seeds=resample_seeds, few_seeds=few_seeds,
                      n_boot=n_boot, level=level, seed=seed, method=method)


def from_replicates(replicates, estimate: float, *, level: float = LEVEL, method: str = "percentile",
                    n_seeds: int = 1, n_samples: int = 0) -> Interval:
    """An Interval from bootstrap replicates computed elsewhere (e.g. ratios of paired FD replicates).

    replicates: (n_boot,) values; estimate: the full-sample statistic; method "percentile" or "basic" (use
    basic for FD, whose resamples sit above the full-sample value). Example:
    ``from_replicates(reps_gits / reps_poly - 1, fd_gits / fd_poly - 1, method="basic", n_samples=10000)``.
    """
    reps = _array("replicates", replicates, 1)
    if method not in ("percentile", "basic"):
        raise ValueError(f"method must be 'percentile' or 'basic', got {method!r}")
    lo, hi = _ends(reps, float(estimate), _check_level(level), method)
    return Interval(float(estimate), lo, hi, level, n_seeds, n_samples, len(reps), method)


def point(value: float, n_samples: int = 0) -> Interval:
    """A value computed exactly (e.g. the largest residual of an identity over n_samples cases): low = high."""
    return Interval(value, value, value, LEVEL, 1, n_samples, 0, "exact")
