"""Time columns of tables (biosig.readers.table_times): Parquet files in folders by the CSV rule, a
second time column beside t_s, a stated rate checked against a named time column, ISO-8601 date-times.

Before: a Parquet file whose unitless time column does not tell its unit was taken from a folder
(and failed when read) while the same CSV was skipped; ``t_s,time,ecg`` read ``time`` as a channel;
``--sample-rate-hz 250`` for a file whose t_s steps are 2 ms said nothing; ISO date-times were
"not numeric". Tables are written with pandas; expected times come from pandas' own date parsing."""
import datetime as dt
import logging
import pathlib

import numpy as np
import pandas as pd
import pytest

import biosig
from biosig.errors import ReadError
from biosig.readers import discover

FS = 250.0
N = 1000


def _signal():
    t = np.arange(N) / FS
    return t, np.sin(2 * np.pi * 1.2 * t) + 0.1 * np.cos(2 * np.pi * 7 * t)


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_parquet_file_follows_the_csv_rule_in_a_folder(tmp_path, caplog):
    t, x = _signal()
    ms = np.round(t * 1000).astype(int)   # 4 ms steps: 0.25 Hz in seconds or 250 Hz in milliseconds
    pd.DataFrame({"time": t, "ecg": x}).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"time": ms, "ecg": x}).to_csv(tmp_path / "ms.csv", index=False)
    pd.DataFrame({"time": ms, "ecg": x}).to_parquet(tmp_path / "ms.parquet")
    pd.DataFrame({"time": t, "ecg": x}).to_parquet(tmp_path / "s.parquet")
    pd.DataFrame({"ecg": x}).to_parquet(tmp_path / "no_time.parquet")
    with caplog.at_level(logging.WARNING, logger="biosig.readers.discover"):
        found = [pathlib.Path(p).name for p in discover(tmp_path)]
    assert found == ["s.csv", "s.parquet"]
    said = " ".join(_warnings(caplog))
    assert "2 table(s) skipped whose time column names no unit" in said
    assert "ms.csv" in said and "ms.parquet" in said and "no_time.parquet" in said
    # a stated rate settles the unit: both are records, and both read alike
    found = [pathlib.Path(p).name for p in discover(tmp_path, bare_tables=True)]
    assert found == ["ms.csv", "ms.parquet", "s.csv", "s.parquet"]
    a, b = (biosig.read(tmp_path / f, sample_rate_hz=FS) for f in ("ms.csv", "ms.parquet"))
    assert a.fs_hz == b.fs_hz == FS and a.channels == b.channels == ("ecg",)
    np.testing.assert_array_equal(a.samples, b.samples)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("scale", [1.0, 1000.0])   # the second clock in seconds or milliseconds
def test_a_second_time_column_agreeing_with_t_s_is_dropped_with_a_warning(tmp_path, caplog, suffix, scale):
    t, x = _signal()
    df = pd.DataFrame({"t_s": t, "time": 100 * scale + t * scale, "ecg": x})
    path = tmp_path / f"two{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path)
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(path)
    assert rec.channels == ("ecg",) and rec.fs_hz == FS and rec.n_samples == N
    np.testing.assert_allclose(rec.samples[0], x, rtol=0, atol=1e-6)
    said = _warnings(caplog)
    assert len(said) == 1 and "'time' is a second time column" in said[0] and "'t_s'" in said[0]


def test_a_second_time_column_that_disagrees_is_refused(tmp_path):
    t, x = _signal()
    path = tmp_path / "two.csv"
    pd.DataFrame({"t_s": t, "time": np.arange(N) * 0.006, "ecg": x}).to_csv(path, index=False)  # 6 ms vs 4 ms
    with pytest.raises(ReadError, match="two time columns that disagree: 't_s' and 'time'"):
        biosig.read(path)


@pytest.mark.parametrize("column,scale", [("t_s", 1.0), ("time_ms", 1000.0), ("Time [ms]", 1000.0)])
def test_a_stated_rate_is_checked_against_a_named_time_column(tmp_path, caplog, column, scale):
    t = np.arange(N) * 0.002   # 500 Hz
    x = np.cos(t)
    path = tmp_path / "named.csv"
    pd.DataFrame({column: t * scale, "ecg": x}).to_csv(path, index=False)
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(path, sample_rate_hz=250)
    assert rec.fs_hz == 500.0   # the file's own times are read
    said = _warnings(caplog)
    assert len(said) == 1 and "the stated 250 Hz" in said[0] and f"{column!r}" in said[0] and "500 Hz" in said[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING):   # within 10 %: agrees, nothing said
        assert biosig.read(path, sample_rate_hz=470).fs_hz == 500.0
        assert biosig.read(path, sample_rate_hz=500).fs_hz == 500.0
    assert _warnings(caplog) == []


