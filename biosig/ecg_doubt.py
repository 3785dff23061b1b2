"""A beat with a small QRS complex missed between two ECG beats: the check of
:func:`biosig.ecg_beats.doubtful_intervals` for a QRS-like peak too small for its energy rule
(:data:`biosig.ecg_beats.DOUBT_REL`), found by its place (the middle of an interval about twice the
others, or the same place in nearly every interval) and its shape (steep for its size, not a T or P wave).

An ectopic beat nearly isoelectric in the lead, or a lead whose QRS shrinks every few beats, leaves a
QRS at 10-20 % of the others' amplitude, 1-4 % of their QRS energy: under the threshold, under the
search back's half of it and under 40 % of it, so the window was published at 12-46 /min under the
rhythm's rate (``benchmarks/bench_beat_windows.py``; :func:`hidden_qrs_intervals` has the numbers).
"""
from __future__ import annotations

import numpy as np

HIDDEN_QRS_REL = 0.12     # a candidate peak of at least this share of the beat threshold (3.6 % of a typical QRS) ...
HIDDEN_SHARP_REL = 0.5    # ... as steep for its size as this share of the beats (slope / peak-to-peak, not a T/P wave)
HIDDEN_MID = 0.35         # ... between this and 1 - this of its interval (and the T-wave margin from both beats)
HIDDEN_LONG_RR = 1.6      # ... of this many times the window's shorter intervals (their 25th percentile): doubt;
HIDDEN_RUN_SHARE = 0.7    # ... or in this share of the intervals (3 or more), a rhythm counted at half its rate ...
HIDDEN_RUN_DELAY_S = 0.05  # ... all at the same delay after their beat (within this): doubt
SHAPE_HALF_S = 0.1        # the peak-to-peak of the 0.5-40 Hz ECG within this of a peak is its size


def steepest_slopes(clean: np.ndarray, peaks: np.ndarray, fs_hz: float, half_s: float = 0.05) -> np.ndarray:
    """The largest ``|d clean / dt|`` (per sample) within ``half_s`` of each of ``peaks``: a QRS
    complex is steeper than the T wave after it, even where their 5-15 Hz energies are close."""
    steep = np.abs(np.gradient(clean))
    h = max(1, int(half_s * fs_hz))
    return np.array([steep[max(0, k - h):k + h + 1].max() for k in peaks]) if len(peaks) else np.zeros(0)


def _sharpness(clean: np.ndarray, peaks: np.ndarray, fs_hz: float, slopes: np.ndarray | None = None) -> np.ndarray:
    """The steepest 0.5-40 Hz slope near each of ``peaks`` (:func:`steepest_slopes`) over the peak-to-peak
    within :data:`SHAPE_HALF_S`: a QRS complex, however small, is steep for its size, a T or P wave is not.
    ``slopes``: :func:`steepest_slopes` of ``peaks`` where the caller has them."""
    h = max(1, int(SHAPE_HALF_S * fs_hz))
    size = np.array([np.ptp(clean[max(0, k - h):k + h + 1]) for k in peaks])
    slopes = steepest_slopes(clean, peaks, fs_hz) if slopes is None else slopes
    return slopes / np.maximum(size, 1e-12)


