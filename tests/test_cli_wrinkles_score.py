"""``biosig score``: a Ctrl-C that lands after the job has returned (while the summary is said) exits
with the run's own code, as run.json records it, and says no "interrupted" line: nothing was cut short.
It exited 130 with "biosig score: interrupted" while run.json said the run finished with exit 0 (or 1).

Real subprocesses and real files; the SIGINT is a real signal the process sends itself from inside the
call named, as in tests/test_score_interrupt_windows.py (whose wrapper script this reuses).
"""
import json
import pathlib
import subprocess
import sys

import polars as pl
import pytest

from test_score_interrupt_windows import TRAPPED, _command

ROOT = pathlib.Path(__file__).resolve().parents[1]
N_GOOD = 2


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Two folders: good records only, and the same with a record that fails (a header that names
    a signal file that is not there: errors.parquet, exit 1)."""
    from biosig.synthetic import simulate
    from biosig.writers import write
    base = tmp_path_factory.mktemp("score_wrinkles")
    good, mixed = base / "good", base / "mixed"
    for folder in (good, mixed):
        folder.mkdir()
        for i in range(N_GOOD):
            write(simulate("ecg", 30.0, seed=i), folder / f"r{i:02d}.csv")
    (mixed / "ghost.hea").write_text("ghost 1 250 5000\nghost.dat 16 200 16 0 0 0 0 ECG\n")
    return {"good": good, "mixed": mixed}


def _score(folder, out, traps):
    env = {**__import__("os").environ, "SCORE_TRAPS": traps}
    return subprocess.run([sys.executable, "-c", TRAPPED, *_command(folder, out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("which, trap, code", [
    ("good", "biosig.cli.score_commands:_Progress.close:before:1", 0),   # the bar closed after the run
    ("mixed", "biosig.cli.score_commands:_commonest_errors:before:1", 1),   # the failed records said
])
def test_a_ctrl_c_after_the_run_keeps_the_runs_exit_code(tmp_path, folders, which, trap, code):
    out = tmp_path / "out"
    run = _score(folders[which], out, trap)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["exit_code"] == code and "interrupted" not in manifest["runs"][-1], manifest
    assert run.returncode == code, run.stderr   # was 130
    assert "interrupted" not in run.stderr.lower() and "Traceback" not in run.stderr, run.stderr
    records = pl.read_parquet(out / "records.parquet").height
    errors = pl.read_parquet(out / "errors.parquet").height
    assert (records, errors) == (N_GOOD, code)
    assert f"{records} records" in run.stdout   # the summary is said whole: the Ctrl-C was held, then dropped
    if code:
        assert "some records failed" in run.stderr, run.stderr
