"""Whether the breaths found in a respiration window can be trusted to give its rate.

:func:`biosig.measures_window.breath_peaks` keeps peaks at least half the dominant breath period apart. When
that period comes out at two or three breaths (a sigh every 30 s, irregular breathing, a motion spike, a
step, baseline wander, waxing and waning breathing) every other breath is dropped, and the peaks left are
regular: the window published half or a third of the rate. A disconnected lead's noise published a rate,
and an apnea inside the window (an interval over 15 s, not counted) the rate of the breaths around it.
A baseline wander larger than the breaths (1-3 x at 0.02-0.08 Hz) became the dominant period: the peaks
kept were the breaths on its crests, one in 3-4, and those on its slopes are no local maxima at all
(:func:`faster_rhythm`; where two crests only were found, a less regular rhythm is enough: :data:`FAST_AC_ONE`).
An apnea's flat stretch became a hump in the breath band that passed as a breath, and cut the apnea's interval
in two of a normal length (:func:`biosig.resp_apnea.apnea_in`: no breath for 10 s).

:func:`breaths_in_doubt` withholds such windows (``missing="uncertain_breaths"``); see
:func:`biosig.measures_window.breath_features` for the measured trade-off.
"""
from __future__ import annotations

import numpy as np

from biosig.resp_apnea import apnea_in

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
#: A rhythm under the breaths found (``x`` above FAST_HP_REL x their rate) at least FAST_RATE_REL x their rate,
#: periodic (autocorrelation >= FAST_AC at its period), of at least FAST_STD_REL of the band's SD, a period of at
#: least FAST_MIN_S and peaks of even size (prominence CV <= FAST_PROM_CV), is breaths the peaks left out (on a
#: wander's slopes). Synthetic windows that published the wander's rate: 2.6-4.9 x, AC 0.36-0.91, SD 0.21-0.39,
#: CV 0.09-0.52 (5th-95th percentile). The harmonics of NeuroKit2's breaths (6-20 /min) reach 2.5-3.4 x, AC 0.58,
#: SD 0.33, but their peaks are uneven (CV 0.51-1.9); a cardiogenic oscillation (a heart >= 60 /min) is < 1.5 s
FAST_HP_REL = 1.5
FAST_RATE_REL = 2.5
FAST_AC = 0.5
FAST_STD_REL = 0.2
FAST_PROM_CV = 0.5
FAST_MIN_S = 1.5
#: Where two breaths only were found (the rate of one interval), a faster rhythm this periodic and this even is
#: enough: the wandered windows that still published the wander's rate (2 peaks on its crests, 4-5.8 /min for
#: 13-19 /min) had AC 0.32-0.83 and CV 0.07-0.60; right windows of slow breathing with 2 peaks and a rhythm
#: >= 2.5 x faster (NeuroKit2's harmonics at 6 /min) had CV >= 0.65 or an SD under FAST_STD_REL. Wandered
#: windows (the adversarial set, 48 seeds): wrong 95 -> 12 of 3744, no right window withheld; the rest unchanged
FAST_AC_ONE = 0.3
FAST_PROM_CV_ONE = 0.62
#: The breath periods searched, s (:mod:`biosig.measures_window` imports it: it imports this module): 4 to 100
#: breaths/min. The shortest was 1 s (60 /min): a neonate breathing at 60 /min has half its intervals under 1 s,
#: and its period sat on the edge of the search; windows published 8.9-55.9 /min
BREATH_S = (0.6, 15.0)


