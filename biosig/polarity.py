"""ECG lead polarity: turn an upside-down lead the right way up (pipeline step ``polarity``).

A single-lead handheld ECG is often recorded upside down (the device held the other way round,
electrodes swapped), and a model that learnt upright QRS complexes then sees another signal.
The rule is NeuroKit2's ``ecg_invert`` (Makowski et al. 2021): the lead is inverted when the
median, over 2 s windows, of the signed value at the largest ``|x|`` of each window is negative
(the R waves, the largest deflections, point down). Here the windows do not overlap (NeuroKit2
slides them by one sample), so that a stream can keep the same statistic at O(1) per sample;
tests/test_polarity.py checks the decisions against ``neurokit2.ecg_invert`` on real leads.

Offline the decision is taken once per channel over the whole record (after the band-pass the
pipeline puts before it). In a stream, :class:`PolarityStream` keeps the signed extremes of the
last ``history_s`` seconds of complete windows and applies the current decision to each chunk; a
decision can change only when a window completes, and before the first one completes the chunk
passes unchanged.
"""
from __future__ import annotations

import collections

import numpy as np

POLARITY_PARAMS = {"window_s": (float, 2.0), "history_s": (float, 30.0)}


def window_samples(window_s: float, fs_hz: float) -> int:
    """Samples in one decision window (at least 1)."""
    return max(int(round(window_s * fs_hz)), 1)


def signed_extremes(x: np.ndarray, n_window: int) -> np.ndarray:
    """The signed value at the largest ``|x|`` of each complete non-overlapping window of
    ``n_window`` samples of the 1-D ``x``; NaN samples are ignored (an all-NaN window gives NaN)."""
    n = (len(x) // n_window) * n_window
    if n == 0:
        return np.zeros(0)
    w = np.asarray(x[:n], dtype=np.float64).reshape(-1, n_window)
    mag = np.where(np.isfinite(w), np.abs(w), -1.0)
    idx = mag.argmax(axis=1)
    out = w[np.arange(len(w)), idx]
    return np.where(mag.max(axis=1) < 0, np.nan, out)


def lead_sign(extremes: np.ndarray) -> float:
    """-1.0 when the median of the finite signed extremes is negative, else +1.0."""
    ok = extremes[np.isfinite(extremes)]
    return -1.0 if len(ok) and np.median(ok) < 0 else 1.0


def polarity_block(x: np.ndarray, fs_hz: float, window_s: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(x with each upside-down channel of (C, T) multiplied by -1, the signs (C,)).

    A channel shorter than one window is left as it is (sign +1)."""
    from biosig.arguments import float_signal, positive_seconds, sampling_rate
    if float_signal(x).ndim == 1:   # the check only: the result keeps x's dtype
        y, signs = polarity_block(np.asarray(x)[None], fs_hz, window_s)
        return y[0], signs
    n_window = window_samples(positive_seconds(window_s, "window_s"), sampling_rate(fs_hz))
    signs = np.array([lead_sign(signed_extremes(row, n_window)) for row in x], dtype=np.float64)
    return (x * signs[:, None].astype(x.dtype)).astype(x.dtype, copy=False), signs


class PolarityStream:
    """Causal ``polarity``: the decision over the last ``history_s`` s of complete windows."""

    # the sign decided at the end of a chunk multiplies the whole chunk: a longer chunk changes
    # where a flip takes effect (StreamingPipeline.chunk_invariant)
    chunk_invariant = False

    def __init__(self, params: dict, fs_hz: float, n_channels: int):
        self.n_window = window_samples(params["window_s"], fs_hz)
        self.n_keep = max(int(params["history_s"] // params["window_s"]), 1)
        self.n_channels = int(n_channels)
        self.reset()

    def reset(self) -> None:
        self._partial = np.zeros((self.n_channels, 0))
        self._extremes = [collections.deque(maxlen=self.n_keep) for _ in range(self.n_channels)]
        self.signs = np.ones(self.n_channels)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.asarray(chunk)
        buf = np.concatenate([self._partial, chunk.astype(np.float64)], axis=1)
        n_full = (buf.shape[1] // self.n_window) * self.n_window
        if n_full:
            for c in range(self.n_channels):
                self._extremes[c].extend(signed_extremes(buf[c, :n_full], self.n_window).tolist())
                self.signs[c] = lead_sign(np.asarray(self._extremes[c]))
        self._partial = buf[:, n_full:]
        return (chunk * self.signs[:, None].astype(chunk.dtype)).astype(chunk.dtype, copy=False)
