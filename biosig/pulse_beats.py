"""The pulse (PPG) beat detector behind :func:`biosig.quality.detect_beats`: systolic peaks at least
0.6 x the dominant pulse period apart (:func:`_dominant_period_s`, of the wave levelled by
:func:`_level`), above 30 % of the robust range (:func:`_robust_range`), every pulse with pulse
alternans (:func:`_alternans_pulses`), every pulse of an irregular train (:func:`_irregular_pulses`).
The ECG detector is :mod:`biosig.ecg_beats`. NumPy only.
"""
from __future__ import annotations

import numpy as np

from biosig.ecg_beats import _band, _find_peaks
from biosig.pulse_doubt import periodic_motion


def pulse_peaks(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """``(beats, clean)``: the systolic peaks of the pulse wave ``x`` float64 (T,) and the wave band-passed
    0.5-8 Hz (no peaks where the wave is flat). :func:`biosig.quality.detect_beats` drops a leading
    diastolic wave from them."""
    clean = _band(x, fs_hz, 0.5, 8.0)
    trough, peak = _robust_range(clean, fs_hz)
    if not peak > trough:
        return np.zeros(0, np.int64), clean
    period_s = _dominant_period_s(_level(clean, fs_hz), fs_hz)
    height = trough + 0.3 * (peak - trough)
    beats = _find_peaks(clean, max(1, int(0.6 * period_s * fs_hz)), height)
    alt = _alternans_pulses(clean, fs_hz, period_s, height, beats)
    if alt is beats:   # no pulse alternans: in an irregular train, the pulses the spacing hid
        alt = _irregular_pulses(clean, fs_hz, height, beats)
    return _without_small_edge_peaks(clean, alt), clean


#: The first or last peak of a signal is dropped when its height (the fall to the lowest point before
#: the next peak, or the rise from the lowest point since the previous one) is under EDGE_PEAK_REL of the
#: median of the others' (measured the same way): the diastolic wave of a pulse whose next (or previous)
#: systolic peak the window cut off, or the bend the band-pass's mirrored ends make of a rising or falling
#: edge. A true pulse dropped there costs one interval, never the rate. NeuroKit2's PPG at 30 /min in 5 s
#: windows: such a peak (0.02-0.15 against 0.6) made 36-44 /min of 30-33.
EDGE_PEAK_REL = 0.5


def _without_small_edge_peaks(clean: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """``beats`` without a first or last peak under :data:`EDGE_PEAK_REL` of the others' median height."""
    if len(beats) < 3:
        return beats
    low = _minima_between(clean, beats)
    rise = clean[beats[1:]] - low   # peaks 1..n-1
    fall = clean[beats[:-1]] - low  # peaks 0..n-2
    keep = np.ones(len(beats), bool)
    keep[0] = not fall[0] < EDGE_PEAK_REL * float(np.median(fall[1:] if len(fall) > 1 else rise[:1]))
    keep[-1] = not rise[-1] < EDGE_PEAK_REL * float(np.median(rise[:-1]))
    return beats[keep] if keep.sum() >= 2 else beats


def _minima_between(clean: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``clean[a:b + 1].min()`` for each consecutive pair ``a, b`` of ``idx`` (float64, len(idx) - 1): by
    ``np.minimum.reduceat`` where ``idx`` rises (a minimum is one of the samples: the same numbers as
    the loop, which took a third of the pulse detector's time), else by the loop."""
    idx = np.asarray(idx)
    if len(idx) < 2:
        return np.zeros(0)
    if not (np.diff(idx) > 0).all() or idx[0] < 0 or idx[-1] >= len(clean):
        return np.array([clean[a:b + 1].min() for a, b in zip(idx[:-1], idx[1:])])
    return np.minimum(np.minimum.reduceat(clean, idx)[:-1], clean[idx[1:]])   # [a, b) and b


PERIOD_PEAK_REL = 0.5      # a shorter-lag autocorrelation peak at least this high relative to the largest ...
PERIOD_HARMONIC_REL = 0.8  # ... whose double lag is at least this high is the period


def _dominant_period_s(x: np.ndarray, fs_hz: float, min_s: float = 0.25, max_s: float = 2.0) -> float:
    """The period of ``x`` in ``[min_s, max_s]`` seconds from its autocorrelation ``ac`` (``min_s`` if
    the range is empty): the SHORTEST-lag local maximum L of ``ac`` with ``ac(L)`` at least
    :data:`PERIOD_PEAK_REL` times the largest value in the range and ``ac`` around 2 L (+-3 %) at least
    :data:`PERIOD_HARMONIC_REL` times it (a true period repeats; a dicrotic or other within-beat
    bump does not) and a lag shorter than the largest value's. Where none qualifies, the lag of the
    largest value.

    A periodic signal's autocorrelation is about as high at 2, 3, 4 periods as at one, and with pulse
    alternans (large and small pulses in turn) higher at 2 periods: taking the largest alone returned a
    multiple of the period on a real pulse wave (CinC 2015 a103l, 1.9 s for a 0.48 s pulse), and the
    pulse detector's refractory of 0.6 periods then dropped three beats in four.

    Lags where ``ac`` still falls from its zero-lag maximum are skipped (unless it falls all the way):
    the largest value in the range was that lobe's edge, ``min_s``, whenever the period was long
    against the signal (the autocorrelation is biased, a 10 s period in a 30 s window keeps 2/3 of
    its height): a 6 /min breathing got a period of 1 s and published 5.5-14.9 /min."""
    n = len(x)
    spec = np.fft.rfft(x - x.mean(), n=2 * n)
    ac = np.fft.irfft(np.abs(spec) ** 2)[:n]
    a, b = int(min_s * fs_hz), min(n - 1, int(max_s * fs_hz))
    if b <= a:
        return min_s
    past = a
    while past < b and past > 0 and ac[past] < ac[past - 1]:   # still on the zero-lag lobe: no period there
        past += 1
    a = past if past < b else a   # falling all the way (no period in the range): as before
    seg = ac[a:b + 1]
    top = int(np.argmax(seg))
    best = float(seg[top])
    if best > 0 and a > 0 and b + 1 < n:
        peak = (seg >= ac[a - 1:b]) & (seg >= ac[a + 1:b + 2]) & (seg >= PERIOD_PEAK_REL * best)
        for lag in a + np.flatnonzero(peak[:top]):
            tol = max(1, int(round(0.03 * 2 * lag)))
            lo, hi = 2 * lag - tol, min(n - 1, 2 * lag + tol)
            if lo < n and ac[lo:hi + 1].max() >= PERIOD_HARMONIC_REL * best:
                return int(lag) / fs_hz
    return (a + top) / fs_hz


ALTERNANS_CV = 0.08   # intervals between pulses at half the period at most this irregular: pulse alternans
#: ... and at most this far apart (a pulse of >= 120 /min). Slower, a pulse's late diastolic or
#: dicrotic wave can fall near half the period (synthetic sinus and AF PPG at 40 /min: the rate doubled)
ALTERNANS_MAX_HALF_S = 0.5


def _alternans_pulses(clean: np.ndarray, fs_hz: float, period_s: float, height: float,
                      beats: np.ndarray) -> np.ndarray:
    """The pulses of pulsus alternans when the dominant period is two pulses long, else ``beats``.

    With strong alternans (large and small pulses in turn) the autocorrelation at one pulse can
    stay under :data:`PERIOD_PEAK_REL` of the two-pulse peak (0.42 on CinC 2015 a103l at 180 s), so
    the period is two pulses and the refractory of 0.6 periods drops every small pulse (60 /min for
    a 127 /min pulse, the ECG's rate, in a window that passes the quality gate). Peaks at half the
    period are taken instead when they are about twice as many, at half the period apart, and as
    regular (interval CV <= :data:`ALTERNANS_CV`): a dicrotic wave gives alternating short and long
    intervals (CV about 0.4), never a regular half-period train; only for half periods of 0.25-0.5 s
    (120-240 /min, :data:`ALTERNANS_MAX_HALF_S`): at slower rates a late diastolic or dicrotic wave
    can fall near half the period and look like one (synthetic PPG at 40 /min)."""
    half_s = period_s / 2.0
    if not 0.25 <= half_s <= ALTERNANS_MAX_HALF_S or len(beats) < 3:
        return beats
    alt = _find_peaks(clean, max(1, int(0.6 * half_s * fs_hz)), height)
    if len(alt) < 6 or len(alt) < 1.8 * len(beats):
        return beats
    iv = np.diff(alt) / fs_hz
    if iv.std() > ALTERNANS_CV * iv.mean() or abs(float(np.median(iv)) - half_s) > 0.15 * half_s:
        return beats
    return alt


#: A train whose intervals vary by more than IRREGULAR_CV (std over mean: atrial fibrillation, CV 0.15-0.3)
#: has no one period: its pulses are searched again, every peak above the height at least
#: IRREGULAR_MIN_S apart (240 /min), keeping those that rise and fall by at least IRREGULAR_PROMINENCE_REL
#: of the median pulse (the least prominent dropped first). Sinus trains (CV <= 0.1) are left as found.
IRREGULAR_CV = 0.15
IRREGULAR_MIN_S = 0.3
IRREGULAR_ADDED_REL = 0.55
IRREGULAR_PROMINENCE_REL = 0.33


def _irregular_pulses(clean: np.ndarray, fs_hz: float, height: float, beats: np.ndarray) -> np.ndarray:
    """The pulses of an irregular train ``beats`` (interval CV over :data:`IRREGULAR_CV`), else ``beats``.

    In atrial fibrillation the autocorrelation's period is no pulse interval, and the spacing of 0.6
    periods both drops pulses after short intervals (a period of 1.2 s for a median interval of 1.0 s)
    and, with a period read short, lets a diastolic wave through: simulated AF PPG at 60-150 /min
    published a rate over 10 % off in 38 of 570 10 s windows. Peaks at least :data:`IRREGULAR_MIN_S`
    apart are taken instead, without those under :data:`IRREGULAR_PROMINENCE_REL` of the median
    prominence (missed pulses rise at least 0.43 of the median pulse, diastolic waves at most 0.23).
    Not in a window with a motion burst (its peaks are no pulses; :func:`burst_in_doubt` judges
    ``beats`` there), and a result that alternates (:func:`pulses_alternate`) is refused: a dicrotic
    or diastolic wave taken for every other pulse."""
    if len(beats) < 4:
        return beats
    iv = np.diff(beats).astype(np.float64)
    if (not np.median(np.abs(np.diff(iv))) > IRREGULAR_CV * np.median(iv) or not iv.std() > IRREGULAR_CV * iv.mean()
            or _has_burst(clean, fs_hz)):
        return beats
    peaks = _prominent_peaks(clean, _find_peaks(clean, max(1, int(IRREGULAR_MIN_S * fs_hz)), height))
    found = np.isin(peaks, beats)
    if found.sum() >= 2:   # a peak the first pass did not find: a pulse only if nearly as prominent as those it did
        prom = _prominence(clean, peaks)
        peaks = peaks[found | (prom >= IRREGULAR_ADDED_REL * float(np.median(prom[found])))]
    if len(peaks) < 2 or pulses_alternate(clean, peaks, fs_hz):
        return beats
    return peaks


def _prominence(clean: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Each peak's rise from the lowest point since the previous peak or its fall to the lowest point
    before the next, the smaller (the record's ends bound the first and last)."""
    bounds = np.concatenate([[0], peaks, [len(clean) - 1]])
    low = _minima_between(clean, bounds)
    return clean[peaks] - np.maximum(low[:-1], low[1:])


def _has_burst(clean: np.ndarray, fs_hz: float) -> bool:
    """Whether the band-passed wave has a motion burst (:data:`BURST_RMS_REL`, as :func:`burst_in_doubt`)."""
    rms = _local_rms(clean, fs_hz)
    return bool(np.any(rms > BURST_RMS_REL * float(np.percentile(rms, 25))))


def _prominent_peaks(clean: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """``peaks`` without those whose prominence (the smaller of the rise from the lowest point since
    the previous peak and the fall to the lowest point before the next) is under
    :data:`IRREGULAR_PROMINENCE_REL` of the median, the least prominent first."""
    peaks = np.asarray(peaks, dtype=np.int64)
    while len(peaks) >= 3:
        prom = _prominence(clean, peaks)
        k = int(np.argmin(prom))
        if prom[k] >= IRREGULAR_PROMINENCE_REL * float(np.median(prom)):
            break
        peaks = np.delete(peaks, k)
    return peaks


RANGE_BLOCK_S = 10.0
LEVEL_S = 2.0


def _level(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """``x`` over its RMS in a centred :data:`LEVEL_S` window: every stretch of the record at the same
    level, so that the pulse period is that of the pulses and not of a large artefact's stretch
    (a record's autocorrelation is dominated by its loudest part)."""
    if len(x) <= max(1, int(LEVEL_S * fs_hz)):
        return x
    rms = _local_rms(x, fs_hz)
    return x / np.maximum(rms, 1e-12 + 1e-6 * float(rms.max()))


def _local_rms(x: np.ndarray, fs_hz: float) -> np.ndarray:
    """The RMS of ``x`` in a centred :data:`LEVEL_S` window at every sample (over the part inside the record)."""
    w = max(1, int(LEVEL_S * fs_hz))
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    lo = np.clip(np.arange(len(x)) - w // 2, 0, len(x))
    hi = np.clip(np.arange(len(x)) - w // 2 + w, 0, len(x))
    return np.sqrt(np.maximum(c[hi] - c[lo], 0.0) / np.maximum(hi - lo, 1))


def _robust_range(x: np.ndarray, fs_hz: float) -> tuple[float, float]:
    """The 2 % and 98 % quantiles of ``x``, each the median over consecutive blocks of
    :data:`RANGE_BLOCK_S` (all of ``x`` where it is shorter than two blocks): the pulse wave's usual range,
    which an artefact tens of times the pulse height cannot set, however long, unless it fills half
    the blocks. Over the whole record, one 10 s motion artefact of 200 x the pulse amplitude in an 82 s
    camera recording (Welltory subject 19) put every pulse under the threshold (3 pulses found
    against NeuroKit2's 98). On a stationary record both ways agree."""
    n = max(1, min(len(x), int(len(x) // (RANGE_BLOCK_S * fs_hz))))
    q = np.array([np.percentile(b, [2, 98]) for b in np.array_split(x, n)])
    return float(np.median(q[:, 0])), float(np.median(q[:, 1]))



ALTERNATING_SHARE = 0.8   # pulse heights (or intervals) going up and down in turn at least this often ...
ALTERNATING_REL = 0.15    # ... by at least this share of the median pulse height (or interval) each time ...
ALTERNATING_MIN = 6       # ... over at least this many pulses: the pulse rate is in doubt
ALTERNATING_INTERVAL_REL = 0.1   # the same for intervals, by this share of the median interval


#: A train of SHORT_ALTERNATING_MIN + 1 to ALTERNATING_MIN pulses (a short window, or a slow pulse:
#: 5-6 s at 30 /min) alternates when its heights go up and down at EVERY turn by at least
#: SHORT_ALTERNATING_REL of the median. Such trains were never checked: a 30 /min pulse whose diastolic
#: wave falls near half the period (NeuroKit2's PPG) published 60 /min, quality 0.86-0.89, in 35-51 of
#: 174-210 windows of 5-6 s at 25-250 Hz.
#: Only where the median interval is at most SHORT_ALTERNATING_MAX_S (with ``fs_hz``): half of a pulse of
#: at least 24 /min (the quality gate's lowest rate). A slower train is no doubled one; a 10 s window
#: at 40-50 /min (sinus or AF) has 6-7 pulses and was withheld in 2-4 % of windows without this bound.
SHORT_ALTERNATING_MIN = 3
SHORT_ALTERNATING_REL = 0.25
SHORT_ALTERNATING_MAX_S = 1.25


def _alternate(v: np.ndarray, rel: float, share: float = ALTERNATING_SHARE) -> bool:
    """Whether ``v`` goes up and down in turn, by at least ``rel`` of its median each time, at
    ``share`` (:data:`ALTERNATING_SHARE`) of its turns."""
    d = np.diff(v)
    big = np.abs(d) >= rel * float(np.median(v))
    turns = (np.sign(d[1:]) != np.sign(d[:-1])) & big[1:] & big[:-1]
    return bool(len(turns)) and bool(turns.mean() >= share)


def pulses_alternate(clean: np.ndarray, beats: np.ndarray, fs_hz: float | None = None) -> bool:
    """Whether the pulses ``beats`` of the band-passed wave ``clean`` alternate large and small, or
    short and long: each height (peak over the trough before it), or each interval, differs from both
    neighbours by at least :data:`ALTERNATING_REL` (:data:`ALTERNATING_INTERVAL_REL`) of the median, up then down, at
    :data:`ALTERNATING_SHARE` of the pulses (at least :data:`ALTERNATING_MIN` + 1 of them).

    A single pulse wave cannot tell pulsus alternans (every peak a pulse) from a pulse whose
    dicrotic or reflected wave falls near half its period (every other peak no pulse): both are a
    train of large and small peaks at twice the pulse rate. With the reflected wave of
    :func:`biosig.synthetic_pulse.ppg_from_pulse_beats` at its usual height, a 120 /min pulse was
    published as 240 /min, and with a stronger one (as high as the systolic peak: only the short-long
    intervals tell) 100 and 110 /min as 200 and 220 /min, in windows of quality 1. The window measures
    withhold such a window (``missing="uncertain_beats"``); random pulse heights or intervals (atrial
    fibrillation) turn up and down at 2 of 3 pulses, not 4 of 5."""
    beats = np.asarray(beats, dtype=np.int64)
    if len(beats) < SHORT_ALTERNATING_MIN + 1:
        return False
    h = clean[beats[1:]] - _minima_between(clean, beats)
    if len(beats) < ALTERNATING_MIN + 1:   # a short train: every turn, by a larger step
        doubled_ok = fs_hz is not None and np.median(np.diff(beats)) / fs_hz <= SHORT_ALTERNATING_MAX_S
        # the first peak's height too (its fall to the next trough): 4 peaks give 2 turns
        first = clean[beats[0]] - clean[beats[0]:beats[1] + 1].min()
        return doubled_ok and (_alternate(np.concatenate([[first], h]), SHORT_ALTERNATING_REL, share=1.0)
                               or _alternate(h, SHORT_ALTERNATING_REL, share=1.0))
    return _alternate(h, ALTERNATING_REL) or _alternate(np.diff(beats).astype(np.float64), ALTERNATING_INTERVAL_REL)


#: A motion burst is where the band-passed wave's RMS over :data:`LEVEL_S` exceeds BURST_RMS_REL times its
#: lower quartile over the window; an interval touching one is in the burst, the others are quiet.
BURST_RMS_REL = 1.5
BURST_RATE_REL = 0.1   # the rate of all intervals this far from the quiet intervals' rate: in doubt
BURST_MIN_QUIET = 3    # fewer quiet intervals: nothing to compare with (the quality gate's matter)


def burst_in_doubt(clean: np.ndarray, beats: np.ndarray, fs_hz: float) -> bool:
    """Whether a motion burst in the band-passed wave ``clean`` puts the pulse rate of ``beats`` in
    doubt: the rate of all intervals differs from that of the quiet ones (outside the bursts,
    :data:`BURST_RMS_REL`) by more than :data:`BURST_RATE_REL`, or the longest run of quiet pulses
    alternates (:func:`pulses_alternate`: a reflected wave counted as a pulse, which the burst's
    irregular intervals hid from the check over the whole window).

    Motion bursts (0.5-3 s, 3 x the wave's std; tests/test_pulse_rate_slow_and_bursts.py) left
    4 of 160 10 s windows publishing a wrong rate at quality 0.88-0.94: extra peaks in the burst
    (60 /min read 66 and 67), missed ones (200 read 175) or the pulse's reflected wave counted
    (100 read 207; the period of the levelled wave was 0.28 s). A window without a burst is not
    looked at, so atrial fibrillation's irregular intervals stay published unless a burst sits in
    them.

    A periodic motion taken for the pulse (:func:`biosig.pulse_doubt.periodic_motion`: a wave as symmetric
    as a sinusoid outside the bursts: walking or flicker) is in doubt as well."""
    beats = np.asarray(beats, dtype=np.int64)
    rms = _local_rms(clean, fs_hz)
    loud = rms > BURST_RMS_REL * float(np.percentile(rms, 25))
    if periodic_motion(clean, beats, fs_hz, ~loud):
        return True
    if len(beats) < BURST_MIN_QUIET + 1:
        return False
    if not loud.any():
        return False
    n_loud = np.concatenate([[0], np.cumsum(loud)])
    quiet = n_loud[beats[1:] + 1] == n_loud[beats[:-1]]   # no loud sample from one pulse to the next
    iv = np.diff(beats).astype(np.float64)
    if quiet.sum() < BURST_MIN_QUIET:
        return False
    if abs(float(iv[quiet].mean()) / float(iv.mean()) - 1.0) > BURST_RATE_REL:   # rate(all) / rate(quiet) - 1
        return True
    edges = np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)   # quiet runs of intervals
    k = int(np.argmax(ends - starts))
    return bool(ends[k] - starts[k] >= ALTERNATING_MIN
                and pulses_alternate(clean, beats[starts[k]:ends[k] + 1], fs_hz))
