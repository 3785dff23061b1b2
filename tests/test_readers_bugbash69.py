"""Bug bash 69: damaged and unusual WFDB, EDF/BDF and audio files.

A file that cannot be read is one ReadError naming the file and what is wrong with it; a file read
partly is read with a warning that says what was left out. Numbers read are checked against wfdb,
pyedflib and soundfile reading the same bytes (or the intact file).
"""
import logging
import re
import shutil

import numpy as np
import pyedflib
import pytest
import soundfile as sf
import wfdb

import biosig
from biosig.errors import ReadError
from conftest import shared_path

SIGNALS_212 = "r.dat 212 200 11 1024 995 0 0 MLII\nr.dat 212 200 11 1024 1011 0 0 V5\n"


def _record(tmp_path, header: str, dat: bytes):
    (tmp_path / "r.hea").write_text(header)
    (tmp_path / "r.dat").write_bytes(dat)
    return tmp_path / "r.hea"


@pytest.fixture
def dat212():
    """200 frames of MIT-BIH 100 (../shared/data: the test skips, saying so, where it is absent)."""
    with open(shared_path("wfdb", "100.dat"), "rb") as fh:
        return fh.read(600)   # 200 frames of MIT-BIH 100's two signals in format 212


# --- WFDB -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gain", ["nan", "inf", "-inf", "abc"])
def test_a_gain_that_is_no_number_is_refused_naming_the_signal(tmp_path, dat212, gain):
    # wfdb read "nan" as the default gain 200 and "nan" as the unit: a wrong signal without a word
    hea = _record(tmp_path, "r 2 360 200\n" + SIGNALS_212.replace("212 200 11 1024 995", f"212 {gain} 11 1024 995"),
                  dat212)
    with pytest.raises(ReadError, match=rf"signal MLII: ADC gain '{gain}' is not a finite number"):
        biosig.read(hea)


def test_an_unknown_storage_format_names_the_signal_and_the_formats_wfdb_reads(tmp_path):
    hea = _record(tmp_path, "r 1 100 50\nr.dat 99 100 16 0 0 0 0 ECG lead\n", bytes(100))
    with pytest.raises(ReadError, match=r"signal ECG lead: storage format '99' is not one wfdb reads \(8, 16, "):
        biosig.read(hea)   # was "wfdb cannot decode the record ('99')"


def test_more_signal_lines_than_the_count_is_refused(tmp_path, dat212):
    hea = _record(tmp_path, "r 2 360 200\n" + SIGNALS_212 + "r.dat 212 200 11 1024 0 0 0 V1\n", dat212)
    with pytest.raises(ReadError, match=r"declares 2 signal\(s\) but has 3 signal lines"):
        biosig.read(hea)   # read as 2 interleaved signals without a word; wfdb: a TypeError


def test_a_layout_header_of_format_0_still_reads(tmp_path):
    """Format 0 is refused in a signal line, not in a multi-segment layout header (``~ 0 ...``)."""
    seg = np.arange(-40, 40, dtype=np.int16).reshape(40, 2)
    wfdb.wrsamp("seg1", fs=100, units=["mV", "mV"], sig_name=["A", "B"], d_signal=seg, fmt=["16", "16"],
                adc_gain=[100.0, 100.0], baseline=[0, 0], write_dir=str(tmp_path))
    (tmp_path / "ms_layout.hea").write_text("ms_layout 2 100 0\n~ 0 100/mV 16 0 0 0 0 A\n~ 0 100/mV 16 0 0 0 0 B\n")
    (tmp_path / "ms.hea").write_text("ms/2 2 100 40\nms_layout 0\nseg1 40\n")
    rec = biosig.read(tmp_path / "ms.hea")
    np.testing.assert_allclose(rec.samples, wfdb.rdrecord(str(tmp_path / "ms")).p_signal.T, atol=1e-6)


@pytest.mark.parametrize("fmt, nsig, nbytes, left, frames", [
    ("212", 2, 301, 1, 100), ("16", 1, 81, 1, 40), ("311", 2, 81, 1, 30), ("16", 1, 80, 0, 40)])
