"""Checkpoints: safetensors + JSON config + sha256 manifest, never pickle (files written through gitscore.files).

Two kinds of file live here:

- a *model* (`save_weights` / `load_weights`): NAME.safetensors, NAME.json (config) and the folder's
  MANIFEST.json with the sha256 of both, as shipped in gitscore/weights/; weights over PART_BYTES go
  to NAME.safetensors plus NAME-partK.safetensors, which the first file names with their sha256;
- a *training checkpoint* (`save_training` / `load_training`): a folder RUN/ckpt-STEP/ holding one model
  triple (weights of model, EMA and optimiser; config with step and hyperparameters), written under a
  temporary name and switched in by one rename, then named in RUN/LATEST (written atomically). The
  previous checkpoint is kept; loading takes the newest one that verifies. A run written before
  versioned folders (RUN/checkpoint.safetensors + .json + MANIFEST.json) still loads.

Plain outputs are written through gitscore.files (atomic writes, output-path checks), as these are.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from .files import atomic_write_bytes, check_output_file, check_same_file

__all__ = ["CheckpointError", "save_weights", "load_weights", "model_weights", "save_training", "load_training",
           "training_checkpoints", "is_run_file", "check_export", "part_names", "KEEP", "PART_BYTES"]

KEEP = 2                  # training checkpoints kept: the newest and the one before it
LATEST = "LATEST"         # RUN/LATEST names the newest checkpoint folder
LEGACY = "checkpoint.safetensors"
PART_BYTES = 20 * 2**20   # weights files larger than this are split into parts (each stays well under 25 MB)
PARTS_KEY = "gitscore.parts"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted (sha256 mismatch) or does not fit its config."""


def _manifest_update(folder: Path, entries: dict) -> dict:
    manifest_path = folder / "MANIFEST.json"
    manifest = _read_json(manifest_path) if manifest_path.exists() else {}
    manifest.update(entries)
    atomic_write_bytes(manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return manifest


def _parts(tensors: dict, part_bytes: int) -> list[dict]:
    """Tensors grouped, in the order of their names, into parts of at most part_bytes each (a larger tensor
    alone in its part): the same tensors give the same files whatever the dict's order."""
    parts, size = [{}], 0
    for k, v in sorted(tensors.items()):
        n = v.numel() * v.element_size()
        if parts[-1] and size + n > part_bytes:
            parts.append({})
            size = 0
        parts[-1][k] = v
        size += n
    return parts


def save_weights(path, tensors: dict, config: dict, part_bytes: int | None = None) -> dict:
    """Save tensors as safetensors + `<name>.json` config + sha256 in the folder's MANIFEST.json, atomically.

    Weights over `part_bytes` (default PART_BYTES) are split into `<name>.safetensors` and
    `<name>-partK.safetensors` (K = 2, 3, ...): the first file's header names every other part with its
    sha256, so the first file's own sha256 (in MANIFEST.json) covers them all. The other parts are
    written first, so the first file never names a part that is not yet in place. Parts that the file
    being replaced named and this save does not write are removed; no other file is touched.
    """
    from safetensors.torch import save
    path = Path(path)
    check_same_file({"weights": path, "config": path.with_suffix(".json"), "manifest": path.parent / "MANIFEST.json"},
                    "path")
    previous = _previous_parts(path)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    parts = _parts(tensors, PART_BYTES if part_bytes is None else part_bytes)
    names = {}
    for i, part in enumerate(parts[1:], start=2):
        blob, name = save(part), f"{path.stem}-part{i}{path.suffix}"
        names[name] = hashlib.sha256(blob).hexdigest()
        atomic_write_bytes(path.with_name(name), blob)
    blob = save(parts[0], metadata={PARTS_KEY: json.dumps(names, sort_keys=True)} if names else None)
    text = json.dumps(config, indent=2, sort_keys=True).encode()
    atomic_write_bytes(path, blob)
    for stale in previous - names.keys():  # named by the file just replaced (an earlier, larger save)
        (path.parent / stale).unlink(missing_ok=True)
    cfg_path = path.with_suffix(".json")
    atomic_write_bytes(cfg_path, text)
    return _manifest_update(path.parent, {path.name: hashlib.sha256(blob).hexdigest(),
                                          cfg_path.name: hashlib.sha256(text).hexdigest()})


def _previous_parts(path: Path) -> set:
    """The part names the weights file now at `path` lists (none if it is missing or unreadable)."""
    try:
        if not path.is_file():
            return set()
        with open(path, "rb") as f:
            head = f.read(8)
            head += f.read(min(int.from_bytes(head, "little"), 100 * 2**20))
        names = part_names(head, path)
    except (OSError, CheckpointError):
        return set()
    return {n for n in names if re.fullmatch(re.escape(path.stem) + r"-part[0-9]+" + re.escape(path.suffix), n)}


def part_names(blob: bytes, path) -> dict:
    """{file name: sha256} of the other parts a weights file names in its safetensors header (none: {}).

    Each part must be a plain file name in the same folder (no folder, no "..", not absolute):
    CheckpointError otherwise, so a header cannot make a load read a file elsewhere.
    """
    try:
        n = int.from_bytes(blob[:8], "little")
        meta = json.loads(blob[8:8 + n]).get("__metadata__") or {}
        names = json.loads(meta[PARTS_KEY]) if PARTS_KEY in meta else {}
    except (ValueError, AttributeError, TypeError, RecursionError) as e:
        raise CheckpointError(f"{path} is not a valid safetensors file: {e}") from None
    if not isinstance(names, dict):
        raise CheckpointError(f"{path}: its header's {PARTS_KEY} must map part file names to sha256, "
                              f"got {type(names).__name__}; the file is damaged or not written by gitscore")
    for name, sha in names.items():
        plain = (name not in ("", ".", "..") and "/" not in name and "\\" not in name and ":" not in name
                 and os.path.basename(name) == name)
        if not plain:
            raise CheckpointError(f"{path} names a part {name!r} outside its folder; a part must be a plain file "
                                  "name beside it. Refusing to load it")
        if not isinstance(sha, str):
            raise CheckpointError(f"{path}: the sha256 of part {name!r} must be a string, got {sha!r}")
    return names


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path} must hold a JSON object, got {type(value).__name__}")
    return value


