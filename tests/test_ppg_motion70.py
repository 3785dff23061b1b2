"""A periodic hand motion (walking, 1-3 Hz) is no pulse: a PPG window whose wave is as symmetric as a
sinusoid is withheld (:func:`biosig.pulse_doubt.periodic_motion`, ``missing="uncertain_beats"``). Before,
the motion's rate was published as the pulse rate in 240 of 263 such windows. Truth: the beat times the
test's NumPy pulse wave is built on; the skewness oracle is scipy.stats.skew."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import skew

from biosig.measures_window import window_measures
from biosig.pulse_doubt import SYMMETRIC_MAX_BPM, SYMMETRIC_SKEW, periodic_motion, wave_asymmetry
from biosig.quality import detect_beats
from biosig.synthetic_pulse import ppg_from_pulse_beats


def gaussian_pulses(beats_s, n, fs_hz, refl=0.35, refl_delay_s=0.3, sys_w_s=0.07, refl_w_s=0.09):
    """(n,) a Gaussian systolic wave per beat and a reflected wave ``refl`` of its height ``refl_delay_s`` later."""
    t = np.arange(n) / fs_hz
    x = np.zeros(n)
    for b in beats_s:
        x += np.exp(-0.5 * ((t - b) / sys_w_s) ** 2) + refl * np.exp(-0.5 * ((t - b - refl_delay_s) / refl_w_s) ** 2)
    return x


def beat_times(bpm, rng, window_s=10.0):
    return np.cumsum(60.0 / bpm * (1 + 0.02 * rng.standard_normal(int(bpm * (window_s + 4) / 60) + 3))) - 2.0


def truth_bpm(beats_s, window_s=10.0):
    b = beats_s[(beats_s >= 0) & (beats_s < window_s)]
    return 60.0 / float(np.mean(np.diff(b)))


@pytest.mark.parametrize("fs_hz", [25.0, 125.0])
@pytest.mark.parametrize("motion_hz,amp", [(1.2, 2.0), (2.0, 3.0), (2.7, 5.0)])
def test_walking_motion_is_not_published_as_the_pulse_rate(fs_hz, motion_hz, amp):
    """60 /min pulse + a walking sinusoid of 1-5 x the pulse height: withheld (was the motion's rate)."""
    rng = np.random.default_rng(int(motion_hz * 10 + amp + fs_hz))
    n = int(10 * fs_hz)
    t = np.arange(n) / fs_hz
    beats = beat_times(60.0, rng)
    x = (gaussian_pulses(beats, n, fs_hz) + amp * np.sin(2 * np.pi * motion_hz * t + rng.uniform(0, 6.3))
         + 0.02 * rng.standard_normal(n))
    m = window_measures(x, fs_hz, "ppg")
    published_right = m["ok"] and abs(m["hr_bpm"] / truth_bpm(beats) - 1) <= 0.1
    assert published_right or m["missing"] == "uncertain_beats", m


@pytest.mark.parametrize("fs_hz", [25.0, 500.0])
def test_clean_pulse_stays_published_and_right(fs_hz):
    """Clean Gaussian pulses of 40-200 /min with a reflected wave of 0-0.5 of the peak stay published
    within 5 % of the beat times' rate."""
    n = int(10 * fs_hz)
    for bpm in (40.0, 75.0, 120.0, 170.0, 200.0):
        rng = np.random.default_rng(int(bpm + fs_hz))
        beats = beat_times(bpm, rng)
        for refl in (0.0, 0.25, 0.5):
            x = gaussian_pulses(beats, n, fs_hz, refl, min(0.3, 0.45 * 60.0 / bpm)) + 0.02 * rng.standard_normal(n)
            m = window_measures(x, fs_hz, "ppg")
            assert m["ok"] and m["hr_bpm"] == pytest.approx(truth_bpm(beats), rel=0.05), (bpm, refl, m)


@pytest.mark.parametrize("fs_hz", [25.0, 500.0])
def test_either_polarity_is_no_periodic_motion(fs_hz):
    """The pulse generator's log-normal pulses and the Gaussian ones, upright and upside down (a camera
    PPG), at 40-170 /min: the rule does not take them for a motion (their asymmetry was 0.19 or more; least at 170 /min)."""
    n = int(10 * fs_hz)
    for bpm in (40.0, 75.0, 120.0, 170.0):
        rng = np.random.default_rng(int(bpm + fs_hz))
        beats = beat_times(bpm, rng)
        g = ppg_from_pulse_beats(beats + 2.0, n + int(2 * fs_hz), fs_hz, rng)[int(2 * fs_hz):]
        for k, wave in enumerate((g, gaussian_pulses(beats, n, fs_hz, 0.5, min(0.3, 0.45 * 60.0 / bpm)))):
            for sign in (1.0, -1.0):
                found, clean = detect_beats(sign * wave + 0.02 * rng.standard_normal(n), fs_hz, "ppg")
                assert len(found) >= 4 and not periodic_motion(clean, found, fs_hz), (bpm, k, sign)
                assert wave_asymmetry(clean) > 1.5 * SYMMETRIC_SKEW, (bpm, k, sign, wave_asymmetry(clean))


def test_wave_asymmetry_against_scipy():
    """``max(|skew|, |skew of the difference|)``, scipy.stats.skew the oracle; a sinusoid under the
    threshold, a pulse wave of either polarity well over it."""
    fs_hz = 100.0
    t = np.arange(1000) / fs_hz
    rng = np.random.default_rng(0)
    pulse = gaussian_pulses(beat_times(70.0, rng), 1000, fs_hz) + 0.01 * rng.standard_normal(1000)
    for x in (pulse, -pulse, np.sin(2 * np.pi * 1.7 * t)):
        want = max(abs(skew(x)), abs(skew(np.diff(x))))
        assert wave_asymmetry(x) == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert wave_asymmetry(np.sin(2 * np.pi * 1.7 * t)) < SYMMETRIC_SKEW < 3 * SYMMETRIC_SKEW < wave_asymmetry(-pulse)


def test_a_fast_pulse_is_not_judged_by_its_shape():
    """Over :data:`SYMMETRIC_MAX_BPM` a pulse is near a sinusoid after the band-pass: a 210 /min pulse
    (asymmetry under the threshold) stays published."""
    fs_hz, n = 125.0, 1250
    rng = np.random.default_rng(5)
    beats = beat_times(210.0, rng)
    x = gaussian_pulses(beats, n, fs_hz, 0.35, 0.12) + 0.02 * rng.standard_normal(n)
    m = window_measures(x, fs_hz, "ppg")
    assert truth_bpm(beats) > SYMMETRIC_MAX_BPM
    assert m["ok"] and m["hr_bpm"] == pytest.approx(truth_bpm(beats), rel=0.05), m
