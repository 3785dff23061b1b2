"""Bug bash 69 of `biosig forecast evaluate | plot` with a user's mistakes: each one is one line and
exit code 2, or a warning where an option is ignored in part; nothing passes unnoticed.

Found: a --norm-s reaching the test start ran without a word (the selection window held every
forecast, the first test steps were held, the z-score saw test data): now a warning; --select-seeds above --seeds was cut down silently
(report.json recorded the asked number); --workers above the CPUs started that many processes;
--scaling global on a 1-D trace did nothing without a word; one marker file given twice (two
spellings, or a copy) doubled its channels in the metrics; marker files of one session at other rates
were refused without saying why; a .vxp cut mid-row named a "line N" only, one cut at a line end read
as a shorter recording; `forecast plot` of a folder that does not exist blamed a stopped run.
"""
import json
import logging
import shutil

import numpy as np

from biosig.cli import main
from biosig.cpus import usable_cpus
from test_cli_errors import one_line_error, run_main
from test_forecast_surrogates import _write_vxp

QUICK = ["--methods", "last", "--horizons", "1", "--seeds", "1", "--select-seeds", "1", "--workers", "1"]


def _table(path, n_s: float = 20.0, cols=("m_x", "m_y", "m_z")) -> None:
    t = np.arange(0, n_s, 0.1)
    with open(path, "w") as fh:
        fh.write(",".join(["t_s", *cols]) + "\n")
        for ti in t:
            vals = [10 * np.sin(2 * np.pi * ti / 4 + k) for k in range(len(cols))]
            fh.write(f"{ti:.1f}," + ",".join(f"{v:.3f}" for v in vals) + "\n")


def _marker_csv(path, n: int = 200, step_ms: int = 100) -> None:
    """A marker export as published: ';' separated, decimal comma, ms timestamps, a 0;0;0;0;0 footer."""
    rows = ['"Frame";"Timestamp";"x";"y";"z"']
    for i in range(n):
        x, y, z = -460 + np.sin(i / 6), 13 + 0.1 * np.cos(i / 6), 70 + 3 * np.sin(i / 6)
        rows.append(f"{6 * i};{step_ms * i};" + ";".join(f"{v:.2f}".replace(".", ",") for v in (x, y, z)))
    rows.append("0;0;0;0;0")
    path.write_text("\n".join(rows) + "\n")


def test_norm_s_reaching_the_test_start_is_said(tmp_path, capsys, caplog):
    """Allowed (tests/test_forecast_edge_cases.py runs one), but no longer without a word."""
    _table(tmp_path / "a.csv")
    with caplog.at_level(logging.WARNING):
        rc = main(["forecast", "evaluate", str(tmp_path / "a.csv"), *QUICK, "--norm-s", "10", "--select-start-s", "3",
                   "--test-start-s", "8", "--out", str(tmp_path / "o")])
    assert rc == 0
    assert "--norm-s 10 reaches the test start (--test-start-s 8): the selection window holds no forecast" \
        in caplog.text, caplog.text
    avg = json.loads((tmp_path / "o" / "report.json").read_text())["averages"]["last"]
    assert 0 < avg["duty"] < 1   # what the warning says: the test steps before 10 s are held


def test_options_ignored_in_part_are_warned_about_and_reported_as_used(tmp_path, capsys, caplog):
    _table(tmp_path / "trace.csv", cols=("amp_mm",))   # one coordinate
    out = tmp_path / "o"
    with caplog.at_level(logging.WARNING):
        rc = main(["forecast", "evaluate", str(tmp_path / "trace.csv"), "--methods", "last", "--horizons", "1",
                   "--seeds", "1", "--select-seeds", "2", "--workers", "999", "--scaling", "global",
                   "--norm-s", "4", "--select-start-s", "3", "--test-start-s", "8", "--out", str(out)])
    assert rc == 0
    said = caplog.text
    assert "--select-seeds 2 is more than --seeds 1: the selection uses 1 seed(s)" in said, said
    assert f"--workers 999 is more than the {usable_cpus()} CPU(s)" in said, said
    assert "--scaling global has no effect on session(s) with one coordinate (trace)" in said, said
    assert "--norm-s 4 is longer than --select-start-s 3" in said and "chosen on 4-8 s only" in said, said
    report = json.loads((out / "report.json").read_text())
    assert report["protocol"]["select_seeds"] == 1   # what ran, not what was asked
    assert report["workers"] == usable_cpus()


def test_one_marker_given_twice_is_refused(tmp_path, capsys):
    f = tmp_path / "S1-LAC-1-N-20-6.csv"
    _marker_csv(f)
    (tmp_path / "copy").mkdir()
    shutil.copy(f, tmp_path / "copy" / f.name)
    for other in (tmp_path / "copy" / ".." / f.name, tmp_path / "copy" / f.name):   # two spellings; a copy
        code, _, err = run_main(capsys, "forecast", "evaluate", f, other, *QUICK, "--out", tmp_path / "o")
        line = one_line_error(code, err)
        assert "marker LAC of session S1 is given twice" in line and "give each marker file once" in line, line


def test_markers_of_one_session_at_other_rates_say_why(tmp_path, capsys):
    _marker_csv(tmp_path / "S1-LAC-1-N-20-6.csv")
    _marker_csv(tmp_path / "S1-UAC-1-N-20-6.csv", n=100, step_ms=200)
    code, _, err = run_main(capsys, "forecast", "evaluate", tmp_path, *QUICK, "--out", tmp_path / "o")
    line = one_line_error(code, err)
    assert "100 rows at 5 Hz, S1-LAC-1-N-20-6.csv 200 at 10 Hz" in line and "rename one" in line, line


def test_a_vxp_cut_short_is_said(tmp_path, capsys, caplog):
    full = tmp_path / "full.vxp"
    _write_vxp(full, n=300)   # 10 s at 30 Hz
    data = full.read_bytes()
    cut = tmp_path / "cut.vxp"
    cut.write_bytes(data[:-25])   # the export stopped mid-row
    code, _, err = run_main(capsys, "forecast", "evaluate", cut, *QUICK, "--rate-hz", "30", "--out", tmp_path / "o")
    line = one_line_error(code, err)
    assert "the last, is cut short" in line and "export it again, or delete that line" in line, line
    lines = data.split(b"\r\n")
    (tmp_path / "half.vxp").write_bytes(b"\r\n".join(lines[:len(lines) // 2]) + b"\r\n")   # cut at a line end
    from biosig.readers.surrogates import read_vxp
    with caplog.at_level(logging.WARNING):
        read_vxp(full)
        assert "looks cut short" not in caplog.text
        read_vxp(tmp_path / "half.vxp")
    assert caplog.text.count("looks cut short") == 1 and "Total_study_time is 10.0 s" in caplog.text, caplog.text


def test_plot_of_a_folder_that_does_not_exist(tmp_path, capsys):
    code, _, err = run_main(capsys, "forecast", "plot", tmp_path / "nope", "--session", "s", "--method", "last",
                            "--horizon", "1", "--out", tmp_path / "p.png")
    assert "nope: no such folder; give the --out folder" in one_line_error(code, err)
