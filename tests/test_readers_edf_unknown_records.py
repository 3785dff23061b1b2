"""EDF / EDF+C / BDF+ files whose header says -1 data records (a writer that did not finish the
header, as the EDF spec allows while recording): pyedflib refuses them ("not EDF(+) or BDF(+)
compliant (Number of Datarecords)"); biosig reads the whole records the file holds.

Oracle: the same file written by pyedflib with its record count, read by pyedflib."""
import datetime as dt
import logging

import numpy as np
import pyedflib
import pytest

import biosig
from biosig.errors import ReadError

FS = 256
SECONDS = 10

KINDS = {"edf": (pyedflib.FILETYPE_EDF, ".edf", 32767), "edf+c": (pyedflib.FILETYPE_EDFPLUS, ".edf", 32767),
         "bdf+c": (pyedflib.FILETYPE_BDFPLUS, ".bdf", 8388607)}


def _write(folder, kind):
    """A 10 s file of two signals (ECG 256 Hz, Resp 128 Hz), 1 s data records, written by pyedflib."""
    file_type, suffix, dig = KINDS[kind]
    path = folder / f"ok{suffix}"
    rng = np.random.default_rng(3)
    t = np.arange(FS * SECONDS) / FS
    ecg = 0.8 * np.sin(2 * np.pi * 1.3 * t) + 0.05 * rng.standard_normal(t.size)
    resp = 150 * np.sin(2 * np.pi * 0.25 * t[::2])
    w = pyedflib.EdfWriter(str(path), 2, file_type=file_type)
    try:
        w.setSignalHeaders([
            dict(label="ECG", dimension="mV", sample_frequency=FS, physical_min=-1.0, physical_max=1.0,
                 digital_min=-dig - 1, digital_max=dig),
            dict(label="Resp", dimension="uV", sample_frequency=FS // 2, physical_min=-200.0, physical_max=200.0,
                 digital_min=-dig - 1, digital_max=dig)])
        w.setStartdatetime(dt.datetime(2024, 3, 1, 12, 0, 0))
        if file_type != pyedflib.FILETYPE_EDF:
            w.writeAnnotation(2.5, 0.5, "event")
        w.writeSamples([ecg, resp])
    finally:
        w.close()
    return path


def _unknown_count(path, dest, cut_bytes=0, extra=b""):
    """``path`` with its header's record count set to -1, ``cut_bytes`` cut off its end and ``extra``
    appended."""
    raw = bytearray(path.read_bytes())
    assert int(raw[236:244]) == SECONDS
    raw[236:244] = b"-1".ljust(8)
    raw = raw[:len(raw) - cut_bytes] + extra
    dest.write_bytes(bytes(raw))
    return dest


def _pyedflib(path):
    with pyedflib.EdfReader(str(path)) as r:
        return ([r.readSignal(i) for i in range(r.signals_in_file)], r.readAnnotations(), r.getStartdatetime(),
                list(r.getSignalLabels()))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_minus_one_records_reads_as_pyedflib_reads_the_finished_file(tmp_path, kind, caplog):
    ok = _write(tmp_path, kind)
    patched = _unknown_count(ok, tmp_path / f"unknown{ok.suffix}")
    with pytest.raises(OSError, match="Number of Datarecords"):   # why biosig has to read it itself
        pyedflib.EdfReader(str(patched))
    (ecg, resp), (onsets, durations, texts), start, labels = _pyedflib(ok)
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(patched)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]   # whole records: nothing dropped
    assert rec.channels == ("ECG", "Resp") and rec.units == ("mV", "uV") and rec.fs_hz == FS
    assert rec.n_samples == FS * SECONDS
    np.testing.assert_allclose(rec.samples[0], ecg, rtol=0, atol=1e-6)   # float32 of pyedflib's float64
    assert rec.metadata["channel_fs_hz"] == [FS, FS // 2]
    assert rec.metadata["records_from_file_size"] is True
    assert rec.start_time == start
    # the slower channel is brought to 256 Hz exactly as for the finished file (pyedflib's path)
    finished = biosig.read(ok)
    np.testing.assert_allclose(rec.samples, finished.samples, rtol=0, atol=1e-5)
    from biosig.readers.edf_plusd import read_records   # the 128 Hz channel before it is brought to 256 Hz
    np.testing.assert_allclose(read_records(patched)[3][1], resp, rtol=0, atol=1e-9)
    if len(onsets):
        assert rec.annotations is not None
        assert list(rec.annotations.symbol) == list(texts)
        np.testing.assert_array_equal(rec.annotations.sample, np.round(np.asarray(onsets) * FS).astype(int))
    else:
        assert rec.annotations is None


@pytest.mark.parametrize("kind", ["edf", "bdf+c"])
def test_a_trailing_partial_record_is_dropped_with_one_warning(tmp_path, kind, caplog):
    ok = _write(tmp_path, kind)
    (ecg, _), _, _, _ = _pyedflib(ok)
    header_bytes = 256 * (int(ok.read_bytes()[252:256]) + 1)
    record_bytes = (ok.stat().st_size - header_bytes) // SECONDS   # the annotation signal's bytes too
    cut = record_bytes // 2 + 7   # the writer stopped in the middle of the last record
    patched = _unknown_count(ok, tmp_path / f"cut{ok.suffix}", cut_bytes=cut)
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(patched)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1, warned
    assert f"{record_bytes - cut} byte(s)" in warned[0] and f"{SECONDS - 1} whole record(s)" in warned[0]
    assert rec.n_samples == FS * (SECONDS - 1)
    np.testing.assert_allclose(rec.samples[0], ecg[:FS * (SECONDS - 1)], rtol=0, atol=1e-6)


def test_biosig_info_reads_it(tmp_path):
    import contextlib
    import io

    from biosig.cli import main
    patched = _unknown_count(_write(tmp_path, "edf+c"), tmp_path / "unknown.edf", extra=b"\x00" * 10)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["info", str(patched), "--no-quality"])
    assert code == 0, err.getvalue()
    assert "10.00 s" in out.getvalue() and "ECG" in out.getvalue()


def test_other_negative_counts_and_empty_files_are_refused(tmp_path):
    ok = _write(tmp_path, "edf")
    header = int(ok.read_bytes()[252:256]) * 256 + 256
    bad = bytearray(ok.read_bytes())
    bad[236:244] = b"-1".ljust(8)
    empty = tmp_path / "empty.edf"
    empty.write_bytes(bytes(bad[:header + 5]))   # not one whole record
    with pytest.raises(ReadError, match="holds no samples"):
        biosig.read(empty)
