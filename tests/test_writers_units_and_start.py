"""Round trips through biosig.writers and back through biosig.read that lost what a user would miss:
channel names with brackets (Parquet; a unitless one in CSV), units outside ASCII in EDF and WFDB,
and start times (CSV: none; EDF and WFDB: the fraction of a second).

Checked against the independent readers: wfdb.rdheader for WFDB headers, the EDF+ bytes (the first
time-keeping annotation, "+0.25") and pyedflib's raw fields for EDF, pandas for the CSV clock.

Before: Parquet read "MLII [x]" as "MLII"; CSV read "ECG (mV)" without a unit as "ECG" in mV; wfdb
read our "µV" as "V" and "°C" as "C"; pyedflib wrote "µV" as "AuV"; a CSV lost the start time; EDF
lost 0.25 s (pyedflib refused it silently) and wrote 0.05 s as 0.5 s; WFDB dropped the fraction."""
import datetime as dt
import pathlib

import numpy as np
import pandas as pd
import pytest

import biosig
from biosig.errors import WriteError
from biosig.record import Record
from biosig.writers import write

SHARED = pathlib.Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _record(channels=("MLII [x]", "ECG (mV)"), units=("mV", ""), start=None, fs_hz=250.0, n=2500):
    t = np.arange(n) / fs_hz
    x = np.stack([np.sin(2 * np.pi * (1 + k) * t) * (0.5 + k) for k in range(len(channels))]).astype(np.float32)
    return Record(samples=x, fs_hz=fs_hz, channels=channels, units=units, start_time=start, modality="ecg")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_channel_names_with_brackets_read_back_whole(tmp_path, suffix):
    rec = _record()
    back = biosig.read(write(rec, tmp_path / f"r{suffix}"))
    assert back.channels == rec.channels and back.units == rec.units
    np.testing.assert_array_equal(back.samples, rec.samples)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("name", ["time", "t", "time_ms", "Timestamp"])
def test_a_channel_named_as_a_time_column_is_refused(tmp_path, suffix, name):
    with pytest.raises(WriteError, match="a time column's name"):
        write(_record(channels=(name, "ECG"), units=("", "mV")), tmp_path / f"r{suffix}")


@pytest.mark.parametrize("start", [dt.datetime(2024, 3, 1, 10, 0, 0, 250000),
                                   dt.datetime(2024, 3, 1, 23, 59, 59, 999000,
                                               tzinfo=dt.timezone(dt.timedelta(hours=-5)))])
def test_csv_keeps_the_start_time(tmp_path, start):
    rec = _record(start=start)
    path = write(rec, tmp_path / "r.csv")
    clock = pd.to_datetime(pd.read_csv(path)["time"])   # the oracle: pandas reads the wall clock column
    assert clock[0].to_pydatetime() == start
    np.testing.assert_allclose((clock - clock[0]).dt.total_seconds().to_numpy(), rec.t_s, rtol=0, atol=1e-6)
    back = biosig.read(path)
    assert back.start_time == start and back.channels == rec.channels and back.units == rec.units
    np.testing.assert_array_equal(back.samples, rec.samples)


def _edf_first_tal(path) -> bytes:
    """The first time-keeping annotation of an EDF+ file ("+<onset>\\x14\\x14"): its start's fraction."""
    raw = pathlib.Path(path).read_bytes()
    header_bytes = int(raw[184:192])
    i = raw.index(b"+", header_bytes)
    return raw[i:raw.index(b"\x14\x14", i)]


@pytest.mark.parametrize("micro", [250000, 50000, 123456, 0])
def test_edf_keeps_the_start_time_to_the_microsecond(tmp_path, micro):
    import pyedflib

    start = dt.datetime(2024, 3, 1, 10, 0, 7, micro)
    path = write(_record(start=start), tmp_path / "r.edf")
    assert float(_edf_first_tal(path)) == micro / 1e6   # EDF+ spec: the start's fraction of a second
    reader = pyedflib.EdfReader(str(path))
    try:   # pyedflib's raw field, in 100 ns units (its getStartdatetime divides by 100, not 10)
        assert reader.starttime_subsecond == micro * 10 and reader.starttime_second == 7
    finally:
        reader.close()
    assert biosig.read(path).start_time == start


