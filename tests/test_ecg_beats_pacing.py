"""Pacemaker spikes are not beats: the window heart rate under asynchronous pacing is right or withheld.

Truth: the beat times the test ECG is built on (:func:`biosig.synthetic_af.ecg_from_beats`, regular
beats with P waves, no f-waves); the spikes are 2 ms, 5 mV rectangles as an ADC integrating over each
sample sees them, with a small recovery tail.
"""

import numpy as np
import pytest

from biosig.ecg_pacing import without_pacing_spikes
from biosig.measures_window import window_measures
from biosig.record import Record
from biosig.synthetic_af import ecg_from_beats
from conftest import shared_path

SECONDS = 60.0


def _ecg(bpm: float, fs: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    beats = np.arange(-2.0 + 0.37, SECONDS + 2.0, 60.0 / bpm)
    n = int(SECONDS * fs)
    x = ecg_from_beats(beats, n, fs, 1, np.random.default_rng(seed), fwave_mv=0.0, p_wave_mv=0.15)[0]
    return beats, x + np.random.default_rng(seed + 1).normal(0, 0.01, n)


def _spikes(times_s: np.ndarray, n: int, fs: float, mv: float = 5.0, width_s: float = 0.002) -> np.ndarray:
    out = np.zeros(n)
    for ts in times_s:
        a, b = ts * fs, (ts + width_s) * fs
        for k in range(int(np.floor(a)), int(np.ceil(b)) + 1):
            if 0 <= k < n:
                out[k] += mv * max(0.0, min(b, k + 1) - max(a, k)) / max(1.0, b - a)   # the sample's mean
        k0 = int(np.ceil(b))
        tail = -0.2 * np.exp(-np.arange(int(0.1 * fs)) / (0.02 * fs))
        m = min(len(tail), n - k0)
        if m > 0:
            out[k0:k0 + m] += tail[:m]
    return out


def _window_rates(x: np.ndarray, fs: float, beats: np.ndarray):
    w = int(10 * fs)
    for a in range(0, len(x) - w + 1, w):
        b = beats[(beats >= a / fs) & (beats < (a + w) / fs)]
        yield window_measures(x[a:a + w].astype(np.float32), fs, "ecg"), 60.0 / np.mean(np.diff(b))


@pytest.mark.parametrize("fs", [250.0, 500.0, 1000.0])
@pytest.mark.parametrize("intrinsic_bpm", [30.0, 70.0])
def test_asynchronous_pacing_spikes_are_not_counted_as_beats(fs, intrinsic_bpm):
    """A fixed-rate pacemaker at 72 /min over a 30 /min escape rhythm (failure to capture): every
    spike was a beat, and 10 s windows published 91.6 /min at 250 and 500 Hz (all withheld at
    1000 Hz; at 70 /min two windows in six were withheld). Now every window publishes the rhythm's
    own rate."""
    beats, x = _ecg(intrinsic_bpm, fs)
    x = x + _spikes(np.arange(0.11, SECONDS, 60.0 / 72.0), len(x), fs)
    for m, truth in _window_rates(x, fs, beats):
        assert m["hr_bpm"] is not None and m["hr_bpm"] == pytest.approx(truth, abs=1.0), (m, truth)


@pytest.mark.parametrize("intrinsic_bpm", [30.0, 70.0])
def test_asynchronous_pacing_spikes_at_125_hz_give_the_rate_or_none(intrinsic_bpm):
    """At 125 Hz a 2 ms spike split over two samples is as wide as an R wave's top and stays: the
    30 /min rhythm read 85 /min (45 with the one-sample spikes removed). A window with a spike no
    beat follows is withheld as ``uncertain_beats``; none publishes a wrong rate."""
    beats, x = _ecg(intrinsic_bpm, 125.0)
    x = x + _spikes(np.arange(0.11, SECONDS, 60.0 / 72.0), len(x), 125.0)
    for m, truth in _window_rates(x, 125.0, beats):
        assert m["missing"] == "uncertain_beats" or m["hr_bpm"] == pytest.approx(truth, abs=1.0), (m, truth)


@pytest.mark.parametrize("fs", [125.0, 500.0])
def test_a_spike_before_every_qrs_leaves_the_rate(fs):
    """Synchronous pacing (a spike 80 ms before each QRS) is one beat per spike and QRS."""
    beats, x = _ecg(70.0, fs)
    x = x + _spikes(beats - 0.08, len(x), fs)
    for m, truth in _window_rates(x, fs, beats):
        assert m["hr_bpm"] == pytest.approx(truth, abs=1.0)


@pytest.mark.parametrize("fs", [125.0, 250.0, 360.0, 500.0, 1000.0])
@pytest.mark.parametrize("bpm", [30.0, 220.0])
def test_an_ecg_without_spikes_is_left_as_it_is(fs, bpm):
    """The spike filter changes no sample of an ECG without spikes: narrow R waves at 125 Hz lose
    under half their height to a 5-sample median, never more than their QRS's range."""
    _, x = _ecg(bpm, fs)
    np.testing.assert_array_equal(without_pacing_spikes(x, fs)[0], x)


def test_a_real_ecg_is_left_as_it_is():
    import wfdb
    path = shared_path("wfdb", "100.hea")
    sig, fields = wfdb.rdsamp(str(path)[:-4], sampto=360 * 120)
    for lead in range(sig.shape[1]):
        x = sig[:, lead].astype(np.float64)
        for a in range(0, len(x) - 3600 + 1, 3600):
            np.testing.assert_array_equal(without_pacing_spikes(x[a:a + 3600], fields["fs"])[0], x[a:a + 3600])


@pytest.mark.parametrize("bpm", [180.0, 220.0])
def test_narrow_r_waves_at_125_hz_are_not_taken_for_spikes(bpm):
    """ECGSYN at 180-220 /min and 125 Hz: an R wave's top is 2 samples wide; a 5-sample median took
    half of it off every beat."""
    from biosig.synthetic import simulate
    x = simulate("ecg", 20, seed=int(bpm), fs_hz=125.0, heart_rate_bpm=bpm).samples[0].astype(np.float64)
    np.testing.assert_array_equal(without_pacing_spikes(x, 125.0)[0], x)