def _iso(stamps: pd.DatetimeIndex) -> list[str]:
    return [s.isoformat(timespec="milliseconds") for s in stamps]


def test_iso_date_times_are_read_as_seconds_from_the_first_with_the_start_time(tmp_path):
    t, x = _signal()
    stamps = pd.Timestamp("2024-03-01T10:00:00.004") + pd.to_timedelta(np.round(t * 1000), unit="ms")
    path = tmp_path / "iso.csv"
    pd.DataFrame({"time": _iso(stamps), "ecg": x}).to_csv(path, index=False)
    assert open(path).read().splitlines()[1].startswith("2024-03-01T10:00:00.004,")
    rec = biosig.read(path)
    back = pd.to_datetime(pd.read_csv(path)["time"])   # the oracle: pandas parses the same column
    assert rec.start_time == back[0].to_pydatetime() == dt.datetime(2024, 3, 1, 10, 0, 0, 4000)
    assert rec.fs_hz == FS and rec.times_s is None and rec.channels == ("ecg",)
    np.testing.assert_allclose(rec.t_s, (back - back[0]).dt.total_seconds().to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(rec.samples[0], x, rtol=0, atol=1e-6)


def test_irregular_and_zoned_iso_date_times(tmp_path):
    rng = np.random.default_rng(3)
    steps_ms = 4 + rng.integers(-1, 2, N - 1) * 1.5   # 2.5, 4 or 5.5 ms: irregular
    offsets = np.concatenate([[0.0], np.cumsum(steps_ms)])
    stamps = pd.Timestamp("2024-03-01T10:00:00+01:00") + pd.to_timedelta(offsets, unit="ms")
    x = np.sin(offsets / 100)
    path = tmp_path / "zoned.csv"
    pd.DataFrame({"Timestamp": [s.isoformat(timespec="microseconds") for s in stamps], "ppg": x}).to_csv(
        path, index=False)
    rec = biosig.read(path)
    assert rec.start_time == stamps[0].to_pydatetime()   # the same instant (read back in UTC)
    assert rec.times_s is not None
    np.testing.assert_allclose(rec.times_s, (stamps - stamps[0]).total_seconds().to_numpy(), rtol=0, atol=1e-9)


def test_a_parquet_timestamp_column(tmp_path):
    t, x = _signal()
    stamps = pd.Timestamp("2023-11-05T23:59:59.500") + pd.to_timedelta(t, unit="s")
    path = tmp_path / "ts.parquet"
    pd.DataFrame({"timestamp": stamps, "ecg": x}).to_parquet(path)
    rec = biosig.read(path)
    assert rec.start_time == dt.datetime(2023, 11, 5, 23, 59, 59, 500000) and rec.fs_hz == FS
    np.testing.assert_allclose(rec.samples[0], x, rtol=0, atol=1e-6)


def test_an_iso_column_with_a_bad_row_names_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,ecg\n2024-03-01T10:00:00.000,1\n2024-03-01T10:00:00.004,2\nsoon,3\n")
    with pytest.raises(ReadError, match=r"'time' holds ISO-8601 date-times, but line 4 holds 'soon'"):
        biosig.read(path)


def test_an_iso_clock_beside_t_s_gives_the_start_time(tmp_path, caplog):
    t, x = _signal()
    stamps = pd.Timestamp("2024-03-01T10:00:00.250") + pd.to_timedelta(t, unit="s")
    path = tmp_path / "both.csv"
    pd.DataFrame({"t_s": t, "time": _iso(stamps), "ecg": x}).to_csv(path, index=False)
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(path)
    assert rec.channels == ("ecg",) and rec.start_time == dt.datetime(2024, 3, 1, 10, 0, 0, 250000)
    assert _warnings(caplog) == []
    late = tmp_path / "late.csv"   # a clock that runs at another rate
    pd.DataFrame({"t_s": t, "time": _iso(stamps + pd.to_timedelta(t, unit="s")), "ecg": x}).to_csv(late, index=False)
    with pytest.raises(ReadError, match="two time columns that disagree"):
        biosig.read(late)
