"""``forecast evaluate`` / ``load_sessions`` on recordings beyond marker and t_s CSVs: a WFDB
record's respiration channel, an EDF without one, tables with another time column, ``--channel``.
Oracles: scipy's ``resample_poly`` for the anti-aliased rate change, ``resample_uniform`` (linear
interpolation, tested against NumPy in test_forecast_protocol) for irregular times."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import resample_poly

from biosig.record import Record
from biosig.writers import write
from realtime.errors import ForecastError
from realtime.sessions import load_sessions, resample_uniform

from conftest import shared_path

FS_HZ = 125.0


def _breathing(seconds: float, fs_hz: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    return (np.sin(2 * np.pi * 0.25 * t) + 0.3 * np.sin(2 * np.pi * 0.5 * t + 1.0)
            + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def _ecg_and_resp(tmp_path, seconds=90.0, name="rec"):
    resp = _breathing(seconds, FS_HZ)
    ecg = np.sin(2 * np.pi * 1.2 * np.arange(resp.size) / FS_HZ).astype(np.float32)
    rec = Record(np.stack([ecg, resp]), FS_HZ, ("II", "RESP"), ("mV", "mV"))
    write(rec, tmp_path / f"{name}.hea")
    return tmp_path / name, resp


def test_wfdb_record_named_without_hea_gives_its_resp_channel_resampled_by_polyphase(tmp_path):
    path, resp = _ecg_and_resp(tmp_path)
    (s,) = load_sessions([path], 10.0)
    assert (s.name, s.channels, s.units, s.source) == ("rec", ("RESP",), ("mV",), (str(path),))
    want = resample_poly(resp.astype(np.float64), 2, 25)   # 125 Hz -> 10 Hz, anti-aliased
    assert s.X.shape == (want.size, 1)
    # the WFDB file stores 16-bit samples: agreement within the quantisation step, away from the edges
    np.testing.assert_allclose(s.X[20:-20, 0], want[20:-20], atol=2e-3)
    np.testing.assert_allclose(s.t_s, np.arange(want.size) / 10.0)


def test_a_record_without_respiration_needs_channel(tmp_path):
    x = _breathing(80, 100.0)
    write(Record(np.stack([x, x]), 100.0, ("II", "V5"), ("mV", "mV")), tmp_path / "ecg.edf")
    with pytest.raises(ForecastError, match=r"no respiration or motion channel among II \(ecg\), V5 \(ecg\).*--channel"):
        load_sessions([tmp_path / "ecg.edf"], 10.0)
    (s,) = load_sessions([tmp_path / "ecg.edf"], 10.0, channels=["V5"])
    assert s.channels == ("V5",) and s.X.shape == (800, 1)
    with pytest.raises(ForecastError, match="no channel 'belt'; channels are II, V5"):
        load_sessions([tmp_path / "ecg.edf"], 10.0, channels="belt")


def test_tables_keep_every_column_and_channel_picks_among_them(tmp_path):
    seconds, fs = 70.0, 25.0
    x, y = _breathing(seconds, fs, 1), _breathing(seconds, fs, 2)
    t_ms = np.arange(x.size) * 40.0
    lines = ["time_ms,chest,belly"] + [f"{a:g},{b:.6f},{c:.6f}" for a, b, c in zip(t_ms, x, y)]
    (tmp_path / "belt.csv").write_text("\n".join(lines) + "\n")
    (s,) = load_sessions([tmp_path / "belt.csv"], 5.0)   # 25 Hz regular -> 5 Hz, anti-aliased
    assert s.channels == ("chest", "belly")
    np.testing.assert_allclose(s.X[10:-10, 1], resample_poly(y.astype(np.float64), 1, 5)[10:-10], atol=1e-5)
    (one,) = load_sessions([tmp_path / "belt.csv"], 5.0, channels=["belly"])
    np.testing.assert_allclose(one.X[:, 0], s.X[:, 1])
    # a t_s table (read as before, linear interpolation when irregular) takes --channel too
    lines = ["t_s,a_x,a_y"] + [f"{i / 10:g},{i % 7},{i % 5}" for i in range(700)]
    (tmp_path / "markers.csv").write_text("\n".join(lines) + "\n")
    (m,) = load_sessions([tmp_path / "markers.csv"], 10.0, channels=["a_y"])
    assert m.channels == ("a_y",) and m.X[:6, 0].tolist() == [0, 1, 2, 3, 4, 0]
    with pytest.raises(ForecastError, match="no column 'a_z'; the coordinate columns are a_x, a_y"):
        load_sessions([tmp_path / "markers.csv"], 10.0, channels=["a_z"])


def test_irregular_times_are_interpolated_like_a_t_s_table(tmp_path):
    rng = np.random.default_rng(3)
    t_s = np.cumsum(rng.uniform(0.03, 0.05, 2000))
    v = np.sin(2 * np.pi * 0.3 * t_s)
    lines = ["time_ms,amp"] + [f"{a * 1000:.3f},{b:.6f}" for a, b in zip(t_s, v)]
    (tmp_path / "trace.csv").write_text("\n".join(lines) + "\n")
    (s,) = load_sessions([tmp_path / "trace.csv"], 10.0)
    grid, want = resample_uniform(t_s - t_s[0], v[:, None], 10.0)
    np.testing.assert_allclose(s.t_s, grid, atol=1e-9)
    np.testing.assert_allclose(s.X, want, atol=1e-5)


def test_missing_record_and_unreadable_file_are_one_line(tmp_path):
    with pytest.raises(ForecastError, match="no such file"):
        load_sessions([tmp_path / "nothing"], 10.0)
    (tmp_path / "notes.txt").write_text("hello\nworld\n")
    with pytest.raises(ForecastError, match="notes.txt"):
        load_sessions([tmp_path / "notes.txt"], 10.0)


def test_cli_evaluates_a_recorded_respiration_trace_in_its_unit(tmp_path, capsys):
    from biosig.cli import main

    path, _ = _ecg_and_resp(tmp_path, seconds=100.0)
    rc = main(["forecast", "evaluate", str(path), "--methods", "rls,last", "--horizons-s", "0.1,0.5",
               "--seeds", "1", "--select-seeds", "1", "--workers", "1", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "RMSE mV" in out and ">2mV" in out and "(errors in mV;" in out and "RMSE mm" not in out
    assert "horizons 1,5 (2) steps at 10 Hz (0.1-0.5 s)" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["sessions"]["rec"]["channels"] == ["RESP"] and report["sessions"]["rec"]["units"] == ["mV"]
    assert report["averages"]["rls"]["nrmse"] < report["averages"]["last"]["nrmse"]
    # the plot of a 1-D trace: its unit from the report, an absolute (not 3-D) error
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    saved = []
    real_savefig = plt.Figure.savefig

    def keep_labels(fig, *a, **k):
        saved.append([ax.get_ylabel() for ax in fig.axes])
        return real_savefig(fig, *a, **k)

    plt.Figure.savefig = keep_labels
    try:
        assert main(["forecast", "plot", str(tmp_path / "out"), "--session", "rec", "--method", "rls", "--horizon", "5",
                     "--out", str(tmp_path / "fc.png")]) == 0
    finally:
        plt.Figure.savefig = real_savefig
    assert saved == [["position - mean (mV)", "absolute error (mV)"]] and (tmp_path / "fc.png").stat().st_size > 0


def test_a_folder_stands_for_its_recordings_and_skips_those_without_a_trace(tmp_path, caplog):
    _ecg_and_resp(tmp_path, name="belt")
    x = _breathing(80, 100.0)
    write(Record(np.stack([x, x]), 100.0, ("II", "V5"), ("mV", "mV")), tmp_path / "ecg_only.edf")
    lines = ["t_s,a_x"] + [f"{i / 10:g},{i % 7}" for i in range(700)]
    (tmp_path / "markers.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "notes.json").write_text("{}")   # not a recording: discover leaves it out
    with caplog.at_level("WARNING", logger="realtime.sessions"):
        sessions = load_sessions([tmp_path], 10.0)
    assert [(s.name, s.channels) for s in sessions] == [("belt", ("RESP",)), ("markers", ("a_x",))]
    assert "skipped 1 recording(s)" in caplog.text and "ecg_only.edf" in caplog.text
    # the same file named explicitly is an error, not a skip
    with pytest.raises(ForecastError, match="ecg_only.edf: no respiration or motion channel"):
        load_sessions([tmp_path / "ecg_only.edf"], 10.0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ForecastError, match="no recordings in this folder"):
        load_sessions([empty], 10.0)
    only_ecg = tmp_path / "ecg"
    only_ecg.mkdir()
    (tmp_path / "ecg_only.edf").rename(only_ecg / "ecg_only.edf")
    with pytest.raises(ForecastError, match="no session to forecast.*--channel NAME picks one"):
        load_sessions([only_ecg], 10.0)


def test_the_shared_marker_folder_gives_the_same_sessions_as_its_files():
    folder = shared_path("resp_motion")
    by_folder = load_sessions([folder], 10.0)
    by_files = load_sessions(sorted(folder.glob("*.csv")), 10.0)
    assert [s.name for s in by_folder] == [s.name for s in by_files] and len(by_folder) == 4
    for a, b in zip(by_folder, by_files):
        np.testing.assert_array_equal(a.X, b.X)


def test_channel_in_a_folder_skips_the_recordings_without_it(tmp_path, caplog):
    _ecg_and_resp(tmp_path, name="belt")
    x = _breathing(80, 100.0)
    write(Record(np.stack([x, x]), 100.0, ("II", "V5"), ("mV", "mV")), tmp_path / "ecg_only.edf")
    with caplog.at_level("WARNING", logger="realtime.sessions"):
        (s,) = load_sessions([tmp_path], 10.0, channels=["V5"])
    assert s.name == "ecg_only" and "without the channel(s) V5" in caplog.text and "belt.hea" in caplog.text
    with pytest.raises(ForecastError, match="none of the recordings found has the channel\\(s\\) chest"):
        load_sessions([tmp_path], 10.0, channels=["chest"])


def test_channel_in_a_folder_skips_t_s_tables_without_it_too(tmp_path):
    _ecg_and_resp(tmp_path, name="belt")
    lines = ["t_s,a_x"] + [f"{i / 10:g},{i % 7}" for i in range(700)]
    (tmp_path / "markers.csv").write_text("\n".join(lines) + "\n")
    (s,) = load_sessions([tmp_path], 10.0, channels=["RESP"])
    assert s.name == "belt"
    with pytest.raises(ForecastError, match="markers.csv: no column 'RESP'"):
        load_sessions([tmp_path / "markers.csv"], 10.0, channels=["RESP"])


def test_bad_times_name_the_row_and_one_short_session_is_one_error(tmp_path, caplog):
    """A t_s table with two rows swapped or a repeated time is refused with the data row (1-based,
    as the surrogate readers count); a single unusable session is one error, not a 'skipping'
    warning followed by the same text as an error."""
    import logging

    import polars as pl

    from biosig.cli import main
    t = np.arange(1500) / 10.0
    swapped, dup = t.copy(), t.copy()
    swapped[[500, 501]] = swapped[[501, 500]]
    dup[800] = dup[799]
    for name, times in (("swapped", swapped), ("dup", dup)):
        pl.DataFrame({"t_s": times, "x": np.sin(t)}).write_csv(tmp_path / f"{name}.csv")
    with pytest.raises(ForecastError, match=r"'t_s' goes backwards at data row 502 \(50 s after 50.1 s\)"):
        load_sessions([tmp_path / "swapped.csv"], 10.0)
    with pytest.raises(ForecastError, match=r"'t_s' repeats at data row 801"):
        load_sessions([tmp_path / "dup.csv"], 10.0)
    pl.DataFrame({"t_s": t[:200], "x": np.sin(t[:200])}).write_csv(tmp_path / "short.csv")
    with caplog.at_level(logging.WARNING):
        code = main(["forecast", "evaluate", str(tmp_path / "short.csv"), "--methods", "last", "--horizons", "1",
                     "--out", str(tmp_path / "o")])
    assert code == 2 and "skipping" not in caplog.text
