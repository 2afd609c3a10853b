"""The GITS schedules the paper's authors publish, exact to the source's digits, with the file each comes from.

Two sources (the paper's own figures give FIDs, not schedules):

- **Stable Diffusion 1.5** (sigma 0.0292 to 14.6), 2 to 20 steps, DP coefficients 1.15 (the paper's default)
  and 1.20 (its Stable Diffusion setting, gits-main/launch.sh `--coeff=1.20`): the noise levels ComfyUI's
  GITSScheduler node ships (comfyanonymous/ComfyUI, comfy_extras/nodes_gits.py, "from
  https://github.com/zju-pi/diff-sampler/tree/main/gits-main"), `NOISE_LEVELS[coeff][steps - 2]`. ComfyUI replaces
  the last level (sigma_min) by 0 when it samples, as gitscore's exports do (gitscore.export.sampler_sigmas): the
  exports of these schedules are the node's output.
- **EDM CIFAR-10 32x32**, 6 steps, coefficient 1.15: the `--t_steps` list of the official code's README and
  launch.sh (zju-pi/diff-sampler, gits-main), used there with iPNDM.

Each schedule is a gitscore schedule (N+1 decreasing float64 sigmas ending at the source's sigma_min, no 0):
`schedule(name, n_steps)`; `PUBLISHED[name]` says where it comes from; `listing()` is the table that
`gitscore search --published list` prints. The SD 1.5 levels are stored once (SD15_LEVELS, every level the
two coefficients use) and each schedule as indices into them (the DP picks points of one teacher grid).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import check_int
from .gits import SearchConfig
from .schedules import PAPER_GITS_CIFAR10

__all__ = ["Source", "Published", "PUBLISHED", "get", "schedule", "listing", "SD15_LEVELS", "SD15_INDICES",
           "COMFYUI_GITS", "GITS_MAIN_README"]


@dataclass(frozen=True)
class Source:
    """A published file: repository, path inside it, the commit read, and where in the file the numbers are."""
    repo: str
    path: str
    commit: str
    where: str

    def __str__(self) -> str:
        return f"{self.repo} {self.path} @ {self.commit[:12]} ({self.where})"


COMFYUI_GITS = Source("comfyanonymous/ComfyUI", "comfy_extras/nodes_gits.py",
                      "349c5aa265078956999c045398b5030a8973c6a0", "NOISE_LEVELS[coeff][steps - 2]")
GITS_MAIN_README = Source("zju-pi/diff-sampler", "gits-main/README.md", "20a0e1d096960b908824bb137391e146b57b9ce0",
                          "--t_steps of the iPNDM example; the same list in gits-main/launch.sh")

SD15_LEVELS = (
    14.61464119, 7.49001646, 6.77309084, 5.85520077, 4.86714602, 4.65472794, 3.46139455, 3.1956799, 3.07277966,
    2.95596409, 2.84484982, 2.45070267, 2.36326075, 2.19988537, 2.12350607, 2.05039096, 1.98035145, 1.91321158,
    1.84880662, 1.78698075, 1.67050016, 1.61558151, 1.56271636, 1.51179266, 1.41535246, 1.36964464, 1.32549286,
    1.24153244, 1.20157266, 1.162866, 1.12534678, 1.08895338, 1.01931262, 0.95350921, 0.92192322, 0.89115214,
    0.86115354, 0.83188516, 0.803307, 0.74807048, 0.72133851, 0.69515091, 0.64427125, 0.59516323, 0.57119018,
    0.52423614, 0.50118381, 0.4783645, 0.45573691, 0.43325692, 0.41087446, 0.38853383, 0.36617002, 0.34370604,
    0.32104823, 0.29807833, 0.27464288, 0.25053367, 0.22545385, 0.19894916, 0.17026083, 0.13792117, 0.09824532,
    0.02916753,
)
SD15_INDICES = {  # keyed by the coefficient as the source writes it
    "1.15": (
        (0, 37, 63),
        (0, 18, 43, 63),
        (0, 3, 22, 45, 63),
        (0, 3, 17, 37, 53, 63),
        (0, 3, 11, 27, 43, 57, 63),
        (0, 3, 10, 23, 38, 50, 60, 63),
        (0, 3, 10, 22, 35, 46, 57, 62, 63),
        (0, 2, 8, 18, 30, 40, 49, 58, 62, 63),
        (0, 2, 8, 17, 27, 38, 45, 53, 59, 62, 63),
        (0, 1, 4, 9, 17, 27, 38, 45, 53, 59, 62, 63),
        (0, 1, 4, 8, 15, 25, 33, 41, 47, 54, 59, 62, 63),
        (0, 1, 4, 8, 14, 23, 31, 38, 43, 49, 55, 59, 62, 63),
        (0, 1, 4, 8, 14, 23, 31, 38, 43, 48, 53, 57, 60, 62, 63),
        (0, 1, 4, 8, 13, 21, 27, 33, 39, 43, 48, 53, 57, 60, 62, 63),
        (0, 1, 4, 7, 11, 19, 26, 32, 38, 42, 46, 51, 55, 58, 60, 62, 63),
        (0, 1, 4, 7, 11, 19, 26, 32, 38, 42, 45, 50, 54, 57, 59, 61, 62, 63),
        (0, 1, 4, 7, 11, 18, 24, 30, 35, 40, 43, 47, 51, 54, 57, 59, 61, 62, 63),
        (0, 1, 4, 7, 11, 18, 24, 30, 35, 40, 43, 46, 50, 53, 56, 58, 60, 61, 62, 63),
        (0, 1, 4, 7, 11, 18, 24, 30, 35, 40, 43, 46, 50, 53, 55, 57, 59, 60, 61, 62, 63),
    ),
    "1.20": (
        (0, 38, 63),
        (0, 22, 45, 63),
        (0, 12, 34, 52, 63),
        (0, 10, 27, 43, 57, 63),
        (0, 3, 15, 33, 48, 60, 63),
        (0, 3, 11, 27, 42, 55, 62, 63),
        (0, 3, 11, 25, 38, 48, 57, 62, 63),
        (0, 3, 10, 21, 33, 43, 52, 59, 62, 63),
        (0, 3, 10, 20, 31, 39, 46, 54, 59, 62, 63),
        (0, 3, 9, 18, 27, 37, 43, 50, 56, 60, 62, 63),
        (0, 3, 8, 16, 25, 33, 41, 46, 52, 57, 60, 62, 63),
        (0, 2, 6, 12, 22, 31, 38, 43, 48, 53, 57, 60, 62, 63),
        (0, 2, 6, 11, 21, 29, 36, 42, 46, 51, 55, 58, 60, 62, 63),
        (0, 1, 5, 8, 14, 23, 31, 37, 42, 46, 51, 55, 58, 60, 62, 63),
        (0, 1, 5, 8, 14, 23, 31, 37, 42, 46, 50, 54, 57, 59, 61, 62, 63),
        (0, 1, 5, 8, 14, 23, 31, 37, 42, 46, 50, 53, 56, 58, 60, 61, 62, 63),
        (0, 1, 5, 8, 13, 21, 28, 34, 40, 44, 48, 52, 55, 57, 59, 60, 61, 62, 63),
        (0, 1, 5, 8, 13, 21, 27, 33, 39, 43, 47, 51, 54, 56, 58, 59, 60, 61, 62, 63),
        (0, 1, 5, 8, 13, 21, 27, 33, 39, 43, 46, 50, 53, 55, 57, 58, 59, 60, 61, 62, 63),
    ),
}
CIFAR10_EDM_6 = PAPER_GITS_CIFAR10[6]  # one home for the numbers: gitscore.schedules (chapter 6 runs it)


@dataclass(frozen=True)
class Published:
    """One published family: its name, the model it was searched on, the DP coefficient and the step counts."""
    name: str
    model: str
    coeff: float
    steps: tuple
    source: Source
    schedules: dict  # n_steps -> tuple of sigmas, as in the source

    def sigmas(self, n_steps: int) -> torch.Tensor:
        """The n_steps schedule: n_steps + 1 float64 sigmas, the source's digits."""
        n = check_int("n_steps", n_steps, 1)
        if n not in self.schedules:
            raise ValueError(f"n_steps: {self.name} publishes {_ranges(self.steps)} steps, not {n}")
        return torch.tensor(self.schedules[n], dtype=torch.float64)


