"""Flat lines: runs of identical recorded samples, a gap for ECG and PPG.

Neither an ECG nor a pulse wave stays exactly constant for a second; a run of identical samples
lasting :data:`FLAT_RUN_S` or longer is a lead off, a sensor clipped at a rail or a gap a device
filled with a constant, and counts as missing data (quality and measures treat it like NaN).

The run must be seen in the *recorded* samples: after the encoders' pipelines (resampling,
band-pass, z-score) a flat stretch is a slowly decaying filter transient, no longer a constant.
:func:`window_flat_mask` maps the recorded runs onto the samples of one preprocessed window (the
runtime's windows and their offline twins, :func:`encoders.heads.features.causal_windows`), and
:func:`record_flat_mask` onto a whole preprocessed record (``embed``'s and ``score``'s quality).
Output sample ``k`` of a pipeline run at ``fs_out_hz`` is recorded sample ``round(k * fs_in / fs_out)``.

A window sees the runs inside its own span of recorded samples (a run crossing its edge counts
only with the part inside), which is all a causal runtime can know at the window's end; offline
windows do the same so that both publish the same numbers.
"""
from __future__ import annotations

import numpy as np

from biosig.arguments import float_signal, sampling_rate
from biosig.errors import SignalError

FLAT_RUN_S = 1.0
#: modalities whose flat runs are gaps (those with a beat model; the others score finite fraction)
FLAT_MODALITIES = ("ecg", "ppg")


def run_bounds(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of True in ``valid``: ``valid[a:b]`` for each pair."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def longest_run(valid: np.ndarray) -> tuple[int, int]:
    """``(a, b)`` of the longest run of True in ``valid`` (the first of equal ones); ``(0, 0)`` when
    there is none. Quality and the beat measures read a gapped window's longest run."""
    starts, ends = run_bounds(valid)
    if not len(starts):
        return 0, 0
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k])


#: NaN gaps of at most this long are bridged by a straight line for quality and the beat measures
#: (:func:`bridge_short_gaps`): shorter than a QRS complex (80-120 ms), so a bridged gap cannot hide
#: a whole beat, and far shorter than a pulse wave. Before, a window read its longest run without a
#: gap: a 3-sample loss every 2.8 s (a lossy radio link) left no run of 3 s and zeroed the quality
#: of a clean ECG window.
SHORT_GAP_S = 0.06


def bridge_short_gaps(x: np.ndarray, fs_hz: float, max_s: float = SHORT_GAP_S) -> np.ndarray:
    """A float64 copy of ``x`` (W,) with every NaN run of at most ``max_s`` that has finite samples on
    both sides replaced by the straight line between them; longer gaps, and gaps at either end, stay
    NaN. The caller still counts the bridged samples as missing (quality's finite fraction)."""
    y = float_signal(x).astype(np.float64, copy=True)
    if y.ndim != 1:
        raise SignalError(f"bridge_short_gaps takes one channel (W,), got shape {y.shape}")
    finite = np.isfinite(y)
    if finite.all() or finite.sum() < 2:
        return y
    starts, ends = run_bounds(~finite)
    n_max = int(np.floor(max_s * sampling_rate(fs_hz) + 1e-9))
    short = (ends - starts <= n_max) & (starts > 0) & (ends < len(y))
    if not short.any():
        return y
    keep = np.flatnonzero(finite)
    line = np.interp(np.arange(len(y)), keep, y[keep])
    for a, b in zip(starts[short], ends[short]):
        y[a:b] = line[a:b]
    return y


