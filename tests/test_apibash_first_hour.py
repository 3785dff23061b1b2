"""A researcher's first hour with the Python API (bug bash): what a notebook tries first either works
or says in one SignalError / EncoderError what was expected, never a silent NaN or a torch traceback."""
from datetime import datetime

import numpy as np
import pytest

import biosig
from biosig.errors import SignalError
from biosig.measures import hrv_features, ibi_features
from biosig.measures_window import breath_features, spiro_features
from encoders.errors import EncoderError
from conftest import load_encoder


RESP_RATE_BPM = 15.0


@pytest.fixture(scope="module")
def resp():
    t_s = np.arange(0, 30, 1 / 25.0)
    return biosig.Record(np.sin(2 * np.pi * RESP_RATE_BPM / 60.0 * t_s), fs_hz=25.0, channels="RESP")


def test_breath_features_refuse_samples_first(resp):
    x, fs = resp.samples[0], resp.fs_hz
    rate = breath_features(x, fs)["resp_rate_bpm"]
    # oracle: the sine's own rate (the 1-D and the (1, T) forms are the same window)
    assert rate == pytest.approx(RESP_RATE_BPM, rel=0.01)
    assert breath_features(x[None], fs)["resp_rate_bpm"] == rate
    # a (T, 1) column (a pandas .values) was one sample: resp_rate_bpm NaN, n_breaths 0, no word
    with pytest.raises(SignalError, match=r"samples first\? pass x.T"):
        breath_features(x[:, None], fs)
    with pytest.raises(SignalError, match=r"samples first"):   # was "no_manoeuvre" for any blow
        spiro_features(np.linspace(0.0, 4000.0, 1500)[:, None], 100.0)


def test_window_measures_refuse_a_record(resp):
    ecg = biosig.Record(np.zeros(1500), fs_hz=250, channels="II")   # refused before any beat is looked for
    for f in (hrv_features, ibi_features):
        # was "a signal holds real numbers, got an array of dtype object"
        with pytest.raises(SignalError, match=r"not a Record: pass rec.samples, rec.fs_hz \(here 250 Hz\)"):
            f(ecg, ecg.fs_hz)
    with pytest.raises(SignalError, match="not a Record"):
        breath_features(resp, resp.fs_hz)


def test_record_from_an_array_says_what_it_needs():
    x = np.sin(np.arange(500) / 10.0)
    # the library's own hint said Record(samples, fs_hz=...), which was a TypeError (channels missing)
    with pytest.raises(SignalError, match=r"Record needs channels: one name per row of samples \(here 1\)"):
        biosig.Record(x, fs_hz=250)
    with pytest.raises(SignalError, match=r"channels=\[\.\.\.\]"):
        biosig.default_pipeline("ecg").apply(x)
    rec = biosig.Record(x, fs_hz=250, channels="II")
    assert rec.samples.shape == (1, 500) and rec.modality == "ecg"
    # (samples, channels) as a table gives it: named, with the fix
    with pytest.raises(SignalError, match=r"2 channel names for 500 channels .*pass samples.T"):
        biosig.Record(np.stack([x, x], axis=1), fs_hz=250, channels=["I", "II"])
    # a str start time was kept, and biosig.write failed on it deep in a writer (str.replace())
    with pytest.raises(SignalError, match=r"start_time must be a datetime .* got str '2024-03-01'"):
        biosig.Record(x, fs_hz=250, channels="II", start_time="2024-03-01")
    assert biosig.Record(x, fs_hz=250, channels="II", start_time=datetime(2024, 3, 1)).start_time.year == 2024


def test_embed_windows_with_more_channels_than_names():
    enc = load_encoder("ppg-tiny")
    x = np.random.default_rng(0).standard_normal((2, 2, 1250)).astype(np.float32)   # red and infrared
    # was torch's "IndexError: index out of range in self"
    with pytest.raises(EncoderError, match=r"2 channels and ppg-tiny has 1 channel name\(s\) \(PPG\)"):
        enc.embed_windows(x)
    assert enc.embed_windows(x[:, :1]).shape == (2, enc.config.dim)
    with pytest.raises(EncoderError, match=r"samples first\? pass x.transpose\(0, 2, 1\)"):
        enc.embed_windows(x[:, :1].transpose(0, 2, 1))
    # the same check behind every backend (torch here: the cheapest to open)
    from encoders.inference import open_model
    with pytest.raises(EncoderError, match=r"2 channels and ppg-tiny has 1 channel name"):
        open_model("ppg-tiny", backend="torch").embed_windows(x, None)


def test_a_modality_given_as_a_record_or_in_capitals_names_the_fix():
    """default_pipeline(rec) printed the whole Record as the 'unknown modality'; "ECG" gave no hint
    that names are lower case; embedding an untagged channel gave only the CLI's fix."""
    rec = biosig.Record(np.zeros(500), fs_hz=250, channels=["II"])
    with pytest.raises(SignalError, match=r"got a Record: pass rec.modality \('ecg'\)"):
        biosig.default_pipeline(rec)
    with pytest.raises(SignalError, match=r"names are lower case: 'ecg'"):
        biosig.default_pipeline("ECG")
    with pytest.raises(EncoderError, match=r"in Python Record\(\.\.\., modality='ecg'\)"):
        load_encoder("ecg-tiny").embed(biosig.Record(np.zeros((1, 5000)), fs_hz=250, channels=["ch0"]))
