"""Write the book's provenance page (book/provenance.md): what the book was built and executed with.

Run by `make book` and `make book-stored` before the build (the page is generated, not committed):
    python scripts/provenance.py [--out book/provenance.md] [--book book]
It records the versions of Python, torch, numpy, jupyter-book and the book's other tools on the machine that
builds the HTML, that machine's CPU and GPU, the git commit, each chapter's execution (date, kernel's Python and
time, from the cell timings nbclient stores in the notebooks), and the sha256 of the shipped weights (checked
against gitscore/weights/MANIFEST.json) and of the Fashion-MNIST files.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PACKAGES = ("torch", "numpy", "scipy", "matplotlib", "pandas", "safetensors", "jupyter-book", "sphinx", "myst-nb",
            "nbval", "jupytext")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo where there is one) and the logical core count."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} logical cores"


def gpu_name() -> str:
    import torch
    if not torch.cuda.is_available():
        return "none (CUDA not available to torch)"
    return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def _time(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def chapter_execution(nb_path: Path) -> dict:
    """When and how long a stored notebook was executed: from nbclient's per-cell timing metadata, the first
    cell's start to the last cell's reply (kernel start-up not included); None where no timing is stored."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    starts, ends = [], []
    for cell in nb["cells"]:
        ex = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            starts.append(_time(ex["iopub.execute_input"]))
            ends.append(_time(ex["shell.execute_reply"]))
    title = next((line.lstrip("# ").strip() for c in nb["cells"] if c["cell_type"] == "markdown"
                  for line in "".join(c["source"]).splitlines() if line.startswith("# ")), nb_path.stem)
    out = {"chapter": nb_path.stem, "title": title,
           "python": nb.get("metadata", {}).get("language_info", {}).get("version", "?"),
           "executed": None, "seconds": None, "cells": len(starts)}
    if starts:
        out["executed"] = min(starts).strftime("%Y-%m-%d %H:%M UTC")
        out["seconds"] = (max(ends) - min(starts)).total_seconds()
    return out


def weights_rows() -> list[tuple[str, str, str]]:
    """(file, sha256 in the manifest, whether the file on disk matches it) for every shipped weights file."""
    from gitscore.files import sha256_file
    folder = ROOT / "gitscore" / "weights"
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    rows = []
    for name, digest in sorted(manifest.items()):
        path = folder / name
        ok = "yes" if path.is_file() and sha256_file(path) == digest else "NO"
        rows.append((name, digest, ok))
    return rows


def data_rows() -> list[tuple[str, str, str]]:
    """(file, sha256 of its decompressed bytes as gitscore.data pins it, whether the file found matches)."""
    import gzip
    import hashlib

    from gitscore import data
    try:
        folder = data.data_dir()
    except data.DataNotFoundError:
        folder = None
    rows = []
    for name, digest in data._SHA256.items():
        if folder is None:
            rows.append((name, digest, "not found"))
            continue
        h = hashlib.sha256()
        with gzip.open(folder / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        rows.append((name, digest, "yes" if h.hexdigest() == digest else "NO"))
    return rows


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def render(book: Path) -> str:
    commit = _git("rev-parse", "HEAD") or "unknown (not a git checkout)"
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    chapters = [chapter_execution(p) for p in sorted(book.glob("[0-9][0-9]_*.ipynb"))]
    lines = [
        "# Provenance",
        "",
        "This page is written by `scripts/provenance.py` each time the book is built (`make book`,",
        "`make book-stored`). The chapters' outputs were computed when each chapter was last executed (the",
        "table of chapters); the HTML was built on the machine described first.",
        "",
        "## The build",
        "",
        "| what | value |",
        "|---|---|",
        f"| built | {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} |",
        f"| git commit | `{commit}`{' (with uncommitted changes)' if dirty else ''} |",
        f"| Python | {platform.python_version()} ({platform.python_implementation()}) |",
        f"| platform | {platform.platform()} |",
        f"| CPU | {cpu_name()} |",
        f"| GPU | {gpu_name()} |",
    ]
    lines += [f"| {p} | {_version(p)} |" for p in PACKAGES]
    lines += ["", "## Each chapter's execution", "",
              "From the timings stored with every cell of the executed notebooks: the first cell's start to the",
              "last cell's end (kernel start-up excluded). `make book` re-executes a chapter whose source changed;",
              "a chapter executed on another machine keeps that machine's times.", "",
              "| chapter | executed | time | code cells | kernel Python |", "|---|---|---|---|---|"]
    for c in chapters:
        lines.append(f"| {{doc}}`{c['chapter']}` | {c['executed'] or 'not recorded'} | {_minutes(c['seconds'])} "
                     f"| {c['cells']} | {c['python']} |")
    total = sum(c["seconds"] or 0 for c in chapters)
    lines += ["", f"All chapters together: {_minutes(total)} of cell time.", "",
              "## Weights", "",
              "The shipped networks and classifier (`gitscore/weights/`, loaded only as safetensors). The sha256",
              "is the manifest's (`gitscore/weights/MANIFEST.json`); *matches* says whether the file on the",
              "building machine has it.", "",
              "| file | sha256 | matches |", "|---|---|---|"]
    lines += [f"| `{n}` | `{d}` | {ok} |" for n, d, ok in weights_rows()]
    lines += ["", "## Data", "",
              "Fashion-MNIST: the sha256 of each file's decompressed IDX bytes, as `gitscore.data` pins it, and",
              "whether the file found on the building machine has it.", "",
              "| file | sha256 (decompressed) | matches |", "|---|---|---|"]
    lines += [f"| `{n}` | `{d}` | {ok} |" for n, d, ok in data_rows()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "provenance.md", help="the page to write")
    ap.add_argument("--book", type=Path, default=ROOT / "book", help="the folder of the executed chapters")
    args = ap.parse_args(argv)
    if not args.book.is_dir():
        ap.error(f"--book must be a folder of chapters, got {args.book}")
    from gitscore.files import atomic_write_bytes
    atomic_write_bytes(args.out, render(args.book).encode("utf-8"))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
