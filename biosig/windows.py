"""Cutting records into fixed-length windows.

A window has ``W = round(window_s * fs_hz)`` samples and windows start every
``H = round(hop_s * fs_hz)`` samples: window ``i`` covers samples ``[i * H, i * H + W)`` and the
times ``[t0_s, t1_s) = [i * H / fs_hz, (i * H + W) / fs_hz)`` from the record's first sample.

* Only whole windows are returned; the tail after the last whole window is dropped.
* A record shorter than one window gives one window padded at the end with NaN when
  ``pad_short=True`` (the default; its ``valid_fraction`` tells how much is real), or no window
  when ``pad_short=False``.
* NaN gaps are kept; each window's ``valid_fraction`` (finite samples / all samples) flags them, and
  :attr:`Windows.usable` keeps those at or above a threshold.

Records with irregular sample times (``times_s``) are put on a uniform grid at their nominal rate
first (:func:`uniform_record`): cut by sample index, a window joined the samples either side of a
hole in time and every later window's times were early by the hole.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from biosig.arguments import positive_seconds, sampling_rate, whole_number
from biosig.errors import SignalError
from biosig.modality import MODALITIES, check_modality
from biosig.record import Record, require_record

log = logging.getLogger(__name__)


DEFAULT_WINDOW_S: dict[str, tuple[float, float]] = {
    "ecg": (10.0, 5.0),
    "ppg": (10.0, 5.0),
    "resp": (30.0, 10.0),
    "audio": (8.0, 4.0),
    "spiro": (15.0, 15.0),   # one whole forced expiration
    "motion": (10.0, 1.0),
    "other": (10.0, 10.0),
}
assert set(DEFAULT_WINDOW_S) == set(MODALITIES)


def default_window(modality: str) -> tuple[float, float]:
    """``(window_s, hop_s)`` used by encoders and the streaming runtime for ``modality``
    (also importable from :mod:`biosig.pipeline`)."""
    return DEFAULT_WINDOW_S[check_modality(modality)]


def hop_for_window_s(modality: str, window_s: float) -> float:
    """Hop between offline embedding windows of ``window_s`` seconds (``embed``, ``score``, probes):
    the modality's default hop for its default window, else half a window, so a model trained on
    another length (audio-tiny: 2 s, the audio default is 8 s every 4 s) skips no sample. The
    streaming runtime picks its own hop (streams.config.stream_windows: cost per second matters)."""
    dw, dh = default_window(modality)
    window_s = positive_seconds(window_s, "window_s")
    return float(dh) if abs(window_s - dw) < 1e-9 else window_s / 2


def embedding_grid(rec: Record, window_s: float, hop_s: float) -> tuple[float, float]:
    """(window_s, hop_s) to cut ``rec`` for embedding (``embed``, ``score``, probes): as given, but
    a record shorter than one window is one window of its own length (never zero-padded: the
    model takes any length from its smallest input up)."""
    require_record(rec, "embedding_grid()")
    window_s, hop_s = positive_seconds(window_s, "window_s"), positive_seconds(hop_s, "hop_s")
    if rec.n_samples < int(round(window_s * rec.fs_hz)):
        own_s = rec.n_samples / rec.fs_hz
        return own_s, own_s
    return window_s, hop_s


@dataclass(frozen=True, eq=False)
class Windows:
    """Stacked windows of one record.

    Attributes
    ----------
    x : float32 (N, C, W), samples (NaN where the record has gaps or was padded).
    t0_s, t1_s : float64 (N,), start and end of each window in seconds from the record start.
    valid_fraction : float64 (N,), fraction of finite samples in each window, in [0, 1].
    fs_hz : rate of the samples.
    channels : C channel names.
    """

    x: np.ndarray
    t0_s: np.ndarray
    t1_s: np.ndarray
    valid_fraction: np.ndarray
    fs_hz: float
    channels: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def has_nan(self) -> np.ndarray:
        """bool (N,): windows with at least one NaN sample."""
        return self.valid_fraction < 1.0

    def usable(self, min_valid_fraction: float = 1.0) -> np.ndarray:
        """bool (N,): windows with at least ``min_valid_fraction`` finite samples."""
        return self.valid_fraction >= min_valid_fraction


#: Longest window a short record is padded to (samples): 2^27, over 37 h at 1 kHz.
MAX_PADDED_SAMPLES = 1 << 27


def window_bounds(n_samples: int, fs_hz: float, window_s: float, hop_s: float | None = None,
                  pad_short: bool = True) -> tuple[int, int, np.ndarray]:
    """``(W, H, starts)``: window and hop lengths in samples and the start index of each window."""
    fs_hz = sampling_rate(fs_hz)
    n_samples = whole_number(n_samples, "n_samples")
    window_s = positive_seconds(window_s, "window_s")
    hop_s = window_s if hop_s is None else positive_seconds(hop_s, "hop_s")
    if not isinstance(pad_short, (bool, np.bool_)):
        raise SignalError(f"pad_short={pad_short!r} must be True or False")
    w = int(round(window_s * fs_hz))
    h = int(round(hop_s * fs_hz))
    if w < 1 or h < 1:
        raise SignalError(f"window_s={window_s} / hop_s={hop_s} s are shorter than one sample at {fs_hz:g} Hz")
    if pad_short and w > max(n_samples, MAX_PADDED_SAMPLES):
        raise SignalError(f"window_s={window_s:g} s is {w:,} samples at {fs_hz:g} Hz, longer than the record "
                          f"({n_samples:,} samples) and than {MAX_PADDED_SAMPLES:,}: padding it would not fit in memory")
    if n_samples >= w:
        starts = np.arange(0, n_samples - w + 1, h, dtype=np.int64)
    elif pad_short and n_samples > 0:
        starts = np.zeros(1, dtype=np.int64)
    else:
        starts = np.zeros(0, dtype=np.int64)
    return w, h, starts


def uniform_record(record: Record) -> Record:
    """``record`` itself, or on a uniform grid at its nominal rate when it has sample times
    (:func:`biosig.readers.gap_resample.to_uniform_grid`: holes in time longer than 2.5 periods
    become NaN gaps, one INFO line; :class:`SignalError` for times too irregular for a grid)."""
    if record.times_s is None:
        return record
    from biosig.readers.gap_resample import to_uniform_grid

    return to_uniform_grid(record)


def window_array(record: Record, window_s: float, hop_s: float | None = None, pad_short: bool = True) -> Windows:
    """All windows of ``record`` stacked into a :class:`Windows` (x float32 (N, C, W)); a record with
    sample times is cut on its uniform grid (:func:`uniform_record`)."""
    record = uniform_record(require_record(record, "window_array()"))
    x = record.samples
    w, _, starts = window_bounds(record.n_samples, record.fs_hz, window_s, hop_s, pad_short)
    if record.n_samples < w:
        x = np.concatenate([x, np.full((x.shape[0], w - x.shape[1]), np.nan, np.float32)], axis=1)
    if len(starts):
        view = np.lib.stride_tricks.sliding_window_view(x, w, axis=1)  # (C, T - W + 1, W), no copy
        xs = np.ascontiguousarray(view[:, starts].transpose(1, 0, 2), dtype=np.float32)
    else:
        xs = np.zeros((0, x.shape[0], w), np.float32)
    finite = np.isfinite(xs)
    valid = finite.mean(axis=(1, 2)) if len(xs) else np.zeros(0)
    t0 = starts / record.fs_hz
    return Windows(x=xs, t0_s=t0, t1_s=t0 + w / record.fs_hz, valid_fraction=valid.astype(np.float64),
                   fs_hz=record.fs_hz, channels=record.channels)


def windows(record: Record, window_s: float, hop_s: float | None = None,
            pad_short: bool = True) -> Iterator[tuple[float, float, np.ndarray]]:
    """Yield ``(t0_s, t1_s, x)`` for each window, ``x`` a float32 (C, W) view (or padded copy).

    The arguments are checked when it is called, not at the first ``next()`` (``windows(rec, 0)``
    returned a generator that raised only when a loop began)."""
    record = uniform_record(require_record(record, "windows()"))
    w, _, starts = window_bounds(record.n_samples, record.fs_hz, window_s, hop_s, pad_short)
    return _iter_windows(record, w, starts)


def _iter_windows(record: Record, w: int, starts: np.ndarray) -> Iterator[tuple[float, float, np.ndarray]]:
    for s in starts:
        x = record.samples[:, s:s + w]
        if x.shape[1] < w:
            x = np.concatenate([x, np.full((x.shape[0], w - x.shape[1]), np.nan, np.float32)], axis=1)
        yield float(s / record.fs_hz), float((s + w) / record.fs_hz), x
