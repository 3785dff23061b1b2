"""heart_rate(record, channel=...) measures the channel with its own modality's detector."""
import warnings

import neurokit2 as nk
import numpy as np
import pytest

from biosig.measures import heart_rate
from biosig.record import Record
from biosig.synthetic import simulate


def test_ppg_channel_of_an_ecg_and_ppg_record():
    ecg = simulate("ecg", 60, seed=2, heart_rate_bpm=60)
    ppg = simulate("ppg", 60, seed=2, fs_hz=250.0, heart_rate_bpm=100)
    rec = Record(np.vstack([ecg.samples, ppg.samples]), 250.0, ("II", "PLETH"), ("mV", "a.u."))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = ppg.samples[0].astype(np.float64)   # oracle: NeuroKit2's pulse peaks of the PPG alone
        peaks = nk.ppg_findpeaks(nk.ppg_clean(x, sampling_rate=250), sampling_rate=250)["PPG_Peaks"]
    oracle = 60.0 * 250.0 / np.mean(np.diff(peaks))
    # was 91.8 /min: the R-peak detector ran on the pulse wave
    assert heart_rate(rec, channel="PLETH") == pytest.approx(oracle, rel=0.01)
    assert heart_rate(rec, channel=1) == pytest.approx(oracle, rel=0.01)
    assert heart_rate(rec) == pytest.approx(60.0, abs=1.0)   # the ECG lead by default
