"""The other direction of test_docs_options.py: every option of every command's ``--help`` is named
in the README or in docs/*.md (docs/cli.md lists the ones the README does not show), and every
command is named in the README, so a new option or command takes its documentation with it."""
from __future__ import annotations

import argparse
import pathlib
import re

from biosig.cli import build_parser

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands(parser: argparse.ArgumentParser, name: str = "biosig"):
    """(``biosig forecast evaluate``, its parser) for every leaf command."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield name, parser
    for sub in subs:
        for word, child in sub.choices.items():
            yield from _commands(child, f"{name} {word}")


def _named(option: str, text: str) -> bool:
    """``--seed`` named as itself, not as the start of ``--seed-x`` or ``--seeds``."""
    return re.search(re.escape(option) + r"(?![\w-])", text) is not None


def undocumented(texts: list[str]) -> list[str]:
    text = "\n".join(texts)
    return [f"{name} {opt}" for name, parser in _commands(build_parser())
            for action in parser._actions for opt in action.option_strings
            if opt.startswith("--") and opt != "--help" and not _named(opt, text)]


def test_every_help_option_is_documented():
    missing = undocumented([p.read_text() for p in DOCS])
    assert not missing, ("options in --help that no README.md or docs/*.md names (add them where a user "
                         "looks, docs/cli.md at least):\n" + "\n".join(missing))


def test_every_command_is_named_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [name for name, _ in _commands(build_parser()) if name not in readme]
    assert not missing, f"commands the README never names: {missing}"


def test_the_scan_sees_a_missing_option():
    assert "biosig probe --seeds" not in undocumented(["--seeds"])       # no such option: not listed
    missing = undocumented(["--seed-x --seeds"])
    assert "biosig probe --seed" in missing and "biosig forecast evaluate --seeds" not in missing