def _ranges(steps) -> str:
    steps = sorted(steps)
    return f"{steps[0]} to {steps[-1]}" if steps == list(range(steps[0], steps[-1] + 1)) and len(steps) > 2 \
        else ", ".join(map(str, steps))


def _sd15(coeff: str) -> Published:
    rows = SD15_INDICES[coeff]
    return Published(f"sd15-gits-{coeff}", "Stable Diffusion 1.5 (sigma 0.02916753 to 14.61464119)", float(coeff),
                     tuple(range(2, 2 + len(rows))), COMFYUI_GITS,
                     {len(r) - 1: tuple(SD15_LEVELS[i] for i in r) for r in rows})


PUBLISHED = {p.name: p for p in (
    *(_sd15(coeff) for coeff in SD15_INDICES),
    Published("cifar10-edm-gits", "EDM CIFAR-10 32x32 (edm-cifar10-32x32-uncond-vp; sigma 0.002 to 80)",
              SearchConfig.coeff,  # the official default it was searched with (gits-main README's GITS_FLAGS)
              (6,), GITS_MAIN_README, {6: CIFAR10_EDM_6}),
)}


def get(name: str) -> Published:
    """The published family `name` (one of PUBLISHED); ValueError naming the choices otherwise."""
    if name not in PUBLISHED:
        raise ValueError(f"published schedule must be one of {list(PUBLISHED)}, got {name!r}")
    return PUBLISHED[name]


def schedule(name: str, n_steps: int) -> torch.Tensor:
    """The published n_steps schedule of `name` (float64, n_steps + 1 sigmas, the source's digits)."""
    return get(name).sigmas(n_steps)


def listing() -> str:
    """One line per published family: name, model, coefficient, step counts, source."""
    width = max(map(len, PUBLISHED))
    return "\n".join(f"{p.name:<{width}}  {p.model}; coeff {p.coeff:.2f}; {_ranges(p.steps)} steps\n"
                     f"{'':<{width}}  from {p.source}" for p in PUBLISHED.values())
