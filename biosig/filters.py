"""Filters with an offline zero-phase form and a streaming causal form with carried state.

Every filter here comes in two forms that share one design:

* offline, zero-phase: :func:`sos_filtfilt` (``scipy.signal.sosfiltfilt``) and
  :func:`resample` (``scipy.signal.resample_poly``'s filter at unit gain, the ends kept:
  :func:`resample_poly_edges`);
* streaming, causal, with carried state: :class:`SosStream` (``scipy.signal.sosfilt`` with
  ``zi``) and :class:`ResampleStream` (a polyphase FIR whose output equals
  ``scipy.signal.upfirdn(h, x, up, down)``, computed chunk by chunk).

The resampling half (:func:`resample`, :class:`ResampleStream` and their helpers) lives in
:mod:`biosig.resampling`; every one of its names is importable from here as well.

Feeding a signal to a stream in chunks of any size gives the same samples as one causal pass over
the whole signal (tested to 1e-6 with random chunkings).

NaN gaps
--------
A filter must never smear a gap over the rest of the signal. The policy is the same everywhere:

* offline: each run of valid (finite) samples of each channel is filtered on its own; samples that
  were NaN stay NaN. A valid run too short to filter (fewer samples than the filter's padding,
  see :func:`min_run_samples`) becomes NaN as well, rather than returning a meaningless value.
* streaming IIR: NaN input gives NaN output at the same samples; the filter state is dropped at a
  gap and re-initialised (steady state at the first valid sample) when data come back.
* streaming resampler: an output sample whose FIR support touches a NaN input is NaN (the gap
  grows by the FIR length, about ``ceil(len(h) / up)`` input samples); the state clears itself
  once the gap has left the FIR history.

All arrays are float32 or float64 shaped ``(C, T)`` (channels first, time last). Outputs are float32
where the inputs were float32. Frequencies are in Hz.
"""
from __future__ import annotations

import functools
import logging

import numpy as np
from scipy import signal

from biosig.errors import PipelineError, SignalError
from biosig.resampling import (RESAMPLE_MAX_FACTOR, RESAMPLE_RATE_REL_TOL, ResampleStream,  # noqa: F401 (re-exported)
                               resample, resample_fir, resample_poly_edges, resample_ratio, unit_gain_filter)
from biosig.resampling import _as_2d, valid_runs  # noqa: F401 (valid_runs: re-exported)

log = logging.getLogger(__name__)

FILTER_KINDS = ("bandpass", "highpass", "lowpass", "notch")


# ---------------------------------------------------------------------------------- design
def design_sos(kind: str, fs_hz: float, *, low_hz: float | None = None, high_hz: float | None = None,
               order: int = 4, freq_hz: float | None = None, q: float = 30.0) -> np.ndarray:
    """Second-order sections (float64, (n_sections, 6)) of a Butterworth filter or an IIR notch.

    Parameters
    ----------
    kind : ``"bandpass"`` (``low_hz``, ``high_hz``), ``"highpass"`` (``low_hz``), ``"lowpass"``
        (``high_hz``) Butterworth of ``order``; or ``"notch"`` (``freq_hz``, quality ``q``).
    fs_hz : sampling rate of the signal in Hz.
    """
    try:
        fs_hz = float(fs_hz)
    except (TypeError, ValueError):
        raise SignalError(f"sampling rate must be a positive number of Hz, got {fs_hz!r}") from None
    if not np.isfinite(fs_hz) or fs_hz <= 0:
        raise SignalError(f"sampling rate must be a positive number of Hz, got {fs_hz!r}")
    nyq = fs_hz / 2.0

    def _check(name, f):
        if isinstance(f, (bool, np.bool_)) or not isinstance(f, (int, float, np.integer, np.floating)) \
                or not np.isfinite(f) or not 0 < f < nyq:
            raise PipelineError(f"{kind}: {name}={f!r} Hz must lie strictly between 0 and the Nyquist "
                                f"frequency {nyq:g} Hz of a {fs_hz:g} Hz signal")
        return float(f)

    if kind == "notch":
        f0 = _check("freq_hz", freq_hz)
        if isinstance(q, (bool, np.bool_)) or not isinstance(q, (int, float, np.integer, np.floating)) \
                or not (np.isfinite(q) and q > 0):
            raise PipelineError(f"notch: q={q!r} must be > 0")
        return _designed(kind, fs_hz, f0, float(q)).copy()
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, (int, np.integer)) or order < 1:
        # order=2.5 was int(2.5) = 2, a different filter; order="a" a ValueError
        raise PipelineError(f"{kind}: order={order!r} must be a positive integer")
    if kind == "bandpass":
        lo, hi = _check("low_hz", low_hz), _check("high_hz", high_hz)
        if lo >= hi:
            raise PipelineError(f"bandpass: low_hz={lo:g} must be below high_hz={hi:g}")
        return _designed(kind, fs_hz, (lo, hi), int(order)).copy()
    if kind == "highpass":
        return _designed(kind, fs_hz, _check("low_hz", low_hz), int(order)).copy()
    if kind == "lowpass":
        return _designed(kind, fs_hz, _check("high_hz", high_hz), int(order)).copy()
    raise PipelineError(f"unknown filter kind {kind!r}; expected one of {', '.join(FILTER_KINDS)}")