def test_a_file_ending_inside_a_frame_without_a_length_warns(tmp_path, caplog, fmt, nsig, nbytes, left, frames):
    """No signal length in the header: the whole frames are read (as wfdb reads them), the bytes of a
    partial last frame are said in a warning."""
    raw = np.random.default_rng(3).integers(0, 256, nbytes, dtype=np.uint8).tobytes()
    lines = "".join(f"r.dat {fmt} 100(2)/mV 12 0 0 0 0 s{i}\n" for i in range(nsig))
    hea = _record(tmp_path, f"r {nsig} 100\n" + lines, raw)
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(hea)
    ref = wfdb.rdrecord(str(tmp_path / "r")).p_signal.T
    assert rec.n_samples == frames == ref.shape[1]
    np.testing.assert_allclose(rec.samples, ref, atol=1e-5)
    said = [r.getMessage() for r in caplog.records if "into a frame" in r.getMessage()]
    assert said == ([f"{hea}: signal file r.dat ends {left} byte(s) into a frame after {frames} whole frame(s): "
                     "those bytes are not read (a file cut short? the header gives no length to check it "
                     "against)"] if left else [])


@pytest.mark.parametrize("fmt, nsig, nbytes", [("310", 1, 80), ("311", 3, 120), ("61", 2, 200), ("160", 2, 200),
                                                ("8", 2, 100), ("24", 2, 120)])
def test_less_common_formats_read_as_wfdb_reads_the_same_bytes(tmp_path, fmt, nsig, nbytes):
    raw = np.random.default_rng(4).integers(0, 256, nbytes, dtype=np.uint8).tobytes()
    lines = "".join(f"r.dat {fmt} 100(2)/mV 12 0 0 0 0 s{i}\n" for i in range(nsig))
    rec = biosig.read(_record(tmp_path, f"r {nsig} 100\n" + lines, raw))
    ref = wfdb.rdrecord(str(tmp_path / "r")).p_signal.T
    np.testing.assert_allclose(rec.samples, ref, rtol=1e-6, atol=1e-5)


def test_wfdb_signals_sharing_a_name_warn(tmp_path, dat212, caplog):
    hea = _record(tmp_path, "r 2 360 200\n" + SIGNALS_212.replace("V5", "MLII"), dat212)
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(hea)
    assert rec.channels == ("MLII", "MLII")
    assert any("labels shared by several signals ('MLII' by signals 1, 2)" in r.getMessage() for r in caplog.records)


def test_a_record_name_with_a_space_says_so(tmp_path):
    hea = _record(tmp_path, "my rec 1 100 4\nr.dat 16 100 16 0 0 0 0 A\n", bytes(8))
    with pytest.raises(ReadError, match=r"number of signals 'rec' .*\(a record name cannot hold spaces\)"):
        biosig.read(hea)


# --- EDF / BDF --------------------------------------------------------------------------------------

# signal header fields: (offset per signal block, width)
_FIELD = dict(label=(0, 16), dmin=(120, 8), dmax=(128, 8), spr=(216, 8))


def _edf(path, labels, n=20, plus=False):
    kind = pyedflib.FILETYPE_EDFPLUS if plus else pyedflib.FILETYPE_EDF
    with pyedflib.EdfWriter(str(path), len(labels), file_type=kind) as w:
        w.setSignalHeaders([dict(label=lab, dimension="uV", sample_frequency=10, physical_max=100, physical_min=-100,
                                 digital_max=32767, digital_min=-32768) for lab in labels])
        w.writeSamples([np.linspace(-50, 50, n) * (i + 1) for i in range(len(labels))])
    return path


def _put(path, offset: int, text: str):
    raw = bytearray(path.read_bytes())
    raw[offset:offset + len(text)] = text.encode("ascii")
    path.write_bytes(bytes(raw))


def _signal_field(path, ns: int, name: str, i: int, text: str):
    off, width = _FIELD[name]
    _put(path, 256 + ns * off + i * width, text.ljust(width))


