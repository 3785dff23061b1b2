"""An EDF written from a record without a start time says so, as EDF+ does (spec 2.1.3.2: an unknown
subfield of the recording field is ``X``, ``Startdate X``; the header's startdate/starttime hold the
conventional 01.01.85 00.00.00), and reads back without a start time.

Before: pyedflib stamped the time of writing (``Startdate 05-DEC-2026``, 05.12.26 19.17.17): two writes of
one record differed and read back with a made-up start time.

Oracles: pyedflib's reader (the start date and the recording field it parses) and the header bytes."""
import datetime as dt

import numpy as np
import pyedflib
import pytest

import biosig
from biosig.record import Annotations, Record
from biosig.writers import write


def _record(start=None, fs_hz=250.0, n=2500, annotations=None):
    t = np.arange(n) / fs_hz
    x = np.stack([np.sin(2 * np.pi * 1.3 * t), 0.5 * np.cos(2 * np.pi * 0.7 * t)]).astype(np.float32)
    return Record(samples=x, fs_hz=fs_hz, channels=("ECG", "RESP"), units=("mV", ""), start_time=start,
                  annotations=annotations)


def _pyedflib_start_and_header(path):
    r = pyedflib.EdfReader(str(path))
    try:
        return r.getStartdatetime(), r.getHeader()
    finally:
        r.close()


@pytest.mark.parametrize("annotations", [None, Annotations(sample=np.array([100, 900]), symbol=("N", "V"))])
def test_no_start_time_is_written_as_unknown_and_reads_back_as_none(tmp_path, annotations):
    rec = _record(annotations=annotations)
    path = write(rec, tmp_path / "r.edf")
    head = path.read_bytes()[:256]
    assert head[88:168].split()[:2] == [b"Startdate", b"X"]          # EDF+: unknown start date
    assert head[168:184] == b"01.01.8500.00.00"                       # the conventional header date-time
    start, _ = _pyedflib_start_and_header(path)                       # pyedflib still reads the file
    assert start == dt.datetime(1985, 1, 1)
    back = biosig.read(path)
    assert back.start_time is None
    np.testing.assert_allclose(back.samples, rec.samples, atol=2e-4)
    if annotations is not None:
        np.testing.assert_array_equal(back.annotations.sample, annotations.sample)


def test_two_writes_of_one_record_are_byte_identical(tmp_path):
    rec = _record()
    a, b = write(rec, tmp_path / "a.edf"), write(rec, tmp_path / "b.edf")
    assert a.read_bytes() == b.read_bytes()
    now = dt.datetime.now()
    start, _ = _pyedflib_start_and_header(a)
    assert abs((start - now).total_seconds()) > 86400   # not the time of writing


def test_a_known_start_time_is_kept(tmp_path):
    start = dt.datetime(2021, 3, 2, 23, 15, 4)
    path = write(_record(start=start), tmp_path / "r.edf")
    assert path.read_bytes()[88:109] == b"Startdate 02-MAR-2021"
    assert _pyedflib_start_and_header(path)[0] == start
    assert biosig.read(path).start_time == start


def test_a_discontinuous_file_with_unknown_start_reads_back_as_none(tmp_path):
    """The EDF+D reader (NumPy, not pyedflib) reads ``Startdate X`` as no start time too."""
    path = write(_record(n=2500), tmp_path / "r.edf")
    raw = bytearray(path.read_bytes())
    raw[192:197] = b"EDF+D"   # back-to-back records: an EDF+D file without holes
    path.write_bytes(bytes(raw))
    back = biosig.read(path)
    assert back.metadata.get("discontinuous") is True
    assert back.start_time is None
