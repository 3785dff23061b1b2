"""ECG quality gate under baseline wander (breathing, movement): a clean ECG with a slow wander passes,
truly bad windows (electrode motion noise, a lead off, flat) still fail. The generator's wander-free
record is the reference."""
import numpy as np
import pytest

from biosig.ecg_beats import _band
from biosig.measures_hrv import hrv_features
from biosig.quality import USABLE, window_quality
from biosig.synthetic import simulate

FS_HZ = 250.0


def _clean(seed):
    return simulate("ecg", 30, seed=seed, baseline_wander_mv=0.0, noise_mv=0.02)


def _with(rec, extra):
    return rec.replace(samples=(rec.samples + extra).astype(np.float32))


def _wander(n, freq_hz, amplitude_mv, seed):
    t = np.arange(n) / FS_HZ
    return amplitude_mv * np.sin(2 * np.pi * freq_hz * t + np.random.default_rng(seed).uniform(0, 2 * np.pi))


@pytest.mark.parametrize("freq_hz,amplitude_mv", [(0.25, 4.0), (0.5, 1.0), (0.5, 2.0), (0.5, 4.0)])
def test_a_clean_ecg_with_baseline_wander_passes_the_gate(freq_hz, amplitude_mv):
    """Before: a 0.5 Hz, 2 mV wander scored 0.44-0.6 (0.5 Hz is still a quarter of its size after the
    0.5-40 Hz band-pass, and R peaks were refined to the largest deflection from zero, R or S)."""
    for seed in (0, 1):
        rec = _clean(seed)
        q_clean = window_quality(rec)
        q = window_quality(_with(rec, _wander(rec.n_samples, freq_hz, amplitude_mv, seed)))
        assert q.min() >= USABLE["ecg"], (seed, q)
        assert np.abs(q - q_clean).max() < 0.1, (seed, q, q_clean)


def test_bad_ecg_windows_still_fail_the_gate():
    rng = np.random.default_rng(5)
    for seed in (0, 1):
        rec = _clean(seed)
        n = rec.n_samples
        motion = _band(rng.standard_normal(n), FS_HZ, 1.0, 10.0)   # electrode motion: 1-10 Hz, 0.5 mV rms
        motion *= 0.5 / motion.std()
        t = np.arange(n) / FS_HZ
        lead_off = 0.3 * np.sin(2 * np.pi * 50 * t) + rng.normal(0, 0.05, n)   # mains and amplifier noise
        for name, x in (("motion", rec.samples + motion),
                        ("motion + wander", rec.samples + motion + _wander(n, 0.5, 2.0, seed)),
                        ("lead off", lead_off[None, :]),
                        ("lead off + drift", (lead_off + _wander(n, 0.3, 2.0, seed))[None, :]),
                        ("flat", np.zeros((1, n)))):
            q = window_quality(rec.replace(samples=np.asarray(x, np.float32)))
            assert q.max() < USABLE["ecg"], (name, seed, q)


def test_wander_does_not_make_normal_beats_ectopic_for_hrv():
    """The NN intervals (beats correlating under 0.5 with the average beat leave the variability)
    compared the beats with the wander in them: every beat 'ectopic', RMSSD NaN."""
    for seed in (0, 1, 2):
        rec = simulate("ecg", 10, seed=seed, baseline_wander_mv=0.0, noise_mv=0.02)
        x = rec.samples[0].astype(np.float64)
        ref = hrv_features(x, FS_HZ)
        got = hrv_features(x + _wander(len(x), 0.5, 2.0, seed), FS_HZ)
        assert np.isfinite(got["rmssd_ms"]) and np.isfinite(got["sdnn_ms"]), (seed, got)
        assert got["hr_bpm"] == pytest.approx(ref["hr_bpm"], abs=1.0)
        assert got["n_beats"] == ref["n_beats"]
