"""Installs off the happy path: what `pip install .` brings, Apple's mps, help for every option, one progress flag.

- Every third-party package that `gitscore sample --out x.png` and each `search --method` import is a core
  dependency of pyproject.toml (or one of theirs): recorded by running the commands in a fresh interpreter.
- Hidden packages (Pillow, scipy: a broken install) end the command in one line naming what to install.
- The automatic device takes mps where torch has it and CUDA is absent (monkeypatched torch).
- Every option of every command has help text (walks the argparse parsers).
"""
import argparse
import importlib.metadata as md
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement

from gitscore import checks, cli
from cli_run import run

ROOT = Path(__file__).resolve().parents[1]
TOY = ["--model", "gmm-toy", "--steps", "3", "--n-warmup", "8", "--grid-points", "9"]




# ---------------------------------------------------------------- what pip install . brings

def core_closure() -> set[str]:
    """The distributions `pip install .` installs: pyproject's core dependencies and, recursively, theirs."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo, seen = [Requirement(d).name.lower() for d in deps], set()
    while todo:
        name = todo.pop().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for r in map(Requirement, reqs):
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(r.name.lower())
    return seen


# Imported where installed, done without otherwise: numpy.f2py (which scipy imports) tries charset_normalizer.
OPTIONAL = {"charset-normalizer"}
IMPORTS = """
import json, sys
from gitscore.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


@pytest.mark.parametrize("argv", [
    ["sample", *TOY, "--n", "4", "--schedule", "gits", "--out", "{tmp}/x.png"],
    *[["search", *TOY, "--method", m, "--solver", "euler"] for m in ("gits", "refine", "student_dp", "oracle")],
], ids=["sample-png", "search-gits", "search-refine", "search-student_dp", "search-oracle"])
def test_commands_need_only_core_dependencies(argv, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", IMPORTS, *argv], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    top = json.loads(r.stdout.strip().splitlines()[-1])
    owners = md.packages_distributions()
    stdlib = sys.stdlib_module_names
    needed = {d.lower().replace("_", "-") for m in top if m not in stdlib and not m.startswith("_")
              for d in owners.get(m, []) if d.lower() != "gitscore"}
    missing = needed - core_closure() - OPTIONAL
    assert not missing, f"{' '.join(argv[:1])} imports {sorted(missing)}, which `pip install .` does not install"
    if argv[0] == "sample":
        assert "pillow" in needed
    if "refine" in argv:
        assert "scipy" in needed


def test_pillow_scipy_and_diffusers_are_core_dependencies():
    """`pip install .` alone runs --diffusers on text pipelines (diffusers, transformers) too."""
    deps = {Requirement(d).name.lower() for d in
            tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert {"pillow", "scipy", "filelock", "diffusers", "transformers"} <= deps


def hide(monkeypatch, package):
    """Make `import package` (and its submodules) raise ImportError for this test."""
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, package, None)


def test_hidden_diffusers_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "model_index.json").write_text("{}")
    hide(monkeypatch, "diffusers")
    code, out, err = run(capsys, "search", "--diffusers", str(tmp_path), "--steps", "4")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "needs diffusers" in err and "pip install 'diffusers>=0.28.0'" in err


