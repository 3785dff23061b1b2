"""Every command-line option the README, docs/ and the model cards show is one the command accepts:
a renamed or removed option must take its documentation with it. Read from the text: ``biosig CMD
[SUB] --opt`` anywhere on a line, backtick spans that start with a command name
(`` `embed --window-s` ``), and ``benchmarks/NAME.py --opt`` (checked against the script's
``add_argument`` calls)."""
from __future__ import annotations

import argparse
import ast
import pathlib
import re
import sys

from biosig.cli import build_parser
from test_benchmarks_help import calls

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "encoders").glob("*/*/MODEL_CARD.md"))]    # model cards: their reproduce commands
# where a command line ends on a documentation line: a code span, a shell comment, a pipe, a sentence
_END = re.compile(r"`|\s#\s|\s\|\s|\s&&\s|\s;\s|\(")


def _subcommands(parser: argparse.ArgumentParser) -> dict:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _walk(parser: argparse.ArgumentParser, tokens: list[str]):
    """(parser of the innermost command named, the --options given to it)."""
    opts: list[str] = []
    for t in tokens:
        sub = _subcommands(parser)
        if not opts and t in sub:
            parser = sub[t]
        elif t.lstrip("[").startswith("--"):
            opts.append(_option_name(t))
    return parser, opts


def _option_name(token: str) -> str:
    """``--window-s`` from ``--window-s``, ``[--window-s``, ``--window-s=4``, ``--jobs,`` ..."""
    return re.split(r"[=\]\[,.:;)]", token.lstrip("["))[0]


def _where(path: pathlib.Path, no: int) -> str:
    return f"{path.relative_to(ROOT) if ROOT in path.parents else path.name}:{no}"


def documented_options():
    """(file:line, parser, option) for every option the documentation shows with a command."""
    root = build_parser()
    commands = _subcommands(root)
    for path in DOCS:
        text = path.read_text()
        for no, line in enumerate(text.splitlines(), 1):
            for m in re.finditer(r"\bbiosig ([a-z][a-z-]*)", line):
                if m.group(1) in commands:
                    parser, opts = _walk(root, _END.split(line[m.start():])[0].split()[1:])
                    yield from ((_where(path, no), parser, o) for o in opts)
        for m in re.finditer(r"`([a-z][a-z-]*)( [^`\n]*)`", text):
            if m.group(1) in commands and "--" in m.group(2):
                parser, opts = _walk(commands[m.group(1)], m.group(2).split())
                no = text[:m.start()].count("\n") + 1
                yield from ((_where(path, no), parser, o) for o in opts)


