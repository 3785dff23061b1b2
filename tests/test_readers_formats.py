"""Formats built in tmp_path from real records or known signals: EDF/EDF+ (written by wfdb and
pyedflib), variable-layout multi-segment WFDB, audio (resampling vs librosa), generic CSV/Parquet,
content sniffing, modality override, and discover()'s rules."""
import contextlib
import io
import logging
import shutil

import numpy as np
import pytest
import soundfile as sf
import wfdb

from biosig.readers import detect_format, discover, read, record_exists
from conftest import shared_path


def _copy_record(src_dir, name, dst, exts=("hea", "dat", "atr")):
    for ext in exts:
        if (src_dir / f"{name}.{ext}").exists():
            shutil.copyfile(src_dir / f"{name}.{ext}", dst / f"{name}.{ext}")


# ---------------------------------------------------------------- EDF
def test_edf_written_by_wfdb_from_record_100(tmp_path, monkeypatch):
    from wfdb.io.convert.edf import wfdb_to_edf

    _copy_record(shared_path("wfdb", "100.hea").parent, "100", tmp_path)
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):  # wfdb_to_edf prints its progress
        wfdb_to_edf("100", sampto=36000, output_filename=str(tmp_path / "e100.edf"))
    rec = read(tmp_path / "e100.edf")
    direct = wfdb.rdrecord("100", sampto=36000)
    assert rec.metadata["format"] == "edf" and rec.channels == ("MLII", "V5") and rec.fs_hz == 360
    assert rec.units == ("mV", "mV") and rec.modality == "ecg"
    assert rec.n_samples >= 36000  # EDF holds whole 10 s data records
    np.testing.assert_allclose(rec.samples[:, :36000], direct.p_signal.T, atol=1e-5)


def test_multi_rate_edf_resampled_to_highest_rate(tmp_path, monkeypatch):
    from wfdb.io.convert.edf import wfdb_to_edf

    src = shared_path("wfdb", "03700181.hea").parent
    _copy_record(src, "03700181", tmp_path, exts=("hea", "dat"))
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        wfdb_to_edf("03700181", sampto=2500, output_filename=str(tmp_path / "mf.edf"))
    rec = read(tmp_path / "mf.edf")
    assert rec.metadata["channel_fs_hz"] == [500.0, 125.0, 125.0] and rec.fs_hz == 500.0
    direct = wfdb.rdrecord("03700181", sampto=2500, smooth_frames=False)
    np.testing.assert_allclose(rec.samples[0, :10000], direct.e_p_signal[0], atol=1e-4)
    back = rec.samples[1, :10000:4]
    assert np.corrcoef(back, direct.e_p_signal[1])[0, 1] > 0.999