def hidden_qrs_intervals(beats: np.ndarray, cand: np.ndarray, energy: np.ndarray, threshold: float,
                         clean: np.ndarray, fs_hz: float, margin_s: float,
                         beat_slopes: np.ndarray | None = None) -> np.ndarray:
    """Which intervals between ``beats`` (bool, one per interval) may hide a beat with a small QRS, from a
    detection's (:func:`biosig.ecg_beats.ecg_detection`) sorted candidate peaks ``cand`` of the QRS ``energy``,
    its beat ``threshold`` and the 0.5-40 Hz ``clean`` ECG: they hold a candidate of at least
    :data:`HIDDEN_QRS_REL` of the threshold, ``margin_s`` from both beats and within the middle of the interval
    (:data:`HIDDEN_MID`), at least :data:`HIDDEN_SHARP_REL` as steep for its size as the median beat
    (:func:`_sharpness`; a T wave measures 0.1-0.45 of it on synthetic ECG, a QRS at 10-20 % of the
    others 0.6-1.2), and the interval is :data:`HIDDEN_LONG_RR` times the shorter ones, or such peaks
    lie at the same delay after their beat (:data:`HIDDEN_RUN_DELAY_S`) in :data:`HIDDEN_RUN_SHARE` of
    the intervals (every second beat missed: a regular rhythm at half its rate).

    Noise is steep for its size too: the energy share and the place keep it out (in the benchmark's
    low-voltage windows, 0.03 mV white noise on a 0.3 mV QRS at 30-40 /min, noise peaks of 10-25 % of the
    threshold lay mid-interval in most intervals, at scattered delays). A sinus pause or a 2:1 block has no
    QRS in the gap, only P waves, not steep for their size: none of 180 such windows (50-120 /min, the QRS-T
    of one, two or every second beat flattened, noise 0-0.1 mV) is withheld but one, a pause at 120 /min under
    0.1 mV noise; no clean synthetic window at 30-200 /min (125-500 Hz) either.

    Measured (``benchmarks/bench_beat_windows.py`` against ``--hidden-qrs inf``, the 47 MIT-BIH records): 16
    wrong and 4 right windows withheld in the first leads (usable windows off by > 2 /min: 65 of 6760 before,
    49 of 6740 now), 26 wrong and 17 right in the second leads (127 of 5935, 101 of 5892); no window of the
    benchmark's synthetic ECG. Of 67 synthetic windows with every 2nd, 3rd or 5th QRS at 10-20 % published
    more than 10 % off, 59 are withheld (the 8 left: every 2nd or 5th QRS at 10 %). At 10 % of the
    threshold 63 were, for 8 and 24 right MIT-BIH windows; at 10 % with the interval against the median
    instead of the 25th percentile, 57. On the 200 CinC 2017 records (10 s windows every 5 s) 3 of 708
    usable windows are withheld (1 AF), no record loses its last. MIT-BIH 208 V1 (against XQRS on MLII,
    ``tests/test_quality.py``): 21 windows withheld, all 21 off by more than 2 /min (25 of 43 usable off
    before, 4 of 22 now). ``beat_slopes``: :func:`steepest_slopes` of ``beats`` where the caller has them
    (:func:`biosig.ecg_beats.doubtful_intervals` does)."""
    out = np.zeros(max(0, len(beats) - 1), bool)
    if len(beats) < 3 or not threshold > 0:
        return out
    margin = margin_s * fs_hz
    i = np.searchsorted(beats, cand)
    inside = (i > 0) & (i < len(beats))
    c, i = cand[inside], i[inside]
    a, b = beats[i - 1], beats[i]
    where = (c - a) / np.maximum(b - a, 1)
    keep = ((c - a >= margin) & (b - c >= margin) & (where >= HIDDEN_MID) & (where <= 1 - HIDDEN_MID)
            & (energy[c] >= HIDDEN_QRS_REL * threshold))
    if not keep.any():
        return out
    c, i = c[keep], i[keep]
    ref = float(np.median(_sharpness(clean, beats, fs_hz, beat_slopes)))
    qrs_like = _sharpness(clean, c, fs_hz) >= HIDDEN_SHARP_REL * ref
    c, i = c[qrs_like], i[qrs_like] - 1          # the interval each lies in
    if not len(c):
        return out
    rr = np.diff(beats)
    out[i[rr[i] >= HIDDEN_LONG_RR * np.percentile(rr, 25)]] = True
    strongest = {}                               # per interval, its most energetic such peak
    for k, j in zip(c, i):
        if j not in strongest or energy[k] > energy[strongest[j]]:
            strongest[j] = k
    if len(strongest) >= max(3, HIDDEN_RUN_SHARE * len(rr)):
        j = np.fromiter(strongest, np.int64)
        delay = np.fromiter(strongest.values(), np.float64) - beats[j]
        if np.ptp(delay) <= HIDDEN_RUN_DELAY_S * fs_hz:
            out[j] = True
    return out