def load_weights(path, verify: bool = True) -> tuple[dict, dict]:
    """Load (tensors, config) from safetensors + JSON, refusing files whose sha256 differs from MANIFEST.json."""
    from safetensors.torch import load
    path = Path(path)
    cfg_path = path.with_suffix(".json")
    for p in (path, cfg_path):
        if not p.is_file():
            what = ("is a folder, not a checkpoint file" if p.is_dir() else
                    "is not a regular file (a FIFO, device or socket)" if p.exists() else "not found")
            raise CheckpointError(f"checkpoint file {p} {what}; train one with `gitscore train` "
                                  "or reinstall gitscore (the shipped weights live in gitscore/weights/)")
    blob, cfg_bytes = path.read_bytes(), cfg_path.read_bytes()
    if verify:
        manifest_path = path.parent / "MANIFEST.json"
        if not manifest_path.is_file():
            raise CheckpointError(f"{manifest_path} not found: cannot verify {path.name} (pass verify=False to skip)")
        manifest = _read_json(manifest_path)
        for name, data in ((path.name, blob), (cfg_path.name, cfg_bytes)):
            want = manifest.get(name)
            got = hashlib.sha256(data).hexdigest()
            if want != got:
                raise CheckpointError(f"sha256 of {path.parent / name} is {got}, manifest says {want}: "
                                      "the file is corrupted or was changed; refusing to load it")
    blobs = {path: blob}
    for name, want in part_names(blob, path).items():
        part = path.parent / name
        if not part.is_file():
            raise CheckpointError(f"{part} not found: {path.name} is split into parts and this one is missing; "
                                  "copy the whole folder")
        blobs[part] = part.read_bytes()
        got = hashlib.sha256(blobs[part]).hexdigest()
        if verify and got != want:
            raise CheckpointError(f"sha256 of {part} is {got}, {path.name} says {want}: "
                                  "the file is corrupted or was changed; refusing to load it")
    tensors = {}
    for p, data in blobs.items():
        try:
            tensors.update(load(data))
        except Exception as e:  # safetensors raises its own error types
            raise CheckpointError(f"{p} is not a valid safetensors file: {e}") from e
    return tensors, _read_json(cfg_path)


def model_weights(tensors: dict, config: dict, path="checkpoint") -> tuple[dict, dict]:
    """(weights, model config) of a model file, or of a training checkpoint: its EMA weights ("ema." prefix)."""
    if not any(k.startswith("ema.") for k in tensors):
        return tensors, config
    if not isinstance(config.get("model_config"), dict):
        raise CheckpointError(f"{path} holds training weights but its config lacks 'model_config'")
    return {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}, config["model_config"]


# ---------------------------------------------------------------- training checkpoints: one folder per step

def _step_folder(run: Path, step: int) -> Path:
    return run / f"ckpt-{step:08d}"


