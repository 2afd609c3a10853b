"""The claims across data sets and dimension: reading scripts/datasets_runs.py's results (results/datasets.json).

- `load_runs(folder=None)`: the results file, checked against the data it was made from (gitscore.data.fingerprint
  of every data set): a file made from other images is refused, naming the script that remakes it;
- `values(run, variant, key, who="kde")`: one per-trajectory statistic of one variant as a numpy array;
- `gits_values(run, target, key, cell, source=None)`: per-latent reference errors, (n_seeds, n_latents) for a
  searched schedule (GITS, the random-cost DP, another data set's GITS), (n_latents,) for the polynomial;
- `gits_change(run, target, cell, key="gits")`: the change in reference error against the polynomial schedule,
  two-level bootstrap over warm-up seeds and latents (gitscore.stats.two_level_change);
- `transfer_loss(run, source, target)`: the loss of the source's GITS schedules on the target against the
  target's own, over every (solver, NFE) cell, seeds paired by warm-up seed; `source=None`: the polynomial
  schedule's loss (the control).
"""
from __future__ import annotations

import numpy as np

from . import data, stats
from .results import load_json

__all__ = ["RESULTS_FILE", "load_runs", "values", "gits_values", "gits_change", "transfer_loss"]

RESULTS_FILE = "datasets.json"


def load_runs(folder=None) -> dict:
    """results/datasets.json (or `folder`'s), refused (ValueError) if made from other data than gitscore.data's."""
    run = load_json(RESULTS_FILE, folder)
    for name, rec in run["data"].items():
        now = data.fingerprint(name)
        if rec["sha256"] != now:
            raise ValueError(f"{RESULTS_FILE} was made from other {name!r} images (sha256 {rec['sha256'][:12]}, "
                             f"these are {now[:12]}): rerun `python scripts/datasets_runs.py --out "
                             f"results/{RESULTS_FILE}` on this data")
    return run


def _variant(run, part, name):
    if name not in run[part]:
        raise KeyError(f"no {part} run of {name!r}; the file has {sorted(run[part])}")
    return run[part][name]


def values(run: dict, variant: str, key: str, who: str = "kde") -> np.ndarray:
    """Statistic `key` of `variant` for the KDE ("kde") or the null model ("null"); key "likelihood",
    "likelihood_random", "identity", "identity_control" are the KDE's own."""
    v = _variant(run, "regularity", variant)
    if key in v and not isinstance(v[key], dict):
        return np.asarray(v[key], dtype=np.float64)
    if who not in ("kde", "null"):
        raise ValueError(f"who must be 'kde' or 'null', got {who!r}")
    return np.asarray(v[who][key], dtype=np.float64)


def gits_values(run: dict, target: str, key: str, cell: str, source: str | None = None) -> np.ndarray:
    """Per-latent reference errors on `target` at `cell` ("euler 5") of schedule `key`: "polynomial" (n,),
    "gits" / "random_dp" (n_seeds, n), "transfer" (n_seeds, n, the GITS schedules of `source`); seeds in
    increasing order."""
    g = _variant(run, "gits", target)
    if key == "polynomial":
        return np.asarray(g["polynomial"][cell], dtype=np.float64)
    if key not in ("gits", "random_dp", "transfer"):
        raise ValueError(f"key must be 'polynomial', 'gits', 'random_dp' or 'transfer', got {key!r}")
    rows = g["transfer"][source] if key == "transfer" else g[key]
    return np.asarray([rows[s][cell] for s in sorted(rows, key=int)], dtype=np.float64)


def gits_change(run: dict, target: str, cell: str, key: str = "gits", **bootstrap) -> stats.Interval:
    """Mean reference error of `key` / that of the polynomial - 1 on `target` at `cell`, two-level bootstrap
    (`bootstrap`: keywords of gitscore.stats.two_level_change, e.g. n_boot, level)."""
    return stats.two_level_change(gits_values(run, target, "polynomial", cell), gits_values(run, target, key, cell),
                                  **bootstrap)


def transfer_loss(run: dict, source: str | None, target: str, **bootstrap) -> stats.Interval:
    """Mean error over every (solver, NFE) cell and latent of the source's GITS schedules (None: the polynomial)
    on `target` / that of the target's own GITS - 1; two-level bootstrap, seeds paired by warm-up seed
    (`bootstrap`: keywords of gitscore.stats.two_level_change)."""
    cells = sorted(run["gits"][target]["polynomial"])
    own = np.mean([gits_values(run, target, "gits", c) for c in cells], 0)                     # (S, n)
    if source is None:
        other = np.broadcast_to(np.mean([gits_values(run, target, "polynomial", c) for c in cells], 0), own.shape)
    else:
        if source == target:
            raise ValueError(f"source and target must differ, got {source!r} twice")
        other = np.mean([gits_values(run, target, "transfer", c, source) for c in cells], 0)
    return stats.two_level_change(own, np.ascontiguousarray(other), **bootstrap)
