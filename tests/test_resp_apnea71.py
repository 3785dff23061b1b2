"""An apnea (no breath for >= 10 s) inside a respiration window: no rate is published for it.

Signals built here with NumPy from known breath times and a known pause (amplitude 0 for ``pause_s``). Before:
a 12 s apnea in 30 s of 10 /min breathing published 6.5-8.4 /min in 27 of the 40 windows below (25 and 250 Hz,
raw and the runtime's causal pipeline): the breath band's high-pass made the flat pause a hump that passed as a
breath, the pause's interval was cut in two of a normal length and no gap was found. Now every one is withheld
(``uncertain_breaths``, :mod:`biosig.resp_apnea`).
"""
import numpy as np
import pytest

from biosig.measures_window import BREATH_BAND_HZ, breath_peaks, window_measures
from biosig.pipeline import default_pipeline
from biosig.resp_apnea import APNEA_S, apnea_in, apnea_s
from test_resp_safety70 import _breaths, _clean_window, _regular, _right_or_withheld


def _with_pause(seed, fs_hz, rate_bpm=10.0, pause_s=12.0, seconds=75.0, k=5):
    """Breathing at ``rate_bpm`` with a pause of ``pause_s`` after the ``k``-th breath: x, peak times, pause start."""
    rng = np.random.default_rng(seed)
    iv, am = _regular(rng, rate_bpm, n=int(seconds * rate_bpm / 30) + 10)
    iv, am = np.concatenate([iv[:k], [pause_s], iv[k:]]), np.concatenate([am[:k], [0.0], am[k:]])
    x, pk = _breaths(fs_hz, seconds, iv, am)
    return x + 0.01 * rng.standard_normal(len(x)), pk, float(np.sum(iv[:k]))


@pytest.mark.parametrize("path", ["raw", "runtime"])
@pytest.mark.parametrize("fs_hz", [25.0, 250.0])
def test_a_12_s_apnea_at_10_per_min_publishes_no_rate(fs_hz, path):
    """Before: 6.5-8.4 /min published (truth: 2-4 breaths around an 18 s interval) in 27 of 40 windows."""
    published = []
    for seed in (0, 2):
        x, _, a0 = _with_pause(seed, fs_hz)
        y, f = (x, fs_hz) if path == "raw" else (default_pipeline("resp").stream(fs_hz, 1).process(x[None])[0], 25.0)
        for off_s in (2.0, 6.0, 10.0, 14.0, 18.0):   # the whole pause inside the 30 s window
            a = int((a0 - off_s) * f)
            m = window_measures(y[a:a + int(30 * f)], f, "resp")
            if m["ok"]:
                published.append((seed, off_s, m["resp_rate_bpm"]))
            else:
                assert m["missing"] == "uncertain_breaths", m
    assert not published, published


@pytest.mark.parametrize("pause_s", [10.0, 12.0, 20.0])
@pytest.mark.parametrize("rate", [10.0, 16.0, 30.0])
def test_the_pause_is_measured(rate, pause_s):
    """apnea_s is the pause built in, or a little less (the filters' residue at its ends: -3.5 to -0.2 s here)."""
    x, _, a0 = _with_pause(1, 25.0, rate, pause_s)
    w = x[int((a0 - 4.0) * 25):int((a0 + 26.0) * 25)]
    peaks = breath_peaks(w, 25.0)
    got = apnea_s(w, 25.0, float(np.median(np.diff(peaks))) / 25.0, BREATH_BAND_HZ)
    assert pause_s - 4.0 <= got <= pause_s + 0.5
    assert apnea_in(w, 25.0, float(np.median(np.diff(peaks))) / 25.0, BREATH_BAND_HZ)


@pytest.mark.parametrize("fs_hz", [25.0, 250.0])
@pytest.mark.parametrize("rate", [6.0, 12.0, 20.0, 45.0, 60.0])
def test_clean_breathing_has_no_apnea_and_stays_published(fs_hz, rate):
    x, pk, interval_s = _clean_window(fs_hz, rate, int(rate) + 71)
    assert apnea_s(x, fs_hz, interval_s, BREATH_BAND_HZ) < APNEA_S / 2
    m = window_measures(x, fs_hz, "resp")
    assert m["ok"], m
    _right_or_withheld(m, pk, 30.0)


def test_a_short_pause_is_no_apnea():
    """A 4 s pause at 16 /min (an end-expiratory pause, a swallow) is no apnea: the window stays published."""
    x, pk, a0 = _with_pause(3, 25.0, 16.0, 4.0)
    a = int((a0 - 10.0) * 25)
    w = x[a:a + 750]
    peaks = breath_peaks(w, 25.0)
    assert not apnea_in(w, 25.0, float(np.median(np.diff(peaks))) / 25.0, BREATH_BAND_HZ)


def test_two_wander_crests_publish_no_wander_rate():
    """A wander 2.3 x the breath at 0.079 Hz under 12.1 /min: two peaks found, on its crests. Before: 4.3 /min
    published (its rhythm's autocorrelation 0.32, under FAST_AC); one interval now takes FAST_AC_ONE."""
    from test_resp_wander70 import _wandered
    rng = np.random.default_rng(522)
    rate, amp, wander_hz = rng.uniform(12, 20), rng.uniform(1, 3), rng.uniform(0.02, 0.08)
    for fs_hz in (25.0, 250.0):
        x, pk = _wandered(22, fs_hz, rate_bpm=rate, amp=amp, wander_hz=wander_hz, seconds=30.0)
        assert len(breath_peaks(x, fs_hz)) == 2   # the case: the crests only
        m = window_measures(x, fs_hz, "resp")
        assert not m["ok"] and m["missing"] == "uncertain_breaths", m
        _right_or_withheld(m, pk, 30.0)


def test_a_15_s_apnea_at_6_per_min_on_the_runtime_path_publishes_little():
    """At 6 /min the 0.5 x rate high-pass sat on the band's 0.05 Hz and kept the pause's hump (a breath to the
    spans): before 13 of these 20 windows published 4.0-4.9 /min (truth: 2.4 /min or no interval), now 2
    (the band from APNEA_HP_MIN_HZ sees the pause)."""
    published = []
    for seed in range(4):
        x, _, a0 = _with_pause(seed, 25.0, 6.0, 15.0, seconds=100.0, k=6)
        y = default_pipeline("resp").stream(25.0, 1).process(x[None])[0]
        for off_s in (2.0, 4.0, 6.0, 8.0, 10.0):
            a = int((a0 - off_s) * 25)
            m = window_measures(y[a:a + 750], 25.0, "resp")
            if m["ok"]:
                published.append((seed, off_s, m["resp_rate_bpm"]))
            else:
                assert m["missing"] in ("uncertain_breaths", "too_few_breaths"), m
    assert len(published) <= 2, published

