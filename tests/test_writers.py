"""biosig.writers.write round-trips against biosig.readers.read, per format."""
from datetime import datetime

import numpy as np
import pytest
import wfdb
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from biosig.errors import BiosigError
from biosig.readers import read
from biosig.record import Annotations, Record
from biosig.writers import WFDB_DIGITAL_MAX, WriteError, write
from conftest import shared_path


@pytest.fixture
def ecg_with_gap():
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.standard_normal((2, 1000)), axis=1).astype(np.float32) / 10
    x[1, 200:250] = np.nan
    ann = Annotations(sample=np.array([10, 300, 700]), symbol=("N", "V", "N"), aux=("", "", ""), source="atr")
    return Record(samples=x, fs_hz=250.0, channels=("II", "V1"), units=("mV", "mV"),
                  start_time=datetime(2020, 5, 17, 8, 30, 15), annotations=ann,
                  metadata={"comments": ["age: 50", "made in a test"]})


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_table_round_trip_exact(tmp_path, ecg_with_gap, ext):
    path = write(ecg_with_gap, tmp_path / f"rec{ext}")
    back = read(path)
    assert back.channels == ("II", "V1") and back.units == ("mV", "mV") and back.fs_hz == 250.0
    np.testing.assert_array_equal(back.samples, ecg_with_gap.samples)  # NaN positions included
    assert back.gaps() == ecg_with_gap.gaps()
    if ext == ".parquet":
        assert back.start_time == ecg_with_gap.start_time and back.modality == "ecg"


def test_csv_keeps_irregular_times(tmp_path):
    rec = read(shared_path("resp_motion", "201205101519-LAC-1-T-222-6.csv"))
    back = read(write(rec, tmp_path / "markers.csv"))
    np.testing.assert_allclose(back.times_s, rec.times_s, atol=1e-12)
    np.testing.assert_array_equal(back.samples, rec.samples)
    assert back.channel_modalities == ("motion",) * 3 and back.units == ("mm",) * 3


@pytest.mark.parametrize("name", ["rec.hea", "rec"])
def test_wfdb_round_trip(tmp_path, ecg_with_gap, name):
    hea = write(ecg_with_gap, tmp_path / name)
    assert hea == tmp_path / "rec.hea"
    back = read(hea)
    x = ecg_with_gap.samples
    assert back.channels == ("II", "V1") and back.units == ("mV", "mV") and back.fs_hz == 250
    assert back.start_time == ecg_with_gap.start_time
    assert back.metadata["comments"] == ["age: 50", "made in a test"]
    assert back.metadata["comment_fields"]["age"] == "50"
    # Format 16 with gain = 30000 / peak: error at most half a quantisation step.
    step = np.nanmax(np.abs(x), axis=1) / WFDB_DIGITAL_MAX
    assert np.all(np.nanmax(np.abs(back.samples - x), axis=1) <= step * 0.5 + 1e-6)
    np.testing.assert_array_equal(np.isnan(back.samples), np.isnan(x))
    np.testing.assert_array_equal(back.annotations.sample, [10, 300, 700])
    assert back.annotations.symbol == ("N", "V", "N")
    # Independent check of the stored integers with wfdb's digital read.
    assert back.metadata["checksum_mismatch"] == []  # wfdb-python writes unsigned checksums
    d = wfdb.rdrecord(str(tmp_path / "rec"), physical=False)
    assert d.fmt == ["16", "16"] and np.abs(d.d_signal[~np.isnan(x.T)]).max() <= WFDB_DIGITAL_MAX


def test_wfdb_round_trip_of_real_record(tmp_path):
    rec = read(shared_path("wfdb", "100.hea")).slice_s(0, 60)
    back = read(write(rec, tmp_path / "r100.hea"))
    assert back.n_samples == rec.n_samples == 21600
    assert np.max(np.abs(back.samples - rec.samples)) < 2e-5
    assert len(back.annotations) == len(rec.annotations) and back.annotations.symbol == rec.annotations.symbol


@pytest.mark.parametrize("ext,atol", [(".wav", 0.0), (".flac", 2 ** -23)])
def test_audio_round_trip(tmp_path, ext, atol):
    rng = np.random.default_rng(2)
    x = (0.3 * rng.standard_normal((2, 8000))).clip(-1, 1).astype(np.float32)
    rec = Record(samples=x, fs_hz=16000, channels=("left", "right"), modality="audio")
    back = read(write(rec, tmp_path / f"a{ext}"))
    assert back.fs_hz == 16000 and back.channels == ("left", "right") and back.modality == "audio"
    np.testing.assert_allclose(back.samples, x, atol=atol)