def test_edf_plus_annotations_written_by_pyedflib(tmp_path):
    import pyedflib

    fs = 256
    t = np.arange(fs * 10) / fs
    x = np.stack([np.sin(2 * np.pi * 1.2 * t), 0.5 * np.cos(2 * np.pi * 0.3 * t)])
    path = tmp_path / "plus.edf"
    w = pyedflib.EdfWriter(str(path), 2, file_type=pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([
        {"label": "ECG", "dimension": "mV", "sample_frequency": fs, "physical_max": 2, "physical_min": -2,
         "digital_max": 32767, "digital_min": -32768},
        {"label": "Resp", "dimension": "a.u.", "sample_frequency": fs, "physical_max": 2, "physical_min": -2,
         "digital_max": 32767, "digital_min": -32768}])
    w.writeSamples(list(x))
    w.writeAnnotation(2.0, -1, "R wave")
    w.writeAnnotation(5.5, 1.0, "apnoea")
    w.close()
    rec = read(path)
    assert rec.channels == ("ECG", "Resp") and rec.fs_hz == fs and rec.n_samples == fs * 10
    np.testing.assert_allclose(rec.samples, x, atol=4 / 65535 + 1e-6)
    assert rec.annotations.symbol == ("R wave", "apnoea")
    np.testing.assert_array_equal(rec.annotations.sample, [2 * fs, int(5.5 * fs)])
    assert rec.channel_modalities == ("ecg", "resp")


# ---------------------------------------------------------------- multi-segment, variable layout
def test_variable_layout_multi_segment_with_empty_segment_and_missing_channel(tmp_path):
    d = wfdb.rdrecord(str(shared_path("wfdb", "100.hea").with_suffix("")), sampto=2000, physical=False).d_signal
    with contextlib.redirect_stdout(io.StringIO()):
        wfdb.wrsamp("seg1", fs=360, units=["mV", "mV"], sig_name=["MLII", "V5"], d_signal=d[:1000],
                    fmt=["16", "16"], adc_gain=[200, 200], baseline=[1024, 1024], write_dir=str(tmp_path))
        wfdb.wrsamp("seg3", fs=360, units=["mV"], sig_name=["V5"], d_signal=d[1000:1800, 1:2], fmt=["16"],
                    adc_gain=[200], baseline=[1024], write_dir=str(tmp_path))
    (tmp_path / "multi_layout.hea").write_text(
        "multi_layout 2 360 0\n~ 0 200(1024)/mV 16 0 0 0 0 MLII\n~ 0 200(1024)/mV 16 0 0 0 0 V5\n")
    (tmp_path / "multi.hea").write_text("multi/4 2 360 2300\nmulti_layout 0\nseg1 1000\n~ 500\nseg3 800\n")
    rec = read(tmp_path / "multi.hea")
    assert rec.channels == ("MLII", "V5") and rec.n_samples == 2300 and rec.fs_hz == 360
    phys = (d.astype(float) - 1024) / 200
    np.testing.assert_allclose(rec.samples[:, :1000], phys[:1000].T, atol=1e-6)
    assert np.isnan(rec.samples[:, 1000:1500]).all()           # empty segment: gap in both
    assert np.isnan(rec.samples[0, 1500:]).all()               # MLII missing from seg3
    np.testing.assert_allclose(rec.samples[1, 1500:], phys[1000:1800, 1], atol=1e-6)
    assert rec.gaps() == [(1000 / 360, 2300 / 360)]
    # discover: one record, the segment and layout headers are not records of their own
    assert [p.rsplit("/", 1)[-1] for p in discover([tmp_path])] == ["multi.hea"]


# ---------------------------------------------------------------- audio
def test_wav_read_mono_mixdown_and_resampling_against_librosa(tmp_path):
    import librosa

    fs = 16000
    t = np.arange(fs) / fs
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 1000 * t)]).astype(np.float32)
    path = tmp_path / "tone.wav"
    sf.write(path, stereo.T, fs, subtype="FLOAT")
    rec = read(path)
    assert rec.channels == ("left", "right") and rec.modality == "audio" and rec.fs_hz == fs
    np.testing.assert_array_equal(rec.samples, stereo)
    mono = read(path, mono=True)
    np.testing.assert_allclose(mono.samples[0], stereo.mean(axis=0), atol=1e-7)
    low = read(path, mono=True, fs_hz=8000)
    oracle = librosa.resample(stereo.mean(axis=0), orig_sr=fs, target_sr=8000, res_type="soxr_hq")
    assert low.fs_hz == 8000 and low.n_samples == len(oracle)
    np.testing.assert_allclose(low.samples[0], oracle, atol=1e-4)
    assert low.metadata["original_fs_hz"] == fs


