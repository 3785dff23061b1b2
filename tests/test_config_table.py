"""docs/cli.md's table of runtime config keys is the one streams.config_table reads from the dataclasses: a key
added, a default changed or a limit moved shows in the docs (serve's --config help points there)."""
from __future__ import annotations

import dataclasses
import pathlib

from streams.config import RuntimeConfig
from streams.config_table import BEGIN, END, config_table

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_docs_hold_the_config_table_the_code_gives():
    text = DOCS.read_text()
    assert BEGIN in text and END in text, "docs/cli.md lost its config table markers"
    held = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert held == config_table(), "docs/cli.md's config table is stale: paste `python -m streams.config_table`"


def test_the_table_has_a_row_per_key_with_its_default_and_limits():
    table = config_table()
    for f in dataclasses.fields(RuntimeConfig):
        if f.name not in ("endpoints", "forecaster"):
            assert f"| `{f.name}` |" in table, f.name
    assert "| `endpoints.ingest` | `str` | `\"tcp://127.0.0.1:5555\"` | tcp://HOST:PORT" in table
    assert "| `embed_queue` | `int` | `4096` | >= 1 and <= 1048576 |" in table
    assert "| `status_every_s` | `float` | `1` | > 0 and <= 4 |" in table
    assert "| `forecaster.method` | `str` | `\"mix\"` | rtrl, uoro" in table
    assert "| `key_dir` | `str \\| None` | `null` | a path |" in table
