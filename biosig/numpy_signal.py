"""NumPy-only signal primitives of the beat detectors: a zero-phase Butterworth band-pass computed in
the frequency domain (:func:`_band`, with one spectrum for several bands: :func:`_spectrum`,
:func:`_band_of`), a fast median of a 1-D array (:func:`median_1d`) and peak picking
(:func:`_find_peaks`).

Shared by the ECG detector (:mod:`biosig.ecg_beats`, which re-exports every name here) and the pulse
detector (:mod:`biosig.pulse_beats`). NumPy only: ``biosig info`` does not import ``scipy.signal``.
"""
from __future__ import annotations

import functools

import numpy as np


def _band(x: np.ndarray, fs_hz: float, lo: float, hi: float, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass in the frequency domain (gain ``|H(f)|^2``, as filtfilt).

    NumPy only, so that ``biosig info`` does not import ``scipy.signal`` (~1 s). The signal is
    mirrored by up to 1 s at both ends against wrap-around.
    """
    return _band_of(_spectrum(x, fs_hz), fs_hz, lo, hi, order)


def _spectrum(x: np.ndarray, fs_hz: float) -> tuple[int, int, int, np.ndarray]:
    """``(pad, len(x), len(y), rfft(y - mean(y)))`` of ``x`` mirrored by ``pad`` samples at both ends
    (:func:`_band`): one spectrum for every band of the same samples (:func:`_detect` takes two)."""
    pad = min(len(x) - 1, int(fs_hz))
    y = np.concatenate([x[pad:0:-1], x, x[-2:-pad - 2:-1]]) if pad > 0 else x
    return pad, len(x), len(y), np.fft.rfft(y - y.mean())


def _band_of(spectrum, fs_hz: float, lo: float, hi: float, order: int = 2) -> np.ndarray:
    """:func:`_band` of the samples whose :func:`_spectrum` is ``spectrum``: the same numbers."""
    pad, n, n_y, spec = spectrum
    gain = (_band_gain if n_y <= GAIN_KEPT_MAX_SAMPLES else _band_gain.__wrapped__)(
        n_y, float(fs_hz), float(lo), float(hi), int(order))
    out = np.fft.irfft(spec * gain, n=n_y)
    return out[pad:pad + n]


GAIN_KEPT_MAX_SAMPLES = 1 << 17   # gains of windows are kept (at most 32 x 0.5 MiB), a whole record's not


@functools.lru_cache(maxsize=32)
def _band_gain(n: int, fs_hz: float, lo: float, hi: float, order: int) -> np.ndarray:
    """``|H(f)|^2`` of :func:`_band` on the ``rfft`` bins of ``n`` samples at ``fs_hz``, read-only:
    computed once per window length and band (every window of a record has the same length)."""
    f = np.fft.rfftfreq(n, 1.0 / fs_hz)
    with np.errstate(divide="ignore", over="ignore"):
        hp = 1.0 / (1.0 + (lo / np.maximum(f, 1e-12)) ** (2 * order))
        lp = 1.0 / (1.0 + (f / min(hi, 0.45 * fs_hz)) ** (2 * order))
    gain = (hp * lp) ** 2
    gain.flags.writeable = False
    return gain


def median_1d(a: np.ndarray) -> float:
    """``float(np.median(a))`` of a 1-D int or float64 ``a``, the same number (NaN where ``a`` holds one) in
    a sixth of the time: 9 medians of ~40 values per 10 s ECG window (detection, gate, doubt check),
    ~40 us each in ``np.median``'s checks and dispatch (``benchmarks/bench_heart_rate.py``)."""
    a = np.asarray(a)
    n = a.size
    if a.ndim != 1 or n == 0 or not (a.dtype == np.float64 or a.dtype.kind in "iu"):
        return float(np.median(a))
    h = n // 2
    inexact = a.dtype.kind == "f"
    kth = ([h - 1, h] if n % 2 == 0 else [h]) + ([n - 1] if inexact and n - 1 > h else [])
    part = np.partition(a, kth)
    if inexact and np.isnan(part[-1]):   # partition puts NaN last
        return float("nan")
    if n % 2:
        return float(part[h])
    return float((np.float64(part[h - 1]) + np.float64(part[h])) / 2.0)


def _find_peaks(x: np.ndarray, distance: int, min_height: float) -> np.ndarray:
    """Local maxima of ``x`` above ``min_height``, at least ``distance`` samples apart (higher
    peaks win), sorted by position: ``scipy.signal.find_peaks(x, height, distance)`` in NumPy."""
    i = np.flatnonzero((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])) + 1
    i = i[x[i] >= min_height]
    if len(i) < 2 or distance <= 1:
        return i
    keep = np.ones(len(i), bool)
    for k in np.argsort(-x[i], kind="stable"):
        if keep[k]:
            lo, hi = np.searchsorted(i, [i[k] - distance + 1, i[k] + distance])
            keep[lo:hi] = False
            keep[k] = True
    return i[keep]