def test_a_six_channel_wav_is_six_microphones_scored_and_embedded_whole(tmp_path, capsys):
    """A WAV with more than two channels named them ch1..chN, read as 'other': score refused it
    ('no usable audio channel'), --modality audio did not help, --channel ch1=audio scored one of
    six channels while run.json said all were mixed. A sound file's channels are audio."""
    import polars as pl
    from biosig.cli import main
    fs = 8000
    rng = np.random.default_rng(6)
    x = (0.1 * rng.standard_normal((6, 3 * fs))).astype(np.float32)
    path = tmp_path / "array.wav"
    sf.write(path, x.T, fs, subtype="FLOAT")
    rec = read(path)
    assert rec.channels == tuple(f"ch{i}" for i in range(1, 7)) and rec.channel_modalities == ("audio",) * 6
    assert read(path, channel_modalities={"ch2": "other"}).channel_modalities[1] == "other"   # the user's word wins
    assert main(["score", str(path), "--model", "audio-tiny", "--out", str(tmp_path / "run")]) == 0
    row = pl.read_parquet(tmp_path / "run" / "records.parquet").row(0, named=True)
    assert len(row["used_channels"]) == 6, row
    assert main(["embed", str(path), "--model", "audio-tiny", "--out", str(tmp_path / "e.parquet")]) == 0
    capsys.readouterr()


def test_infinite_samples_are_read_as_gaps(tmp_path, caplog):
    """A float WAV holding one NaN and one +inf: info said 'gaps 1' (the NaN) while score counted
    both invalid. Infinite samples are no measurement: read as NaN, with one warning."""
    fs = 8000
    x = np.zeros(fs, np.float32)
    x[100], x[5000] = np.nan, np.inf
    path = tmp_path / "f.wav"
    sf.write(path, x, fs, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="biosig.readers"):
        rec = read(path)
    assert np.isnan(rec.samples[0, [100, 5000]]).all() and np.isfinite(np.delete(rec.samples[0], [100, 5000])).all()
    assert len(rec.gaps()) == 2 and "1 infinite sample(s) read as missing" in caplog.text


def test_flac_and_extensionless_audio_are_sniffed(tmp_path):
    x = (0.1 * np.random.default_rng(0).standard_normal(4000)).astype(np.float32)
    sf.write(tmp_path / "noise.flac", x, 8000, subtype="PCM_24")
    shutil.copyfile(tmp_path / "noise.flac", tmp_path / "noise_no_ext")
    a, b = read(tmp_path / "noise.flac"), read(tmp_path / "noise_no_ext")
    assert detect_format(tmp_path / "noise_no_ext") == "audio"
    np.testing.assert_allclose(a.samples[0], x, atol=2 ** -22)
    np.testing.assert_array_equal(a.samples, b.samples)


# ---------------------------------------------------------------- tables
def test_generic_csv_with_units_and_gaps(tmp_path):
    path = tmp_path / "table.csv"
    t = np.arange(500) / 250
    ecg = np.sin(2 * np.pi * t)
    rows = ["t_s,II [mV],PLETH [NU]"] + [f"{ti:.6f},{e:.6f},{'' if 100 <= i < 120 else f'{e / 2:.6f}'}"
                                         for i, (ti, e) in enumerate(zip(t, ecg))]
    path.write_text("\n".join(rows) + "\n")
    rec = read(path)
    assert rec.channels == ("II", "PLETH") and rec.units == ("mV", "NU") and rec.fs_hz == 250.0
    assert rec.times_s is None and rec.channel_modalities == ("ecg", "ppg")
    np.testing.assert_allclose(rec.samples[0], ecg, atol=1e-6)
    assert np.isnan(rec.samples[1, 100:120]).all() and rec.gaps() == [(0.4, 0.48)]
    assert read(path, modality="ppg").modality == "ppg"
    assert read(path, channels=["PLETH"]).modality == "ppg"


def test_csv_irregular_times_kept(tmp_path):
    t = np.cumsum(np.r_[0.0, np.full(20, 0.1) + np.linspace(-0.02, 0.02, 20)])
    path = tmp_path / "irregular.csv"
    path.write_text("t_s,x\n" + "".join(f"{ti:.6f},{i}\n" for i, ti in enumerate(t)))
    rec = read(path)
    np.testing.assert_allclose(rec.times_s, t - t[0], atol=1e-6)  # file holds 6 decimals
    np.testing.assert_array_equal(rec.samples[0], np.arange(21))


