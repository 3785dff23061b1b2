"""Every option of ``biosig export`` and ``biosig compile`` says its default in --help (``--workspace-mb``
left its 2048 MiB out), with the value itself where there is one; and compile's defaults are those
of :class:`encoders.compile.CompileOptions`, the builder's own settings."""
import argparse
import dataclasses
import subprocess
import sys

import pytest

from biosig.cli import build_parser
from conftest import ROOT


def _command(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _options(name: str):
    return [a for a in _command(name)._actions
            if a.option_strings and not a.required and not isinstance(a, argparse._HelpAction)]


@pytest.mark.parametrize("name", ["export", "compile"])
def test_every_option_says_its_default_in_help(name):
    help_text = " ".join(subprocess.run([sys.executable, "-m", "biosig.cli", name, "--help"], cwd=ROOT,
                                        capture_output=True, text=True, check=True).stdout.split())
    silent, valueless = [], []
    for action in _options(name):
        text = " ".join((action.help or "").split())
        assert text in help_text, (action.option_strings, help_text)   # the help as printed
        if "default" not in text:
            silent.append(action.option_strings[0])
        elif action.default not in (None, False) and str(action.default) not in text:
            valueless.append(f"{action.option_strings[0]} (default {action.default})")
    assert not silent, f"biosig {name} --help says no default for {', '.join(silent)}"
    assert not valueless, f"biosig {name} --help leaves out the value of {', '.join(valueless)}"


def test_compile_defaults_are_the_builders_own():
    from encoders.compile import CompileOptions
    fields = {f.name: f.default for f in dataclasses.fields(CompileOptions)}
    cli = {a.dest: a.default for a in _options("compile") if a.dest in fields}
    assert set(cli) == set(fields)
    assert cli == fields
