"""ECG beat (QRS) detection: the thresholds, the search back for missed beats and the checks for an
interval in doubt (a beat that may be missing or false: :func:`doubtful_intervals`), on which
:func:`biosig.quality.detect_beats`, the quality gate and the window measures rest; and the NumPy
band-pass and peak picking they share (:mod:`biosig.numpy_signal`, re-exported here).

Scored by ``benchmarks/bench_beat_windows.py`` (10 s windows of the 47 MIT-BIH records and of
synthetic ECG, against NeuroKit2). NumPy only: ``biosig info`` does not import ``scipy.signal``.
"""
from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

from biosig.arguments import float_signal, sampling_rate
from biosig.ecg_doubt import counted_t_waves, fibrillation_like, hidden_qrs_intervals, p_waves_only, steepest_slopes
from biosig.ecg_pacing import without_pacing_spikes
from biosig.errors import SignalError
from biosig.numpy_signal import (GAIN_KEPT_MAX_SAMPLES, _band, _band_gain, _band_of, _find_peaks,  # noqa: F401 (re-exported)
                                 _spectrum, median_1d)


SLOWEST_RR_S = 2.5   # 24 beats/min: the longest interval a heart rhythm is counted with (measures_hrv.RR_RANGE_S)
MIN_TYPICAL_REL = 0.1   # a typical beat is at least this share of the largest beats' QRS energy ...
BEAT_REL = 0.3          # ... a beat at least this share of a typical beat's ...
SECOND_PASS_REL = 0.15  # ... and of the median of the candidates that passed the first threshold
SEARCHBACK_RR = 1.66    # an interval over this many median intervals hides a missed beat ...
SEARCHBACK_REL = 0.5    # ... its largest peak is one if above this share of the threshold ...
SEARCHBACK_MARGIN_S = 0.36  # ... and this far from both beats around it (not their T waves)
DOUBT_REL = 0.4         # a smaller peak that far from both beats, above this share of the threshold: doubt
DOUBT_SHORT_REL = 0.5   # an interval under this share of the median (and SEARCHBACK_MARGIN_S) ...
DOUBT_SMALL_REL = 0.5   # ... next to a beat under this share of the median beat's QRS energy: doubt
DOUBT_T_REL = 0.5       # a beat under SEARCHBACK_MARGIN_S after another, with under this share of its QRS energy ...
DOUBT_T_SLOPE_REL = 0.6  # ... and of its steepest 0.5-40 Hz slope: a T wave taken for a beat, doubt


