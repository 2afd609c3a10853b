"""environment.yml (conda-forge) and pyproject.toml (pip) name the same dependencies with the same bounds.

One source of truth would need a generator; instead this test keeps the two equal: every requirement of
pyproject.toml's core dependencies and of the extras `make test` / `make book` install (tune, book, dev;
scripts/check_env.py's list) appears in environment.yml under its conda-forge name with the same version
bounds, and environment.yml has nothing else but the few conda-only packages named below.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ (matplotlib-base / seaborn-base: the same libraries without a GUI
# toolkit; `pytorch` is conda-forge's build of torch, CPU unless the machine has CUDA).
PYPI_TO_CONDA = {"torch": "pytorch", "matplotlib": "matplotlib-base", "seaborn": "seaborn-base"}
# In environment.yml only: the interpreter, pip (installs the package itself) and Node.js (npm for `make mathjax`).
CONDA_ONLY = {"python", "pip", "nodejs"}
TESTED_PYTHON = "3.11"


def _check_env():
    spec = importlib.util.spec_from_file_location("check_env", ROOT / "scripts" / "check_env.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pip_requirements() -> dict[str, SpecifierSet]:
    """conda name -> bounds of every requirement make test / make book install, from pyproject.toml."""
    out = {}
    for text in _check_env().requirements():
        req = Requirement(text)
        name = PYPI_TO_CONDA.get(req.name.lower(), req.name.lower())
        assert name not in out or out[name] == req.specifier, (
            f"{req.name} has two different bounds in pyproject.toml ({out.get(name)} and {req.specifier}): "
            "make them one")
        out[name] = req.specifier
    return out


CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(.*)$")


def conda_requirements(env: dict) -> dict[str, str]:
    """name -> version spec (text) of environment.yml's conda dependencies."""
    out = {}
    for dep in env["dependencies"]:
        assert isinstance(dep, str), f"environment.yml has a pip: section ({dep}); list conda-forge packages only"
        name, spec = CONDA_SPEC.match(dep.strip()).groups()
        assert name not in out, f"{name} listed twice in environment.yml"
        out[name] = spec.replace(" ", "")
    return out


@pytest.fixture(scope="module")
def env() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def test_conda_forge_alone(env):
    assert env["channels"][0] == "conda-forge"
    assert set(env["channels"]) <= {"conda-forge", "nodefaults"}, "conda-forge alone: no pytorch or defaults channel"
    names = conda_requirements(env)
    assert "cpuonly" not in names and "pytorch-cuda" not in names, "the pytorch channel's metapackages are gone"
    assert names["python"] == "=" + TESTED_PYTHON


def test_same_dependencies_and_bounds(env):
    conda = conda_requirements(env)
    pip = pip_requirements()
    assert set(conda) - CONDA_ONLY == set(pip), (
        f"only in environment.yml: {sorted(set(conda) - CONDA_ONLY - set(pip))}; "
        f"only in pyproject.toml: {sorted(set(pip) - set(conda))}")
    for name, spec in pip.items():
        assert SpecifierSet(conda[name]) == spec, f"{name}: environment.yml says {conda[name]!r}, pyproject {spec}"


def test_mapping_detects_a_difference(env):
    """The comparison is not vacuous: a changed bound or a dropped package fails it."""
    conda = conda_requirements(env)
    pip = pip_requirements()
    assert SpecifierSet(conda["pytorch"]) == pip["pytorch"] != SpecifierSet(">=2.0")
    changed = dict(env, dependencies=[d for d in env["dependencies"] if not d.startswith("nbval")])
    assert set(conda_requirements(changed)) - CONDA_ONLY != set(pip)


def test_readme_states_the_tested_python():
    assert f"Python {TESTED_PYTHON}" in (ROOT / "README.md").read_text()


def test_check_env_names_what_is_missing():
    mod = _check_env()
    assert mod.missing(["pytest>=1"]) == []
    assert mod.missing(["gitscore-no-such-package>=1"]) == ["gitscore-no-such-package>=1: not installed"]
    assert mod.missing(["pytest>=999"])[0].startswith("pytest>=999: ")