def test_parquet_with_t_s_column(tmp_path):
    import polars as pl

    df = pl.DataFrame({"t_s": np.arange(100) / 50.0, "RESP": np.cos(np.arange(100) / 10.0)})
    df.write_parquet(tmp_path / "resp.parquet")
    rec = read(tmp_path / "resp.parquet")
    assert rec.fs_hz == 50.0 and rec.channels == ("RESP",) and rec.modality == "resp"
    np.testing.assert_allclose(rec.samples[0], df["RESP"].to_numpy(), atol=1e-6)


@pytest.mark.parametrize("header, scale", [("time_s", 1.0), ("Time (s)", 1.0), ("time_ms", 1000.0),
                                           ("timestamp_ms", 1000.0), ("t [ms]", 1000.0)])
def test_csv_time_column_named_with_its_unit(tmp_path, header, scale):
    """Exports name their time column in many ways; one whose name carries s or ms is read (ms
    converted), found by discover, and gives the same record as the t_s convention."""
    t = np.arange(300) / 100.0
    x = np.sin(2 * np.pi * 1.2 * t)
    ref = tmp_path / "ref.csv"
    ref.write_text("t_s,PLETH\n" + "".join(f"{ti:.4f},{v:.6f}\n" for ti, v in zip(t, x)))
    sub = tmp_path / "in"
    sub.mkdir()
    path = sub / "export.csv"
    path.write_text(f'"{header}",PLETH\n' + "".join(f"{ti * scale:.4f},{v:.6f}\n" for ti, v in zip(t, x)))
    assert detect_format(path) == "csv" and discover([sub]) == [str(path)]
    rec, want = read(path), read(ref)
    assert rec.fs_hz == want.fs_hz == 100.0 and rec.channels == ("PLETH",) and rec.modality == "ppg"
    assert rec.times_s is None
    np.testing.assert_array_equal(rec.samples, want.samples)


def test_extensionless_csv_and_marker_csv_sniffed(tmp_path):
    (tmp_path / "data").write_text("t_s,ECG\n0,1\n0.5,2\n1.0,3\n")
    assert detect_format(tmp_path / "data") == "csv" and read(tmp_path / "data").fs_hz == 2.0
    src = shared_path("resp_motion", "201205101519-LAC-1-T-222-6.csv")
    shutil.copyfile(src, tmp_path / "markers.txt")
    assert detect_format(tmp_path / "markers.txt") == "marker-csv"
    assert read(tmp_path / "markers.txt").channels == ("x", "y", "z")