def _typical_qrs_energy(heights: np.ndarray, duration_s: float) -> float:
    """A typical beat's QRS energy from the sorted energies ``heights`` of all candidate peaks of a
    signal of ``duration_s``: the median of the larger half of the candidates (one big ectopic beat or
    artefact does not set it), but at least :data:`MIN_TYPICAL_REL` of the median of the largest
    ``duration_s /`` :data:`SLOWEST_RR_S` of them (as many as the beats of a 24 /min rhythm).

    Candidates come every 250 ms or so, beats or not. Below about 45 beats/min the beats are fewer
    than a quarter of them, and the larger half's median was a noise peak (under 1 % of the beats'
    energy): the 30 % threshold then let every noise peak through (a simulated 35 /min ECG gave 137
    beats a minute, and windows a heart rate of 79 /min). Where the larger half is made of beats (on
    the 150 labelled CinC 2017 ECGs its median is at least 24 % of the largest beats') the floor does
    not bind and the rule is the old one. A higher floor (20 %) also kept the noise peaks of a
    low-voltage slow rhythm out, but in a lead where the normal QRS complexes are as small as the
    noise and ectopic beats large (MIT-BIH 208, V1) it left only the ectopic beats: they match each
    other, so 16 more windows were called usable with half the heart rate. The second pass of
    :func:`_beat_threshold` keeps the noise out without that.
    """
    if not len(heights):
        return 0.0
    half = median_1d(heights[len(heights) // 2:])
    n_min = max(1, int(duration_s // SLOWEST_RR_S))
    return max(half, MIN_TYPICAL_REL * median_1d(heights[-n_min:]))


def _beat_threshold(heights: np.ndarray, duration_s: float) -> float:
    """The QRS energy a candidate peak needs to be a beat, from the energies ``heights`` of all
    candidates of a signal of ``duration_s``: :data:`BEAT_REL` of a typical beat
    (:func:`_typical_qrs_energy`), and then at least :data:`SECOND_PASS_REL` of the median of the
    candidates above that (a second pass: where the first let noise through, the beats still are
    the larger part of what passed; where it did not, the median is a beat and 15 % of it is below
    30 % of a typical beat, so it rarely binds).

    Measured (``benchmarks/bench_beat_windows.py --no-search-back``, 10 s windows; against
    ``--second-pass 0``): a synthetic ECG with a 0.3 mV QRS, 0.03 mV white noise and 0.1 mV wander
    at 30-40 /min had the heart rate of 25 of 330 windows off by more than 2 /min without the second
    pass (the published ``hr_bpm`` of 108 of the 323 usable ones), 0 with it. On the 47 MIT-BIH
    records (against the beats NeuroKit2 and wfdb's XQRS agree on) windows with the heart rate off
    went from 285 to 268 (first lead) and 697 to 693 (second lead) of 7235, and usable windows with
    a published ``hr_bpm`` off from 259 to 252 and 492 to 486.
    """
    typical = _typical_qrs_energy(np.sort(heights), duration_s)
    if not typical > 0:
        return 0.0
    first = BEAT_REL * typical
    passed = heights[heights >= first]
    return max(first, SECOND_PASS_REL * median_1d(passed)) if len(passed) else first


def _search_back(beats: np.ndarray, cand: np.ndarray, energy: np.ndarray, threshold: float,
                 fs_hz: float) -> np.ndarray:
    """``beats`` plus, in every interval longer than :data:`SEARCHBACK_RR` median intervals, the
    candidate peak of ``cand`` with the most energy if it is above :data:`SEARCHBACK_REL` of the
    threshold and at least :data:`SEARCHBACK_MARGIN_S` from both beats around it (Pan & Tompkins,
    IEEE TBME 1985: search back for a missed beat at half the threshold).

    A beat under the threshold (a smaller ectopic or fused beat, a beat of low voltage in the middle
    of large ones) doubles an interval and moves the window's mean heart rate by 5-15 /min.
    Measured (``benchmarks/bench_beat_windows.py`` against ``--no-search-back``): on the 47 MIT-BIH
    records, usable windows whose published ``hr_bpm`` is more than 2 /min off went from 252 to 129
    (first lead) and from 486 to 328 (second lead), positive predictivity unchanged (window by
    window: 293 windows that published a wrong rate now publish the right one or are withheld, 12
    went the other way); no beat was added in a sinus pause of one or
    two beats (flat, or with its P waves, noise up to 0.06 mV; ``tests/test_quality.py``)."""
    if len(beats) < 3:
        return beats
    gaps = np.diff(beats)
    margin = SEARCHBACK_MARGIN_S * fs_hz
    found = []
    for i in np.flatnonzero(gaps > SEARCHBACK_RR * median_1d(gaps)):   # cand is sorted
        lo = np.searchsorted(cand, beats[i] + margin, side="right")      # first candidate after a + margin
        hi = np.searchsorted(cand, beats[i + 1] - margin, side="left")   # ... and before b - margin
        if hi > lo:
            k = cand[lo + int(np.argmax(energy[cand[lo:hi]]))]
            if energy[k] >= SEARCHBACK_REL * threshold:
                found.append(k)
    return np.sort(np.concatenate([beats, np.asarray(found, dtype=beats.dtype)])) if found else beats


class EcgDetection(NamedTuple):
    qrs: np.ndarray         # the beats: peaks of ``energy`` (before refinement to the R peak)
    candidates: np.ndarray  # every candidate peak of ``energy``, sorted
    energy: np.ndarray      # QRS energy of the signal
    threshold: float        # the energy a candidate needed to be a beat (0: no beat could be found)
    clean: np.ndarray       # band-passed 0.5-40 Hz
    spikes: np.ndarray = np.zeros(0, np.int64)   # pacing spikes removed first (:func:`without_pacing_spikes`)
    spectrum: np.ndarray = np.zeros(0, np.complex128)   # rfft of the samples detected (:func:`band_of_detected`)


_recent = threading.local()   # this thread's last results: [(key, EcgDetection or quality.EcgBeats)], newest last
REUSE_MAX_SAMPLES = 1 << 16  # 65 s at 1 kHz: a window, not a whole record
REUSE_ENTRIES = 8            # a window's leads, up to 4 (a detection and its R peaks each): the gate reads
#                              every lead, the measures the first


def ecg_detection(x: np.ndarray, fs_hz: float) -> EcgDetection:
    """QRS energy (5-15 Hz band, squared slope, 120 ms moving average), its candidate peaks at least
    250 ms apart, the beat threshold (:func:`_beat_threshold`) and the beats: candidates above it plus
    the search back's (:func:`_search_back`). :func:`biosig.quality.detect_beats` refines them to the
    R peaks.

    The quality gate, the measures and the doubt check of one window each ask for the detection of
    the same samples: the last :data:`REUSE_ENTRIES` results for windows of up to
    :data:`REUSE_MAX_SAMPLES` are kept per thread and returned, read-only, for equal samples, rate
    (compared byte for byte) and rule constants, so a window is detected once per lead (the
    runtime's score thread spent 1.5 ms per 10 s ECG window, three detections, on the same cores as
    the event loop; now 0.25 ms). More than one entry because the gate detects every lead of a
    two-lead window before the measures detect the first again. The R peaks refined from a detection
    and their correlations are kept alike (:func:`biosig.quality.ecg_window_beats`, :func:`reused`)."""
    x, fs_hz = ecg_samples(x, fs_hz)
    return reused("detection", x, fs_hz, (), lambda: _detect(x, fs_hz), _read_only_detection)


def ecg_samples(x, fs_hz: float) -> tuple[np.ndarray, float]:
    """``(x, fs_hz)`` checked for ECG beat detection: ``x`` float64, 1-D, contiguous, 2 samples or more."""
    x, fs_hz = np.ascontiguousarray(float_signal(x, max_ndim=1)), sampling_rate(fs_hz)
    if x.size < 2:
        raise SignalError(f"ECG beat detection needs at least 2 samples, got {x.size}")
    return x, fs_hz


def _read_only_detection(d: EcgDetection) -> None:
    for a in (d.qrs, d.candidates, d.energy, d.clean, d.spikes, d.spectrum):
        a.flags.writeable = False


def reused(kind: str, x: np.ndarray, fs_hz: float, rule: tuple, compute, freeze=None):
    """``compute()``, or this thread's earlier result of ``kind`` for equal samples ``x`` (1-D float64,
    compared byte for byte), rate and rule: the detection rule's constants of this module and
    ``rule`` (the caller's own; a benchmark or a test may change them). One list of
    :data:`REUSE_ENTRIES` entries holds every kind, newest last; ``freeze`` (called once on a new
    result) makes its arrays read-only. Windows over :data:`REUSE_MAX_SAMPLES` are not kept."""
    if x.size > REUSE_MAX_SAMPLES:
        return compute()
    key = (kind, float(fs_hz), x.shape, x.tobytes(), MIN_TYPICAL_REL, BEAT_REL, SECOND_PASS_REL, SEARCHBACK_RR,
           SEARCHBACK_REL, SEARCHBACK_MARGIN_S, *rule)
    recent = getattr(_recent, "entries", None)
    if recent is None:
        recent = _recent.entries = []
    for i, (k, value) in enumerate(recent):
        if k == key:
            recent.append(recent.pop(i))
            return value
    value = compute()
    if freeze is not None:
        freeze(value)
    recent.append((key, value))
    del recent[:-REUSE_ENTRIES]
    return value


PACE_SYNC_S = 0.3        # a spike followed by a beat within this is the beat's own (synchronous pacing)


def _detect(x: np.ndarray, fs_hz: float) -> EcgDetection:
    x, spikes = without_pacing_spikes(x, fs_hz)
    spectrum = _spectrum(x, fs_hz)   # both bands of the same samples: one rfft
    clean = _band_of(spectrum, fs_hz, 0.5, 40.0)
    qrs = np.gradient(_band_of(spectrum, fs_hz, 5.0, 15.0)) ** 2
    w = max(1, int(0.12 * fs_hz))
    energy = np.convolve(qrs, np.ones(w) / w, mode="same")
    cand = _find_peaks(energy, max(1, int(0.25 * fs_hz)), 0.0)
    threshold = _beat_threshold(energy[cand], len(x) / fs_hz)
    if not threshold > 0:
        return EcgDetection(np.zeros(0, np.int64), cand, energy, 0.0, clean, spikes, spectrum[3])
    beats = _search_back(cand[energy[cand] >= threshold], cand, energy, threshold, fs_hz)
    return EcgDetection(beats, cand, energy, threshold, clean, spikes, spectrum[3])


def band_of_detected(x: np.ndarray, fs_hz: float, d: EcgDetection, lo: float, hi: float) -> np.ndarray:
    """:func:`_band` of ``x``, the samples of detection ``d``: from ``d``'s spectrum where no pacing spike was
    removed (the same samples, the same numbers), else from ``x``'s own. The gate's 1-40 Hz R peaks
    (:func:`biosig.quality.ecg_window_beats`) took a second rfft of every window."""
    pad = min(len(x) - 1, int(fs_hz))   # as _spectrum mirrors
    n_y = len(x) + 2 * pad if pad > 0 else len(x)
    if not len(d.spikes) and len(d.spectrum) == n_y // 2 + 1 and len(d.energy) == len(x):
        return _band_of((pad, len(x), n_y, d.spectrum), fs_hz, lo, hi)
    return _band(x, fs_hz, lo, hi)


def asynchronous_spikes(d: EcgDetection, fs_hz: float) -> np.ndarray:
    """The pacing spikes of a detection ``d`` (:func:`without_pacing_spikes`) that no beat follows
    within :data:`PACE_SYNC_S` (asynchronous pacing: a pacemaker that does not capture, or a
    fixed-rate one above the heart's own rhythm); a spike too near the end of the samples for its
    beat to be seen is not counted. NeuroKit2's R-peak detector, which removes no spike, counts
    them as beats (:func:`biosig.measures.heart_rate` withholds a record rate it cannot check)."""
    sp = np.asarray(d.spikes, dtype=np.int64)
    if not len(sp):
        return sp
    sync = int(round(PACE_SYNC_S * fs_hz))
    k = np.searchsorted(d.qrs, sp)
    followed = k < len(d.qrs)
    late = np.ones(len(sp), bool)
    late[followed] = d.qrs[k[followed]] - sp[followed] > sync
    late[~followed] = sp[~followed] < len(d.energy) - sync
    return sp[late]


def doubtful_intervals(x: np.ndarray, fs_hz: float, detection: EcgDetection | None = None) -> int:
    """How many intervals between the ECG beats that :func:`biosig.quality.detect_beats` finds in
    ``x`` (W,) are in doubt: the runtime withholds the measures of an ECG window with any
    (``window_measures``: ``missing="uncertain_beats"``). An interval is in doubt where

    * a beat may be missing from it: it holds a candidate QRS peak of at least :data:`DOUBT_REL` of
      the beat threshold (12 % of a typical beat's QRS energy) at least :data:`SEARCHBACK_MARGIN_S`
      from both beats (not their T waves), a beat under the threshold or an artefact as large; or
    * one of its beats may be false: it is shorter than :data:`SEARCHBACK_MARGIN_S` and
      :data:`DOUBT_SHORT_REL` of the median interval, and one of its two beats has under
      :data:`DOUBT_SMALL_REL` of the median beat's QRS energy (a T wave or a spike taken for a beat;
      a premature beat as early as that is rare); or
    * under 200 Hz, it holds a pacing spike that no beat follows within :data:`PACE_SYNC_S`
      (:func:`without_pacing_spikes` removes spikes within one sample there; one split over two
      samples may be left and counted: a 30 /min rhythm under 72 /min spikes read 45 /min at 125 Hz); or
    * its second beat may be a T wave: it is shorter than :data:`SEARCHBACK_MARGIN_S`, and that beat
      has under :data:`DOUBT_T_REL` of the first's QRS energy and under :data:`DOUBT_T_SLOPE_REL` of
      its steepest 0.5-40 Hz slope (neither within 0.12 s of the window's edges). Where every beat's
      T wave is counted the intervals alternate short and long, the median is short as well and the
      rule above does not fire (CinC 2017 A06454: 22 beats in 10 s against NeuroKit2's 14, published
      at 131 /min). Against ``--doubt-t 0``: 1 wrong window withheld in the MIT-BIH first leads and
      none right, 23 wrong and 1 right in the second leads; 8 CinC 2017 windows, all 8 off by more
      than 2 /min (docs/preprocessing.md); or
    * it may hide a beat with a small QRS (:func:`biosig.ecg_doubt.hidden_qrs_intervals`): a candidate of 12 % of
      the threshold (``HIDDEN_QRS_REL``), as steep for its size as the beats (not a T or P wave), in the middle of
      an interval 1.6 times the shorter ones or at one delay in most intervals (a rhythm counted at half its rate).
      Against ``--hidden-qrs inf``: 16 wrong and 4 right windows withheld (first leads, 49 of 6740 usable off),
      26 and 17 (second leads, 101 of 5892); of 67 synthetic windows with every 2nd/3rd/5th QRS at 10-20 %
      published over 10 % off, 59 (``biosig.ecg_doubt``); no synthetic window of the benchmark. Off with
      :data:`DOUBT_REL` ``inf``; or
    * every interval, where the beats may be P waves with no QRS (:func:`biosig.ecg_doubt.p_waves_only`) or waves of
      ventricular fibrillation (:func:`biosig.ecg_doubt.fibrillation_like`), or a T wave is counted after most beats
      (:func:`biosig.ecg_doubt.counted_t_waves`): no rate to publish, or twice the rate (their numbers there).

    Template matching cannot see either: it compares the beats that were found with each other,
    and one false or missed beat barely moves their mean correlation but moves a 10 s window's heart
    rate by 6 /min or more. In MIT-BIH 208's V1 lead the normal QRS complexes carry 5-10 % of the
    ectopic beats' QRS energy (noise peaks 1-3 %): only the ectopic beats were detected, and usable
    windows published about 70 /min against 100. Measured with ``benchmarks/bench_beat_windows.py``
    (47 MIT-BIH records, 7235 10 s windows per lead, reference the beats NeuroKit2 and XQRS agree
    on; against ``--doubt inf --doubt-short 0``): usable windows with a published ``hr_bpm`` more
    than 2 /min off went from 129 of 6805 to 69 of 6730 (first lead) and from 328 of 6188 to 170 of
    5971 (second lead): 218 wrong windows withheld for 74 right ones (0.6 % of the usable windows).
    The missing-beat rule alone withholds 143 wrong and 71 right windows (at 30 % of the threshold
    172 and 137; at 50 %, 93 and 41), the false-beat rule 75 more wrong ones and 3 right. No clean
    synthetic window at 30-200 /min is withheld, nor any around a sinus pause.

    ``detection``: :func:`ecg_detection` of ``x`` where the caller has it."""
    d = ecg_detection(x, fs_hz) if detection is None else detection
    beats, cand = d.qrs, d.candidates
    if len(beats) < 2:
        return 0
    margin = SEARCHBACK_MARGIN_S * fs_hz
    i = np.searchsorted(beats, cand)
    inside = (i > 0) & (i < len(beats))
    c, i = cand[inside], i[inside]
    missing = (c - beats[i - 1] >= margin) & (beats[i] - c >= margin) & (d.energy[c] >= DOUBT_REL * d.threshold)
    doubt = np.zeros(len(beats) - 1, bool)
    doubt[i[missing] - 1] = True
    rr, e = np.diff(beats), d.energy[beats]
    small = e < DOUBT_SMALL_REL * median_1d(e)
    doubt |= (rr < margin) & (rr < DOUBT_SHORT_REL * median_1d(rr)) & (small[1:] | small[:-1])
    slope = steepest_slopes(d.clean, beats, fs_hz)
    edge = 0.12 * fs_hz   # a QRS cut by the window's edge has less energy and slope than it has
    whole = (beats >= edge) & (beats < len(d.energy) - edge)
    doubt |= ((rr < margin) & whole[1:] & whole[:-1] & (e[1:] < DOUBT_T_REL * e[:-1])
              & (slope[1:] < DOUBT_T_SLOPE_REL * slope[:-1]))
    if DOUBT_T_REL > 0:   # an arm of the T-wave rule, off with it (``--doubt-t 0``): every beat's T counted
        doubt |= counted_t_waves(rr, e, slope, whole, margin, DOUBT_T_SLOPE_REL)
    if DOUBT_REL < np.inf:   # a second arm of the missing-beat rule, off with it (``--doubt inf``: the rules before)
        doubt |= hidden_qrs_intervals(beats, cand, d.energy, d.threshold, d.clean, fs_hz, SEARCHBACK_MARGIN_S,
                                      slope)
    if p_waves_only(beats, d.clean, fs_hz, lambda: band_of_detected(x, fs_hz, d, 0.5, 8.0), slope):
        doubt[:] = True   # P waves and no QRS (ventricular standstill): no heart rate
    if fibrillation_like(beats, d.energy, fs_hz):
        doubt[:] = True   # waves with no isoelectric line between them, irregular (VF): no heart rate
    if fs_hz < 200 and len(d.spikes):   # pacing spikes no beat follows: others may be left, split over 2 samples
        k = np.searchsorted(beats, d.spikes)
        inside = (k > 0) & (k < len(beats))
        k, sp = k[inside], d.spikes[inside]
        doubt[k[beats[k] - sp > PACE_SYNC_S * fs_hz] - 1] = True
    return int(doubt.sum())


MATCH_S = 0.15   # an R peak of another detector's this near one of ours is on the same QRS complex


def false_r_peaks(peaks: np.ndarray, beats: np.ndarray, clean: np.ndarray, fs_hz: float) -> np.ndarray:
    """Another detector's R ``peaks`` (NeuroKit2's) in a window whose ``beats`` are trusted (no interval
    in doubt) that are no beat: none of ``beats`` within :data:`MATCH_S`, and a steepest 0.5-40 Hz
    slope of ``clean`` under :data:`DOUBT_T_SLOPE_REL` of the median beat's (a T or P wave, what
    :func:`doubtful_intervals` doubts in our own beats). Simulated 30-45 /min ECGs (60 s, 125-500 Hz,
    seeds 0-9): 311 of NeuroKit2's peaks were no beat, 0.5-1.5 s after a beat, with 0.05-0.39 of the
    beats' slope. A peak elsewhere on the same QRS (a wide or notched complex) is matched or steep."""
    peaks = np.asarray(peaks, dtype=np.int64)
    if not len(peaks) or len(beats) < 2:
        return peaks[:0]
    j = np.clip(np.searchsorted(beats, peaks), 1, len(beats) - 1)
    near = np.minimum(np.abs(peaks - beats[j - 1]), np.abs(peaks - beats[j])) <= MATCH_S * fs_hz
    alone = peaks[~near]
    if not len(alone):
        return alone
    ref = median_1d(steepest_slopes(clean, beats, fs_hz))
    return alone[steepest_slopes(clean, alone, fs_hz) < DOUBT_T_SLOPE_REL * ref]
