"""The doubt rules' cheaper forms give what their loops gave (benchmarks/bench_window_measures.py times them):
the spans around peaks (one reduceat), the pulse residual (no loop), the FFT length of the residual's
autocorrelation (2-3-5-smooth)."""
from __future__ import annotations

import numpy as np

from biosig.ecg_doubt import _sharpness, _sizes, steepest_slopes
from biosig.pulse_shape import beat_residual, fast_fft_len, second_rhythm_score


def test_spans_around_peaks_equal_the_loop():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(5, 400))
        clean = rng.standard_normal(n)
        peaks = np.sort(rng.integers(0, n, int(rng.integers(0, 12))))
        fs_hz = float(rng.choice([25.0, 125.0, 250.0, 500.0]))
        h, hs = max(1, int(0.05 * fs_hz)), max(1, int(0.1 * fs_hz))
        steep = np.abs(np.gradient(clean))
        slopes = np.array([steep[max(0, k - h):k + h + 1].max() for k in peaks])
        size = np.array([np.ptp(clean[max(0, k - hs):k + hs + 1]) for k in peaks])
        assert steepest_slopes(clean, peaks, fs_hz).tobytes() == slopes.astype(np.float64).tobytes()
        assert _sizes(clean, peaks, fs_hz).tobytes() == size.astype(np.float64).tobytes()
        assert _sharpness(clean, peaks, fs_hz).tobytes() == (slopes / np.maximum(size, 1e-12)).tobytes()


def _residual_loop(clean, beats):
    L = int(np.median(np.diff(beats)))
    whole = beats[beats + L <= len(clean)]
    if L < 2 or len(whole) < 3:
        return None
    shape = np.median(clean[whole[:, None] + np.arange(L)], axis=0)
    r = np.full(len(clean), np.nan)
    for b in beats:
        e = min(len(clean), b + L)
        r[b:e] = clean[b:e] - shape[:e - b]
    return r[np.isfinite(r)]


def test_pulse_residual_equals_the_loop():
    rng = np.random.default_rng(1)
    for i in range(300):
        n = int(rng.integers(30, 600))
        clean = rng.standard_normal(n)
        if i % 3 == 0:
            clean[rng.integers(0, n, 4)] = np.nan
        beats = np.sort(rng.choice(n, int(rng.integers(2, 25)), replace=False)).astype(np.int64)
        a, b = _residual_loop(clean, beats), beat_residual(clean, beats)
        assert (a is None and b is None) or a.tobytes() == b.tobytes()


def test_fft_length_is_the_smallest_smooth_one_and_the_score_stays():
    def smooth(m):
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        return m == 1
    for n in (*range(1, 800), 2501, 4999, 12007, 65537):
        m = fast_fft_len(n)
        assert m >= n and smooth(m) and not any(smooth(k) for k in range(n, m))
    fs_hz = 125.0
    t = np.arange(int(10 * fs_hz)) / fs_hz
    clean = np.sin(2 * np.pi * 1.2 * t) ** 9 + 0.6 * np.sin(2 * np.pi * 1.9 * t + 0.4)
    beats = np.flatnonzero((clean[1:-1] > clean[:-2]) & (clean[1:-1] >= clean[2:]) & (clean[1:-1] > 0.5)) + 1
    r = beat_residual(clean, beats) - beat_residual(clean, beats).mean()
    ac = np.fft.irfft(np.abs(np.fft.rfft(r, 2 * len(r))) ** 2)[:len(r)]   # the length it was taken at
    fast = np.fft.irfft(np.abs(np.fft.rfft(r, fast_fft_len(2 * len(r) - 1))) ** 2, fast_fft_len(2 * len(r) - 1))
    assert np.max(np.abs(fast[:len(r)] - ac)) <= 1e-12 * ac[0]
    assert 0.0 <= second_rhythm_score(clean, beats, fs_hz) <= 1.5
