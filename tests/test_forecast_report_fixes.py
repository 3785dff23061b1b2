"""`biosig forecast evaluate`: the step-time columns (median and p99 of the CPU time), duplicate
horizons, and --channel on a surrogate (unit-labelled) CSV and a marker session."""
import itertools
import json
import logging
import time

import numpy as np
import polars as pl
import pytest

from biosig.cli import main
from conftest import shared_path
from realtime.errors import ForecastError
from realtime.evaluation import Protocol, _init_worker, _test_job, run_forecaster
from realtime.grids import horizon_steps, parse_int_list
from realtime.report import format_table
from realtime.sessions import load_sessions



def _units_csv(path, n=900):
    """A surrogate CSV: time in s and two amplitude columns named with their unit (read in mm)."""
    rng = np.random.default_rng(0)
    t = np.arange(n) / 10.0
    pl.DataFrame({"t_s": t, "x_mm": 5 * np.sin(2 * np.pi * t / 4.0) + rng.normal(0, 0.05, n),
                  "y_cm": 0.3 * np.cos(2 * np.pi * t / 3.7) + rng.normal(0, 0.005, n)}).write_csv(path)
    return path


def test_table_shows_the_median_step_time_not_the_mean():
    """One long wait pulls a mean over the p99 (`last`: 42.4 us vs p99 24.4): the column is the median."""
    avg = {"rmse": 1.0, "nrmse": 0.5, "mae": 1.0, "max": 4.0, "jitter": 0.25, "p95": 2.0, "frac_gt2": 0.1,
           "frac_gt5": 0.0, "duty": 1.0, "us_median": 9.6, "us_mean": 42.4, "us_p99": 24.4}
    rep = {"protocol": {"rate_hz": 10.0, "supervision": "causal"}, "averages": {"last": avg},
           "sessions": {"s": {"channels": ["amp"], "units": ["mm"]}}, "published": {}}
    head, row = format_table(rep).splitlines()[1:3]
    assert "med us" in head and "p99 us" in head
    assert row.split()[-2:] == ["9.6", "24.4"] and "42.4" not in row


def test_step_time_is_the_threads_cpu_time_not_the_wall_clock(monkeypatch):
    """A step descheduled for a scheduler slice (another process on the core) is not slower: the
    step time is CPU time. Clocks (stdlib) replaced: the wall clock runs 1 ms per reading, the
    thread's CPU clock 1 us, so every step is 1 us of CPU and 1000 us of wall clock."""
    X = np.sin(np.arange(400) / 6.0)[:, None]
    wall, cpu = itertools.count(0, 1_000_000), itertools.count(0, 1_000)
    ready, wall_us = np.zeros(400, bool), np.zeros(400)
    with monkeypatch.context() as m:
        m.setattr(time, "perf_counter_ns", lambda: next(wall))
        m.setattr(time, "thread_time_ns", lambda: next(cpu))
        _, us, _ = run_forecaster(X, "last", 2, {"lookback": 1, "hidden": 1, "lr": 0.0}, 0, 400, Protocol(), 600,
                                  ready_out=ready, wall_out=wall_us)
    np.testing.assert_array_equal(us[2:], 1.0)
    np.testing.assert_array_equal(wall_us[2:], 1000.0)


def test_report_keeps_median_p99_and_the_wall_clock(tmp_path, realtime_log_level):
    (s,) = load_sessions([_units_csv(tmp_path / "u.csv")], 10.0)
    _init_worker([s])
    _, _, _, res, _, _ = _test_job(0, "lms", 2, {"lookback": 12, "hidden": 1, "lr": 0.01}, [0],
                                   Protocol(seeds=1, select_seeds=1))
    assert 0 < res["us_median"] <= res["us_p99"] and 0 < res["us_wall_median"] <= res["us_wall_p99"]
    assert res["us_mean"] > 0