def test_wfdb_keeps_the_start_time_to_the_microsecond(tmp_path):
    import wfdb

    start = dt.datetime(2024, 3, 1, 10, 0, 7, 250000)
    hea = write(_record(start=start), tmp_path / "r")
    header = wfdb.rdheader(str(hea.with_suffix("")))
    assert dt.datetime.combine(header.base_date, header.base_time) == start
    assert biosig.read(hea).start_time == start


@pytest.mark.parametrize("unit,ascii_unit", [("µV", "uV"), ("μV", "uV"), ("°C", "degC"), ("mV", "mV")])
def test_units_outside_ascii_are_written_as_the_standards_spell_them(tmp_path, unit, ascii_unit):
    import pyedflib
    import wfdb

    rec = _record(channels=("a", "b"), units=(unit, "mmHg"))
    hea = write(rec, tmp_path / "r")
    assert wfdb.rdheader(str(hea.with_suffix(""))).units == [ascii_unit, "mmHg"]
    assert biosig.read(hea).units == (ascii_unit, "mmHg")
    edf = write(rec, tmp_path / "r.edf")
    reader = pyedflib.EdfReader(str(edf))
    try:
        assert [reader.getPhysicalDimension(i).strip() for i in range(2)] == [ascii_unit, "mmHg"]
    finally:
        reader.close()
    assert biosig.read(edf).units == (ascii_unit, "mmHg")


@pytest.mark.parametrize("suffix", [".edf", ""])
def test_a_unit_with_no_ascii_spelling_is_refused(tmp_path, suffix):
    with pytest.raises(WriteError, match="units are ASCII"):
        write(_record(channels=("a", "b"), units=("‰", "mV")), tmp_path / f"r{suffix}")


def test_a_wfdb_header_in_utf8_reads_its_units(tmp_path):
    """Headers wfdb (and biosig before ASCII units) wrote with "µV" in UTF-8 read "µV", not "ÂµV"."""
    import wfdb

    d = (np.arange(500) % 100).reshape(-1, 1).astype(np.int64)
    wfdb.wrsamp("old", fs=250, units=["µV"], sig_name=["a"], d_signal=d, fmt=["16"], adc_gain=[100.0],
                baseline=[0], write_dir=str(tmp_path))
    assert "/µV ".encode() in (tmp_path / "old.hea").read_bytes()
    assert biosig.read(tmp_path / "old.hea").units == ("µV",)


def test_shared_record_round_trips_with_units_and_start_time(tmp_path):
    """a103l (II, V in mV, PLETH in NU) with a start time, through CSV, Parquet, EDF and WFDB."""
    import wfdb

    if not (SHARED / "wfdb" / "a103l.hea").exists():
        pytest.skip(f"shared recordings not found at {SHARED} (see ../shared/data/README.md)")
    rec = biosig.read(SHARED / "wfdb" / "a103l.hea", channels=["II", "PLETH"])
    start = dt.datetime(2015, 6, 1, 8, 30, 12, 375000)
    rec = rec.replace(samples=np.nan_to_num(rec.samples[:, :25000]), start_time=start)
    ref = wfdb.rdheader(str(SHARED / "wfdb" / "a103l"))
    expected_units = tuple(ref.units[ref.sig_name.index(c)] for c in rec.channels)
    assert expected_units == ("mV", "NU")
    for name in ("r.csv", "r.parquet", "r.edf", "r"):
        back = biosig.read(write(rec, tmp_path / name))
        assert back.channels == rec.channels and back.units == expected_units, name
        assert back.start_time == start and back.fs_hz == rec.fs_hz, name
