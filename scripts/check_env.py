"""Check that this Python has every dependency `make test` and `make book` need, at pyproject.toml's bounds.

`make` runs it when it uses a Python it did not set up itself (an active conda environment, or
`make PYTHON=...`): it installs nothing but the package, so a missing or too old dependency is named here,
with the command that adds it, rather than as an ImportError halfway through the tests.

    python scripts/check_env.py            # exit 0: all there; 1: the missing ones are listed
"""
from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The extras `make test` and `make book` install (environment.yml lists the same; tests/test_environment.py).
EXTRAS = ("tune", "book", "dev")


def requirements(pyproject: Path = ROOT / "pyproject.toml", extras=EXTRAS) -> list[str]:
    """The requirement strings of the core dependencies and of `extras`, in pyproject.toml's order, each once."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in extras:
        reqs += project["optional-dependencies"][extra]
    return list(dict.fromkeys(reqs))


def missing(reqs) -> list[str]:
    """'name: why' for each requirement that is not installed or whose version is outside its bounds."""
    from packaging.requirements import Requirement
    out = []
    for text in reqs:
        req = Requirement(text)
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            out.append(f"{req}: not installed")
            continue
        if req.specifier and not req.specifier.contains(version, prereleases=True):
            out.append(f"{req}: {version} is installed")
    return out


def main() -> int:
    bad = missing(requirements())
    if bad:
        print(f"{sys.executable} lacks what make test / make book need:", *("  " + b for b in bad), sep="\n")
        print("conda: conda env update -f environment.yml (conda-forge); pip: pip install -e '.[book,dev]'")
        return 1
    print(f"{sys.executable}: every dependency of pyproject.toml [{', '.join(EXTRAS)}] is installed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
