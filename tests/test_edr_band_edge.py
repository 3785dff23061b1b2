"""Respiratory rate from pulse modulation: the spectrum's maximum must be a peak. A beat series
without breathing in it, only a slow drift, put its maximum at the band's lower edge, and 6.0
breaths/min came back (22 of 200 CinC 2017 records read exactly 6.0; 0 now)."""
import numpy as np
import pytest

from biosig.measures_edr import modulation_resp_rate

FS_HZ = 100.0


def _pulses(beat_times_s: np.ndarray, seconds: float, amplitude=None) -> np.ndarray:
    t = np.arange(int(seconds * FS_HZ)) / FS_HZ
    x = np.zeros_like(t)
    amp = np.ones(len(beat_times_s)) if amplitude is None else amplitude
    for b, a in zip(beat_times_s, amp):
        near = (t > b - 0.3) & (t < b + 0.8)
        x[near] += a * np.exp(-0.5 * ((t[near] - b - 0.18) / 0.07) ** 2)
    return x


def _beats(rr_of_t, seconds: float) -> np.ndarray:
    out, t = [], 0.5
    while t < seconds - 0.5:
        out.append(t)
        t += rr_of_t(t)
    return np.asarray(out)


@pytest.mark.parametrize("breaths_per_min", [6.6, 10.0, 15.0, 24.0])
def test_breathing_in_the_intervals_and_amplitudes_is_found(breaths_per_min):
    f = breaths_per_min / 60.0
    beats = _beats(lambda t: 0.8 + 0.04 * np.sin(2 * np.pi * f * t), 90.0)
    x = _pulses(beats, 90.0, 1.0 + 0.1 * np.sin(2 * np.pi * f * beats))
    assert modulation_resp_rate(x, FS_HZ, "ppg") == pytest.approx(breaths_per_min, abs=0.7)


@pytest.mark.parametrize("seconds", [32.0, 90.0])
def test_a_modulation_slower_than_breathing_is_no_rate(seconds):
    """Intervals and amplitudes swinging once every 20 s (3 /min: slower than the 6-42 /min band)
    with small beat-to-beat noise: no peak inside the band. Before, on 32 s: 6.0 (the band's edge)."""
    rng = np.random.default_rng(0)
    beats = _beats(lambda t: 0.8 + 0.05 * np.sin(2 * np.pi * t / 20.0) + 0.002 * rng.standard_normal(), seconds)
    x = _pulses(beats, seconds, 1.0 + 0.1 * np.sin(2 * np.pi * beats / 20.0))
    assert np.isnan(modulation_resp_rate(x, FS_HZ, "ppg"))


def test_breathing_is_found_in_32_s():
    beats = _beats(lambda t: 0.8 + 0.04 * np.sin(2 * np.pi * 0.25 * t), 32.0)
    x = _pulses(beats, 32.0, 1.0 + 0.1 * np.sin(2 * np.pi * 0.25 * beats))
    assert modulation_resp_rate(x, FS_HZ, "ppg") == pytest.approx(15.0, abs=1.0)
