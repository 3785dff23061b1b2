"""The per-record caches behind ``embed`` / ``score`` (benchmarks/bench_embed_record.py) give the numbers
of an independent computation bit for bit, and no caller can change what a later caller gets."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from biosig import ecg_beats, ecg_pacing, pulse_beats, quality
from biosig.filters import SosStream, design_sos


@pytest.mark.parametrize("kind, kw, scipy_sos", [
    ("bandpass", {"low_hz": 0.5, "high_hz": 40.0}, lambda: signal.butter(4, [0.5, 40.0], "bandpass", fs=300.0, output="sos")),
    ("highpass", {"low_hz": 0.5, "order": 2}, lambda: signal.butter(2, 0.5, "highpass", fs=300.0, output="sos")),
    ("lowpass", {"high_hz": 8}, lambda: signal.butter(4, 8.0, "lowpass", fs=300.0, output="sos")),
    ("notch", {"freq_hz": 50, "q": 30}, lambda: signal.tf2sos(*signal.iirnotch(50.0, 30.0, fs=300.0))),
])
def test_design_sos_is_scipys_design_and_a_caller_cannot_change_the_next(kind, kw, scipy_sos):
    first = design_sos(kind, 300, **kw)
    np.testing.assert_array_equal(first, scipy_sos())
    assert first.flags.writeable
    first[:] = 0.0                                    # a caller scaling its sections in place ...
    again = design_sos(kind, 300.0, **kw)
    assert again is not first
    np.testing.assert_array_equal(again, scipy_sos())   # ... does not change the next caller's


def test_a_streams_steady_state_is_scipys_and_read_only():
    sos = design_sos("bandpass", 250.0, low_hz=0.5, high_hz=40.0)
    stream = SosStream(sos, 1)
    np.testing.assert_array_equal(stream._zi_unit, signal.sosfilt_zi(sos))
    assert SosStream(sos.copy(), 2)._zi_unit is stream._zi_unit   # solved once for equal sections
    with pytest.raises(ValueError):
        stream._zi_unit[0, 0] = 1.0
    x = np.linspace(1.0, 2.0, 50)[None]
    np.testing.assert_array_equal(stream.process(x), signal.sosfilt(sos, x, zi=signal.sosfilt_zi(sos)[:, None] * x[0, 0])[0])


@pytest.mark.parametrize("half", [1, 2])
def test_running_median_by_minima_and_maxima_is_np_median(half):
    rng = np.random.default_rng(half)
    for n in (1, 2, 3, 4, 5, 6, 101):
        for x in (rng.standard_normal(n), rng.integers(-2, 3, n).astype(np.float64)):   # and ties
            y = np.pad(x, half, mode="edge")
            want = np.median(np.lib.stride_tricks.sliding_window_view(y, 2 * half + 1), axis=1)
            np.testing.assert_array_equal(ecg_pacing._running_median(x, half), want)
    x = rng.standard_normal(20)
    x[7] = np.nan   # NaN: np.median's NaN around it
    y = np.pad(x, half, mode="edge")
    np.testing.assert_array_equal(ecg_pacing._running_median(x, half),
                                  np.median(np.lib.stride_tricks.sliding_window_view(y, 2 * half + 1), axis=1))


def _band_twin(x, fs_hz, lo, hi, order=2):
    """biosig.ecg_beats._band as it was written before its gains were kept."""
    pad = min(len(x) - 1, int(fs_hz))
    y = np.concatenate([x[pad:0:-1], x, x[-2:-pad - 2:-1]]) if pad > 0 else x
    f = np.fft.rfftfreq(len(y), 1.0 / fs_hz)
    with np.errstate(divide="ignore", over="ignore"):
        hp = 1.0 / (1.0 + (lo / np.maximum(f, 1e-12)) ** (2 * order))
        lp = 1.0 / (1.0 + (f / min(hi, 0.45 * fs_hz)) ** (2 * order))
    return np.fft.irfft(np.fft.rfft(y - y.mean()) * (hp * lp) ** 2, n=len(y))[pad:pad + len(x)]


def test_band_and_the_shared_spectrum_give_the_twins_numbers_and_the_gains_are_read_only():
    t = np.arange(1250) / 250.0   # 5 s: narrow beats at 72 /min, wander and noise
    x = np.exp(-((t % (5 / 6) - 0.4) / 0.01) ** 2) + 0.2 * np.sin(2 * np.pi * 0.3 * t)
    x = x + 0.02 * np.random.default_rng(3).standard_normal(len(t))
    for lo, hi in ((0.5, 40.0), (5.0, 15.0), (1.0, 40.0), (0.5, 8.0)):
        np.testing.assert_array_equal(ecg_beats._band(x, 250.0, lo, hi), _band_twin(x, 250.0, lo, hi))
    d = ecg_beats._detect(x, 250.0)   # no pacing spikes here: both bands of x itself
    np.testing.assert_array_equal(d.clean, _band_twin(x, 250.0, 0.5, 40.0))
    np.testing.assert_array_equal(d.energy, np.convolve(np.gradient(_band_twin(x, 250.0, 5.0, 15.0)) ** 2,
                                                        np.ones(30) / 30, mode="same"))
    gain = ecg_beats._band_gain(len(x) + 2 * 250, 250.0, 0.5, 40.0, 2)
    with pytest.raises(ValueError):
        gain[:] = 0.0


def test_detrend_basis_is_the_qr_of_the_legendre_basis_and_read_only():
    basis = quality._detrend_basis(77, 2)
    direct = np.linalg.qr(np.polynomial.legendre.legvander(np.linspace(-1.0, 1.0, 77), 2))[0]
    np.testing.assert_array_equal(basis, direct)
    with pytest.raises(ValueError):
        basis[0, 0] = 1.0


def test_ppg_beats_kept_per_thread_are_the_detectors_and_cannot_be_changed_by_a_caller(monkeypatch):
    t = np.arange(1000) / 100.0   # 10 s of a pulse wave at 75 /min with its dicrotic wave, and noise
    phase = t % 0.8
    x = np.exp(-((phase - 0.2) / 0.08) ** 2) + 0.4 * np.exp(-((phase - 0.45) / 0.08) ** 2)
    x = x + 0.01 * np.random.default_rng(5).standard_normal(len(t))
    raw, clean_raw = pulse_beats.pulse_peaks(x, 100.0)   # the detector itself, nothing kept
    want = quality._without_leading_diastolic_wave(clean_raw, raw).astype(np.int64)
    beats, clean = quality.detect_beats(x, 100.0, "ppg")
    np.testing.assert_array_equal(beats, want)
    np.testing.assert_array_equal(clean, clean_raw)
    assert len(want) >= 5 and not clean.flags.writeable
    beats[:] = 0                                      # the caller's copy ...
    again, clean_again = quality.detect_beats(x.copy(), 100.0, "ppg")
    assert clean_again is clean                       # kept, not detected again ...
    np.testing.assert_array_equal(again, want)        # ... and the copy's change did not reach it
    monkeypatch.setattr(pulse_beats, "EDGE_PEAK_REL", 0.0)   # a changed rule constant: detected again
    assert quality.detect_beats(x, 100.0, "ppg")[1] is not clean


def test_minima_between_pulses_are_the_loops():
    rng = np.random.default_rng(7)
    clean = rng.integers(-3, 4, 60).astype(np.float64)   # ties
    clean[[5, 41]] = np.nan
    for idx in (np.array([0, 3, 4, 17, 30, 59]), np.array([2, 9, 9, 20]), np.array([8, 40])):   # 9, 9: the loop
        want = np.array([clean[a:b + 1].min() for a, b in zip(idx[:-1], idx[1:])])
        np.testing.assert_array_equal(pulse_beats._minima_between(clean, idx), want)


def test_r_peaks_and_beat_segments_by_indexing_are_the_loops():
    rng = np.random.default_rng(11)
    sig = rng.integers(-3, 4, 400).astype(np.float64)   # ties: the first largest, as np.argmax in the loop
    qrs = np.array([0, 5, 17, 100, 101, 250, 390, 399])  # both ends: windows cut by the signal's edges
    r = int(0.06 * 250.0)
    loop = np.unique(np.array([max(0, c - r) + int(np.argmax(np.abs(sig[max(0, c - r):c + r]))) for c in qrs]))
    np.testing.assert_array_equal(quality._r_peaks(sig, qrs, 250.0), loop)
    clean = rng.standard_normal(1000)
    beats = np.array([40, 200, 390, 600, 780, 990])
    rr = float(np.median(np.diff(beats)))
    a, b = int(round(0.4 * rr)), int(round(0.6 * rr))
    segs = np.stack([clean[k - a:k + b] for k in beats[1:-1]])   # the beats with a whole segment
    template = segs.mean(axis=0)
    tc = template - template.mean()
    segs = segs - segs.mean(axis=1, keepdims=True)
    want = segs @ tc / (np.linalg.norm(segs, axis=1) * np.linalg.norm(tc))
    np.testing.assert_array_equal(quality.beat_correlations(clean, beats, 250.0)[1:-1], want)