# ---------------------------------------------------------------- discover
def test_discover_rules(tmp_path, caplog):
    wfdb_dir = shared_path("wfdb")
    _copy_record(wfdb_dir, "100", tmp_path)
    sub = tmp_path / "sub"
    sub.mkdir()
    _copy_record(wfdb_dir, "a103l", sub, exts=("hea", "mat"))
    (sub / "REFERENCE.csv").write_text("record,label\na103l,N\n")
    (sub / "table.csv").write_text("t_s,ECG\n0,1\n0.5,2\n")
    (sub / "notes.json").write_text("{}")
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "hidden.csv").write_text("t_s,ECG\n0,1\n0.5,2\n")
    ms = shared_path("wfdb", "multi-segment", "041s")
    shutil.copytree(ms, tmp_path / "ms")
    found = discover([tmp_path])
    rel = sorted(p.replace(str(tmp_path) + "/", "") for p in found)
    assert rel == ["100.hea", "ms/041s.hea", "sub/a103l.hea", "sub/table.csv"]
    # companions and bare names map to the header; duplicates collapse
    with caplog.at_level(logging.WARNING, logger="biosig.readers"):
        again = discover([tmp_path / "100.dat", tmp_path / "100", tmp_path / "100.atr", tmp_path / "100.hea"])
    assert again == [str(tmp_path / "100.hea")]
    assert "1 record(s) named more than once" in caplog.text   # said, not silently collapsed
    # a PhysioNet RECORDS list and a .txt list, relative to the list's folder
    (tmp_path / "RECORDS").write_text("100\nsub/a103l\n")
    assert discover(tmp_path / "RECORDS") == [str(tmp_path / "100.hea"), str(tmp_path / "sub/a103l.hea")]
    (tmp_path / "list.txt").write_text("# my records\nms/041s\nsub/table.csv\n")
    assert discover(tmp_path / "list.txt") == [str(tmp_path / "ms/041s.hea"), str(tmp_path / "sub/table.csv")]
    # a list with a missing entry stays a list (it was read as a CSV and hid the two records); the
    # missing one is kept for read() to report
    (tmp_path / "list2.txt").write_text("100\nsub/a103l\ngone/x\n")
    assert discover(tmp_path / "list2.txt") == [str(tmp_path / p) for p in ("100.hea", "sub/a103l.hea", "gone/x")]
    (tmp_path / "values.txt").write_text("0.5\n100\n0.25\n")   # bare values, one naming a record
    assert discover(tmp_path / "values.txt") == [str(tmp_path / "values.txt")]
    # an explicit missing path is kept so that read() reports it
    assert discover([tmp_path / "missing.wav"]) == [str(tmp_path / "missing.wav")]
    for p in found:
        read(p)
    # what exists: a file, a folder, a WFDB record named without its .hea; not a missing name
    assert record_exists(tmp_path / "100") and record_exists(str(tmp_path / "100.dat")) and record_exists(sub)
    assert not record_exists(tmp_path / "missing.wav") and not record_exists(tmp_path / "10")


def test_discover_shared_data_counts():
    root = shared_path()
    found = discover([root])
    assert len(found) == len(set(found))
    by_kind = {}
    for p in found:
        by_kind.setdefault(p.rsplit(".", 1)[-1], []).append(p)
    assert len(by_kind["hea"]) == 5 + 200 + 47 and len(by_kind["mp3"]) == 120   # + pretrain/ecg/mitdb
    # markers, the spirogram and the 21 camera-PPG CSVs of pretrain/ppg; REFERENCE.csv is not a record
    assert len(by_kind["csv"]) == 12 + 1 + 21
    assert not any("041s0" in p for p in found)


def test_top_level_lazy_names(tmp_path):
    import biosig
    import biosig.readers
    import biosig.writers

    assert biosig.read is biosig.readers.read and biosig.write is biosig.writers.write
    rec = biosig.read(shared_path("spirometry", "ukb_field3066_demo_blow.csv"))
    back = biosig.read(biosig.write(rec, tmp_path / "blow.parquet"))
    assert back.modality == "spiro" and back.units == ("mL",)
    np.testing.assert_array_equal(back.samples, rec.samples)


