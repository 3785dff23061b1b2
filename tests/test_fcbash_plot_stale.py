"""`forecast plot` draws only what the folder's report.json describes (bug bash, 2026-12-06).

Two runs of `forecast evaluate` into one --out, or a run stopped with Ctrl-C, left predictions of
another run beside the report: `plot` took whatever parquet lay in the folder, so it drew an
earlier run's method (or a half-finished run's forecasts) under the report of another, exit 0."""
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import polars as pl

from biosig.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _write_csv(path, seconds=90.0, rate_hz=10.0):
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    b = np.sin(2 * np.pi * t / 4.0)
    rng = np.random.default_rng(0)
    pl.DataFrame({"t_s": t, "m_x_mm": 2 * b + rng.normal(0, 0.05, t.size),
                  "m_z_mm": 9 * b + rng.normal(0, 0.05, t.size)}).write_csv(path)


def _evaluate(csv, out, methods, horizons="1,3"):
    return main(["forecast", "evaluate", str(csv), "--methods", methods, "--horizons", horizons,
                 "--workers", "1", "--out", str(out)])


def test_plot_refuses_a_method_of_an_earlier_run_into_the_same_folder(tmp_path, capsys):
    csv = tmp_path / "sess.csv"
    _write_csv(csv)
    out = tmp_path / "out"
    assert _evaluate(csv, out, "last,lms") == 0
    assert _evaluate(csv, out, "last", horizons="1,2") == 0   # the second run: last only, other horizons
    # the first run's lms forecasts are not this run's: removed, and said (they were left beside the
    # second report, where a user reading the folder took them for its)
    assert not (out / "predictions" / "sess" / "lms.parquet").exists()
    assert "removed 1 forecast file(s) of an earlier run" in capsys.readouterr().err
    assert main(["forecast", "plot", str(out), "--session", "sess", "--method", "lms", "--horizon", "3",
                 "--out", str(tmp_path / "lms.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no method 'lms'" in err[0] and "methods: last" in err[0]
    assert not (tmp_path / "lms.png").exists()
    # what the report describes still plots
    assert main(["forecast", "plot", str(out), "--session", "sess", "--method", "last", "--horizon", "2",
                 "--out", str(tmp_path / "last.png")]) == 0
    assert (tmp_path / "last.png").stat().st_size > 0


def test_a_rerun_removes_only_its_own_kind_of_file(tmp_path, capsys):
    """Another session's forecasts are retired with their truth; a file the command did not write stays."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _write_csv(a)
    _write_csv(b)
    out = tmp_path / "out"
    assert main(["forecast", "evaluate", str(a), str(b), "--methods", "last", "--horizons", "1",
                 "--workers", "1", "--out", str(out)]) == 0
    mine = out / "predictions" / "b" / "notes.parquet"
    pl.DataFrame({"x": [1]}).write_parquet(mine)
    capsys.readouterr()
    assert _evaluate(a, out, "last", horizons="1") == 0
    assert "removed 2 forecast file(s)" in capsys.readouterr().err
    assert not (out / "predictions" / "b" / "truth.parquet").exists()
    assert mine.is_file() and (out / "predictions" / "a" / "last.parquet").is_file()


def test_a_refused_rerun_leaves_the_earlier_report(tmp_path, capsys):
    csv = tmp_path / "sess.csv"
    _write_csv(csv)
    out = tmp_path / "out"
    assert _evaluate(csv, out, "last") == 0
    before = (out / "report.json").read_bytes()
    assert _evaluate(csv, out, "nosuchmethod") == 2   # refused before any forecast is written
    assert (out / "report.json").read_bytes() == before


def test_ctrl_c_during_a_rerun_leaves_no_report_beside_its_forecasts(tmp_path):
    csv = tmp_path / "sess.csv"
    _write_csv(csv, seconds=300.0)
    out = tmp_path / "out"
    assert _evaluate(csv, out, "last", horizons="1") == 0
    truth = out / "predictions" / "sess" / "truth.parquet"
    first = truth.stat().st_mtime_ns
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "biosig.cli", "forecast", "evaluate", str(csv), "--methods",
                             "mix,rls,lms", "--horizons", "1-21", "--workers", "1", "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        while truth.stat().st_mtime_ns == first and proc.poll() is None:   # the rerun has begun writing
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)   # Ctrl-C at a terminal reaches the whole process group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "biosig forecast: interrupted"
    assert not (out / "report.json").exists()   # the first run's report does not describe these files
    r = subprocess.run([sys.executable, "-m", "biosig.cli", "forecast", "plot", str(out), "--session", "sess",
                        "--method", "last", "--horizon", "1", "--out", str(tmp_path / "p.png")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no report.json" in r.stderr and "Traceback" not in r.stderr
