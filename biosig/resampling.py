"""Resampling with an offline zero-phase form and a streaming causal form with carried state.

The resampling half of :mod:`biosig.filters` (which re-exports every name here):

* offline, zero-phase: :func:`resample` (``scipy.signal.resample_poly``'s filter at unit gain, the
  ends kept: :func:`resample_poly_edges`), its rational rate ratio :func:`resample_ratio`;
* streaming, causal, with carried state: :class:`ResampleStream` (a polyphase FIR whose output
  equals ``scipy.signal.upfirdn(h, x, up, down)``, computed chunk by chunk);

and the array checks every filter of :mod:`biosig.filters` shares (:func:`valid_runs`,
:func:`_as_2d`). NaN gaps follow :mod:`biosig.filters`' policy: offline, each valid run is
resampled on its own; streaming, an output whose FIR support touches a NaN input is NaN.
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np
from scipy import signal

from biosig.errors import PipelineError, SignalError


# ---------------------------------------------------------------------------------- arrays
def valid_runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of the runs of True in a 1-D boolean array (stop exclusive)."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _as_2d(x: np.ndarray) -> np.ndarray:
    """``x`` as a float array (C, T): float32/float64 kept, integers and bools as float64 (a filtered
    int16 ECG returned int16 was truncated to whole ADC units)."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise SignalError(f"expected samples shaped (C, T), got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise SignalError(f"samples must be real numbers, got an array of dtype {x.dtype}")
    return x if x.dtype.kind == "f" else x.astype(np.float64)


# ---------------------------------------------------------------------------------- offline
#: Largest relative error of the output rate :func:`resample_ratio` accepts: the rational
#: ``up/down`` reproduces ``fs_out / fs_in`` to 1e-9 relative (1 sample in 1e9; a 30-day record at
#: 1 kHz drifts by less than 3 samples), far below the 1e-6 tolerance of the encoders' rate check.
RESAMPLE_RATE_REL_TOL = 1e-9
#: Largest ``up`` or ``down`` tried; the polyphase FIR has ``20 * max(up, down) + 1`` taps.
RESAMPLE_MAX_FACTOR = 200_000


def resample_ratio(fs_in_hz: float, fs_out_hz: float, max_denominator: int | None = None) -> tuple[int, int]:
    """``(up, down)``, the smallest integers with ``fs_in * up / down == fs_out`` to within
    :data:`RESAMPLE_RATE_REL_TOL` (relative).

    Rates from headers and CSVs carry a few significant digits (249.89 Hz -> 250 Hz is
    ``25000/24989``), so an exact fraction exists with factors below :data:`RESAMPLE_MAX_FACTOR`.
    When none does (a rate with more digits than that), :class:`SignalError` says so rather than
    returning a ratio whose output rate is off. ``max_denominator`` caps ``down`` further.

    >>> resample_ratio(249.89, 250.0)
    (25000, 24989)
    """
    numbers = all(isinstance(r, (int, float, np.integer, np.floating)) and not isinstance(r, bool)
                  for r in (fs_in_hz, fs_out_hz))
    if not (numbers and np.isfinite(fs_in_hz) and fs_in_hz > 0 and np.isfinite(fs_out_hz) and fs_out_hz > 0):
        raise PipelineError(f"resample: rates must be positive, got {fs_in_hz!r} -> {fs_out_hz!r} Hz")
    target = float(fs_out_hz) / float(fs_in_hz)
    cap = RESAMPLE_MAX_FACTOR if max_denominator is None else int(max_denominator)
    limit = 10
    while True:
        frac = Fraction(target).limit_denominator(min(limit, cap))
        if frac.numerator >= 1 and abs(float(frac) - target) <= RESAMPLE_RATE_REL_TOL * target:
            if max(frac.numerator, frac.denominator) <= RESAMPLE_MAX_FACTOR:
                return frac.numerator, frac.denominator
            break
        if limit >= cap:
            break
        limit *= 10
    raise SignalError(f"cannot resample {float(fs_in_hz):.10g} Hz to {float(fs_out_hz):.10g} Hz exactly: no "
                      f"ratio up/down with factors up to {RESAMPLE_MAX_FACTOR} matches to "
                      f"{RESAMPLE_RATE_REL_TOL:g} relative; round the input rate (e.g. in the header)")