def test_resample_keeps_gaps_and_matches_the_signal_elsewhere():
    """The band-limited test signal itself, at the new instants, is the oracle (scipy's
    resample_poly pads with zeros and has a 0.1 % gain ripple: biosig's ends are not pulled to 0)."""
    from biosig.readers import resample
    from biosig.record import Annotations, Record

    def signal(t):
        return np.sin(2 * np.pi * 1.3 * t) + 0.3 * np.sin(2 * np.pi * 7 * t)

    clean = signal(np.arange(2000) / 200.0)
    gappy = clean.copy()
    gappy[800:900] = np.nan
    rec = Record(samples=np.stack([clean, gappy]), fs_hz=200, channels=("a", "b"),
                 annotations=Annotations(sample=np.array([100, 1500]), symbol=("N", "N")))
    for fs in (500.0, 100.0, 300.0):
        out = resample(rec, fs)
        ratio = fs / 200
        oracle = signal(np.arange(out.n_samples) / fs)
        assert out.n_samples == int(np.ceil(2000 * ratio))
        inner = slice(int(20 * ratio), -int(20 * ratio))     # 20 input samples from either end
        np.testing.assert_allclose(out.samples[0, inner], oracle[inner], atol=1e-3)
        assert np.abs(out.samples[0]).max() <= np.abs(clean).max() + 1e-3
        gap = np.isnan(out.samples[1])
        lo, hi = np.flatnonzero(gap)[[0, -1]]
        assert abs(lo - 800 * ratio) <= 1 and abs(hi - 900 * ratio) <= 1 and gap[lo:hi + 1].all()
        far = np.r_[int(20 * ratio):int(700 * ratio), int(1000 * ratio):out.n_samples - int(20 * ratio)]
        np.testing.assert_allclose(out.samples[1, far], oracle[far], atol=1e-3)
        np.testing.assert_array_equal(out.annotations.sample, np.round(np.array([100, 1500]) * ratio))


def test_csv_with_bom_and_crlf_from_a_spreadsheet(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbft_s,ECG [mV]\r\n0,1\r\n0.5,2\r\n1.0,3\r\n")
    rec = read(path)
    assert rec.channels == ("ECG",) and rec.units == ("mV",) and rec.fs_hz == 2.0
    np.testing.assert_array_equal(rec.samples[0], [1, 2, 3])


def test_a_folder_says_which_tables_it_skips(tmp_path, caplog):
    """Tables in a folder that are not recordings were skipped at INFO (invisible without -v):
    bare sample tables and tables with times biosig cannot read get one warning each kind; a
    labels table naming the folder's records (as PhysioNet's REFERENCE.csv) stays at INFO."""
    import logging
    import pathlib

    from biosig.readers import discover
    (tmp_path / "a.csv").write_text("t_s,ECG\n" + "".join(f"{k / 250:.3f},{k % 7}\n" for k in range(500)))
    (tmp_path / "bare.csv").write_text("ECG\n" + "".join(f"{k % 7}\n" for k in range(500)))
    # times of day without a date: no clock biosig reads (ISO-8601 date-times are read: iso.csv)
    (tmp_path / "clock.csv").write_text("timestamp,ECG\n00:00:00.000,0.1\n00:00:00.004,0.2\n")
    (tmp_path / "iso.csv").write_text("timestamp,ECG\n2024-01-01T00:00:00.000,0.1\n2024-01-01T00:00:00.004,0.2\n")
    (tmp_path / "labels.csv").write_text("record,label\na,N\n")
    with caplog.at_level(logging.INFO, logger="biosig.readers.discover"):
        found = discover([tmp_path])
    assert [pathlib.Path(p).name for p in found] == ["a.csv", "iso.csv"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "1 table(s) of bare sample values skipped" in warnings[0] and "bare.csv" in warnings[0]
    assert "--sample-rate-hz" in warnings[0]
    assert "1 CSV/TSV/Parquet file(s) skipped as not recordings" in warnings[1] and "clock.csv" in warnings[1]
    assert "labels.csv" not in " ".join(warnings) and "labels.csv: a labels table" in caplog.text


def test_a_unit_in_parentheses_is_read_when_it_is_a_unit(tmp_path):
    """'ECG (mV)' was a channel named 'ECG (mV)' without a unit (only 'ECG [mV]' was split);
    a known unit in parentheses is split too, and 'Resp (chest)' stays a channel name."""
    from biosig.readers import read
    f = tmp_path / "paren.csv"
    f.write_text("Time (s),ECG (mV),Resp (chest),SpO2 (%)\n" + "".join(f"{k / 250:.3f},0.1,1,97\n" for k in range(50)))
    rec = read(f)
    assert rec.channels == ("ECG", "Resp (chest)", "SpO2") and rec.units == ("mV", "", "%")
    assert rec.channel_modalities[:2] == ("ecg", "resp")
