"""ECGSYN always returns, and its heart rate is right at any sampling rate.

* NeuroKit2's RR upsampling (``scipy.ndimage.zoom``) can leave the last RR value 0 s; a beat that
  started on that sample started there for ever: ``simulate("ecg", 10, seed=180, fs_hz=100)`` (and
  6 of 400 default ECGs at 100 Hz, 10 s or 60 s) never returned.
* ECGSYN ran at ``round(fs_hz)`` and its samples were labelled ``fs_hz``: at 62.5 Hz the heart rate
  read 0.8 % fast (as PPG and RESP did before ``tests/test_synthetic_rates.py``).
"""
import numpy as np
import pytest
from scipy import signal

from biosig.quality import detect_beats
from biosig.synthetic import simulate
from biosig.synthetic_ecgsyn import hold_rr_per_beat


def _nk_loop(rr, fs_hz, max_steps=100_000):
    """Oracle: NeuroKit2's ``_ecg_simulate_ecgsyn`` loop as written there, stopped after ``max_steps``."""
    dt = 1 / fs_hz
    rrn = np.zeros(len(rr))
    t_beat, i, ip, steps = 0.0, 0, 0, 0
    while i < len(rr) and steps < max_steps:
        t_beat += rr[i]
        ip = int(np.round(t_beat / dt))
        rrn[i:ip] = rr[i]
        i, steps = ip, steps + 1
    return rrn, ip, i >= len(rr)


def _peak_per_min(x, fs_hz, lo_hz, hi_hz):
    """Oracle: the largest peak of SciPy's periodogram (zero-padded) in [lo, hi] Hz, per minute."""
    f, p = signal.periodogram(x - x.mean(), fs=fs_hz, nfft=1 << 20)
    band = (f > lo_hz) & (f < hi_hz)
    return 60.0 * f[band][np.argmax(p[band])]


def test_rr_hold_is_neurokits_where_neurokit_ends():
    rng = np.random.default_rng(0)
    rr = np.repeat(rng.uniform(0.4, 1.2, 40), 250)
    rrn, ip = hold_rr_per_beat(rr, 250)
    ref_rrn, ref_ip, ended = _nk_loop(rr, 250)
    assert ended
    np.testing.assert_array_equal(rrn, ref_rrn)
    assert ip == ref_ip


def test_rr_hold_moves_past_a_last_rr_of_zero():
    rr = np.full(1001, 0.5)   # at 100 Hz a beat starts every 50 samples: on the last one, 1000
    rr[-1] = 0.0   # as signal_resample can leave it
    assert not _nk_loop(rr, 100)[2]   # NeuroKit2's loop never ends here
    rrn, ip = hold_rr_per_beat(rr, 100)
    assert ip == len(rr) - 1 and np.all(rrn[:-1] == 0.5)


@pytest.mark.timeout(300)
def test_ecg_at_100_hz_returns_with_its_heart_rate():
    rec = simulate("ecg", 10, seed=180, fs_hz=100.0, noise_mv=0.01, baseline_wander_mv=0.0)
    assert rec.n_samples == 1000
    beats, _ = detect_beats(rec.samples[0].astype(np.float64), 100.0, "ecg")
    hr = 60.0 / np.median(np.diff(beats) / 100.0)
    assert hr == pytest.approx(rec.metadata["truth"]["heart_rate_bpm"], rel=0.05)


@pytest.mark.parametrize("fs_hz,seconds", [(62.5, 60), (50.4, 60), (62.5, 75)])   # 75 s: stitched segments
def test_ecg_rate_at_non_integer_rate(fs_hz, seconds):
    kw = dict(heart_rate_bpm=70, heart_rate_std_bpm=0.0, noise_mv=0.0, baseline_wander_mv=0.0)
    ref = simulate("ecg", seconds, seed=1, fs_hz=250.0, **kw)
    rec = simulate("ecg", seconds, seed=1, fs_hz=fs_hz, **kw)
    assert rec.n_samples == round(seconds * fs_hz)
    assert _peak_per_min(rec.samples[0], fs_hz, 0.5, 3) == pytest.approx(
        _peak_per_min(ref.samples[0], 250.0, 0.5, 3), rel=2e-3)
    beats, _ = detect_beats(rec.samples[0].astype(np.float64), fs_hz, "ecg")
    assert len(beats) == pytest.approx(seconds * 70 / 60, abs=2)


def test_integer_rates_unchanged_by_the_spline():
    from biosig.synthetic_ecgsyn import ecgsyn

    rec = simulate("ecg", 10, seed=4, fs_hz=360.0, noise_mv=0.0, baseline_wander_mv=0.0)
    hr = rec.metadata["truth"]["heart_rate_bpm"]
    np.testing.assert_array_equal(rec.samples[0], ecgsyn(12.0, 3600, 360, hr, 1.0, 4).astype(np.float32))