def test_hidden_pillow_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` raises ImportError
    code, _, err = run(capsys, "sample", *TOY[:2], "--n", "4", "--steps", "3", "--out", tmp_path / "x.png")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "needs Pillow" in err and "pip install pillow" in err
    assert (tmp_path / "x.npy").is_file()  # the array was written


def test_hidden_scipy_is_one_line(capsys, monkeypatch):
    hide(monkeypatch, "scipy")
    code, out, err = run(capsys, "search", *TOY, "--method", "refine", "--solver", "euler")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "needs scipy" in err and "pip install scipy" in err


def test_diffusers_lower_bound_is_stated():
    """diffusers' lower bound: the first release checked to run every call the project makes (issue 30), the same
    in the core dependencies and in the old [diffusers] extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for reqs in (project["dependencies"], project["optional-dependencies"]["diffusers"]):
        bound = Requirement(next(r for r in reqs if Requirement(r).name == "diffusers")).specifier
        assert str(bound) == ">=0.28.0" and not bound.contains("0.27.2")  # set_timesteps(sigmas=) came after 0.27.2


# ---------------------------------------------------------------- devices

class _Backend:
    def __init__(self, available):
        self.available = available

    def is_available(self):
        return self.available


@pytest.mark.parametrize("cuda, mps, want", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu"),
                                             (False, None, "cpu")])
def test_auto_device_takes_mps_where_torch_has_it(monkeypatch, cuda, mps, want):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends, "mps", None if mps is None else _Backend(mps), raising=False)
    assert checks.resolve_device("auto") == torch.device(want)
    assert checks.resolve_device(None) == torch.device(want)
    assert cli._device("auto") == torch.device(want)


def test_mps_asked_for_where_there_is_none(monkeypatch):
    monkeypatch.setattr(torch.backends, "mps", _Backend(False), raising=False)
    with pytest.raises(ValueError, match="--device mps: Apple's MPS is not available here"):
        cli._device("mps")
    monkeypatch.setattr(torch.backends, "mps", _Backend(True), raising=False)
    assert cli._device("mps") == torch.device("mps")


# ---------------------------------------------------------------- the command line itself

def subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def test_every_option_has_help():
    parser = cli.build_parser()
    missing = []
    for name, sub in [("gitscore", parser), *subparsers(parser)]:
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction) or not action.option_strings:
                continue
            if not (action.help and action.help.strip()) or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings)}")
    assert not missing, f"options without help text: {missing}"
    assert {n for n, _ in subparsers(parser)} == {"search", "sample", "train", "bench"}


@pytest.mark.parametrize("command", ["search", "sample", "train", "bench"])
def test_one_progress_flag_on_every_long_command(command):
    parser = cli.build_parser()
    sub = dict(subparsers(parser))[command]
    flags = {s for a in sub._actions for s in a.option_strings}
    assert {"--progress", "--no-progress"} <= flags and "--quiet" not in flags
    required = {"train": ["--out", "x"], "bench": ["--out", "x"]}.get(command, [])
    assert parser.parse_args([command, *required]).progress is None  # main() decides: stderr a terminal
    assert parser.parse_args([command, *required, "--no-progress"]).progress is False
    assert parser.parse_args([command, *required, "--progress"]).progress is True


@pytest.mark.parametrize("tty", [True, False])
def test_progress_defaults_to_a_terminal(monkeypatch, tty):
    seen = {}
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    monkeypatch.setattr(cli, "cmd_search", lambda args: seen.setdefault("progress", args.progress) and 0)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), "search", cli.cmd_search))
    cli.main(["search", *TOY])
    assert seen["progress"] is tty


def _with_func(parser, command, func):
    dict(subparsers(parser))[command].set_defaults(func=func)
    return parser


def test_bench_takes_device_and_checkpoint(tmp_path, capsys, monkeypatch):
    seen = {}

    def fake(cfg, out, progress, command, reference_from, *, device, checkpoint):
        seen.update(device=device, checkpoint=checkpoint, progress=progress)
        raise ValueError("stop here")

    from gitscore import bench
    monkeypatch.setattr(bench, "run_bench", fake)
    ckpt = tmp_path / "m.safetensors"
    ckpt.write_bytes(b"x")
    code, _, err = run(capsys, "bench", "--out", tmp_path / "o", "--device", "cpu", "--checkpoint", ckpt,
                       "--no-progress", "--solvers", "euler", "--schedules", "polynomial", "--nfe", "3")
    assert code == 2 and "stop here" in err
    assert seen == {"device": torch.device("cpu"), "checkpoint": str(ckpt), "progress": False}
    code, _, err = run(capsys, "bench", "--out", tmp_path / "o", "--device", "foo")
    assert code == 2 and re.search("--device must be auto, cpu, cuda, cuda:N or mps", err)


def readme_commands() -> list[str]:
    """Every `gitscore ...` line of the README's shell blocks (comments dropped; lines with `...` are elided)."""
    text = (ROOT / "README.md").read_text()
    lines = [line.strip() for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
             for line in block.splitlines()]
    return [line for line in lines if line.startswith("gitscore ") and "..." not in line]


@pytest.mark.parametrize("line", readme_commands())
def test_readme_commands_parse_as_written(line):
    """The README's commands take only options that exist, with values they accept, in combinations allowed."""
    argv = shlex.split(line, comments=True)[1:]
    if "--help" in argv:
        with pytest.raises(SystemExit) as e:
            cli.build_parser().parse_args(argv)
        assert e.value.code == 0
        return
    args = cli.build_parser().parse_args(argv)
    if args.command in ("search", "sample"):
        cli._check_model_options(args)


def test_readme_shows_the_users_model_commands():
    commands = readme_commands()
    assert any("--diffusers" in c and "--prompt" in c and "search" in c for c in commands)
    assert any(re.search(r"--model \S+:\S+", c) for c in commands)
