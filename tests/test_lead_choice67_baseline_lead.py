"""The probe's hrv and ibi baselines read the lead ``embed`` feeds a one-lead model.

They took a record's first ECG or PPG channel (``encoders.baselines._first_channel``) while embed takes the
lead with the best share of windows passing the quality gate (``encoders.data.encoder_channels``): on a
multi-lead set a baseline row could be computed on a noisy first lead while the model row read a clean
second one, not a comparison on the same data. Here lead I (the lead ecg-tiny's vocabulary prefers) is noise
and lead II a clean synthetic ECG; the PPG case is a clipped ``PPG`` beside a clean ``G`` named ppg
(``--channel G=ppg``).
"""
from __future__ import annotations

import json
import pathlib

import numpy as np

import encoders
from biosig.record import Record
from biosig.synthetic import simulate
from encoders.baselines import embedded_lead, hrv_features, ibi_features
from encoders.config import EncoderConfig
from encoders.data import encoder_channels


def _shipped_config(name: str) -> EncoderConfig:
    """The config embed loads with the shipped checkpoint (its config.json; no weights, no torch)."""
    path = pathlib.Path(encoders.__file__).parent / "checkpoints" / name / "config.json"
    return EncoderConfig.from_dict(json.loads(path.read_text()))


def _one(x, fs_hz, name, metadata=None):
    return Record(samples=np.asarray(x, np.float32)[None], fs_hz=fs_hz, channels=(name,), metadata=metadata or {})


def test_hrv_and_ibi_read_the_clean_lead_embed_feeds():
    clean = simulate("ecg", 20, seed=3)   # lead II, 250 Hz
    x = clean.samples[0]
    noise = np.random.default_rng(0).normal(0.0, 1.0, x.shape)
    rec = Record(samples=np.stack([noise, x]).astype(np.float32), fs_hz=clean.fs_hz, channels=("I", "II"))
    assert encoder_channels(rec, _shipped_config("ecg-tiny")).channels == ("II",)   # embed's lead
    assert embedded_lead(rec, "ecg").channels == ("II",)
    alone = _one(x, clean.fs_hz, "II")
    want = hrv_features(alone)
    assert np.isfinite(want[:4]).all(), want
    np.testing.assert_array_equal(hrv_features(rec), want)   # was lead I's: the noise's "HRV"
    np.testing.assert_array_equal(ibi_features(rec), ibi_features(alone))


def test_ibi_reads_the_ppg_channel_embed_feeds():
    fs_hz = 30.0
    t = np.arange(int(20 * fs_hz)) / fs_hz
    pulse = np.cos(np.pi * 1.2 * t) ** 8   # 72 /min
    clipped = np.full(t.shape, 255.0)
    clipped[::37] = 254.0   # not constant: usable, but no pulse
    given = {"channel_modalities": {"G": "ppg"}}
    rec = Record(samples=np.stack([clipped, pulse]).astype(np.float32), fs_hz=fs_hz, channels=("PPG", "G"),
                 metadata=given)
    assert rec.channel_modalities == ("ppg", "ppg")
    assert encoder_channels(rec, _shipped_config("ppg-tiny")).channels == ("G",)
    assert embedded_lead(rec, "ppg").channels == ("G",)
    want = ibi_features(_one(pulse, fs_hz, "G", given), "ppg")
    assert abs(want[0] - 60 / 72) < 0.02, want   # mean interval, s
    np.testing.assert_array_equal(ibi_features(rec, "ppg"), want)   # was the clipped PPG's