def training_checkpoints(run) -> list[Path]:
    """The run's checkpoint weight files, newest first: versioned folders (LATEST first), then the legacy file."""
    run = Path(run)
    steps = {p / LEGACY: int(p.name[5:]) for p in run.glob("ckpt-*") if p.is_dir() and p.name[5:].isdigit()}
    if (run / LEGACY).is_file():
        steps[run / LEGACY] = _legacy_step(run)
    files = sorted(steps, key=lambda p: (steps[p], p.parent != run), reverse=True)
    latest = run / LATEST
    try:  # LATEST is a hint: if it is unreadable, the newest step that verifies is taken
        named = run / latest.read_bytes().decode().strip() / LEGACY if latest.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError):
        named = None
    if named in files:
        files.remove(named)
        files.insert(0, named)
    return files


def _legacy_step(run: Path) -> int:
    """The step of a pre-versioned RUN/checkpoint.safetensors (from its JSON; -1 if unreadable)."""
    try:
        return int(json.loads((run / "checkpoint.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return -1


def save_training(run, tensors: dict, meta: dict) -> Path:
    """Write a training checkpoint as one unit RUN/ckpt-STEP/ (renamed into place), point LATEST at it,
    and delete all but the KEEP newest folders. Returns the weights path."""
    run = Path(run)
    final = _step_folder(run, int(meta["step"]))
    tmp = Path(tempfile.mkdtemp(dir=run, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        save_weights(tmp / LEGACY, tensors, meta)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if final.exists():  # the same step again (a rerun after a kill): the new one is identical
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_bytes(run / LATEST, (final.name + "\n").encode())
    for old in [p.parent for p in training_checkpoints(run) if p.parent != run][KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in run.glob(".ckpt-*.tmp"):  # left by a kill during a write
        shutil.rmtree(stale, ignore_errors=True)
    return final / LEGACY


def load_training(run, log=print) -> tuple[dict, dict, Path] | None:
    """(tensors, meta, path) of the newest training checkpoint in `run` that verifies; None if there is none.

    A checkpoint that fails to verify is reported through `log` and skipped; if every one fails, the
    newest one's error is raised.
    """
    errors = []
    for path in training_checkpoints(run):
        try:
            tensors, meta = load_weights(path)
            if "step" not in meta or "train_config" not in meta:
                raise CheckpointError(f"{path.with_suffix('.json')} lacks 'step' or 'train_config': "
                                      "not a training checkpoint")
            return tensors, meta, path
        except CheckpointError as e:
            errors.append(e)
            log(f"skipping checkpoint {path}: {e}")
    if errors:
        raise CheckpointError(f"no checkpoint in {run} verifies; the newest failed with: {errors[0]}")
    return None


def _glob_escape(name: str) -> str:
    return re.sub(r"([*?[])", r"[\1]", name)


def check_export(path, what: str = "--export") -> Path:
    """Check, before any work, every file a model export to `path` writes: NAME.safetensors, NAME.json and the
    folder's MANIFEST.json (a regular file holding a JSON object if it exists), none of them the same file."""
    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{what} is empty; give a file name such as model.safetensors")
    p = Path(path)
    if p.suffix != ".safetensors":
        raise ValueError(f"{what} {path} must end in .safetensors (its config goes to NAME.json and the "
                         "folder's MANIFEST.json beside it)")
    check_output_file(path, what)
    check_output_file(p.with_suffix(".json"), f"{what} (its config {p.with_suffix('.json').name})")
    manifest = p.parent / "MANIFEST.json"
    check_output_file(manifest, f"{what} (the folder's manifest)")
    check_same_file({"weights": p, "config": p.with_suffix(".json"), "manifest": manifest}, what)
    for part in p.parent.glob(f"{_glob_escape(p.stem)}-part*{p.suffix}"):  # a larger model is written in parts
        if re.fullmatch(re.escape(p.stem) + r"-part[0-9]+" + re.escape(p.suffix), part.name):
            check_output_file(part, f"{what} (its part {part.name})", probe=False)
    if manifest.is_file():
        try:
            _read_json(manifest)
        except CheckpointError as e:
            raise ValueError(f"{what} {path}: {e}; fix or delete it, or export to another folder") from None
    return p


def is_run_file(path, run) -> bool:
    """Whether writing `path` (or its .json) would overwrite a file of the training run in `run`."""
    run = Path(os.path.realpath(run))
    for p in (Path(path), Path(path).with_suffix(".json")):
        p = Path(os.path.realpath(p))
        if p.parent == run and p.name in (LEGACY, "checkpoint.json", LATEST, "train_log.csv"):
            return True
        if p.parent.parent == run and p.parent.name.startswith(("ckpt-", ".ckpt-")):
            return True
    return False
