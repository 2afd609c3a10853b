"""Argument checks shared by the modules: one message format naming the argument and the allowed range."""
from __future__ import annotations

import numpy as np

__all__ = ["check_int", "float64_vector"]


def check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    """`value` as an int if it is an integer (not a bool) in [lo, hi]; else ValueError naming `name` and the range."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= lo
          and (hi is None or value <= hi))
    if not ok:
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")
    return int(value)


def float64_vector(value):
    """A flat float64 CPU torch tensor from a list, NumPy array, pandas column or tensor (copied)."""
    import torch

    if torch.is_tensor(value):
        return value.detach().to("cpu", torch.float64).flatten().clone()
    return torch.from_numpy(np.array(value, dtype=np.float64)).flatten()
