"""Whether the breaths found in a respiration window can be trusted to give its rate.

:func:`biosig.measures_window.breath_peaks` keeps peaks at least half the dominant breath period apart. When
that period comes out at two or three breaths (a sigh every 30 s, irregular breathing, a motion spike, a
step, baseline wander, waxing and waning breathing) every other breath is dropped, and the peaks left are
regular: the window published half or a third of the rate. A disconnected lead's noise published a rate,
and an apnea inside the window (an interval over 15 s, not counted) the rate of the breaths around it.

:func:`breaths_in_doubt` withholds such windows (``missing="uncertain_breaths"``); see
:func:`biosig.measures_window.breath_features` for the measured trade-off.
"""
from __future__ import annotations

import numpy as np

#: A local maximum between two breaths found, rising and falling by at least this share of their median
#: prominence in a band up to MISSED_BAND_REL x their rate, is a breath left out (or the peaks are noise)
MISSED_REL = 0.15
MISSED_BAND_REL = 5.0   # ... a band that keeps breaths at up to 5 x the rate found (a sigh every 5th), damps heartbeats
#: An interval over this many median intervals (or more than this many before the first breath or after the
#: last) is an apnea, a pause or breaths missed: the mean interval of the others is no rate of the window
GAP_REL = 2.0
#: The breaths left out (one per interval with a maximum left out, round(interval / median) - 1 per gap) may be
#: at most this share of the intervals: one missed in 27 moves a 60 /min rate by 4 %, within the 10 % published
MISSED_SHARE = 0.1


def breaths_in_doubt(x: np.ndarray, fs_hz: float, peaks: np.ndarray, band_hz: tuple[float, float]) -> bool:
    """Whether the rate of ``peaks`` (sample indices of :func:`biosig.measures_window.breath_peaks`) in the
    finite 1-D window ``x`` is in doubt: the breaths it leaves out are over :data:`MISSED_SHARE` of its intervals.
    Left out: ``round(gap / median) - 1`` per interval or edge over :data:`GAP_REL` median intervals, and one
    per interval holding a local maximum of :data:`MISSED_REL` prominence (:data:`MISSED_BAND_REL`)."""
    from biosig.quality import _band
    peaks = np.asarray(peaks, dtype=np.int64)
    if len(peaks) < 2:
        return False   # too_few_breaths
    iv = np.diff(peaks)
    med = float(np.median(iv))
    gaps = np.concatenate([iv, [peaks[0], len(x) - 1 - peaks[-1]]]) / med
    left_out = float(np.sum(np.where(gaps > GAP_REL, np.round(gaps) - 1, 0)))
    hi = min(band_hz[1], MISSED_BAND_REL * fs_hz / med)
    y = _band(x, fs_hz, band_hz[0], hi)
    bounds = np.concatenate([[0], peaks, [len(y) - 1]])
    low = np.array([y[a:b + 1].min() for a, b in zip(bounds[:-1], bounds[1:])])
    floor = MISSED_REL * float(np.median(y[peaks] - np.maximum(low[:-1], low[1:])))
    for a, b, g in zip(peaks[:-1], peaks[1:], gaps):
        seg = y[a:b + 1]
        inner = np.flatnonzero((seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])) + 1
        if g <= GAP_REL and any(seg[m] - max(seg[:m].min(), seg[m:].min()) >= floor for m in inner):
            left_out += 1
    return left_out > MISSED_SHARE * len(iv)