def bridged_run(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """``(run, bridged)`` of one channel ``x`` (W,) whose gaps are NaN already (flat lines included):
    gaps of at most :data:`SHORT_GAP_S` bridged (:func:`bridge_short_gaps`), the longest run without
    a gap kept (float64; empty when ``x`` has no finite sample), and bool of the same length, True on
    its bridged samples."""
    y = bridge_short_gaps(x, fs_hz)
    finite = np.isfinite(y)
    bridged = np.isnan(np.asarray(x, dtype=np.float64)) & finite
    if finite.all():
        return y, bridged
    part = slice(*longest_run(finite))
    return y[part], bridged[part]


def measured_run(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """``(run, bridged)``: the part of one ECG or PPG channel ``x`` (W,) that quality and the beat
    measures read, float64, and bool of the same length, True on its bridged samples. A flat line
    counts as a gap (:func:`flat_runs_to_nan`), then :func:`bridged_run`. A beat can hide in a
    bridged gap: the beat measures drop the intervals across one."""
    return bridged_run(flat_runs_to_nan(x, fs_hz), fs_hz)


def flat_mask(x: np.ndarray, fs_hz: float, min_s: float = FLAT_RUN_S) -> np.ndarray:
    """bool (C, N) of ``x`` (N,) or (C, N): True on every run of identical consecutive finite
    samples lasting ``min_s`` or longer."""
    x = np.atleast_2d(np.asarray(x))
    if x.ndim != 2:
        raise SignalError(f"expected a 1-D signal or (channels, samples), got shape {x.shape}")
    out = np.zeros(x.shape, dtype=bool)
    n_min = max(2, int(round(min_s * sampling_rate(fs_hz))))
    if x.shape[1] < n_min:
        return out
    for row, flag in zip(x, out):
        same = row[1:] == row[:-1]
        if np.count_nonzero(same) < n_min - 1:           # no run can be long enough (most windows)
            continue
        starts, ends = run_bounds(same)                  # samples a .. b are all equal
        long = ends - starts + 1 >= n_min                 # a quantised signal has many short runs
        for a, b in zip(starts[long], ends[long]):
            flag[a:b + 1] = True
    return out


def flat_summary(x: np.ndarray, fs_hz: float, min_s: float = FLAT_RUN_S) -> dict:
    """``{"count": runs, "total_s": seconds}`` of the flat runs of one channel ``x`` (N,)."""
    starts, ends = run_bounds(flat_mask(x, fs_hz, min_s)[0])
    return {"count": int(len(starts)), "total_s": float((ends - starts).sum()) / fs_hz}


def flat_runs_to_nan(x: np.ndarray, fs_hz: float, min_s: float = FLAT_RUN_S) -> np.ndarray:
    """A float64 copy of ``x`` (W,) or (C, W) with every run of identical consecutive samples that
    lasts ``min_s`` or longer set to NaN (a flat line is a gap, not signal)."""
    out = float_signal(x).copy()
    out[flat_mask(out, fs_hz, min_s).reshape(out.shape)] = np.nan
    return out


def _per_output_channel(mask: np.ndarray, n_channels_out: int) -> np.ndarray:
    """A recorded-channel mask for ``n_channels_out`` output channels: the same channels when the
    pipeline keeps them, else flat only where every recorded channel is (never blank a live one)."""
    if mask.shape[0] == n_channels_out:
        return mask
    return np.repeat(mask.all(axis=0, keepdims=True), n_channels_out, axis=0)


def window_flat_mask(raw: np.ndarray, raw_first: int, fs_in_hz: float, fs_out_hz: float, k_first: int,
                     n_out: int, n_channels_out: int, min_s: float = FLAT_RUN_S) -> np.ndarray | None:
    """Where output samples ``k_first .. k_first + n_out - 1`` of a preprocessed stream come from a
    flat run of the recorded samples, bool (``n_channels_out``, ``n_out``), or None when nowhere.

    ``raw`` (C_in, M): recorded samples, the first of which is recorded sample ``raw_first`` (both
    counted from the same start as ``k``). Only the window's own span of recorded samples is looked
    at; recorded samples the span needs but ``raw`` lacks count as not flat.
    """
    if n_out <= 0:
        return None
    ratio = fs_in_hz / fs_out_hz
    src = np.rint((k_first + np.arange(n_out)) * ratio).astype(np.int64)
    a, b = max(int(src[0]), raw_first), min(int(src[-1]), raw_first + raw.shape[1] - 1)
    if b - a + 1 < max(2, int(round(min_s * fs_in_hz))):
        return None
    flat = flat_mask(raw[:, a - raw_first:b - raw_first + 1], fs_in_hz, min_s)
    if not flat.any():
        return None
    inside = (src >= a) & (src <= b)
    out = np.zeros((flat.shape[0], n_out), dtype=bool)
    out[:, inside] = flat[:, src[inside] - a]
    out = _per_output_channel(out, n_channels_out)
    return out if out.any() else None


def record_flat_mask(raw: np.ndarray, fs_in_hz: float, n_out: int, fs_out_hz: float, n_channels_out: int,
                     min_s: float = FLAT_RUN_S) -> np.ndarray | None:
    """:func:`window_flat_mask` of a whole record: bool (``n_channels_out``, ``n_out``) or None."""
    raw = np.atleast_2d(np.asarray(raw))
    return window_flat_mask(raw, 0, fs_in_hz, fs_out_hz, 0, n_out, n_channels_out, min_s)


def with_gaps(x: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``x`` (C, W) with NaN where ``mask`` (>= C, W) is True: a float copy, or ``x`` itself when
    ``mask`` is None."""
    if mask is None:
        return x
    out = np.array(x, copy=True)
    out[mask[:out.shape[0]]] = np.nan     # a window may keep only the first channels
    return out


def mark_flat_runs(clean, raw, modality: str):
    """``clean`` (a preprocessed :class:`biosig.record.Record`) with NaN where its samples come from
    a flat run of ``raw`` (the recorded Record it was made from); ``clean`` itself for modalities
    other than ECG and PPG or where nothing is flat. For quality on preprocessed records."""
    if modality not in FLAT_MODALITIES:
        return clean
    mask = record_flat_mask(raw.samples, raw.fs_hz, clean.n_samples, clean.fs_hz, clean.n_channels)
    return clean if mask is None else clean.replace(samples=with_gaps(clean.samples, mask))
