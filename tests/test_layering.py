"""DESIGN.md's import rule: kernels <- biosig <- {encoders, realtime} <- streams <- biosig.cli.

Checked twice: statically (every import statement in every module, including lazy ones inside
functions) and dynamically (importing each package in a fresh interpreter and listing what got
loaded).
"""
import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
OURS = {"kernels", "biosig", "encoders", "realtime", "streams"}
ALLOWED = {
    "kernels": {"kernels"},
    "biosig": {"biosig", "kernels"},
    "encoders": {"encoders", "biosig", "kernels"},
    "realtime": {"realtime", "biosig", "kernels"},
    "streams": {"streams", "encoders", "realtime", "biosig", "kernels"},
}
FORBIDDEN_THIRD_PARTY = {"kernels": {"torch", "zmq"}, "realtime": {"torch", "zmq"}, "biosig": {"torch", "zmq"}}


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def _modules(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[:2] == ("biosig", "cli"):
            continue  # the composition root may import anything
        yield path


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_static_imports_follow_layering(package):
    bad = []
    for path in _modules(package):
        for name, line in _imports(path):
            if name in OURS and name not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
            if name in FORBIDDEN_THIRD_PARTY.get(package, ()):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "layering violations:\n" + "\n".join(bad)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_runtime_imports_follow_layering(package):
    mods = [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for p in _modules(package)]
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "print(' '.join(sorted({k.split('.')[0] for k in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    forbidden = (OURS - ALLOWED[package]) | FORBIDDEN_THIRD_PARTY.get(package, set())
    assert not (loaded & forbidden), f"importing {package} loaded {sorted(loaded & forbidden)}"
