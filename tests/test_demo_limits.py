"""``biosig demo`` sizes its ward within what the runtime accepts: refused before anything starts."""
from __future__ import annotations

import pathlib

from test_cli_errors import one_line_error

from biosig.cli import main


def test_demo_refuses_a_ward_larger_than_the_runtime_accepts(tmp_path, capsys):
    """1000 beds are 4001 streams with the couch, of which the runtime takes 1024 (max_streams): the demo ran,
    every bed past the 256th rejected, the summary a table of rejections. Now one line, and nothing started:
    no output folder, no process."""
    out = tmp_path / "demo-out"
    code = main(["demo", "--beds", "1000", "--out", str(out), "--seconds", "1"])
    err = one_line_error(code, capsys.readouterr().err)
    assert "4001 streams" in err and "max_streams" in err and "at most 255 beds" in err, err
    assert not pathlib.Path(out).exists()
    code = main(["demo", "--beds", "256", "--couches", "1", "--out", str(out), "--seconds", "1"])
    assert "at most 255 beds" in one_line_error(code, capsys.readouterr().err)
