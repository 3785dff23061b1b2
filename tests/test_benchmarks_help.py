"""Every benchmark script answers --help and describes every option it takes (read from the source:
no script is run)."""
from __future__ import annotations

import ast
import pathlib

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if '__name__ == "__main__"' in p.read_text())


def calls(tree: ast.AST, name: str):
    """The calls of a method ``name`` in ``tree`` (``parser.add_argument(...)``), in walk order."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name:
            yield node


def test_there_are_scripts():
    assert len(SCRIPTS) >= 20, [p.name for p in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_has_a_parser_and_every_option_has_help(script):
    tree = ast.parse(script.read_text())
    assert any(True for _ in calls(tree, "parse_args")), f"{script.name}: no argparse parser (--help would run it)"
    missing = []
    for call in calls(tree, "add_argument"):
        names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if names and all(n.startswith("-") for n in names) and not any(k.arg == "help" for k in call.keywords):
            missing.append(names[0])
    assert not missing, f"{script.name}: options without help: {missing}"