def resample_fir(up: int, down: int) -> np.ndarray:
    """The anti-aliasing FIR ``scipy.signal.resample_poly`` uses for ``up/down`` (float64)."""
    max_rate = max(up, down)
    if max_rate == 1:
        return np.ones(1)
    half_len = 10 * max_rate
    h = signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    return h * up


def resample_poly_edges(x: np.ndarray, up: int, down: int, lead: int = 0) -> np.ndarray:
    """:func:`scipy.signal.resample_poly` of a finite ``x`` whose ends are not pulled to zero.

    resample_poly's default pads with zeros: a 97 % SpO2 channel upsampled x256 fell to 0.26 in
    its last frame and overshot at its start. Its ``padtype='line'``/``'edge'`` would fix the ends
    but not the gain: the polyphase branches of its Kaiser filter sum to 1 only to ~1e-3, so a
    constant channel ripples by 0.1 % and the original samples come back 0.1 % off. Here the
    line through the first and last samples is taken out, the remainder (0 at both ends, so zero
    padding adds no step) is resampled with the same filter, each branch scaled to unit gain
    (:func:`unit_gain_filter`), and the line is put back exactly at the output instants, held
    at the end values past the last input sample: a constant stays constant and a ramp a ramp
    (never beyond its ends), to rounding. Inner gap edges get the same treatment: the linear
    bridge across a hole (:func:`biosig.readers.gap_resample.upsample_keeping_gaps`) plays the
    line's part there; :func:`resample` resamples each valid run on its own instead.

    ``lead`` puts the output grid's first instant ``lead`` input samples before ``x[0]`` (zeros of
    the residual fill them): :func:`resample` passes it for a run that starts off the output grid,
    so that its outputs fall on the record's output instants rather than shifted to the run's start.
    """
    g = math.gcd(up, down)
    up, down = up // g, down // g
    n, lead = len(x), int(lead)
    n_out = -(-(n + lead) * up // down)
    t_in = np.clip(np.arange(n_out) * (down / up) - lead, 0, n - 1)   # output instants in input samples
    slope = (x[-1] - x[0]) / (n - 1) if n > 1 else 0.0
    line = x[0] + slope * t_in
    if up == down and not lead:
        return x.astype(np.float64, copy=True)
    residual = np.concatenate([np.zeros(lead), x - (x[0] + slope * np.arange(n))])
    return signal.resample_poly(residual, up, down, window=unit_gain_filter(up, down), padtype="constant") + line


@functools.lru_cache(maxsize=32)
def unit_gain_filter(up: int, down: int) -> np.ndarray:
    """resample_poly's own low-pass (Kaiser, beta 5, cut-off 1/max(up, down), 20 * max + 1 taps)
    with each of its ``up`` polyphase branches scaled to sum to exactly ``1 / up``: every output
    phase then has unit gain at 0 Hz, and for ``down == 1`` phase 0 returns the input samples."""
    rate = max(up, down)
    h = signal.firwin(20 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))
    centre = 10 * rate
    for p in range(up):   # taps at centre + p + k*up act on the same output phase
        idx = np.arange((centre + p) % up, len(h), up)
        h[idx] /= h[idx].sum() * up
    h.flags.writeable = False
    return h


