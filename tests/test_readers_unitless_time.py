"""A table whose time column names no unit (``time``, ``Timestamp``): read when its values tell the
unit (or a stated rate does), refused with a message otherwise; never read as a channel.

Before: refused without --sample-rate-hz ("neither a marker CSV nor a table with one time column";
Parquet: "no time column"), and with --sample-rate-hz read as bare samples with the time column as a
channel named ``time`` (a time ramp scored as a signal). Tables are written with pandas; the
expected samples, times and rates are the ones written."""
import contextlib
import io
import logging
import pathlib

import numpy as np
import pandas as pd
import pytest

import biosig
from biosig.errors import ReadError

FS = 250.0
N = 1000


def _signal():
    t = np.arange(N) / FS
    return t, np.sin(2 * np.pi * 1.2 * t) + 0.1 * np.cos(2 * np.pi * 7 * t)


def _csv(path, time_name, times, x):
    pd.DataFrame({time_name: times, "ecg": x}).to_csv(path, index=False)
    return path


def _cli(*args):
    from biosig.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", ["time", "Time", "Timestamp", "t"])
def test_seconds_with_fine_steps_are_read_as_seconds(tmp_path, name, caplog):
    t, x = _signal()
    path = _csv(tmp_path / "s.csv", name, t + 12.5, x)
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(path)
    assert rec.channels == ("ecg",) and rec.fs_hz == FS and rec.n_samples == N and rec.times_s is None
    np.testing.assert_allclose(rec.samples[0], x, rtol=0, atol=1e-6)
    assert rec.metadata["first_time_s"] == pytest.approx(12.5)
    assert rec.metadata["time_unit"] == "s" and rec.metadata["time_unit_from"] == "steps"
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and "read as seconds" in said[0] and "t_s" in said[0]


def test_parquet_time_column_in_seconds(tmp_path):
    t, x = _signal()
    path = tmp_path / "s.parquet"
    pd.DataFrame({"time": t, "ecg": x}).to_parquet(path)
    rec = biosig.read(path)
    assert rec.channels == ("ecg",) and rec.fs_hz == FS
    np.testing.assert_allclose(rec.samples[0], x, rtol=0, atol=1e-6)


def test_milliseconds_are_refused_unless_the_rate_tells(tmp_path):
    t, x = _signal()
    path = _csv(tmp_path / "ms.csv", "time", np.round(t * 1000).astype(int), x)   # 0, 4, 8, ... ms
    with pytest.raises(ReadError) as err:
        biosig.read(path)
    said = str(err.value)
    assert "'time'" in said and "0.25 Hz in seconds" in said and "250 Hz in milliseconds" in said
    assert "time_ms" in said and "--sample-rate-hz" in said
    rec = biosig.read(path, sample_rate_hz=250)
    assert rec.channels == ("ecg",) and rec.fs_hz == FS and rec.n_samples == N   # not a 'time' channel
    np.testing.assert_allclose(rec.samples[0], x, rtol=0, atol=1e-6)
    assert rec.metadata["time_unit"] == "ms" and rec.metadata["time_unit_from"] == "sample_rate_hz"
    with pytest.raises(ReadError, match="neither is the stated 100 Hz"):
        biosig.read(path, sample_rate_hz=100)
    # the same rate stated for times in seconds picks seconds
    assert biosig.read(_csv(tmp_path / "s.csv", "time", t, x), sample_rate_hz=250).metadata["time_unit"] == "s"


def test_jittered_integer_milliseconds_with_the_rate_stated(tmp_path):
    """A 256 Hz logger writing whole milliseconds (steps of 3 and 4 ms): the median step says 250 Hz,
    the stated 256 Hz picks milliseconds and the rate comes from the times."""
    t = np.arange(2048) / 256
    x = np.sin(2 * np.pi * t)
    path = _csv(tmp_path / "j.csv", "timestamp", np.floor(t * 1000).astype(int), x)
    rec = biosig.read(path, sample_rate_hz=256)
    assert rec.channels == ("ecg",) and rec.fs_hz == pytest.approx(256, rel=1e-3)
    assert rec.metadata["time_unit"] == "ms"


def test_unix_epoch_milliseconds(tmp_path):
    t, x = _signal()
    epoch_ms = 1_700_000_000_000 + np.round(t * 1000).astype(np.int64)
    rec = biosig.read(_csv(tmp_path / "e.csv", "timestamp", epoch_ms, x))
    assert rec.fs_hz == FS and rec.metadata["time_unit_from"] == "epoch"
    assert rec.metadata["first_time_s"] == pytest.approx(1_700_000_000.0)


def test_times_that_go_back_are_refused(tmp_path):
    path = tmp_path / "back.csv"
    path.write_text("time,ecg\n0.000,1\n0.004,2\n0.002,3\n0.006,4\n")
    with pytest.raises(ReadError, match=r"strictly increasing: row 3 holds 0.002 after 0.004"):
        biosig.read(path)


def test_a_capital_T_stays_a_channel_of_bare_samples(tmp_path):
    """'T' is as often a temperature: only a lower-case 't' names a time."""
    path = tmp_path / "temp.csv"
    path.write_text("T,HR\n36.5,61\n36.6,62\n36.4,60\n")
    rec = biosig.read(path, sample_rate_hz=1)
    assert rec.channels == ("T", "HR") and rec.fs_hz == 1


def test_columns_named_with_their_unit_are_unchanged(tmp_path):
    t, x = _signal()
    for name, times in (("t_s", t), ("time_ms", t * 1000), ("time (s)", t)):
        rec = biosig.read(_csv(tmp_path / "u.csv", name, times, x))
        assert rec.channels == ("ecg",) and rec.fs_hz == FS and "time_unit" not in rec.metadata


def test_folders_take_the_tables_whose_times_tell(tmp_path, caplog):
    from biosig.readers import discover
    t, x = _signal()
    _csv(tmp_path / "s.csv", "time", t, x)
    _csv(tmp_path / "ms.csv", "time", np.round(t * 1000).astype(int), x)
    # ISO-8601 date-times are read (test_readers_table_times); times of day without a date are not
    (tmp_path / "iso.csv").write_text("time,ecg\n2024-01-01T00:00:00.000,0.1\n2024-01-01T00:00:00.004,0.2\n")
    (tmp_path / "clock.csv").write_text("time,ecg\n00:00:00.000,0.1\n00:00:00.004,0.2\n")
    with caplog.at_level(logging.WARNING, logger="biosig.readers.discover"):
        found = [pathlib.Path(p).name for p in discover(tmp_path)]
    assert found == ["iso.csv", "s.csv"]
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "1 table(s) skipped whose time column names no unit" in said and "ms.csv" in said
    assert "clock.csv" in said   # among the files skipped as not recordings
    assert [pathlib.Path(p).name for p in discover(tmp_path, bare_tables=True)] == ["iso.csv", "ms.csv", "s.csv"]


def test_biosig_info(tmp_path):
    t, x = _signal()
    ms = _csv(tmp_path / "ms.csv", "time", np.round(t * 1000).astype(int), x)
    code, out, err = _cli("info", ms, "--no-quality")
    assert code == 2 and "250 Hz in milliseconds" in err
    code, out, err = _cli("info", ms, "--no-quality", "--sample-rate-hz", "250")
    assert code == 0, err
    channels = out.split("channels", 1)[1]
    assert "ecg" in channels and "time" not in channels and "fs_hz        250" in out