@pytest.mark.parametrize("duration", ["0", "-1"])
def test_a_data_record_duration_not_above_0_is_one_line(tmp_path, duration):
    path = _edf(tmp_path / "d.edf", ["A"])
    _put(path, 244, duration.ljust(8))   # "0": pyedflib's getSampleFrequencies raised ZeroDivisionError
    with pytest.raises(ReadError, match=rf"data record duration '{duration}' s: a file with signals needs"):
        biosig.read(path)


def test_a_signal_with_0_samples_per_record_is_named(tmp_path):
    path = _edf(tmp_path / "s.edf", ["A", "B"])
    _signal_field(path, 2, "spr", 1, "0")
    with pytest.raises(ReadError, match=r"signal 'B': 0 samples per data record"):
        biosig.read(path)


@pytest.mark.parametrize("field, value, said", [
    (184, "512", "it says it is 512 bytes long, its 2 signal(s) need 768"),
    (252, "1", "it says it is 768 bytes long, its 1 signal(s) need 512")])
def test_a_header_size_that_disagrees_with_the_signal_count_says_both(tmp_path, field, value, said):
    path = _edf(tmp_path / "h.edf", ["A", "B"])
    _put(path, field, value.ljust(8 if field == 184 else 4))
    with pytest.raises(ReadError, match=re.escape(f"malformed EDF header: {said} (the header size")):
        biosig.read(path)


def test_0_data_records_is_said_as_such(tmp_path):
    path = _edf(tmp_path / "z.edf", ["A"])
    _put(path, 236, "0".ljust(8))
    with pytest.raises(ReadError, match="holds no samples: the header says 0 data records"):
        biosig.read(path)


@pytest.mark.parametrize("bdf", [False, True])
def test_records_after_the_declared_count_are_said(tmp_path, caplog, bdf):
    path = tmp_path / ("l.bdf" if bdf else "l.edf")
    if bdf:
        with pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_BDF) as w:
            w.setSignalHeaders([dict(label="A", dimension="uV", sample_frequency=10, physical_max=100,
                                     physical_min=-100, digital_max=8388607, digital_min=-8388608)])
            w.writeSamples([np.linspace(-50, 50, 30)])
    else:
        _edf(path, ["A"], n=30)
    _put(path, 236, "1".ljust(8))   # 3 records written, 1 declared
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(path)
    with pyedflib.EdfReader(str(path)) as ref:
        np.testing.assert_allclose(rec.samples[0], ref.readSignal(0), atol=1e-3)
    width = 3 if bdf else 2
    assert rec.n_samples == 10 and any(
        f"{2 * 10 * width} byte(s) after the 1 data record(s) the header declares (2 more whole data record(s)"
        in r.getMessage() for r in caplog.records)


def test_swapped_digital_limits_read_as_pyedflib_with_a_warning(tmp_path, caplog):
    path = _edf(tmp_path / "w.edf", ["A", "B"])
    _signal_field(path, 2, "dmin", 0, "32767")
    _signal_field(path, 2, "dmax", 0, "-32768")
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(path)
    with pyedflib.EdfReader(str(path)) as ref:
        np.testing.assert_allclose(rec.samples, [ref.readSignal(0), ref.readSignal(1)], atol=1e-3)
    assert any("signal 'A': digital minimum 32767 is above its maximum -32768" in r.getMessage()
               for r in caplog.records)


def test_labels_shared_after_trailing_spaces_warn_and_read_as_pyedflib(tmp_path, caplog):
    path = _edf(tmp_path / "dup.edf", ["ECG", "ECG   ", "Resp"])
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(path)
    with pyedflib.EdfReader(str(path)) as ref:
        assert rec.channels == tuple(s.strip() for s in ref.getSignalLabels()) == ("ECG", "ECG", "Resp")
        np.testing.assert_allclose(rec.samples, [ref.readSignal(i) for i in range(3)], atol=1e-3)
    assert any("'ECG' by signals 1, 2" in r.getMessage() for r in caplog.records)


