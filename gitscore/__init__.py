"""gitscore: trajectory regularity of ODE-based diffusion sampling and GITS (Chen et al., ICML 2024).

Modules: schedules (time schedules), solvers (ODE samplers), denoisers (closed-form and network
denoisers), trajectory (geometry of sampling trajectories), gits (schedule search), sampling (seeded
latents, batched and torchrun-sharded sampling), models (the registry of named models), checks (argument checks),
data, nets,
train, metrics, bench, adapters, export, diagnostics (smoothness and accuracy of a denoiser in sigma),
controls (null-model denoisers), report (verdicts, tables, figures), files (atomic writes), stats
(intervals), claims (the claims registry and its verdict rule), regularity (every regularity statistic per
trajectory, and the scaling exponents), datasets (results across data sets), published (the GITS schedules the
paper's authors publish), ays / ld3 / oss (other schedule searches), harness (every search behind one
signature) and fdruns (FD of searched schedules over their warm-up seeds). Heavy modules are imported lazily:
`gs.metrics` works.
"""
import importlib

from . import denoisers, gits, schedules, solvers, trajectory

__all__ = ["schedules", "solvers", "denoisers", "trajectory", "gits", "data", "nets", "train",
           "metrics", "bench", "adapters", "export", "dist", "report", "diagnostics", "controls", "optimal",
           "checkpoints", "files", "regularity", "datasets",
           "results", "sampling", "checks", "models", "stats", "claims", "published", "ays", "ld3", "oss",
           "harness", "fdruns"]
__version__ = "0.1.0"


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gitscore' has no attribute {name!r}")