def script_options(script: pathlib.Path) -> set[str]:
    """The option strings of a benchmark script's ``add_argument`` calls, and ``-h``/``--help``."""
    return {"-h", "--help"} | {a.value for call in calls(ast.parse(script.read_text()), "add_argument")
                                for a in call.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")}


def documented_script_options():
    """(file:line, script, option) for every ``benchmarks/NAME.py --opt`` the documentation shows."""
    for path in DOCS:
        for no, line in enumerate(path.read_text().splitlines(), 1):
            for m in re.finditer(r"benchmarks/([a-z_0-9]+\.py)", line):
                script = ROOT / "benchmarks" / m.group(1)
                for t in _END.split(line[m.end():])[0].split():
                    if t.lstrip("[").startswith("--"):
                        yield _where(path, no), script, _option_name(t)


def test_every_documented_benchmark_option_exists():
    found = list(documented_script_options())
    assert len(found) >= 20, len(found)
    missing = sorted({script.name for _, script, _ in found if not script.is_file()})
    assert not missing, f"the docs name benchmark scripts that do not exist: {missing}"
    wrong = [f"{where}: benchmarks/{script.name} has no {opt}" for where, script, opt in found
             if opt not in script_options(script)]
    assert not wrong, "\n".join(wrong)


def _wrong(found) -> list[str]:
    return [f"{where}: {parser.prog} has no {opt}" for where, parser, opt in found if opt not in _options(parser)]


def test_every_documented_option_exists():
    found = list(documented_options())
    assert len(found) >= 80, len(found)     # the scan still sees the docs' command lines
    assert not _wrong(found), "\n".join(_wrong(found))


def test_the_scan_catches_a_wrong_option(tmp_path, monkeypatch):
    doc = tmp_path / "x.md"
    doc.write_text("Run `biosig status --timeout-s 2` or `embed --window-s 4`, then\n"
                   "    biosig forecast evaluate a.csv --grid full --no-such-flag   # comment --ignored\n"
                   "and `status --timeout-seconds 1`.\n")
    monkeypatch.setattr(sys.modules[__name__], "DOCS", [doc])
    found = list(documented_options())
    assert _wrong(found) == ["x.md:2: biosig forecast evaluate has no --no-such-flag",
                             "x.md:3: biosig status has no --timeout-seconds"]
    assert {(where, parser.prog, opt) for where, parser, opt in found} == {("x.md:1", "biosig status", "--timeout-s"), ("x.md:1", "biosig embed", "--window-s"),
                     ("x.md:2", "biosig forecast evaluate", "--grid"),
                     ("x.md:2", "biosig forecast evaluate", "--no-such-flag"),
                     ("x.md:3", "biosig status", "--timeout-seconds")}


def test_the_script_scan_catches_a_wrong_option(tmp_path, monkeypatch):
    doc = tmp_path / "y.md"
    doc.write_text("    python benchmarks/eval_probe.py --tasks ecg --jobs 2 --no-such   # --ignored\n")
    monkeypatch.setattr(sys.modules[__name__], "DOCS", [doc])
    found = list(documented_script_options())
    assert [(w, s.name, o) for w, s, o in found] == [("y.md:1", "eval_probe.py", o)
                                                     for o in ("--tasks", "--jobs", "--no-such")]
    assert [o for _, s, o in found if o not in script_options(s)] == ["--no-such"]


# ------------------------------------------------------------------ files and Python names the docs cite
_PATH = re.compile(r"(?<![\w./-])((?:biosig|encoders|streams|realtime|kernels|benchmarks|tests|docs|\.ci)/[\w./*-]*[\w*])")
_NAME = re.compile(r"(?<![\w./])((?:biosig|encoders|streams|realtime|kernels)(?:\.\w+)+)")


def _resolves(dotted: str) -> bool:
    """``pkg.module[.attr...]`` imports and has the attributes; an attribute an instance sets in its
    class's ``__init__`` (``streams.Subscriber.stats``) counts."""
    import importlib
    import inspect

    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            continue
    else:
        return False
    for attr in parts[i:]:
        if hasattr(obj, attr):
            obj = getattr(obj, attr)
        elif inspect.isclass(obj) and f"self.{attr}" in inspect.getsource(obj.__init__):
            return attr == parts[-1]
        else:
            return False
    return True


def cited_references():
    """(file:line, "path" or "name", text) for every repository path and dotted name in a code span."""
    for path in DOCS:
        text = path.read_text()
        for m in re.finditer(r"`([^`\n]+)`", text):
            where = _where(path, text[:m.start()].count("\n") + 1)
            yield from ((where, "path", p) for p in _PATH.findall(m.group(1)))
            yield from ((where, "name", n) for n in _NAME.findall(m.group(1)) if not n.endswith((".py", ".md")))


def test_every_cited_file_and_name_exists():
    refs = list(cited_references())
    assert sum(kind == "path" for _, kind, _ in refs) >= 100 and sum(kind == "name" for _, kind, _ in refs) >= 60
    wrong = [f"{where}: {kind} {ref}" for where, kind, ref in refs
             if not (any(ROOT.glob(ref)) if kind == "path" else _resolves(ref))]
    assert not wrong, "\n".join(wrong)


def test_the_reference_scan_catches_a_stale_one(tmp_path, monkeypatch):
    doc = tmp_path / "z.md"
    doc.write_text("See `streams/forecast.py`, `benchmarks/bench_*.py`, `streams/gone.py`,\n"
                   "`streams.forecast.frame_budget`, `streams.Subscriber.stats` and `streams.forecast.gone`.\n")
    monkeypatch.setattr(sys.modules[__name__], "DOCS", [doc])
    refs = list(cited_references())
    assert [r for _, _, r in refs] == ["streams/forecast.py", "benchmarks/bench_*.py", "streams/gone.py",
                                       "streams.forecast.frame_budget", "streams.Subscriber.stats",
                                       "streams.forecast.gone"]
    assert [r for _, kind, r in refs if not (any(ROOT.glob(r)) if kind == "path" else _resolves(r))] == \
        ["streams/gone.py", "streams.forecast.gone"]