def resample(x: np.ndarray, fs_in_hz: float, fs_out_hz: float) -> np.ndarray:
    """Zero-phase polyphase resampling of ``x`` (C, T) from ``fs_in_hz`` to ``fs_out_hz``.

    Each channel goes through :func:`resample_poly_edges` (``scipy.signal.resample_poly``'s
    Kaiser filter, each polyphase branch at unit gain, the line through the ends taken out and
    put back): a baseline offset stays an offset up to the record's ends. Plain
    ``resample_poly`` pads zeros, so a 1 mV offset fell towards 0 over the last and first ~40 ms
    (300 -> 250 Hz) and the band-pass after it rang. Output length ``ceil(T * up / down)``,
    dtype that of ``x``. NaN gaps stay NaN: each valid run is resampled on its own (its own
    ends), its outputs at the record's output instants ``i / fs_out_hz`` from the first one at or
    after its start (a run starting off the output grid was shifted to it: up to one output period
    late, 5 ms at 1000 -> 100 Hz, after every gap).
    """
    x = _as_2d(x)
    up, down = resample_ratio(fs_in_hz, fs_out_hz)
    if up == down:
        return x.copy()
    n_out = -(-x.shape[1] * up // down)
    finite = np.isfinite(x)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    out = np.full((x.shape[0], n_out), np.nan, dtype=dtype)
    for c in range(x.shape[0]):
        for a, b in valid_runs(finite[c]):
            a0 = (a // down) * down   # the last input sample at or before a on an output instant
            seg = resample_poly_edges(x[c, a:b].astype(np.float64), up, down, lead=a - a0)
            i0 = -(-a * up // down)  # first output sample at or after input sample a
            i1 = min(n_out, (b * up + down - 1) // down)
            seg = seg[i0 - a0 * up // down:][: max(0, i1 - i0)]
            out[c, i0:i0 + len(seg)] = seg
    return out


# ---------------------------------------------------------------------------------- streaming
_BLOCK_VALUES = 1 << 20   # inputs gathered per block of ResampleStream outputs (8 MiB of float64)


class ResampleStream:
    """Causal polyphase resampling with carried state, for chunks shaped (C, n).

    The concatenated output equals ``scipy.signal.upfirdn(h, x, up, down)`` of the whole input
    (``h`` = :func:`resample_fir`), truncated to the samples whose newest input has arrived: after
    ``N`` input samples, ``ceil(N * up / down)`` outputs (the length ``resample_poly`` gives). Being causal, the output lags
    the input by the FIR's group delay, :attr:`delay_s` (the zero-phase offline form does not).
    """

    def __init__(self, fs_in_hz: float, fs_out_hz: float, n_channels: int):
        self.up, self.down = resample_ratio(fs_in_hz, fs_out_hz)
        self.fs_in_hz, self.fs_out_hz = float(fs_in_hz), float(fs_in_hz) * self.up / self.down
        self.n_channels = int(n_channels)
        h = resample_fir(self.up, self.down) if self.up != self.down else np.ones(1)
        self.n_taps = k = -(-len(h) // self.up)  # input samples under the FIR at any output
        phases = np.zeros((self.up, k))
        for p in range(self.up):
            taps = h[p::self.up]
            phases[p, : len(taps)] = taps
        self._phases_rev = phases[:, ::-1].copy()  # (up, K), oldest input first
        self._taps = np.arange(k)
        self.delay_s = (len(h) - 1) / 2.0 / (self.fs_in_hz * self.up)
        self.reset()

    def reset(self) -> None:
        self._hist = np.zeros((self.n_channels, self.n_taps - 1))
        self._n_in = 0   # input samples consumed so far
        self._m_next = 0  # index of the next output sample

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Resample the next chunk (C, n); returns (C, m) with m ~ n * up / down."""
        x = _as_2d(chunk)
        if x.shape[0] != self.n_channels:
            raise SignalError(f"chunk has {x.shape[0]} channels, stream expects {self.n_channels}")
        if self.up == self.down:
            return x.copy()
        n = x.shape[1]
        buf = np.concatenate([self._hist, x.astype(np.float64)], axis=1)  # input n_in-K+1 .. n_in+n-1
        n_total = self._n_in + n
        m_end = -(-n_total * self.up // self.down)  # outputs whose newest input has arrived
        y = np.zeros((self.n_channels, max(0, m_end - self._m_next)))
        # Outputs in blocks of about _BLOCK_VALUES gathered inputs: the gather below is (C, m, K),
        # and a whole record in one chunk (score, embed: an hour of 8 kHz audio) took 20+ GB.
        step = max(1, _BLOCK_VALUES // (self.n_channels * self.n_taps))
        for a in range(self._m_next, m_end, step):
            m = np.arange(a, min(a + step, m_end))
            n0 = (m * self.down) // self.up           # newest input index under the FIR
            p = m * self.down - n0 * self.up          # phase
            start = n0 - self._n_in  # buffer index of the oldest input under the FIR
            win = buf[:, start[:, None] + self._taps]  # (C, m, K) inputs under the FIR, oldest first
            y[:, a - self._m_next:a - self._m_next + len(m)] = np.einsum("cmk,mk->cm", win, self._phases_rev[p])
            # NaN * 0-tap stays NaN, so any NaN under the FIR gives NaN, as documented.
        self._hist = buf[:, buf.shape[1] - (self.n_taps - 1):]
        self._n_in, self._m_next = n_total, m_end
        return y.astype(x.dtype if x.dtype == np.float32 else np.float64, copy=False)