def breaths_in_doubt(x: np.ndarray, fs_hz: float, peaks: np.ndarray, band_hz: tuple[float, float]) -> bool:
    """Whether the rate of ``peaks`` (sample indices of :func:`biosig.measures_window.breath_peaks`) in the
    finite 1-D window ``x`` is in doubt: the breaths it leaves out are over :data:`MISSED_SHARE` of its intervals.
    Left out: ``round(gap / median) - 1`` per interval or edge over :data:`GAP_REL` median intervals, and one
    per interval holding a local maximum of :data:`MISSED_REL` prominence (:data:`MISSED_BAND_REL`). Also in
    doubt: a faster rhythm under them (:func:`faster_rhythm`, the breaths on a baseline wander's slopes) and an
    apnea, no breath for 10 s (:func:`biosig.resp_apnea.apnea_in`)."""
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
    return (left_out > MISSED_SHARE * len(iv) or faster_rhythm(x, fs_hz, med / fs_hz, band_hz, len(iv) == 1)
            or apnea_in(x, fs_hz, med / fs_hz, band_hz))


def faster_rhythm(x: np.ndarray, fs_hz: float, interval_s: float, band_hz: tuple[float, float],
                  one_interval: bool = False) -> bool:
    """Whether ``x`` holds a rhythm at least :data:`FAST_RATE_REL` x faster than breaths ``interval_s`` apart,
    periodic, large and even enough to be breaths (:data:`FAST_AC`, :data:`FAST_STD_REL`, :data:`FAST_PROM_CV`,
    :data:`FAST_MIN_S`): the period of ``x`` above :data:`FAST_HP_REL` x their rate
    (:func:`biosig.pulse_beats._dominant_period_s`), a breath's harmonics being uneven.
    The breaths found rode a slower wave (a baseline wander): the rate published was the wave's.
    ``one_interval``: two breaths only were found; :data:`FAST_AC_ONE` and :data:`FAST_PROM_CV_ONE` apply.

    Measured (adversarial synthetic windows, 25/125/250 Hz, raw and the runtime path at 25 Hz, 30 and 60 s, 3
    generator seeds): a wander of 1-3 x the breath at 0.02-0.08 Hz published a wrong rate in 29 raw + 27 runtime
    of 2 x 156 windows, now 7 + 7 (other seeds: 5 + 3 -> 0, 18 + 20 -> 1 + 1), 22 + 20 more withheld; every other
    case (sighs, apnea, Cheyne-Stokes, spikes, steps, cardiogenic oscillation up to 50 %, ...) unchanged. Clean
    breathing 6-60 /min at 25-250 Hz: 5880 of 5880 windows published and right; NeuroKit2's breathing 6-60 /min
    (8 seeds, 25-250 Hz, raw and runtime): the same 2349 of 2376 windows published; the real RESP of WFDB
    03700181: 20 of 20 30 s windows published (raw and runtime)."""
    from biosig.quality import _band, _dominant_period_s, _find_peaks
    hp = _band(x, fs_hz, max(band_hz[0], FAST_HP_REL / interval_s), band_hz[1])
    period_s = _dominant_period_s(hp, fs_hz, BREATH_S[0], min(BREATH_S[1], 0.8 * len(x) / fs_hz))
    if period_s < FAST_MIN_S or interval_s < FAST_RATE_REL * period_s:
        return False
    spec = np.fft.rfft(hp - hp.mean(), n=2 * len(hp))
    ac = np.fft.irfft(np.abs(spec) ** 2)[:len(hp)]
    if not ac[0] > 0 or ac[int(round(period_s * fs_hz))] < (FAST_AC_ONE if one_interval else FAST_AC) * ac[0]:
        return False
    if np.std(hp) < FAST_STD_REL * np.std(_band(x, fs_hz, *band_hz)):
        return False
    fast = _find_peaks(hp, max(1, int(0.5 * period_s * fs_hz)), -np.inf)
    bounds = np.concatenate([[0], fast, [len(hp) - 1]])
    low = np.array([hp[a:b + 1].min() for a, b in zip(bounds[:-1], bounds[1:])])
    prom = hp[fast] - np.maximum(low[:-1], low[1:])
    return len(fast) >= 2 and bool(np.std(prom) <= (FAST_PROM_CV_ONE if one_interval else FAST_PROM_CV) * np.mean(prom))
