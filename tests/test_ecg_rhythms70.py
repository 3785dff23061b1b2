"""Rhythms a bedside monitor must not count wrong (task 70 E): a window of P waves with no QRS (ventricular
standstill), tall peaked T waves counted after every beat, and ventricular fibrillation must publish no
heart rate; wide-QRS rhythms and a clean ECG stay published at their rate. The windows are built with NumPy
(Gaussian waves: :func:`_ecg`); the truth is the beat times they are built from."""
from __future__ import annotations

import numpy as np
import pytest

from biosig.measures_window import window_measures

WINDOW_S = 10.0


def _g(t: np.ndarray, centres, width_s: float) -> np.ndarray:
    return np.exp(-0.5 * ((t[None, :] - np.asarray(centres, float)[:, None]) / width_s) ** 2).sum(axis=0)


def _ecg(fs: float, beats_s, qrs_scale: float = 1.0, t_mv: float = 0.3, t_width_s: float = 0.045,
         p_s=None, p_mv: float = 0.15, noise_mv: float = 0.02, seed: int = 0) -> np.ndarray:
    """10 s of ECG (mV): Q, R, S Gaussians ``qrs_scale`` times as wide as a normal QRS (about 90 ms), a T wave
    0.25 sqrt(RR) s after each beat, P waves at ``p_s`` and white noise."""
    t = np.arange(int(WINDOW_S * fs)) / fs
    b = np.asarray(beats_s, float)
    x = np.zeros(len(t))
    if len(b):
        w = qrs_scale
        x += -0.12 * _g(t, b - 0.025 * w, 0.010 * w) + _g(t, b, 0.011 * w) - 0.25 * _g(t, b + 0.027 * w, 0.010 * w)
        x += t_mv * _g(t, b + 0.25 * np.sqrt(min(float(np.median(np.diff(b))), 1.2)), t_width_s)
    if p_s is not None:
        x += p_mv * _g(t, p_s, 0.025)
    return x + np.random.default_rng(seed).normal(0.0, noise_mv, len(t))


def _regular(rate_per_min: float, offset_s: float = 0.3) -> np.ndarray:
    rr = 60.0 / rate_per_min
    return np.arange(-2, int(WINDOW_S / rr) + 3) * rr + offset_s


def _truth(beats_s: np.ndarray) -> float:
    b = beats_s[(beats_s >= 0) & (beats_s < WINDOW_S)]
    return 60.0 / float(np.mean(np.diff(b)))


@pytest.mark.parametrize("fs", [125.0, 250.0, 500.0])
@pytest.mark.parametrize("rate", [68.0, 88.0])
def test_p_waves_without_qrs_publish_no_heart_rate(fs, rate):
    """Ventricular standstill: P waves at 68-88 /min, no QRS. Published at the P-wave rate before."""
    x = _ecg(fs, [], p_s=_regular(rate), p_mv=0.15, noise_mv=0.01)
    m = window_measures(x[None], fs, "ecg")
    assert m["hr_bpm"] is None and not m["ok"], m


@pytest.mark.parametrize("fs", [125.0, 250.0, 500.0])
@pytest.mark.parametrize("rate", [50.0, 55.0])
def test_tall_peaked_t_waves_do_not_double_the_rate(fs, rate):
    """T waves as tall as the QRS, 25 ms wide, at 50-55 /min: every T counted made 104-113 /min before."""
    beats = _regular(rate, 0.5)
    x = _ecg(fs, beats, t_mv=1.0, t_width_s=0.025, p_s=beats - 0.16)
    m = window_measures(x[None], fs, "ecg")
    assert m["hr_bpm"] is None or abs(m["hr_bpm"] - _truth(beats)) <= 5, m


@pytest.mark.parametrize("fs", [125.0, 500.0])
def test_ventricular_fibrillation_publishes_no_heart_rate(fs):
    """A 4-6 Hz irregular wave with no QRS and no baseline between waves (seed 7 was published at 134 /min)."""
    rng = np.random.default_rng(7)
    n = int(WINDOW_S * fs)
    t = np.arange(n) / fs
    f = rng.uniform(4, 6) + 0.8 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6))
    f += np.cumsum(rng.normal(0, 0.02, n)) / np.sqrt(fs) * 2
    ph = 2 * np.pi * np.cumsum(f) / fs
    amp = rng.uniform(0.2, 0.8) * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 6)))
    x = amp * (np.sin(ph) + 0.3 * np.sin(2 * ph + rng.uniform(0, 6))) + rng.normal(0, 0.02, n)
    assert window_measures(x[None], fs, "ecg")["hr_bpm"] is None


@pytest.mark.parametrize("fs", [125.0, 250.0, 500.0])
@pytest.mark.parametrize("case", ["clean", "bundle branch block", "ventricular tachycardia", "tall t"])
def test_countable_rhythms_stay_published_at_their_rate(fs, case):
    """What the rules above must not withhold: sinus at 75 /min, a 140 ms QRS at 60 /min, monomorphic VT at
    190 /min (180 ms QRS, no P waves) and T waves as tall as the QRS but wide (normal timing, 60 /min)."""
    if case == "clean":
        beats = _regular(75.0)
        x = _ecg(fs, beats, p_s=beats - 0.16)
    elif case == "bundle branch block":
        beats = _regular(60.0)
        x = _ecg(fs, beats, qrs_scale=1.55, t_mv=-0.3, t_width_s=0.06, p_s=beats - 0.18)
    elif case == "ventricular tachycardia":
        beats = _regular(190.0)
        x = _ecg(fs, beats, qrs_scale=2.0, t_mv=-0.4, t_width_s=0.05)
    else:
        beats = _regular(60.0)
        x = _ecg(fs, beats, t_mv=0.9, t_width_s=0.07, p_s=beats - 0.16)
    m = window_measures(x[None], fs, "ecg")
    assert m["ok"] and abs(m["hr_bpm"] - _truth(beats)) <= 0.05 * _truth(beats), m
