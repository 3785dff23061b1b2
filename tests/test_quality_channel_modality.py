"""Window quality scores each channel with its own modality's detector, and the window contract.

The PLETH channel of an ECG+PPG record (CinC 2015 a103l: II, V, PLETH) was scored with the
record's (ECG) R-peak detector: 0.79 mean window quality against 0.92 as PPG, and the record's
mean 0.818 against 0.862. A (W, C) window given to ``block_quality`` was W channels of C
samples each and scored 0 without a word.
"""
import warnings

import neurokit2 as nk
import numpy as np
import pytest

from biosig.errors import SignalError
from biosig.quality import block_quality, quality_modalities, window_quality
from biosig.quality_summary import quality_summary
from biosig.readers import read
from biosig.record import Record
from biosig.synthetic import simulate
from conftest import shared_path

FS_HZ = 250.0


@pytest.fixture(scope="module")
def ecg_ppg():
    """60 s: an ECG lead "II" at 60 /min and a pulse wave "PLETH" at 100 /min."""
    ecg = simulate("ecg", 60, seed=2, heart_rate_bpm=60)
    ppg = simulate("ppg", 60, seed=2, fs_hz=FS_HZ, heart_rate_bpm=100)
    return Record(np.vstack([ecg.samples, ppg.samples]), FS_HZ, ("II", "PLETH"), ("mV", "a.u."))


def test_each_channel_is_scored_with_its_own_modality(ecg_ppg):
    assert ecg_ppg.modality == "ecg" and quality_modalities(ecg_ppg) == ("ecg", "ppg")
    q = window_quality(ecg_ppg)
    alone = [window_quality(ecg_ppg.select([c])) for c in ecg_ppg.channels]   # each channel on its own
    np.testing.assert_allclose(q, np.mean(alone, axis=0), rtol=0, atol=1e-12)
    as_ecg = window_quality(ecg_ppg.select(["PLETH"]), modality="ecg")
    assert np.abs(alone[1] - as_ecg).max() > 0.05   # the detector matters: the old scores were off


def test_the_ppg_channel_score_follows_neurokit_ppg_quality(ecg_ppg):
    """NeuroKit2's ppg_quality (templatematch) of the PLETH channel is the oracle for its share."""
    q = window_quality(ecg_ppg, 10.0, 10.0)
    q_ecg = window_quality(ecg_ppg.select(["II"]), 10.0, 10.0)
    ppg_share = 2 * q - q_ecg
    x = ecg_ppg.samples[1].astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        oracle = []
        for a in range(0, len(x) - 2500 + 1, 2500):
            clean = nk.ppg_clean(x[a:a + 2500], sampling_rate=250)
            peaks = nk.ppg_findpeaks(clean, sampling_rate=250)["PPG_Peaks"]
            oracle.append(np.nanmean(nk.ppg_quality(clean, peaks=peaks, sampling_rate=250, method="templatematch")))
    np.testing.assert_allclose(ppg_share, np.clip(oracle, 0, 1), atol=0.05)


def test_modality_argument_and_one_channel_records_keep_their_meaning(ecg_ppg):
    assert quality_modalities(ecg_ppg, "ecg") == ("ecg", "ecg")            # given: every channel
    pleth_as_ecg = ecg_ppg.select(["PLETH"]).replace(modality="ecg")     # one channel: the record's modality
    assert quality_modalities(pleth_as_ecg) == ("ecg",)
    unnamed = Record(ecg_ppg.samples, FS_HZ, ("II", "ch2"))   # unknown name beside a named lead: not one
    assert quality_modalities(unnamed) == ("ecg", "other")      # (biosig.modality.modality_channel_indices)
    given = unnamed.replace(metadata={"channel_modalities": {"ch2": "ppg"}})   # --channel ch2=ppg
    assert quality_modalities(given) == ("ecg", "ppg")


def test_quality_summary_uses_each_channels_modality(ecg_ppg):
    s = quality_summary(ecg_ppg, max_windows=3)
    parts = [quality_summary(ecg_ppg.select([c]), max_windows=3)["mean_quality"] for c in ecg_ppg.channels]
    assert s["mean_quality"] == pytest.approx(np.mean(parts), abs=1e-12)


def test_a103l_pleth_scored_as_ppg():
    """CinC 2015 a103l (II, V, PLETH at 250 Hz): the record's window quality is the mean of its
    channels' own-modality qualities (was 0.818, PLETH read as ECG; now 0.862)."""
    rec = read(shared_path("wfdb", "a103l.hea"))
    assert rec.channels == ("II", "V", "PLETH") and rec.modality == "ecg"
    q = window_quality(rec)
    alone = np.mean([window_quality(rec.select([c])) for c in rec.channels], axis=0)
    np.testing.assert_allclose(q, alone, rtol=0, atol=1e-12)
    pleth_as_ppg = window_quality(rec.select(["PLETH"]))
    pleth_as_ecg = window_quality(rec.select(["PLETH"]), modality="ecg")
    assert pleth_as_ppg.mean() > pleth_as_ecg.mean() + 0.05


# ---------------------------------------------------------------------------------- window shape
def test_block_quality_is_the_mean_over_channels_of_a_channels_first_window(ecg_ppg):
    x = ecg_ppg.samples[:, :2500].astype(np.float64)
    per = [block_quality(row, FS_HZ, m) for row, m in zip(x, ("ecg", "ppg"))]
    assert block_quality(x, FS_HZ, ("ecg", "ppg")) == pytest.approx(np.mean(per), abs=1e-15)
    assert block_quality(x, FS_HZ, "ecg") == pytest.approx(np.mean([block_quality(r, FS_HZ, "ecg") for r in x]))


def test_block_quality_refuses_a_samples_first_window(ecg_ppg):
    x = ecg_ppg.samples[:, :2500]
    with pytest.raises(SignalError, match=r"shape \(2500, 2\).*x\.T"):   # was 0.0, silently
        block_quality(x.T, FS_HZ, "ecg")
    with pytest.raises(SignalError, match=r"shape \(2500, 2\)"):
        window_quality(x.T, FS_HZ, "ecg")


def test_block_quality_refuses_a_modality_list_of_the_wrong_length(ecg_ppg):
    with pytest.raises(SignalError, match="3 modalities for a window of 2 channel"):
        block_quality(ecg_ppg.samples[:, :2500], FS_HZ, ("ecg", "ppg", "ppg"))


def test_a_short_window_of_a_few_channels_is_not_taken_for_a_transposed_one():
    x = np.random.default_rng(0).normal(size=(12, 10))   # 12 channels of a 1 Hz stream, 10 s window
    assert block_quality(x, 1.0, "other") == 1.0
    with pytest.raises(SignalError, match=r"shape \(40, 20\)"):
        block_quality(np.zeros((40, 20)), 1.0, "other")