@functools.lru_cache(maxsize=64)
def _designed(kind: str, fs_hz: float, freq_hz, order_or_q) -> np.ndarray:
    """The sections :func:`design_sos` hands out (a copy each time), designed once per checked
    arguments: ``embed`` and ``score`` designed the same filters about 4 times a record (the
    pipeline's offline and streaming forms), 5-8 % of a CinC 2017 record's embedding (cProfile,
    ecg-tiny). Read-only, so that no caller can change what a later one gets."""
    if kind == "notch":
        sos = signal.tf2sos(*signal.iirnotch(freq_hz, order_or_q, fs=fs_hz))
    else:
        sos = signal.butter(order_or_q, list(freq_hz) if kind == "bandpass" else freq_hz, btype=kind,
                            fs=fs_hz, output="sos")
    sos.flags.writeable = False
    return sos


@functools.lru_cache(maxsize=64)
def _steady_zi(sos_bytes: bytes, shape: tuple) -> np.ndarray:
    """``scipy.signal.sosfilt_zi`` of the sections whose float64 bytes are ``sos_bytes``, read-only:
    a record's streams are built anew for every record (``embed``, ``score``; 15 small solves each)."""
    zi = signal.sosfilt_zi(np.frombuffer(sos_bytes, dtype=np.float64).reshape(shape))
    zi.flags.writeable = False
    return zi


def min_run_samples(sos: np.ndarray) -> int:
    """Shortest valid run :func:`sos_filtfilt` filters (scipy's default ``padlen`` + 1)."""
    sos = np.asarray(sos)
    ntaps = 2 * len(sos) + 1
    ntaps -= min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * ntaps + 1


# ---------------------------------------------------------------------------------- offline
def sos_filtfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Zero-phase filtering of ``x`` (C, T) along time, NaN-gap aware (see module docstring).

    Equals ``scipy.signal.sosfiltfilt(sos, x, axis=-1)`` when ``x`` has no NaN.
    """
    x = _as_2d(x)
    finite = np.isfinite(x)
    if finite.all():
        if x.shape[1] < min_run_samples(sos):
            return np.full_like(x, np.nan)
        return signal.sosfiltfilt(sos, x, axis=-1).astype(x.dtype, copy=False)
    out = np.full_like(x, np.nan)
    shortest = min_run_samples(sos)
    for c in range(x.shape[0]):
        for a, b in valid_runs(finite[c]):
            if b - a >= shortest:
                out[c, a:b] = signal.sosfiltfilt(sos, x[c, a:b].astype(np.float64))
            else:
                log.debug("channel %d: valid run [%d, %d) too short to filter, set to NaN", c, a, b)
    return out


# ---------------------------------------------------------------------------------- streaming
class SosStream:
    """Causal IIR filtering with carried state, for chunks shaped (C, n).

    Parameters
    ----------
    sos : second-order sections, (n_sections, 6).
    n_channels : number of channels C of every chunk.
    init : ``"steady"`` (default) starts each channel in the steady state for its first valid
        sample (``sosfilt_zi * x0``, no start-up transient); ``"zeros"`` starts from rest, as
        ``scipy.signal.sosfilt`` without ``zi``.
    """

    def __init__(self, sos: np.ndarray, n_channels: int, init: str = "steady"):
        if init not in ("steady", "zeros"):
            raise PipelineError(f"init={init!r}; expected 'steady' or 'zeros'")
        self.sos = np.asarray(sos, dtype=np.float64)
        self.n_channels = int(n_channels)
        self.init = init
        self._zi_unit = _steady_zi(self.sos.tobytes(), self.sos.shape)  # (n_sections, 2), read-only
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next sample starts a new signal."""
        self._zi = np.zeros((len(self.sos), self.n_channels, 2))
        self._started = np.zeros(self.n_channels, dtype=bool)

    def _start(self, c: int, x0: float) -> None:
        self._zi[:, c, :] = self._zi_unit * x0 if self.init == "steady" else 0.0
        self._started[c] = True

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Filter the next chunk (C, n); returns (C, n) in the chunk's dtype."""
        x = _as_2d(chunk)
        if x.shape[0] != self.n_channels:
            raise SignalError(f"chunk has {x.shape[0]} channels, stream expects {self.n_channels}")
        if x.shape[1] == 0:
            return x.copy()
        finite = np.isfinite(x)
        if finite.all():
            for c in np.flatnonzero(~self._started):
                self._start(c, float(x[c, 0]))
            y, self._zi = signal.sosfilt(self.sos, x.astype(np.float64), axis=-1, zi=self._zi)
            return y.astype(x.dtype, copy=False)
        out = np.full(x.shape, np.nan, dtype=x.dtype)
        for c in range(x.shape[0]):
            runs = valid_runs(finite[c])
            for a, b in runs:
                if a > 0:  # a gap precedes this run (inside the chunk): restart the filter
                    self._started[c] = False
                if not self._started[c]:
                    self._start(c, float(x[c, a]))
                zi = self._zi[:, c, :]
                y, zi = signal.sosfilt(self.sos, x[c, a:b].astype(np.float64), zi=zi)
                self._zi[:, c, :] = zi
                out[c, a:b] = y
            if not runs or runs[-1][1] < x.shape[1]:
                self._started[c] = False  # chunk ends inside a gap
        return out