def test_duplicate_horizons_are_dropped_with_a_note(caplog):
    with caplog.at_level(logging.WARNING, logger="realtime.grids"):
        assert parse_int_list("1,1,2", "--horizons") == [1, 2]
    assert "--horizons 1,1,2 lists 1 more than once" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="realtime.grids"):
        assert parse_int_list("1-21") == list(range(1, 22))
        assert horizon_steps("0.1,0.5", 10.0) == [1, 5]
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING, logger="realtime.grids"):
        assert horizon_steps("0.1,0.10,0.5", 10.0) == [1, 5]
    assert "lists 1 step(s) more than once" in caplog.text
    from realtime.evaluation import horizon_list   # the Python API refuses them (each would run twice)
    with pytest.raises(ForecastError, match="1 listed more than once"):
        horizon_list([1, 1, 2])
    from realtime.grids import format_int_list   # the CLI prints the horizons it runs with it
    for hs in ([1], [1, 2], [1, 5, 11, 21], list(range(1, 22)), [1, 3, 4, 5, 7, 8]):
        assert parse_int_list(format_int_list(hs)) == hs


def test_cli_prints_the_horizons_it_runs_and_selects_a_surrogate_column(tmp_path, capsys, caplog):
    f = _units_csv(tmp_path / "u.csv")
    with caplog.at_level(logging.WARNING):
        rc = main(["forecast", "evaluate", str(f), "--channel", "y_cm", "--methods", "last", "--horizons", "1,1,2",
                   "--workers", "1", "--out", str(tmp_path / "o")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "horizons 1,2 (2) steps" in out and "1,1,2" not in out
    assert "lists 1 more than once" in caplog.text and "keep their own coordinates" not in caplog.text
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["sessions"]["u"]["channels"] == ["y"]   # the column named, not both
    # the forecast `last` of step k is sample k - h of that column, in mm (an independent read of the file)
    y_mm = np.loadtxt(f, delimiter=",", skiprows=1, usecols=2) * 10.0
    pred = pl.read_parquet(tmp_path / "o" / "predictions" / "u" / "last.parquet").filter(pl.col("horizon") == 2)
    np.testing.assert_allclose(pred["y"].to_numpy(), y_mm[598:898], rtol=1e-6)   # the reader keeps float32


def test_channel_on_a_surrogate_csv_by_column_or_channel_and_refused_when_absent(tmp_path):
    f = _units_csv(tmp_path / "u.csv")
    for name in ("x_mm", "x"):
        (s,) = load_sessions([f], 10.0, channels=[name])
        assert s.channels == ("x",) and s.X.shape == (900, 1)
        np.testing.assert_allclose(s.X[:, 0], np.loadtxt(f, delimiter=",", skiprows=1, usecols=1), rtol=1e-6)
    (s,) = load_sessions([f], 10.0, channels=["y_cm", "x_mm"])
    assert s.channels == ("y", "x")
    with pytest.raises(ForecastError, match="no channel 'z_mm'; the columns are x_mm, y_cm"):
        load_sessions([f], 10.0, channels=["z_mm"])
    assert main(["forecast", "evaluate", str(f), "--channel", "z_mm", "--out", str(tmp_path / "o")]) == 2


def test_channel_selects_marker_coordinates_and_a_folder_skips_what_lacks_it(tmp_path, caplog):
    folder = shared_path("resp_motion")
    files = sorted(folder.glob("201205111055-*.csv"))
    (full,) = load_sessions(files, 10.0)
    (s,) = load_sessions(files, 10.0, channels=["LAC_z", "LAR_x"])
    assert s.channels == ("LAC_z", "LAR_x")
    np.testing.assert_array_equal(s.X, full.X[:, [full.channels.index("LAC_z"), full.channels.index("LAR_x")]])
    with pytest.raises(ForecastError, match="session 201205111055: no channel 'UCC_x'"):
        load_sessions(files, 10.0, channels=["UCC_x"])
    # in a folder, the sessions without it are skipped (UCC: sessions 201205101519, ...1534, ...181211)
    with caplog.at_level(logging.WARNING, logger="realtime.sessions"):
        sessions = load_sessions([folder], 10.0, channels=["UCC_x"])
    assert [x.name for x in sessions] == ["201205101519", "201205101534", "201205181211"]
    assert "skipped 1 recording(s)" in caplog.text
