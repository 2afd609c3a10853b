"""Rules every chapter keeps: verdict words come from the claims registry's rule, chapters call the library."""
import ast
from pathlib import Path

import pytest

from gitscore import claims, report

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "book").glob("[0-9][0-9]_*.py"))
WORDS = set(claims.VERDICTS) | set(report.LEGACY_VERDICTS)


def defined_functions(tree) -> list[str]:
    """Functions a chapter defines: def statements and lambdas bound to a name."""
    out = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    out += [t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Lambda)
            for t in n.targets if isinstance(t, ast.Name)]
    return out


def typed_verdicts(tree) -> list[str]:
    """String literals that are verdict words, and report.verdict calls given a typed result."""
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in WORDS]
    for n in ast.walk(tree):
        owner = getattr(n.func, "value", None) if isinstance(n, ast.Call) else None
        on_report = (isinstance(owner, ast.Attribute) and owner.attr == "report") or (
            isinstance(owner, ast.Name) and owner.id == "report")
        if on_report and n.func.attr == "verdict" and len(n.args) > 1:
            found.append(f"verdict call with {len(n.args)} positional arguments at line {n.lineno}")
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_defines_at_most_two_functions(path):
    assert len(defined_functions(ast.parse(path.read_text()))) <= 2, defined_functions(ast.parse(path.read_text()))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_verdict_word_is_typed_in_a_chapter(path):
    assert typed_verdicts(ast.parse(path.read_text())) == []


def test_the_rules_catch_a_violation():
    bad = ast.parse('def a(): pass\ndef b(): pass\nc = lambda: 1\ngs.report.verdict("x", "p", "o", "holds")\n')
    assert defined_functions(bad) == ["a", "b", "c"]
    assert typed_verdicts(bad) == ["holds", "verdict call with 4 positional arguments at line 4"]