def test_an_annotation_only_edf_plus_says_so(tmp_path):
    path = tmp_path / "a.edf"
    with pyedflib.EdfWriter(str(path), 0, file_type=pyedflib.FILETYPE_EDFPLUS) as w:
        w.writeAnnotation(0.5, -1, "lights off")
    with pytest.raises(ReadError, match=r"declares no signals \(annotations only"):
        biosig.read(path)


# --- audio ------------------------------------------------------------------------------------------

def test_a_flac_cut_short_reads_its_first_frames_with_a_warning(tmp_path, caplog):
    x = (0.4 * np.sin(np.arange(40000) / 7.0) + 0.05 * np.random.default_rng(5).standard_normal(40000))
    whole = tmp_path / "whole.flac"
    sf.write(whole, x, 8000)
    cut = tmp_path / "cut.flac"
    raw = whole.read_bytes()
    cut.write_bytes(raw[:len(raw) * 6 // 10])
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(cut)   # was "not a readable audio file (Internal psf_fseek() failed.)"
    ref, _ = sf.read(whole, dtype="float32")
    n = rec.n_samples
    assert 0 < n < 40000
    np.testing.assert_array_equal(rec.samples[0], ref[:n])
    assert any(f"read the first {n} of the 40000 frames its header declares" in r.getMessage()
               for r in caplog.records)


def test_a_flac_cut_inside_its_first_frame_says_none_decodes(tmp_path):
    path = tmp_path / "c.flac"
    sf.write(path, 0.3 * np.sin(np.arange(8000) / 7.0), 8000)
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(ReadError, match=r"header declares 8000 frames at 8000 Hz, none decodes .*cut short"):
        biosig.read(path)


def test_text_renamed_flac_is_still_one_line(tmp_path):
    path = tmp_path / "n.flac"
    path.write_text("not audio at all\n" * 10)
    with pytest.raises(ReadError, match="not a readable audio file"):
        biosig.read(path)


def test_nan_and_inf_in_a_float_wav_are_gaps_each_said_once(tmp_path, caplog):
    x = np.sin(np.arange(800) / 10.0).astype(np.float32)
    x[5], x[9] = np.nan, np.inf
    path = tmp_path / "f.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING):
        rec = biosig.read(path)
    ref, _ = sf.read(path, dtype="float32")
    assert np.isnan(rec.samples[0, [5, 9]]).all()
    keep = np.isfinite(ref)
    np.testing.assert_array_equal(rec.samples[0, keep], ref[keep])
    said = [r.getMessage() for r in caplog.records]
    assert any("1 of its 800 samples are NaN (not a number" in m for m in said)
    assert any("1 infinite sample(s) read as missing" in m for m in said)   # biosig.read's own, as before
    assert not any("peaks of its sound" in m for m in said)   # was "12.5 % ... held at the peaks of its sound, nan"


def test_a_float_wav_of_nan_only_is_refused(tmp_path):
    path = tmp_path / "n.wav"
    sf.write(path, np.full(100, np.nan, dtype=np.float32), 8000, subtype="FLOAT")
    with pytest.raises(ReadError, match="holds no finite sample"):
        biosig.read(path)


def test_unsigned_8_bit_wav_is_centred_on_128(tmp_path):
    import wave

    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(1), w.setframerate(8000)
        w.writeframes(bytes([128, 129, 255, 0] * 50))
    rec = biosig.read(path)
    np.testing.assert_array_equal(rec.samples[0], sf.read(path, dtype="float32")[0])
    assert rec.samples[0, 0] == 0.0


def test_biosig_info_prints_one_line_for_a_damaged_edf(tmp_path):
    import subprocess
    import sys

    path = _edf(tmp_path / "d.edf", ["A"])
    _put(path, 244, "0".ljust(8))
    out = subprocess.run([shutil.which("biosig") or sys.executable.replace("python", "biosig"), "info", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "data record duration '0' s" in out.stderr + out.stdout
