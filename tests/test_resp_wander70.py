"""Baseline wander under breathing: a published respiratory rate must be the breaths', not the wander's.

Signals built here with NumPy from known breath times (the truth: 60 / their mean interval in the window) plus a
sinusoidal wander of 1-3 x the breath amplitude at 0.02-0.08 Hz. Before: the wander became the dominant period,
the peaks kept were the breaths on its crests (one in 3-4) and 30 s windows of 16 /min breathing under a 2.5 x
wander at 0.08 Hz published 4.2-5.4 /min in 12 of 12 (now 10 withheld: :func:`biosig.resp_doubt.faster_rhythm`).
"""
import numpy as np
import pytest

from biosig.measures_window import breath_peaks, window_measures
from biosig.resp_doubt import faster_rhythm
from test_resp_safety70 import _breaths, _clean_window, _regular, _right_or_withheld


def _wandered(seed, fs_hz, rate_bpm=16.0, amp=2.5, wander_hz=0.08, seconds=30.0):
    rng = np.random.default_rng(seed)
    iv, am = _regular(rng, rate_bpm, n=200)
    x, pk = _breaths(fs_hz, seconds, iv, am)
    t = np.arange(len(x)) / fs_hz
    x = x + amp * np.sin(2 * np.pi * wander_hz * t + seed * 0.5) + 0.01 * rng.standard_normal(len(x))
    return x, pk


@pytest.mark.parametrize("fs_hz", [25.0, 250.0])
@pytest.mark.parametrize("seed", [0, 1, 3, 5])
def test_a_wander_larger_than_the_breaths_publishes_no_wander_rate(fs_hz, seed):
    """Before: 4.7-5.3 /min published for 16 /min (2-3 peaks found, on the wander's crests)."""
    x, pk = _wandered(seed, fs_hz)
    assert len(breath_peaks(x, fs_hz)) <= 3   # the case: the detector kept the crests only
    m = window_measures(x, fs_hz, "resp")
    assert not m["ok"] and m["missing"] == "uncertain_breaths", m
    _right_or_withheld(m, pk, 30.0)


@pytest.mark.parametrize("seed", range(6))
def test_wandered_windows_are_right_or_withheld(seed):
    """1-3 x the breath at 0.02-0.08 Hz, 12-20 /min, 25 Hz (the runtime rate)."""
    rng = np.random.default_rng(100 + seed)
    x, pk = _wandered(seed, 25.0, rate_bpm=rng.uniform(12, 20), amp=rng.uniform(1, 3),
                      wander_hz=rng.uniform(0.02, 0.08), seconds=60.0)
    for a_s in (0.0, 15.0, 30.0):
        w = x[int(a_s * 25):int((a_s + 30) * 25)]
        _right_or_withheld(window_measures(w, 25.0, "resp"), pk[(pk >= a_s) & (pk < a_s + 30)] - a_s, 30.0)


@pytest.mark.parametrize("fs_hz", [25.0, 250.0])
@pytest.mark.parametrize("rate", [6.0, 8.0, 12.0, 20.0, 30.0, 45.0, 60.0])
def test_clean_breathing_has_no_faster_rhythm_and_stays_published(fs_hz, rate):
    """The 2nd harmonic of an asymmetric breath is at 2 x its rate (under FAST_RATE_REL): no doubt."""
    x, pk, interval_s = _clean_window(fs_hz, rate, int(rate) + 7)
    assert not faster_rhythm(x, fs_hz, interval_s, (0.05, 2.0))
    m = window_measures(x, fs_hz, "resp")
    assert m["ok"], m
    _right_or_withheld(m, pk, 30.0)


@pytest.mark.parametrize("rel", [0.3, 0.5])
def test_a_cardiogenic_oscillation_is_no_faster_breathing(rel):
    """A heartbeat at 60-110 /min on 15 /min breathing (30-50 % of the breath) leaves the window published."""
    rng = np.random.default_rng(int(rel * 10))
    iv, am = _regular(rng, 15.0, n=200)
    x, pk = _breaths(25.0, 30.0, iv, am)
    t = np.arange(len(x)) / 25.0
    for hr_hz in (1.0, 1.4, 1.8):
        y = x + rel * np.sin(2 * np.pi * hr_hz * t) / 2 + 0.01 * rng.standard_normal(len(x))
        m = window_measures(y, 25.0, "resp")
        assert m["ok"], (hr_hz, m)
        _right_or_withheld(m, pk, 30.0)
