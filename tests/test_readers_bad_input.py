"""Bad input: every broken file raises ReadError naming the path and the problem, never a
traceback from wfdb/numpy/polars and never a silently wrong signal."""
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from biosig.errors import BiosigError, ReadError
from biosig.readers import read
from conftest import shared_path


@pytest.fixture
def rec100(tmp_path):
    """A writable copy of MIT-BIH 100 (header, signal, annotations) in tmp_path."""
    src = shared_path("wfdb", "100.hea").parent
    for ext in ("hea", "dat", "atr"):
        shutil.copyfile(src / f"100.{ext}", tmp_path / f"100.{ext}")
    return tmp_path / "100"


def _problem(path, **kw) -> str:
    with pytest.raises(ReadError) as info:
        read(path, **kw)
    assert str(path) in info.value.path or str(path.parent) in info.value.path  # names the file
    assert str(info.value) == f"{info.value.path}: {info.value.problem}" and "\n" not in str(info.value)
    foreign = [m for m in re.findall(r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b", str(info.value)) if m != "ReadError"]
    assert not foreign, f"a library's exception class leaks into the message: {info.value}"
    return info.value.problem


def test_missing_file(tmp_path):
    assert "no such file" in _problem(tmp_path / "nothing.csv")
    assert "no such file" in _problem(tmp_path / "nothing")


def test_folder_is_not_a_record(tmp_path):
    assert "folder" in _problem(tmp_path / ".")


def test_unknown_format_and_non_signal_file(tmp_path):
    png = tmp_path / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    problem = _problem(png)
    assert "unknown format" in problem and "WFDB" in problem and "audio" in problem
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\nnothing else\n")
    assert "is neither a marker CSV" in _problem(text)


def test_truncated_dat(rec100):
    dat = rec100.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:1_000_000])
    problem = _problem(rec100)
    assert "truncated" in problem and "100.dat" in problem and "650000" in problem


def test_header_lies_about_length(rec100):
    hea = rec100.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 360 700000"))
    problem = _problem(rec100)
    assert "700000" in problem and ("lies" in problem or "truncated" in problem)


def test_header_with_shorter_length_reads_only_that(rec100):
    hea = rec100.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 360 3600"))
    rec = read(rec100)
    assert rec.n_samples == 3600  # a shorter header is legitimate (a prefix of the file)


def test_sampling_rate_zero(rec100):
    hea = rec100.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100 2 360 650000", "100 2 0 650000"))
    assert "sampling rate" in _problem(rec100)


def test_header_points_at_missing_signal_file(rec100):
    hea = rec100.with_suffix(".hea")
    hea.write_text(hea.read_text().replace("100.dat", "gone.dat"))
    problem = _problem(rec100)
    assert "gone.dat" in problem and "does not exist" in problem


def test_malformed_header(tmp_path):
    (tmp_path / "x.hea").write_text("x two 360 1000\nrubbish\n")
    assert "header" in _problem(tmp_path / "x")


def test_mat_without_header(tmp_path):
    (tmp_path / "lonely.mat").write_bytes(bytes(100))
    assert "without a WFDB header" in _problem(tmp_path / "lonely.mat")


