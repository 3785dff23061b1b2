"""The events the record-level rates count, and the rates: NeuroKit2's detectors (``ecg_clean`` +
``ecg_peaks``, ``ppg_clean`` + ``ppg_findpeaks``, ``rsp_clean`` + ``rsp_peaks``) run over each valid
run of a channel (:func:`_runs`), and 60 over the mean event interval pooled over the runs
(:func:`_rate_per_min`).

The detection half of :mod:`biosig.measures` (which re-exports every name here and checks the rates
against biosig's own detectors).
"""
from __future__ import annotations

import logging
import warnings

import numpy as np

from biosig.errors import SignalError
from biosig.flatline import SHORT_GAP_S
from biosig.record import Record

log = logging.getLogger("biosig.measures")   # the name its messages had before the split

MIN_RUN_S = 4.0  # valid runs shorter than this are skipped (too short for the detectors)
MAX_TIME_HOLE_S = SHORT_GAP_S  # in a record with irregular times, a longer hole between samples is a gap


def _runs(x: np.ndarray, fs_hz: float, t_s: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Runs ``[a, b)`` of finite samples of at least :data:`MIN_RUN_S`; with sample times ``t_s``
    (a record with irregular times) also cut where a hole in time is longer than
    :data:`MAX_TIME_HOLE_S` (shorter ones, a dropped row, cannot hide a beat)."""
    finite = np.isfinite(x)
    edges = np.diff(np.concatenate([[0], finite.astype(np.int8), [0]]))
    runs = [(int(a), int(b)) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))]
    if t_s is not None:   # a run also ends before a long hole in time, as at a NaN
        cut = np.flatnonzero(np.diff(t_s) > MAX_TIME_HOLE_S) + 1
        pieces = []
        for a, b in runs:
            bounds = [a, *cut[(cut > a) & (cut < b)].tolist(), b]
            pieces += list(zip(bounds[:-1], bounds[1:]))
        runs = pieces
    return [(a, b) for a, b in runs if (b - a) >= MIN_RUN_S * fs_hz]


def _times(record: Record) -> np.ndarray | None:
    """The record's sample times where they are irregular, else None (``index / fs_hz``)."""
    return record.times_s if record.times_irregular else None


def qrs_is_negative(clean: np.ndarray, fs_hz: float, block_s: float = 2.0) -> bool:
    """True when the main QRS deflection of a cleaned ECG points down (leads such as MCL1, aVR).

    Compares the median over 2 s blocks of the largest upward and downward excursions from the
    median; NeuroKit2's R-peak detector expects upward R waves (``nk.ecg_invert`` does the same
    job but costs ~10 s on 30 min).
    """
    n = int(block_s * fs_hz)
    if len(clean) < n:
        n = len(clean)
    blocks = clean[: len(clean) // n * n].reshape(-1, n)
    mid = np.median(blocks, axis=1, keepdims=True)
    up = np.median((blocks - mid).max(axis=1))
    down = np.median((mid - blocks).max(axis=1))
    return bool(down > 1.2 * up)


class _PulseRuns:
    """biosig's pulses (:func:`biosig.quality.detect_beats`) of each run ``[a, b)`` of a PPG channel,
    detected on first use and kept: the record rate's two uses of them (the period of NeuroKit2's beat
    window, :func:`_pulse_peaks_nk`, and the cross-check, :func:`_checked_pulse_rate`) ran the
    detector twice over every sample."""

    def __init__(self):
        self._beats: dict[tuple[int, int], np.ndarray] = {}

    def __call__(self, x: np.ndarray, fs_hz: float, a: int, b: int) -> np.ndarray:
        if (a, b) not in self._beats:
            from biosig.quality import detect_beats
            self._beats[(a, b)] = detect_beats(x[a:b], fs_hz, "ppg")[0]
        return self._beats[(a, b)]


def _detect_events(record: Record, modality: str, x: np.ndarray, pulses: _PulseRuns) -> np.ndarray:
    """:func:`detect_events` on the channel's samples ``x`` (:func:`_channel`); ``pulses``: biosig's
    pulses per run, shared with :func:`_checked_pulse_rate`."""
    import neurokit2 as nk

    x = x.astype(np.float64)
    sr = record.fs_hz
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for a, b in _runs(x, sr, _times(record)):
            seg = x[a:b]
            if np.std(seg) == 0:
                continue
            try:
                if modality == "ecg":
                    clean = nk.ecg_clean(seg, sampling_rate=sr)
                    if qrs_is_negative(clean, sr):
                        clean = -clean
                    peaks = nk.ecg_peaks(clean, sampling_rate=sr)[1]["ECG_R_Peaks"]
                elif modality == "ppg":
                    peaks = _pulse_peaks_nk(seg, sr, pulses(x, sr, a, b))
                elif modality == "resp":
                    peaks = nk.rsp_peaks(nk.rsp_clean(seg, sampling_rate=sr), sampling_rate=sr)[1]["RSP_Peaks"]
                else:
                    raise SignalError(f"no event detector for {modality!r}; accepted: ecg, ppg, resp")
            except (ValueError, IndexError) as exc:  # NeuroKit2 raises when it finds nothing
                log.debug("no %s events in samples [%d, %d): %s", modality, a, b, exc)
                continue
            out.append(a + np.asarray(peaks, dtype=np.int64))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _pulse_peaks_nk(seg: np.ndarray, fs_hz: float, ours: np.ndarray | None = None) -> np.ndarray:
    """Systolic peaks of a PPG run: NeuroKit2's ``ppg_clean`` + ``ppg_findpeaks`` (Elgendi 2013) with
    its beat window (0.667 s, about one beat at 90 /min) and minimum delay (0.3 s) scaled to the run's
    pulse period, the median interval of biosig's pulses (:func:`biosig.quality.detect_beats`, which
    finds the small pulses of pulsus alternans): the beat window one period, the delay at most 0.6
    periods. With the fixed window, longer than the pulse period above 90 /min, NeuroKit2's pulses
    (simulated, 60 s, 125 Hz) read 143-145 /min at 150, 148-154 at 170-180 and 90-91 at 200, and
    43-45 at 40 (dicrotic waves); scaled, all within 0.5 % at 40-200 /min. The peaks are still
    NeuroKit2's: :func:`_checked_pulse_rate` compares their rate with biosig's. ``ours``: biosig's
    pulses of ``seg`` where the caller has them (detected here otherwise)."""
    import neurokit2 as nk
    if ours is None:
        from biosig.quality import detect_beats
        ours = detect_beats(seg, fs_hz, "ppg")[0]
    period_s = float(np.median(np.diff(ours))) / fs_hz if len(ours) >= 3 else 0.667
    return nk.ppg_findpeaks(nk.ppg_clean(seg, sampling_rate=fs_hz), sampling_rate=fs_hz, beatwindow=period_s,
                            mindelay=min(0.3, 0.6 * period_s))["PPG_Peaks"]

def _rate_per_min(x: np.ndarray, fs_hz: float, events_in, t_s: np.ndarray | None = None) -> float:
    """Events per minute from the intervals within each finite run ``[a, b)`` of ``x``
    (``events_in(a, b)``: sorted sample indices in the run); NaN with fewer than 2 intervals.
    With sample times ``t_s`` (irregular times) the intervals are times, not index differences
    over ``fs_hz``: an ECG table with 2 % of its rows dropped read 61.3 instead of 60.0 /min."""
    if t_s is None:
        intervals = [np.diff(events_in(a, b)) / fs_hz for a, b in _runs(x, fs_hz)]
    else:
        intervals = [np.diff(t_s[events_in(a, b)]) for a, b in _runs(x, fs_hz, t_s)]
    iv = np.concatenate(intervals) if intervals else np.zeros(0)
    return float(60.0 / iv.mean()) if len(iv) >= 2 else float("nan")
