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


def _module_name(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere (lazy imports inside functions included)."""
    files = {_module_name(p): p for pkg in OURS for p in sorted((ROOT / pkg).rglob("*.py"))}

    def owner(name):   # the longest project module that ``name`` names or lies in
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for mod, path in files.items():
        here = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                deps |= {owner(a.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = here.split(".")[:len(here.split(".")) - (node.level - 1)]
                    base = ".".join(pkg + ([base] if base else []))
                deps |= {owner(f"{base}.{a.name}") for a in node.names}
        graph[mod] = deps - {"", mod}
    return graph


def test_no_import_cycles():
    """DESIGN.md: no import circles between modules, lazy imports included (a lazy import hides a
    circle from the interpreter but not from a reader)."""
    graph, state, cycles = _import_graph(), {}, []

    def visit(mod, stack):
        state[mod] = "open"
        for dep in sorted(graph[mod]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[mod] = "done"

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