def test_mp3_to_wav_round_trip(tmp_path):
    mp3 = read(sorted(shared_path("cough", "raw").glob("*.mp3"))[0])
    back = read(write(mp3, tmp_path / "cough.wav"))
    np.testing.assert_array_equal(back.samples, mp3.samples)


def test_write_refusals(tmp_path, ecg_with_gap):
    with pytest.raises(WriteError, match="unknown output extension '.xyz'"):
        write(ecg_with_gap, tmp_path / "x.xyz")
    with pytest.raises(WriteError, match="does not exist"):
        write(ecg_with_gap, tmp_path / "nofolder" / "x.csv")
    with pytest.raises(WriteError, match="NaN gaps"):
        write(ecg_with_gap, tmp_path / "x.wav")
    loud = Record(samples=np.full((1, 100), 2.0), fs_hz=8000, channels=("mono",), modality="audio")
    with pytest.raises(WriteError, match="full scale"):
        write(loud, tmp_path / "loud.flac")
    np.testing.assert_array_equal(read(write(loud, tmp_path / "loud.wav")).samples, loud.samples)  # float WAV
    markers = read(shared_path("resp_motion", "201205101519-LAC-1-T-222-6.csv"))
    with pytest.raises(WriteError, match="irregular"):
        write(markers, tmp_path / "markers.hea")
    with pytest.raises(WriteError, match="letters, digits"):
        write(ecg_with_gap, tmp_path / "bad-name.hea")
    assert issubclass(WriteError, BiosigError)


def test_edf_round_trip_with_annotations(tmp_path):
    rec = read(shared_path("wfdb", "100.hea")).slice_s(0, 60).replace(start_time=datetime(2001, 2, 3, 4, 5, 6))
    back = read(write(rec, tmp_path / "r100.edf"))
    assert back.metadata["format"] == "edf" and back.channels == rec.channels and back.units == rec.units
    assert back.fs_hz == 360 and back.n_samples == rec.n_samples and back.start_time == rec.start_time
    step = np.ptp(rec.samples, axis=1) / 65535 * 1.01  # 16-bit over each channel's (padded) range
    assert np.all(np.abs(back.samples - rec.samples).max(axis=1) <= step + 1e-7)
    assert back.annotations.symbol == rec.annotations.symbol
    np.testing.assert_array_equal(back.annotations.sample, rec.annotations.sample)


def test_edf_refuses_gaps(tmp_path, ecg_with_gap):
    with pytest.raises(WriteError, match="EDF cannot hold NaN gaps"):
        write(ecg_with_gap, tmp_path / "gap.edf")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(c=st.integers(1, 3), t=st.integers(2, 400), fs=st.sampled_from([50.0, 125.0, 250.0, 360.0, 500.0]),
       scale=st.sampled_from([1e-3, 1.0, 1e3]), gap=st.booleans(), seed=st.integers(0, 2 ** 16))
@example(c=2, t=178, fs=50.0, scale=1e3, gap=False, seed=348)   # float32 rounding beyond the 0.1 % slack
def test_round_trip_property(tmp_path, c, t, fs, scale, gap, seed):
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal((c, t))).astype(np.float32)
    if gap and t > 10:
        x[rng.integers(c), t // 3:t // 2] = np.nan
    rec = Record(samples=x, fs_hz=fs, channels=tuple(f"II{i}" for i in range(c)), units=("mV",) * c)
    for ext in (".csv", ".parquet"):
        back = read(write(rec, tmp_path / f"p{seed}{ext}"))
        np.testing.assert_array_equal(back.samples, x)
        assert back.fs_hz == fs and back.channels == rec.channels
    back = read(write(rec, tmp_path / f"p{seed}.hea"))
    peak = np.nanmax(np.abs(np.where(np.isnan(x), 0, x)), axis=1)
    err = np.nanmax(np.abs(np.where(np.isnan(x), 0, back.samples - x)), axis=1)
    # half a quantisation step, plus the float32 rounding of the decoded sample (one unit in the last
    # place at the peak: at scale 1e3 that is 2.4e-4, more than the 0.1 % slack; seen in a fresh clone
    # with c=2, t=178, scale=1e3, seed=348)
    assert np.all(err <= peak / WFDB_DIGITAL_MAX * 0.5 * 1.001 + np.spacing(peak.astype(np.float32)) + 1e-12)
    np.testing.assert_array_equal(np.isnan(back.samples), np.isnan(x))
    assert back.metadata["checksum_mismatch"] == [] and back.fs_hz == fs
