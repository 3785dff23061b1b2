"""The keys of ``biosig serve --config`` as one Markdown table, read from the dataclasses themselves.

docs/cli.md holds the table between ``<!-- config-table -->`` and ``<!-- /config-table -->``;
tests/test_config_table.py keeps the two equal, so a key added, a default changed or a limit moved in
:mod:`streams.config` shows in the docs (serve's ``--config`` help points there; the docs listed no key).
``python -m streams.config_table`` prints it. What each key does: :class:`streams.config.RuntimeConfig`,
:class:`streams.config.ForecasterConfig` and :class:`streams.config.Endpoints` (their docstrings).
"""
from __future__ import annotations

import dataclasses
import json

from streams.config import Endpoints, ForecasterConfig, RuntimeConfig
from streams.config_schema import field_limits

BEGIN, END = "<!-- config-table -->", "<!-- /config-table -->"
NESTED = {"endpoints": Endpoints, "forecaster": ForecasterConfig}   # [endpoints] and [forecaster] tables


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None


def _value_text(value) -> str:
    """A default as it is written in a JSON config (TOML alike): ``null``, ``true``, ``{"ecg": "ecg-tiny"}``."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float) and value.is_integer():
        return _number(value)
    return json.dumps(value, default=str)


def _accepted(f: dataclasses.Field) -> str:
    """The field's limits in words: choices, a range, a folder, or a check of its own."""
    lim = field_limits(f)
    choices = lim["choices"]() if callable(lim["choices"]) else lim["choices"]
    if choices:
        return ", ".join(map(str, choices))
    lo, hi = lim["min"], lim["max"]
    bounds = [f"{'>' if lim['exclusive_min'] else '>='} {_number(lo)}"] if lo is not None else []
    bounds += [f"{'<' if lim['exclusive_max'] else '<='} {_number(hi)}"] if hi is not None else []
    if bounds:
        return " and ".join(bounds)
    if lim["check"] and lim["check"].__doc__:   # its docstring's first clause says what it takes
        text = lim["check"].__doc__.strip().splitlines()[0].split(" (")[0].rstrip(".").replace("``", "`")
        return text if text.startswith("{") else text.split(": ")[0]
    return "a path" if lim["path"] else "true or false" if f.type == "bool" else ""


def _number(value) -> str:
    """``1048576`` (not ``1.04858e+06``), ``0.2``, ``60``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _rows(cls, prefix: str = ""):
    for f in dataclasses.fields(cls):
        if not prefix and f.name in NESTED:
            yield from _rows(NESTED[f.name], f"{f.name}.")
            continue
        yield (f"`{prefix}{f.name}`", f"`{f.type}`", f"`{_value_text(_default(f))}`", _accepted(f))


def config_table() -> str:
    """The Markdown table (key, type, default, accepted) of every key of a runtime config file."""
    lines = ["| key | type | default | accepted |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in _rows(RuntimeConfig)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(config_table())
