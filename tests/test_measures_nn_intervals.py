"""NN intervals: a beat unlike the window's average beat (an ectopic beat, an artefact taken for a
beat) leaves the variability features, with the intervals on both sides, as HRV's normal-to-normal
intervals leave out ectopic beats (Task Force 1996); the heart rate counts every beat."""
import numpy as np
import pytest

import biosig
import biosig.measures_hrv as hrv
from biosig.measures_window import window_measures
from biosig.quality import beat_correlations, detect_beats, template_correlation
from biosig.synthetic import simulate
from conftest import shared_path


def test_beat_correlations_match_numpy_corrcoef_per_beat():
    rec = simulate("ecg", 10, seed=2)
    fs_hz, x = rec.fs_hz, rec.samples[0].astype(np.float64)
    beats, clean = detect_beats(x, fs_hz, "ecg")
    cc = beat_correlations(clean, beats, fs_hz)
    rr = float(np.median(np.diff(beats)))
    a, b = int(round(0.4 * rr)), int(round(0.6 * rr))
    inside = (beats - a >= 0) & (beats + b <= len(clean))
    segs = np.stack([clean[k - a:k + b] for k in beats[inside]])
    template = segs.mean(axis=0)
    want = np.array([np.corrcoef(s, template)[0, 1] for s in segs])
    np.testing.assert_allclose(cc[inside], want, atol=1e-12)
    assert np.isnan(cc[~inside]).all()
    np.testing.assert_array_equal(template_correlation(clean, beats, fs_hz), cc[inside])


def _with_wide_beat(seed=2):
    """A synthetic sinus ECG with a wide, inverted beat halfway between two beats (a PVC-like deflection
    the detector takes for a beat)."""
    rec = simulate("ecg", 10, seed=seed)
    fs_hz, x = rec.fs_hz, rec.samples[0].astype(np.float64)
    beats, _ = detect_beats(x, fs_hz, "ecg")
    t = np.arange(len(x))
    mid = (beats[5] + beats[6]) // 2
    y = x - np.ptp(x) * np.exp(-0.5 * ((t - mid) / (0.03 * fs_hz)) ** 2)
    return x, y, fs_hz, mid


def test_an_ectopic_beat_counts_in_the_heart_rate_but_not_in_the_variability(monkeypatch):
    """The heart rate counts every beat (an interpolated PVC is a heartbeat, as a monitor counts it);
    SDNN, RMSSD and the other variability features read the normal-to-normal intervals only."""
    x, y, fs_hz, mid = _with_wide_beat()
    _, beats, _ = hrv.beats_and_features(y, fs_hz, "ecg")
    assert np.min(np.abs(beats - mid)) < 0.05 * fs_hz          # the wide beat is detected as a beat
    clean = hrv.hrv_features(x, fs_hz)
    got = hrv.hrv_features(y, fs_hz)
    every = 60.0 / np.mean(np.diff(np.sort(beats)) / fs_hz)
    assert got["hr_bpm"] == pytest.approx(every) and got["hr_bpm"] > clean["hr_bpm"] + 4
    assert abs(got["sdnn_ms"] - clean["sdnn_ms"]) < 5.0 and abs(got["rmssd_ms"] - clean["rmssd_ms"]) < 5.0
    monkeypatch.setattr(hrv, "NN_MIN_CORR", -2.0)              # every beat a normal one: what it was before
    old = hrv.hrv_features(y, fs_hz)
    assert old["hr_bpm"] == pytest.approx(got["hr_bpm"]) and old["sdnn_ms"] > 50


def test_rr_features_take_the_rate_from_every_interval_and_the_variability_from_the_nn_ones():
    rr = [0.8, 0.8, 0.4, 1.2, 0.8, 0.8, 0.8]                   # a premature beat and its pause
    nn = [0.8, 0.8, np.nan, np.nan, 0.8, 0.8, 0.8]
    f = hrv.rr_features(rr, nn_s=nn)
    assert f["hr_bpm"] == pytest.approx(60.0 / np.mean(rr))
    assert f["sdnn_ms"] == pytest.approx(0.0) and f["rmssd_ms"] == pytest.approx(0.0)
    assert hrv.rr_features(rr)["rmssd_ms"] > 300                 # all intervals: the premature beat's


def test_artefact_at_the_end_of_a_clean_window_leaves_its_variability():
    """CinC 2015 a103l lead II, 255-265 s: 2 s of motion artefact after 8 s of clean beats at about
    126 /min. The window passes the quality gate (0.89); its artefact "beats" gave SDNN 71 ms for the
    3 of the clean window before it."""
    path = shared_path("wfdb", "a103l.hea")
    rec = biosig.read(str(path)[:-4])
    fs_hz, x = rec.fs_hz, rec.samples[0].astype(np.float64)
    clean = window_measures(x[int(245 * fs_hz):int(255 * fs_hz)], fs_hz, "ecg")
    m = window_measures(x[int(255 * fs_hz):int(265 * fs_hz)], fs_hz, "ecg")
    assert m["ok"] and m["quality"] == pytest.approx(0.892, abs=0.01)   # 0.853 before the ECG wander rule
    assert clean["sdnn_ms"] < 10 and m["sdnn_ms"] < 30
