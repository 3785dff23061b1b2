"""Every real recording in ../shared/data read through biosig.read, checked against the files'
own headers and annotations and against independent decoders (raw bytes, scipy.io.loadmat,
csv module, wfdb.rdrecord directly)."""
import csv
import json
import pathlib

import numpy as np
import pytest
import wfdb

from biosig.readers import discover, read, read_marker_session, group_sessions
from conftest import shared_path

BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")


def decode_212(raw: bytes, n_sig: int) -> np.ndarray:
    """Independent decoder of WFDB format 212 (two 12-bit samples in three bytes) -> (T, n_sig)."""
    b = np.frombuffer(raw, dtype=np.uint8).astype(np.int32)
    b = b[: len(b) // 3 * 3].reshape(-1, 3)
    s0 = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
    s1 = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
    out = np.empty(2 * len(b), dtype=np.int32)
    out[0::2], out[1::2] = s0, s1
    out = np.where(out >= 2048, out - 4096, out)
    return out[: len(out) // n_sig * n_sig].reshape(-1, n_sig)


def header_lines(path):
    return [ln.split() for ln in pathlib.Path(path).read_text().splitlines() if ln.strip() and not ln.startswith("#")]


# ---------------------------------------------------------------- MIT-BIH 100
def test_record_100_matches_header_raw_bytes_and_annotations():
    base = shared_path("wfdb", "100.hea").with_suffix("")
    rec = read(base)
    assert rec.channels == ("MLII", "V5")
    assert rec.fs_hz == 360.0 and rec.n_samples == 650000
    assert rec.units == ("mV", "mV") and rec.modality == "ecg"
    assert rec.metadata["format"] == "wfdb" and "69 M 1085 1629 x1" in rec.metadata["comments"]
    # Independent decode of the 212 bytes: gain 200 adu/mV, baseline = ADC zero 1024.
    d = decode_212((base.parent / "100.dat").read_bytes(), 2)
    assert d.shape == (650000, 2)
    lines = header_lines(base.with_suffix(".hea"))
    for ch in range(2):
        init, checksum = int(lines[1 + ch][5]), int(lines[1 + ch][6])
        assert d[0, ch] == init
        assert ((int(d[:, ch].sum()) + 32768) % 65536) - 32768 == checksum
    np.testing.assert_allclose(rec.samples, ((d - 1024) / 200.0).T, atol=1e-6)
    ann = rec.annotations
    assert ann.source == "atr"
    assert sum(s in BEAT_SYMBOLS for s in ann.symbol) == 2273
    counts = {s: ann.symbol.count(s) for s in "NAV"}
    assert counts == {"N": 2239, "A": 33, "V": 1}
    assert ann.sample.max() < rec.n_samples and np.all(np.diff(ann.sample) >= 0)
    assert ann.aux[0] == "(N"  # rhythm annotation text, NUL stripped


@pytest.mark.parametrize("given", ["100", "100.hea", "100.dat", "100.atr"])
def test_record_100_by_any_name(given):
    path = shared_path("wfdb", "100.hea").with_name(given)
    rec = read(path, channels=["V5"])
    assert rec.channels == ("V5",) and rec.n_samples == 650000


# ---------------------------------------------------------------- PTB s0010_re
def test_ptb_15_leads_two_files_and_comments():
    base = shared_path("wfdb", "s0010_re.hea").with_suffix("")
    rec = read(base)
    assert rec.n_channels == 15 and rec.fs_hz == 1000.0 and rec.n_samples == 38400
    assert rec.channels[:3] == ("i", "ii", "iii") and rec.channels[-3:] == ("vx", "vy", "vz")
    f = rec.metadata["comment_fields"]
    assert f["age"] == "81" and f["sex"] == "female"
    assert f["Reason for admission"] == "Myocardial infarction"
    raw_dat = np.fromfile(base.with_suffix(".dat"), dtype="<i2").reshape(-1, 12)
    raw_xyz = np.fromfile(base.with_suffix(".xyz"), dtype="<i2").reshape(-1, 3)
    expect = np.concatenate([raw_dat, raw_xyz], axis=1).T / 2000.0
    np.testing.assert_allclose(rec.samples, expect, atol=1e-6)
    assert rec.modality == "ecg"


# ---------------------------------------------------------------- CinC 2015 a103l (.mat)
def test_a103l_mat_signal_file_and_alarm_comments():
    base = shared_path("wfdb", "a103l.hea").with_suffix("")
    rec = read(base.with_suffix(".mat"))
    assert rec.channels == ("II", "V", "PLETH") and rec.fs_hz == 250 and rec.n_samples == 82500
    assert rec.units == ("mV", "mV", "NU")
    assert rec.metadata["comments"] == ["Asystole", "False alarm"]
    assert rec.channel_modalities == ("ecg", "ecg", "ppg")
    raw = np.fromfile(base.with_suffix(".mat"), dtype="<i2", offset=24).reshape(-1, 3).astype(float)
    gains = [7247.0, 1.052e4, 1.253e4]
    ok = raw != -32768
    expect = np.where(ok, raw / gains, np.nan).T
    np.testing.assert_allclose(rec.samples, expect, atol=1e-6, equal_nan=True)
    assert rec.pick("ppg").channels == ("PLETH",)


# ---------------------------------------------------------------- 03700181 multi-frequency
def test_multi_frequency_record_resampled_to_highest_rate():
    base = shared_path("wfdb", "03700181.hea").with_suffix("")
    rec = read(base)
    assert rec.channels == ("MCL1", "ABP", "RESP") and rec.units == ("mV", "mmHg", "mV")
    assert rec.metadata["channel_fs_hz"] == [500.0, 125.0, 125.0]
    assert rec.fs_hz == 500.0 and rec.n_samples == 75000 * 4  # 75000 frames of 4 MCL1 samples
    assert rec.duration_s == pytest.approx(600.0)
    assert rec.start_time.isoformat() == "1994-08-15T17:27:45"
    direct = wfdb.rdrecord(str(base), smooth_frames=False)
    np.testing.assert_allclose(rec.samples[0], direct.e_p_signal[0], atol=1e-5)
    # Lower-rate channels: every 4th resampled sample is close to the original (band-limited).
    for ch in (1, 2):
        orig = direct.e_p_signal[ch]
        ok = ~np.isnan(orig) & ~np.isnan(rec.samples[ch, ::4])
        back = rec.samples[ch, ::4][ok]
        assert np.corrcoef(back, orig[ok])[0, 1] > 0.999
        assert np.median(np.abs(back - orig[ok])) < 0.01 * np.ptp(orig[ok])
    # RESP is skewed by 4 frames: its last samples are unavailable and must be gaps, not zeros.
    assert np.isnan(rec.samples[2, -16:]).all() and not np.isnan(rec.samples[2, :-16]).any()
    # .sqrs annotations are stored at 250 Hz: indices scaled to the record's 500 Hz.
    raw = wfdb.rdann(str(base), "sqrs")
    assert rec.annotations.source == "sqrs" and len(rec.annotations) == len(raw.sample) == 1195
    np.testing.assert_array_equal(rec.annotations.sample, raw.sample * 2)
    assert rec.annotations.sample.max() < rec.n_samples
    # Each QRS mark sits near a large MCL1 slope (the detector fired on a real complex).
    x = np.nan_to_num(rec.samples[0])
    slope = np.abs(np.diff(x))
    near = [slope[max(s - 50, 0):s + 50].max() for s in rec.annotations.sample[1:-1]]
    assert np.median(near) > 5 * np.median(slope)


# ---------------------------------------------------------------- multi-segment 041s
def test_multi_segment_record_layout_and_length():
    top = shared_path("wfdb", "multi-segment", "041s", "041s.hea")
    rec = read(top)
    lines = header_lines(top)
    n_sig, frame_hz, n_frames = int(lines[0][1]), float(lines[0][2]), int(lines[0][3])
    seg_names = [ln[0] for ln in lines[1:]]
    seg_chan = [ln[-1] for ln in header_lines(top.parent / f"{seg_names[0]}.hea")[1:]]
    assert rec.n_channels == n_sig == 7 and rec.channels == tuple(seg_chan)
    assert rec.duration_s == pytest.approx(n_frames / frame_hz)
    assert rec.metadata["format"] == "wfdb-multi-segment"
    assert rec.metadata["segments"] == [("041s01", 1000), ("041s02", 1000)]
    assert rec.start_time.isoformat() == "1994-10-26T08:26:04"
    np.testing.assert_array_equal(read(top.with_suffix("")).samples, rec.samples)  # "041s" works too
    # Segments concatenated: compare each with the segment read directly by wfdb.
    spf = 4  # III, I, V at 4 samples per frame -> record at 500 Hz
    assert rec.fs_hz == frame_hz * spf
    for k, name in enumerate(seg_names):
        seg = wfdb.rdrecord(str(top.parent / name), smooth_frames=False)
        part = rec.samples[:, k * 1000 * spf:(k + 1) * 1000 * spf]
        for ch in range(3):
            np.testing.assert_allclose(part[ch], seg.e_p_signal[ch], atol=1e-5, equal_nan=True)
        abp = seg.e_p_signal[3]
        ok = ~np.isnan(abp)
        np.testing.assert_allclose(part[3, ::spf][ok], abp[ok], atol=0.05 * np.ptp(abp[ok]))


# ---------------------------------------------------------------- every WFDB record
def test_every_wfdb_record_in_the_shared_folder():
    folder = shared_path("wfdb")
    records = discover([folder])
    names = sorted(pathlib.Path(p).name for p in records)
    assert names == ["03700181.hea", "041s.hea", "100.hea", "a103l.hea", "s0010_re.hea"]
    for p in records:
        rec = read(p)
        top = header_lines(p)[0]
        n_sig, frame_hz = int(top[1]), float(top[2])
        assert rec.n_channels == n_sig, p
        assert rec.duration_s == pytest.approx(int(top[3]) / frame_hz), p
        assert rec.samples.dtype == np.float32 and np.isfinite(rec.samples).mean() > 0.99
        assert rec.metadata.get("checksum_mismatch", []) == [], p  # header checksums verified


# ---------------------------------------------------------------- CinC 2017, all 200
def test_all_200_cinc2017_records():
    from scipy.io import loadmat

    folder = shared_path("cinc2017")
    records = discover([folder])
    assert len(records) == 200 and all(p.endswith(".hea") for p in records)
    labels = dict(csv.reader(open(folder / "REFERENCE.csv")))
    for p in records:
        rec = read(p)
        sig_len = int(header_lines(p)[0][3])
        assert rec.fs_hz == 300.0 and rec.n_channels == 1 and rec.channels == ("ECG",)
        assert rec.n_samples == sig_len and 9.0 <= rec.duration_s <= 61.0
        val = loadmat(pathlib.Path(p).with_suffix(".mat"))["val"][0]
        np.testing.assert_allclose(rec.samples[0], val / 1000.0, atol=1e-6)
        assert rec.metadata["checksum_mismatch"] == []  # CinC 2017 headers carry checksum 0: unchecked
        assert labels[pathlib.Path(p).stem] in {"N", "A", "O", "~"}


# ---------------------------------------------------------------- cough MP3s
def test_cough_mp3s_all_decoded_and_a_handful_resampled():
    import soundfile as sf

    folder = shared_path("cough")
    meta = json.loads((folder / "metadata.json").read_text())
    files = discover([folder])
    assert len(files) == 120 and {pathlib.Path(f).name for f in files} == {m["filename"] for m in meta}
    for f in files:  # all 120 decoded in full (about 0.1 s in total)
        info = sf.info(f)
        rec = read(f)
        assert info.samplerate > 0 and 0.2 < info.duration < 60, f
        assert rec.fs_hz == info.samplerate and rec.n_channels == info.channels
        assert rec.duration_s == pytest.approx(info.duration, abs=0.15), f
        # MP3 reconstruction may overshoot full scale slightly on clipped recordings
        assert np.isfinite(rec.samples).all() and 0 < np.abs(rec.samples).max() <= 1.5, f
    for f in files[:: len(files) // 6][:6]:
        info = sf.info(f)
        rec = read(f)
        assert rec.modality == "audio" and rec.fs_hz == info.samplerate
        assert rec.n_channels == info.channels
        assert abs(rec.n_samples - info.frames) <= 1152  # one MP3 frame of decoder delay at most
        mono = read(f, mono=True, fs_hz=16000)
        assert mono.channels == ("mono",) and mono.fs_hz == 16000
        assert mono.n_samples == pytest.approx(rec.n_samples * 16000 / rec.fs_hz, abs=2)


# ---------------------------------------------------------------- spirometry and markers
def test_spirometry_csv_values():
    path = shared_path("spirometry", "ukb_field3066_demo_blow.csv")
    rec = read(path)
    rows = list(csv.DictReader(open(path)))
    assert rec.modality == "spiro" and rec.channels == ("volume",) and rec.units == ("mL",)
    assert rec.fs_hz == 100.0 and rec.times_s is None and rec.n_samples == len(rows)
    np.testing.assert_allclose(rec.samples[0], [float(r["volume_ml"]) for r in rows], rtol=1e-6)
    assert rec.metadata["format"] == "spirometry-csv"


def test_marker_csvs_and_sessions():
    folder = shared_path("resp_motion")
    files = discover([folder])
    assert len(files) == 12
    for f in files:
        rec = read(f)
        raw = [ln.split(";") for ln in pathlib.Path(f).read_text().splitlines()[1:] if ln.strip()]
        while raw and all(float(v.replace(",", ".")) == 0 for v in raw[-1]):
            raw.pop()  # the 0;0;0;0;0 footer
        xyz = np.array([[float(v.replace(",", ".")) for v in r[2:]] for r in raw])
        assert rec.modality == "motion" and rec.units == ("mm",) * 3
        np.testing.assert_allclose(rec.samples, xyz.T, rtol=1e-6)
        assert rec.times_s is not None and 9.0 < rec.fs_hz < 11.0
        assert rec.duration_s == pytest.approx(rec.times_s[-1] + 1 / rec.fs_hz, rel=0.02)
    sessions = group_sessions(files)
    assert len(sessions) == 4
    for paths in sessions.values():
        s = read_marker_session(paths)
        assert s.n_channels == 9
