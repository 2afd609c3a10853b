"""Files: atomic writes that keep a replaced file's mode, output-path checks, sha256 of a file.

`atomic_write_bytes` / `atomic_path` write to a temporary file in the target's folder and switch it in by
one rename, so a reader never sees half a file; they never replace a symlink (they write to its final
target; a loop is refused), a folder or a device node, and a failed write names its path. The check_*
functions refuse, before any work, outputs that cannot be written or that would land on one file. Every
module writes its outputs through here (the weights formats in gitscore.checkpoints included).
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["save_run_state", "sha256_file",
           "atomic_write_bytes", "atomic_path", "check_output_file", "check_output_dir",
           "check_same_file", "write_error"]


def sha256_file(path) -> str:
    """Hex sha256 of the file at `path`, read in 1 MiB chunks (the manifests' checksum)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- safe output paths

def _target(path: Path, what: str = "output") -> Path:
    """Where writing `path` lands: the file itself, or the final target of a symlink (a loop: ValueError)."""
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise ValueError(f"{what} {path} is a symlink loop (it never reaches a file); "
                             "remove it or give another path") from None
        return Path(os.path.realpath(path))  # a dangling link: its target is created


def _first_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _check_folder_writable(folder: Path, what: str) -> None:
    """The folder (or the nearest existing one above it, where it would be created) is a writable folder."""
    base = _first_existing(folder)
    if not base.is_dir():
        raise ValueError(f"{what}: {base} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=base, prefix=".gitscore-probe.")
    except OSError as e:
        raise ValueError(f"{what}: cannot write in {base} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(tmp)


def check_output_file(path, what: str = "--out", probe: bool = True) -> Path:
    """Check, before any work, that `path` can be written as a regular file; returns where it lands.

    Refused: a folder, a device node, FIFO or socket (never replaced), a path under a file, a folder
    that cannot be written. A symlink is followed: its target is written.
    """
    if isinstance(path, str) and (not path.strip() or path.endswith(("/", os.sep))):
        raise ValueError(f"{what} {path!r} is not a file name" + (" (it ends in a slash)" if path.strip() else "")
                         + "; give a file path such as out.json")
    path = Path(path)
    target = _target(path, what)
    label = f"{what} {path}" + (f" (a symlink to {target})" if target != path else "")
    if target.is_dir():
        raise ValueError(f"{label} is a folder; give a file name")
    if target.exists() and not stat.S_ISREG(target.stat().st_mode):
        raise ValueError(f"{label} exists and is not a regular file (a device, FIFO or socket); refusing to replace it")
    if probe:
        _check_folder_writable(target.parent, label)
    return target


def check_output_dir(path, what: str = "--out") -> Path:
    """Check, before any work, that `path` is (or can be created as) a writable folder."""
    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{what} is empty; give a folder path")
    path = Path(path)
    _target(path, what)  # a symlink loop is refused
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} exists and is not a folder")
    _check_folder_writable(path, f"{what} {path}")
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`'s target; on success it replaces the target in one rename.

    For writers that need a file name (np.memmap, ...). The target is checked as in check_output_file.
    A replaced file keeps its permissions; a new one gets the usual ones (0666 less the umask). An OSError
    while writing (a full disk, ...) removes the temporary file and names the target.
    """
    target = check_output_file(path, "output", probe=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if target.is_file():
            mode = stat.S_IMODE(target.stat().st_mode)  # keep the replaced file's permissions
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp creates 0600; give the usual permissions
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(e, target) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_error(e: OSError, path) -> OSError:
    """`e` (raised while writing `path`) as an OSError whose message names the path and what to do."""
    hint = "; free some space or write elsewhere" if e.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    if str(path) in str(e):
        return e
    return OSError(e.errno, f"cannot write {path}: {e.strerror or e}{hint}")


def atomic_write_bytes(path, data: bytes) -> None:
    """Write a file atomically (temp file in the same folder, then os.replace).

    A symlink is written through (its target is replaced, the link stays); a folder, device node,
    FIFO or socket is never replaced (ValueError).
    """
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def save_run_state(path, state: dict, seconds: float, done: bool = False) -> None:
    """Write a resumable script's JSON state atomically, with its `wall_time_s` (seconds: this file's runs,
    resumed ones added) and, until `done`, "partial": true, which the results pipeline reads as unfinished
    (a killed run's file is then resumed, not taken as complete)."""
    state["wall_time_s"] = round(float(seconds), 1)
    if done:
        state.pop("partial", None)
    else:
        state["partial"] = True
    atomic_write_bytes(path, (json.dumps(state, indent=1) + "\n").encode())


# ---------------------------------------------------------------- models: safetensors + config + manifest

def check_same_file(paths: dict, what: str) -> None:
    """ValueError if two of the outputs {role: path} land on one file (through a symlink or the same name)."""
    seen = {}
    for role, p in paths.items():
        real = os.path.realpath(p)
        if real in seen:
            raise ValueError(f"{what} {paths[seen[real]]}: its {seen[real]} and its {role} would be the same file "
                             f"({real}); one would overwrite the other. Give another name")
        seen[real] = role