def test_nan_runs_kept_as_gaps_never_interpolated(rec100):
    # Write the invalid-sample code (-2048 in format 212) over a run of MLII samples.
    dat = rec100.with_suffix(".dat")
    raw = bytearray(dat.read_bytes())
    first, n = 3600, 360  # frames 3600..3959 (one second)
    for frame in range(first, first + n):
        i = frame * 3  # one frame = 2 samples = 3 bytes; MLII is the low 12 bits
        raw[i] = 0x00
        raw[i + 1] = (raw[i + 1] & 0xF0) | 0x08
    dat.write_bytes(bytes(raw))
    rec = read(rec100)
    gap = np.isnan(rec.samples[0])
    assert gap.sum() == n and gap[first:first + n].all()
    assert not np.isnan(rec.samples[1]).any()
    assert rec.gaps() == [(first / 360, (first + n) / 360)]
    assert not rec.mask[0, first:first + n].any()
    # Resampling on request keeps the gap a gap.
    half = read(rec100, fs_hz=180)
    assert np.isnan(half.samples[0, first // 2 + 5:(first + n) // 2 - 5]).all()


def test_empty_csv_and_header_only_csv(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty" in _problem(empty)
    header_only = tmp_path / "header_only.csv"
    header_only.write_text("t_s,ecg\n")
    assert "no data rows" in _problem(header_only)


def test_non_numeric_csv(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,ecg\n0.0,1.0\n0.1,abc\n0.2,3.0\n")
    problem = _problem(bad)
    assert "column 'ecg' is not numeric: line 3 holds 'abc'" in problem   # where to look in the file
    bad.write_text("t_s,ecg\n0.0,x\n0.1,abc\n0.2, 3.0 \n")
    assert "line 2 holds 'x' (1 more value(s) like it)" in _problem(bad)   # ' 3.0 ' is a number
    import polars as pl
    pl.DataFrame({"t_s": [0.0, 0.1], "ecg": ["1.5", "n/a"]}).write_parquet(tmp_path / "bad.parquet")
    assert "column 'ecg' is not numeric: row 2 holds 'n/a'" in _problem(tmp_path / "bad.parquet")


def test_a_column_of_only_nan_is_a_channel_with_no_valid_sample_not_text(tmp_path):
    """polars infers a column holding only NaN / inf as text; those are numbers (a lead that never
    had a valid sample), read as float, while a real word next to them is still refused."""
    from biosig.readers import read
    f = tmp_path / "lead_off.csv"
    f.write_text("t_s,ecg_I,ecg_II\n0.0,1.0,NaN\n0.01,2.0, nan\n0.02,3.0,inf\n")
    rec = read(f)
    assert rec.channels == ("ecg_I", "ecg_II")
    assert np.isnan(rec.samples[1]).all()   # inf too: no measurement, a gap (biosig.readers.read)
    f.write_text("t_s,ecg_I,ecg_II\n0.0,1.0,NaN\n0.01,2.0,off\n0.02,3.0,NaN\n")
    assert "column 'ecg_II' is not numeric: line 3 holds 'off'" in _problem(f)


def test_csv_without_time_column(tmp_path):
    bad = tmp_path / "no_time.csv"
    bad.write_text("a,b\n1,2\n3,4\n")
    assert "time column" in _problem(bad) and "t_s" in _problem(bad)


def test_csv_time_column_without_a_unit_or_twice(tmp_path):
    """A bare 'time' could be seconds or milliseconds (a 1000-fold error in the rate): refused
    with the names that are read; two time columns are refused rather than one read as a channel."""
    bare = tmp_path / "bare.csv"
    bare.write_text("time,ppg\n0,1\n10,2\n20,3\n")
    problem = _problem(bare)
    assert "time_ms" in problem and "time_s" in problem
    two = tmp_path / "two.parquet"
    import polars as pl
    pl.DataFrame({"t_s": [0.0, 0.01, 0.02], "time_ms": [0.0, 10.0, 20.0], "ppg": [1.0, 2.0, 3.0]}).write_parquet(two)
    assert "2 time columns (t_s, time_ms)" in _problem(two)
    text = tmp_path / "text_time.csv"
    text.write_text("time_s,ppg\n0:00,1\n0:01,2\n")
    assert "'time_s' is not numeric" in _problem(text)
    holes = tmp_path / "holes.csv"
    holes.write_text("time_ms,ppg\n0,1\n,2\n20,3\n")
    assert "column 'time_ms' has 1 empty value(s)" in _problem(holes)   # the user's name, not t_s


def test_csv_time_not_increasing(tmp_path):
    bad = tmp_path / "backwards.csv"
    bad.write_text("t_s,ecg\n0.0,1\n0.2,2\n0.1,3\n")
    assert "increasing" in _problem(bad)


def test_csv_nan_runs_kept(tmp_path):
    path = tmp_path / "gappy.csv"
    rows = ["t_s,ecg"] + [f"{i / 100:.2f},{'' if 10 <= i < 20 else i}" for i in range(50)]
    path.write_text("\n".join(rows) + "\n")
    rec = read(path)
    assert np.isnan(rec.samples[0, 10:20]).all() and not np.isnan(rec.samples[0, :10]).any()
    assert rec.gaps() == [(0.1, 0.2)]


def test_empty_wav(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 1), np.float32), 16000)
    assert "no samples" in _problem(path)


def test_corrupt_audio(tmp_path):
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF" + bytes(60))
    assert "not a readable audio file" in _problem(path)


def test_corrupt_edf(tmp_path):
    path = tmp_path / "broken.edf"
    path.write_bytes(b"0       " + b"x" * 300)
    assert "EDF" in _problem(path)


def test_bad_arguments_are_user_errors(rec100):
    with pytest.raises(BiosigError, match="unknown modality 'heart'"):
        read(rec100, modality="heart")
    with pytest.raises(ReadError, match="no channel 'V1'"):
        read(rec100, channels=["V1"])
    with pytest.raises(ReadError, match="positive"):
        read(rec100, fs_hz=0)


def test_irregular_record_refuses_resampling():
    path = shared_path("resp_motion", "201205101519-LAC-1-T-222-6.csv")
    with pytest.raises(ReadError, match="irregularly sampled"):
        read(path, fs_hz=20)


def test_corrupt_dat_bytes_flagged_by_header_checksum(rec100, caplog):
    dat = rec100.with_suffix(".dat")
    raw = bytearray(dat.read_bytes())
    raw[300_000] ^= 0x5A  # one flipped byte inside the signal: values change, length does not
    dat.write_bytes(bytes(raw))
    with caplog.at_level("WARNING"):
        rec = read(rec100)
    assert rec.metadata["checksum_mismatch"]  # names the damaged channel(s)
    assert set(rec.metadata["checksum_mismatch"]) <= {"MLII", "V5"}
    assert "checksum mismatch" in caplog.text and "100" in caplog.text


def test_csv_short_row_refused(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text("t_s,a,b\n0,1,2\n0.1,3,4\n0.2,5")  # truncated in the last row
    problem = _problem(path)
    assert "line 4 has 2 field(s), the header has 3" in problem


def test_truncated_wav_refused(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, np.zeros((8000, 2), np.float32), 8000, subtype="FLOAT")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    problem = _problem(path)
    assert "truncated WAV" in problem and "64000 bytes" in problem


def test_multi_segment_with_missing_segment(tmp_path):
    src = shared_path("wfdb", "multi-segment", "041s")
    for f in src.iterdir():
        if f.name != "041s02.hea":
            shutil.copyfile(f, tmp_path / f.name)
    problem = _problem(tmp_path / "041s.hea")
    assert "segment header 041s02.hea does not exist" in problem
    shutil.copyfile(src / "041s02.hea", tmp_path / "041s02.hea")
    (tmp_path / "041s02.dat").write_bytes((src / "041s02.dat").read_bytes()[:5000])
    assert "041s02.dat is truncated" in _problem(tmp_path / "041s.hea")
