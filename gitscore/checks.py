"""Argument checks shared by the modules (one message format naming the argument and the allowed values),
and the one device resolver: `check_int`, `check_positive`, `check_choice`, `resolve_device`, `float64_vector`."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["check_int", "check_positive", "check_choice", "resolve_device", "float64_vector"]


def check_int(name: str, value, lo: int, hi: int | None = None) -> int:
    """`value` as an int if it is an integer (not a bool) in [lo, hi]; else ValueError naming `name` and the range."""
    ok = (not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= lo
          and (hi is None or value <= hi))
    if not ok:
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")
    return int(value)


def check_positive(name: str, value) -> float:
    """`value` if it is a finite real number > 0 (not a bool); else ValueError naming `name`."""
    is_number = not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
    if not is_number or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def check_choice(name: str, value, allowed):
    """`value` if it is one of `allowed`; else ValueError naming `name` and listing the allowed values."""
    if isinstance(value, (list, dict, set)) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def resolve_device(device=None):
    """The torch.device to compute on: None or "auto" -> CUDA when available, else the CPU; anything else as
    torch.device(device) (ValueError naming `device` if torch does not know it)."""
    import torch

    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N (or a torch.device), got {device!r}") from None


def float64_vector(value):
    """A flat float64 CPU torch tensor from a list, NumPy array, pandas column or tensor (copied)."""
    import torch

    if torch.is_tensor(value):
        return value.detach().to("cpu", torch.float64).flatten().clone()
    return torch.from_numpy(np.array(value, dtype=np.float64)).flatten()
