"""The code's structure: one search configuration, no module in another's private names, no clashing names."""
import ast
from pathlib import Path

import pytest
import torch

import gitscore
from gitscore import bench, cli, gits, optimal

PKG = Path(gitscore.__file__).parent
MODULES = {p.stem: ast.parse(p.read_text(), filename=str(p)) for p in sorted(PKG.glob("*.py"))}


def private_uses(modules: dict) -> list[str]:
    """`module._name` attribute reads and `from .module import _name` across gitscore's own modules."""
    found = []
    for name, tree in modules.items():
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                for a in node.names:
                    if node.module is None and a.name in modules:
                        aliases[a.asname or a.name] = a.name
                    elif a.name.startswith("_") and not a.name.startswith("__"):
                        found.append(f"{name}: from .{node.module} import {a.name}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and aliases[node.value.id] != name and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{name}: {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    assert private_uses(MODULES) == []


def test_the_private_name_scan_catches_a_violation():
    # control: the scan is not vacuous
    bad = {"a": ast.parse("from . import b\nb._helper()\n"), "b": ast.parse("def _helper(): pass\n"),
           "c": ast.parse("from .b import _helper\n")}
    assert private_uses(bad) == ["a: b._helper", "c: from .b import _helper"]


def constants(tree, value) -> int:
    return sum(isinstance(n, ast.Constant) and type(n.value) is type(value) and n.value == value
               for n in ast.walk(tree))


def test_gits_coeff_default_is_written_once():
    # 1.15 (gits-main's DP coeff) appears as a literal only in SearchConfig
    where = {m: constants(t, 1.15) for m, t in MODULES.items() if constants(t, 1.15)}
    assert where == {"gits": 1}, where
    assert gits.SearchConfig().coeff == 1.15


def test_every_layer_takes_its_search_defaults_from_search_config():
    d = gits.SearchConfig()
    # The command line: the interactive preset, SearchConfig's defaults but its own (smaller) warm-up (issue 30).
    assert gits.INTERACTIVE == d.replace(n_warmup=gits.INTERACTIVE.n_warmup) and gits.INTERACTIVE.n_warmup < d.n_warmup
    for argv in (["search"], ["sample"]):
        args = cli.build_parser().parse_args(argv)
        assert (args.n_warmup, args.grid_points, args.teacher, args.metric, args.coeff, args.seed) == (
            gits.INTERACTIVE.n_warmup, d.grid_points, d.teacher, d.metric, d.coeff, d.seed)
    b = bench.BenchConfig()
    assert (b.n_warmup, b.grid_points, b.teacher, b.coeff, b.warmup_seed) == (
        d.n_warmup, d.grid_points, d.teacher, d.coeff, d.seed)
    r = gits.GITSResult(torch.ones(2), [0, 1], None, torch.ones(2))
    assert (r.metric, r.coeff) == (d.metric, d.coeff)
    assert len(gits.teacher_grid()) == d.grid_points


def test_search_config_validates_and_names_unknown_settings():
    with pytest.raises(ValueError, match="coeff"):
        gits.SearchConfig(coeff=-1)
    with pytest.raises(ValueError, match="metric"):
        gits.SearchConfig(metric="l3")
    with pytest.raises(ValueError, match="teacher"):
        gits.SearchConfig(teacher="rk45")
    with pytest.raises(TypeError, match="n_warmups"):
        gits.search_config(n_warmups=3)
    with pytest.raises(TypeError, match="SearchConfig"):
        gits.search_config({"coeff": 1.0})
    c = gits.search_config(gits.SearchConfig(seed=3), coeff=1.0)
    assert (c.seed, c.coeff) == (3, 1.0)


def test_a_config_and_keywords_give_the_same_search():
    from gitscore.denoisers import GaussianDenoiser
    D = GaussianDenoiser(torch.zeros(4, dtype=torch.float64), torch.full((4,), 0.3, dtype=torch.float64))
    grid = gits.teacher_grid(21)
    kw = dict(n_warmup=8, grid=grid, coeff=1.05, seed=2, dtype=torch.float64)
    a = gits.search(D, (4,), 4, **kw)
    b = gits.search(D, (4,), 4, gits.SearchConfig(**kw))
    c = optimal.refine(D, (4,), 4, gits.SearchConfig(**kw)).sigmas
    assert torch.equal(a, b) and torch.equal(a, c)


def test_one_function_named_sample():
    defs = [m for m, t in MODULES.items() for n in t.body if isinstance(n, ast.FunctionDef) and n.name == "sample"]
    assert defs == ["sampling"]
