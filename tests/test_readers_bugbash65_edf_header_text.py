"""EDF / BDF files whose header is not the strict ASCII of the spec, as hospital acquisition software
writes them: a unit ``µV`` or ``°C`` (Latin-1 or UTF-8 bytes), a patient name or a label with an
accent, a start date ``01/03/24``. pyedflib refuses each ("not EDF(+) or BDF(+) compliant (Physical
Dimension)", "... the startdate is incorrect") and biosig read nothing; now biosig's own decoder
(:mod:`biosig.readers.edf_plusd`) reads them.

Oracle: the same file before its header was edited, written and read by pyedflib."""
import datetime as dt

import numpy as np
import pyedflib
import pytest

import biosig
from biosig.readers.edf_plusd import not_strict_header

FS = 200
SECONDS = 4


def _write(path, file_type):
    """A 4 s file, ECG in uV at 200 Hz and Temp in degC at 50 Hz, written by pyedflib."""
    dig = 8388607 if file_type == pyedflib.FILETYPE_BDFPLUS else 32767
    t = np.arange(FS * SECONDS) / FS
    ecg = 800 * np.sin(2 * np.pi * 1.2 * t)
    temp = 36.6 + 0.2 * np.sin(2 * np.pi * 0.1 * t[::4])
    w = pyedflib.EdfWriter(str(path), 2, file_type=file_type)
    try:
        w.setSignalHeaders([
            dict(label="ECG", dimension="uV", sample_frequency=FS, physical_min=-1000.0, physical_max=1000.0,
                 digital_min=-dig - 1, digital_max=dig),
            dict(label="Temp", dimension="degC", sample_frequency=FS // 4, physical_min=30.0, physical_max=42.0,
                 digital_min=-dig - 1, digital_max=dig)])
        w.setPatientName("Mueller")
        w.setStartdatetime(dt.datetime(2024, 3, 1, 12, 30, 5))
        w.writeAnnotation(1.5, 0.0, "beat")
        w.writeSamples([ecg, temp])
    finally:
        w.close()
    return path


def _put(raw: bytearray, at: int, width: int, text: bytes) -> None:
    assert len(text) <= width
    raw[at:at + width] = text.ljust(width)


def _hospital_header(ok, dest, *, units, patient, date):
    """``ok`` with the two signals' units, the patient name and the start date replaced."""
    raw = bytearray(ok.read_bytes())
    ns = int(raw[252:256])
    unit_at = 256 + (16 + 80) * ns
    _put(raw, unit_at, 8, units[0])
    _put(raw, unit_at + 8, 8, units[1])
    assert b"Mueller" in raw[8:88]
    raw[8:88] = bytes(raw[8:88]).replace(b"Mueller", patient).ljust(80)
    _put(raw, 168, 8, date)
    dest.write_bytes(bytes(raw))
    return dest


@pytest.mark.parametrize("file_type, suffix, units, patient, date", [
    (pyedflib.FILETYPE_EDFPLUS, ".edf", ("\xb5V".encode("latin-1"), "\xb0C".encode("latin-1")),
     "M\xfcller".encode("latin-1"), b"01.03.24"),
    (pyedflib.FILETYPE_EDFPLUS, ".edf", ("\xb5V".encode(), "\xb0C".encode()), "M\xfcller".encode(), b"01/03/24"),
    (pyedflib.FILETYPE_BDFPLUS, ".bdf", ("\xb5V".encode("latin-1"), b"degC"), b"Mueller", b"01.03.24"),
], ids=["edf-latin1", "edf-utf8-slash-date", "bdf-latin1"])
def test_header_outside_ascii_reads_as_pyedflib_reads_the_strict_file(tmp_path, file_type, suffix, units,
                                                                      patient, date):
    ok = _write(tmp_path / f"ok{suffix}", file_type)
    assert not_strict_header(ok) == ""   # what pyedflib reads still goes to pyedflib
    bad = _hospital_header(ok, tmp_path / f"ward{suffix}", units=units, patient=patient, date=date)
    with pytest.raises(OSError, match="compliant"):   # why biosig has to read it itself
        pyedflib.EdfReader(str(bad))
    with pyedflib.EdfReader(str(ok)) as r:
        want = [r.readSignal(i) for i in range(2)]
        onsets, _, texts = r.readAnnotations()
        start = r.getStartdatetime()
    rec = biosig.read(bad)
    assert rec.channels == ("ECG", "Temp") and rec.fs_hz == FS
    assert rec.units == ("\xb5V", "\xb0C" if units[1] != b"degC" else "degC")
    assert rec.metadata["channel_fs_hz"] == [FS, FS / 4]
    assert rec.n_samples == FS * SECONDS
    np.testing.assert_allclose(rec.samples[0], want[0], rtol=0, atol=1e-4)   # float32 of pyedflib's float64
    np.testing.assert_allclose(rec.samples[1, ::4], want[1], rtol=0, atol=1e-5)   # the 50 Hz samples kept
    assert rec.start_time == start == dt.datetime(2024, 3, 1, 12, 30, 5)
    assert list(rec.annotations.symbol) == list(texts) == ["beat"]
    np.testing.assert_array_equal(rec.annotations.sample, np.round(np.asarray(onsets) * FS).astype(int))


def test_not_strict_header_names_the_field(tmp_path):
    ok = _write(tmp_path / "ok.edf", pyedflib.FILETYPE_EDFPLUS)
    bad = _hospital_header(ok, tmp_path / "ward.edf", units=(b"uV", "\xb0C".encode("latin-1")),
                           patient=b"Mueller", date=b"01.03.24")
    assert not_strict_header(bad) == "the header's signal 2's unit '\xb0C' is not printable ASCII"
    slash = _hospital_header(ok, tmp_path / "slash.edf", units=(b"uV", b"degC"), patient=b"Mueller",
                             date=b"01/03/24")
    assert not_strict_header(slash) == "the header's start date '01/03/24' is not written with '.'"


def test_nul_padded_fields_read_as_blanks(tmp_path):
    """A writer that pads with NUL bytes, not blanks: pyedflib refuses it ("format errors"); the
    padding is no part of a label or unit."""
    ok = _write(tmp_path / "ok.edf", pyedflib.FILETYPE_EDFPLUS)
    raw = bytearray(ok.read_bytes())
    ns = int(raw[252:256])
    raw[256:256 + 16] = b"ECG".ljust(16, b"\x00")   # signal 1's label
    reserved_at = 256 + (16 + 80 + 8 * 6 + 80) * ns
    raw[reserved_at:reserved_at + 32 * ns] = b"\x00" * (32 * ns)
    bad = tmp_path / "nul.edf"
    bad.write_bytes(bytes(raw))
    with pytest.raises(OSError, match="compliant"):
        pyedflib.EdfReader(str(bad))
    with pyedflib.EdfReader(str(ok)) as r:
        want = r.readSignal(0)
    rec = biosig.read(bad)
    assert rec.channels == ("ECG", "Temp") and rec.units == ("uV", "degC")
    np.testing.assert_allclose(rec.samples[0], want, rtol=0, atol=1e-4)
