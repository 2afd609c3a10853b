"""Argument checks shared by the modules (one message format naming the argument and the allowed values),
and the one device resolver: `check_int`, `check_positive`, `check_choice`, `resolve_device`, `float64_vector`."""
from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np

__all__ = ["check_int", "check_positive", "check_choice", "resolve_device", "float64_vector", "memory_bytes",
           "check_allocation", "check_disk_space", "human_bytes", "check_shape", "check_state", "check_denoised",
           "check_sigmas_arg"]


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
    """The torch.device to compute on: None or "auto" -> CUDA when available, else Apple's MPS when this torch
    has it and it is available, else the CPU; anything else as torch.device(device) (ValueError naming
    `device` if torch does not know it)."""
    import torch

    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)  # absent from some builds
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps (or a torch.device), got {device!r}") from None


def float64_vector(value):
    """A flat float64 CPU torch tensor from a list, NumPy array, pandas column or tensor (copied)."""
    import torch

    if torch.is_tensor(value):
        return value.detach().to("cpu", torch.float64).flatten().clone()
    return torch.from_numpy(np.array(value, dtype=np.float64)).flatten()


def human_bytes(n: float) -> str:
    """A byte count for messages: ``human_bytes(3 * 2**30)`` is '3.0 GiB', ``human_bytes(512)`` '512 B'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def memory_bytes() -> int:
    """This machine's physical memory in bytes (2**40 where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 2 ** 40


def check_allocation(what: str, nbytes: float, limit: int | None = None) -> None:
    """ValueError naming `what` if it would allocate more than `limit` bytes (default: the machine's memory)."""
    limit = memory_bytes() if limit is None else limit
    if not nbytes <= limit:
        raise ValueError(f"{what} would allocate {human_bytes(nbytes)}, more than this machine's "
                         f"{human_bytes(limit)} of memory; use a smaller value")


def check_disk_space(what: str, folder, nbytes: float) -> None:
    """ValueError naming `what` if the file it writes (`nbytes`) does not fit in `folder`'s free space."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if not nbytes <= free:
        raise ValueError(f"{what} needs {human_bytes(nbytes)} on disk but {folder} has {human_bytes(free)} free; "
                         "use a smaller value or write elsewhere")


def check_shape(name: str, shape) -> tuple:
    """One sample's shape as a tuple of ints >= 1; ValueError/TypeError naming `name` otherwise."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of positive ints, got {shape!r}") from None
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in dims):
        raise ValueError(f"{name} must be a tuple of positive ints, got {shape!r}")
    return tuple(int(d) for d in dims)


def check_state(x) -> None:
    """The solver state `x`: a floating-point tensor with a batch dimension, on a real device."""
    import torch

    if torch.is_tensor(x) and x.is_floating_point() and (x.ndim == 0 or x.is_meta):
        what = "0-dimensional" if x.ndim == 0 else "a meta tensor (no data)"
        raise ValueError(f"x must be a (B, ...) tensor of B samples, got {what}")


def check_sigmas_arg(sigmas) -> None:
    """TypeError naming `sigmas` unless it is a tensor, array or sequence of numbers."""
    import torch

    if sigmas is None or isinstance(sigmas, (str, bytes, dict)) or not (
            torch.is_tensor(sigmas) or isinstance(sigmas, np.ndarray) or hasattr(sigmas, "__len__")):
        raise TypeError(f"sigmas must be a 1-D tensor, array or list of numbers, got {type(sigmas).__name__}")


def check_denoised(out, x, where: str) -> None:
    """The denoiser's output is a floating-point tensor with data on x's device (`where` names the call)."""
    if out.is_meta or not out.is_floating_point() or out.device != x.device:
        got = ("a meta tensor (no data)" if out.is_meta else f"dtype {out.dtype}" if not out.is_floating_point()
               else f"a tensor on {out.device}")
        raise TypeError(f"{where}: the denoiser returned {got}; it must return a floating-point tensor on "
                        f"{x.device}, like x ({x.dtype})")

