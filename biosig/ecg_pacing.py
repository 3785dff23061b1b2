"""Pacemaker spikes in an ECG, removed before its beats are counted (:func:`without_pacing_spikes`,
the first step of :func:`biosig.ecg_beats.ecg_detection`), and the running median that finds them.
NumPy only, as :mod:`biosig.ecg_beats`.
"""
from __future__ import annotations

import numpy as np

PACE_SPIKE_S = 0.004     # a pacing spike (0.5-2 ms pulse) is narrower than this: a running median this wide removes it
PACE_OVER_NOISE = 8.0    # it stands out from the median-filtered ECG by this many robust SDs of the residual ...
PACE_OVER_LOCAL = 1.0    # ... and by more than the median-filtered ECG's own range within PACE_LOCAL_S of it
PACE_LOCAL_S = 0.05
PACE_MIN_REL = 0.2       # ... and by at least this share of the median-filtered ECG's range (its QRS complexes)
_MEDIAN_CHUNK = 1 << 16


def _running_median(x: np.ndarray, half: int) -> np.ndarray:
    """Median of ``x`` over ``[k - half, k + half]`` (edges repeated), in chunks of bounded memory.

    Spans of 3 and 5 samples (every rate under 500 Hz) of finite samples take their middle value by
    minima and maxima of shifted copies (:func:`_median_3`, :func:`_median_5`): the same numbers as
    ``np.median`` (a median of an odd count is one of the samples), in a fifth of the time (it was
    ~4 % of a 30 s ECG record's embedding, twice per 10 s window). Wider spans (above 500 Hz) of finite
    samples take the middle of a partition, as :func:`biosig.ecg_beats.median_1d` does: the same
    numbers, 1.5 ms for 2.2 per 10 s at 1000 Hz (``np.median`` of the views: with a NaN, its NaN)."""
    y = np.pad(x, half, mode="edge")
    finite = bool(np.isfinite(y).all())   # NaN: np.median's NaN, below
    if half in (1, 2) and finite:
        s = [y[k:k + len(x)] for k in range(2 * half + 1)]
        return _median_3(*s) if half == 1 else _median_5(*s)
    win = np.lib.stride_tricks.sliding_window_view(y, 2 * half + 1)
    if finite:   # the middle value, one partition per row: np.median's number without its checks
        return np.concatenate([np.partition(win[i:i + _MEDIAN_CHUNK], half, axis=1)[:, half]
                               for i in range(0, len(x), _MEDIAN_CHUNK)])
    return np.concatenate([np.median(win[i:i + _MEDIAN_CHUNK], axis=1) for i in range(0, len(x), _MEDIAN_CHUNK)])


def _median_3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Elementwise middle value of three arrays (finite: every step keeps one of the inputs' values)."""
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


def _median_5(a, b, c, d, e) -> np.ndarray:
    """Elementwise middle value of five arrays: the lower of the pairs' minima has at least three of
    the others above it and the higher of their maxima three below, so neither is the middle value
    unless equal to it; the middle of the other three is."""
    lo_ab, hi_ab, lo_de, hi_de = np.minimum(a, b), np.maximum(a, b), np.minimum(d, e), np.maximum(d, e)
    return _median_3(np.maximum(lo_ab, lo_de), np.minimum(hi_ab, hi_de), c)


def without_pacing_spikes(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """``(x without spikes, spikes)``: ``x`` (float64, 1-D) with pacemaker spikes replaced by its
    running median over :data:`PACE_SPIKE_S` on each side (``x`` itself where there are none), and
    the spikes' sample indices.

    A pacing spike is a pulse of 0.5-2 ms and up to several mV: its 5-15 Hz energy matches a QRS
    complex, so asynchronous pacing spikes (failure to capture, or a fixed-rate pacemaker above a
    slow intrinsic rhythm) were counted as beats: 5 mV spikes at 72 /min over a 30 /min rhythm gave
    a published heart rate of 85-92 /min at 125-500 Hz (the classic monitor pitfall; monitors reject
    pace pulses before counting). A sample is a spike where its difference from the running median
    (which removes anything narrower than the median's half width) exceeds :data:`PACE_OVER_NOISE`
    robust SDs of that difference, :data:`PACE_MIN_REL` of the median-filtered signal's range (no
    smoothing of small noise blips) and the median-filtered signal's own range within
    :data:`PACE_LOCAL_S` (an R wave's top loses less to the median than the range of its QRS
    complex). The sample on each side goes too. Under 200 Hz the median spans 3 samples: an R wave's
    top is 2 samples wide there (a 5-sample median took half of it off ECGSYN's R waves at 180 /min),
    as wide as a spike split across two samples, which therefore stays; :func:`doubtful_intervals`
    withholds such a window. Measured (tests/test_ecg_beats_pacing.py): no sample of a clean ECG
    changed at 30-230 /min, 125-1000 Hz (Gaussian and ECGSYN beats), nor of MIT-BIH 100, 102, 107,
    217 (paced, spikes filtered by the recorder); the 30 /min rhythm under spikes reads 30 /min at
    250-1000 Hz (at 125 Hz 45 /min, withheld)."""
    # two samples each side (a 2 ms spike can straddle two), but one under 200 Hz: there an R wave's
    # top is 2 samples wide, and a 5-sample median cut ECGSYN's R waves at 180 /min by half
    half = 1 if fs_hz < 200 else max(2, int(np.ceil(PACE_SPIKE_S * fs_hz)))
    if len(x) < 4 * half + 1:
        return x, np.zeros(0, np.int64)
    med = _running_median(x, half)
    resid = np.abs(x - med)
    noise = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    floor = max(PACE_OVER_NOISE * noise, PACE_MIN_REL * float(np.ptp(med)))
    cand = np.flatnonzero(resid > floor)
    if not len(cand):
        return x, cand
    d = max(1, int(round(PACE_LOCAL_S * fs_hz)))
    idx = np.clip(cand[:, None] + np.arange(-d, d + 1)[None, :], 0, len(x) - 1)
    local = med[idx].max(axis=1) - med[idx].min(axis=1)
    spike = cand[resid[cand] > PACE_OVER_LOCAL * local]
    if not len(spike):
        return x, spike
    wide = np.unique(np.clip(np.concatenate([spike - 1, spike, spike + 1]), 0, len(x) - 1))
    out = x.copy()
    out[wide] = med[wide]
    return out, spike
