"""Heart-rate variability and inter-beat statistics of one window (ECG R peaks or PPG pulse peaks).

:func:`rr_features` turns beat-to-beat intervals into the HRV time-domain set (Task Force 1996 as
implemented by NeuroKit2's ``hrv_time`` / ``hrv_nonlinear``, which the tests use as the oracle)
plus irregularity features used by the AF heads. :func:`hrv_features` (ECG) and
:func:`ibi_features` (PPG) detect the beats first with the NumPy detectors of
:mod:`biosig.quality` (the same ones that score window quality), so they cost a few ms per
10 s window and need no NeuroKit2 import. They are the per-window measures of ``serve``,
``score`` and ``embed`` and the HRV/IBI baselines of ``probe --baseline``.

Every function returns a flat ``dict`` of floats; a value that cannot be computed (too few
beats) is ``nan``. Units are in the names: ``_ms`` milliseconds, ``_bpm`` per minute,
``_pct`` percent, no suffix: dimensionless.
"""
from __future__ import annotations

import numpy as np

from biosig.arguments import float_signal, samples_first, sampling_rate
from biosig.errors import SignalError
from biosig.flatline import bridged_run, flat_runs_to_nan

# Keys of :func:`rr_features`, in a fixed order (columns of windows.parquet, fields of score/ frames).
RR_KEYS = ("hr_bpm", "n_beats", "rr_mean_ms", "rr_median_ms", "sdnn_ms", "rmssd_ms", "sdsd_ms",
           "pnn50_pct", "pnn20_pct", "cvnn", "cvsd", "sd1_ms", "sd2_ms", "sd1_sd2",
           "madsd_norm", "cvsd_trim", "tpr")
MIN_BEATS = 4               # fewer beats (3 intervals): every HRV value is nan
RR_RANGE_S = (0.2, 2.5)     # intervals outside (300 to 24 bpm) are detector errors and are dropped
MAX_MEDIAN_RR_S = 20.0      # rr_features: a longer median interval is not in seconds (ms given)
MIN_NN_DIFFS = 3            # window measures: fewer successive NN differences, RMSSD, SDSD, pNN, Poincare, madsd,
#                             cvsd_trim are nan (from 2, a 4-beat run published RMSSD 4 ms for 45)


def rr_features(rr_s, n_beats: int | None = None, nn_s=None, min_diffs: int = 2) -> dict[str, float]:
    """HRV/IBI features of successive beat intervals ``rr_s`` (seconds, 1-D).

    Definitions (RR in ms, ``d`` its successive differences): ``hr_bpm`` 60000 / mean RR;
    ``sdnn_ms`` std(RR, ddof=1); ``rmssd_ms`` sqrt(mean d^2); ``sdsd_ms`` std(d, ddof=1);
    ``pnn50_pct``/``pnn20_pct`` count(|d| > 50/20 ms) / number of intervals x 100 (NeuroKit2);
    ``cvnn`` sdnn / mean, ``cvsd`` rmssd / mean; ``sd1_ms``, ``sd2_ms`` Poincare axes (Brennan
    2001); ``madsd_norm`` median |d| / median RR, an irregularity index that a few ectopic beats do
    not move (AF: ~0.1-0.3, sinus: < 0.05); ``cvsd_trim`` RMS of the successive differences without
    the two largest (one ectopic beat makes two) / median RR; ``tpr`` turning-point ratio of the RR series (about 2/3
    for a random, AF-like series, lower for smooth sinus rhythm).

    ``nn_s`` (same length; default ``rr_s``): the normal-to-normal intervals, NaN where an interval
    touches a beat that is not a normal one (:data:`NN_MIN_CORR`). The heart rate and the mean and
    median interval count every beat (a premature ventricular beat is a heartbeat: the monitor's rate
    counts it); the variability (SDNN, RMSSD, pNN, Poincare, madsd, cvsd_trim, turning points, and
    cvnn / cvsd over the NN mean) reads the NN intervals only, as HRV does (Task Force 1996).

    A NaN interval is a break (one left out: :func:`beat_intervals`): the interval statistics take
    the others, the successive differences, Poincare pairs and turning points only those of
    neighbouring intervals, never one across a break (which compared intervals a beat or more apart:
    two non-neighbouring intervals as if successive). With fewer than 3 intervals every value is NaN;
    with fewer than ``min_diffs`` successive differences (the window measures: :data:`MIN_NN_DIFFS`) or
    no triple of neighbours, those that need them.

    :class:`~biosig.errors.SignalError` for an interval that is zero or negative, or intervals whose
    median is over :data:`MAX_MEDIAN_RR_S` (under 3 /min: milliseconds given for seconds).

    >>> round(rr_features([0.8, 0.75, 0.8, 0.85])["hr_bpm"], 1)
    75.0
    """
    rr = float_signal(rr_s).ravel()
    finite = rr[np.isfinite(rr)]
    if np.any(finite <= 0):
        raise SignalError(f"rr_s: beat intervals must be positive seconds, got {float(finite[finite <= 0][0]):g}")
    if len(finite) and np.median(finite) > MAX_MEDIAN_RR_S:
        raise SignalError(f"rr_s: median interval {np.median(finite):g} s (under 3 /min); intervals are in "
                          "seconds: divide milliseconds by 1000")
    rr = rr * 1000.0
    nn = rr if nn_s is None else float_signal(nn_s).ravel() * 1000.0
    if nn.shape != rr.shape:
        raise SignalError(f"nn_s has {nn.size} intervals, rr_s {rr.size}")
    out = {k: float("nan") for k in RR_KEYS}
    out["n_beats"] = float(len(rr) + 1 if n_beats is None else n_beats)
    if np.isfinite(rr).sum() < MIN_BEATS - 1:
        return out
    rr_ok = rr[np.isfinite(rr)]
    out.update(hr_bpm=60000.0 / rr_ok.mean(), rr_mean_ms=rr_ok.mean(), rr_median_ms=np.median(rr_ok))
    rr = nn                                           # the variability: normal-to-normal intervals only
    ok = np.isfinite(rr)
    d = np.diff(rr)                                   # NaN next to a break: not a successive difference
    pair = np.isfinite(d)
    turns = (rr[1:-1] - rr[:-2]) * (rr[1:-1] - rr[2:])
    triple = np.isfinite(turns)
    if ok.sum() < MIN_BEATS - 1:
        return {k: float(v) for k, v in out.items()}
    rr_ok = rr[ok]
    mean, med = rr_ok.mean(), np.median(rr_ok)
    out["sdnn_ms"] = rr_ok.std(ddof=1)
    out["cvnn"] = out["sdnn_ms"] / mean
    if triple.any():
        out["tpr"] = float(np.sum(turns[triple] > 0) / triple.sum())
    if pair.sum() < max(2, min_diffs):   # the successive differences' statistics need that many
        return {k: float(v) for k, v in out.items()}
    d, a, b = d[pair], rr[:-1][pair], rr[1:][pair]
    out.update(rmssd_ms=float(np.sqrt(np.mean(d ** 2))), sdsd_ms=d.std(ddof=1),
               pnn50_pct=100.0 * np.sum(np.abs(d) > 50) / len(rr_ok),
               pnn20_pct=100.0 * np.sum(np.abs(d) > 20) / len(rr_ok))
    out["cvsd"] = out["rmssd_ms"] / mean
    sd1 = np.std((a - b) / np.sqrt(2), ddof=1)
    sd2 = np.std((a + b) / np.sqrt(2), ddof=1)
    out.update(sd1_ms=sd1, sd2_ms=sd2, sd1_sd2=sd1 / sd2 if sd2 > 0 else float("nan"),
               madsd_norm=float(np.median(np.abs(d)) / med))
    dd = np.sort(np.abs(d))[:-2] if len(d) > 4 else np.abs(d)
    out["cvsd_trim"] = float(np.sqrt(np.mean(dd ** 2)) / med)
    return {k: float(v) for k, v in out.items()}


def beat_intervals(beats, fs_hz: float, bridged: np.ndarray | None = None) -> np.ndarray:
    """Intervals (s) between successive beat sample indices, NaN for those left out (a break for
    :func:`rr_features`): detector errors (outside :data:`RR_RANGE_S`) and, where ``bridged`` (bool
    over the samples the beats index) is given, those with a bridged sample from one beat to the
    next, both included (a beat may have been lost in the gap, or be the bridge's:
    :func:`biosig.flatline.measured_run`)."""
    b = np.sort(np.asarray(beats, dtype=np.int64 if bridged is not None else np.float64))
    rr = np.diff(b) / float(fs_hz)
    keep = (rr >= RR_RANGE_S[0]) & (rr <= RR_RANGE_S[1])
    if bridged is not None and bridged.any() and len(b) > 1:
        seen = np.concatenate([[0], np.cumsum(bridged)])     # bridged samples before each index
        keep &= seen[b[1:] + 1] == seen[b[:-1]]              # none from one beat to the next, both included
    return np.where(keep, rr, np.nan)


def first_channel(x) -> np.ndarray:
    """The first channel of a window ``x`` (W,) or (C, W) as float64: the signal every window
    measure reads. :class:`SignalError` for (samples, channels) (:func:`biosig.arguments.samples_first`:
    its first "channel" would be the first sample or few, every value NaN) and for a
    :class:`biosig.record.Record` (it has a rate of its own: the numbers would need both)."""
    from biosig.record import Record
    if isinstance(x, Record):   # read as an object array: "got an array of dtype object"
        raise SignalError(f"a window measure takes samples and fs_hz, not a Record: pass rec.samples, rec.fs_hz "
                          f"(here {x.fs_hz:g} Hz), or measure the record with biosig.measures.heart_rate(rec)")
    x = float_signal(x)
    if samples_first(x):
        # (samples, channels): its first "channel" would be the first few samples, and every value NaN
        raise SignalError(f"expected (channels, samples), got shape {x.shape}: samples first? pass x.T")
    return x[0] if x.ndim == 2 else x


def beats_and_features(x, fs_hz: float, modality: str) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """``(features, beats, clean)``: :func:`rr_features` of the beats that
    :func:`biosig.quality.detect_beats` finds in the first channel of ``x``, the beat indices and
    the cleaned signal they index (both of the longest finite run: no interval spans a gap; gaps of
    at most 60 ms are bridged and the intervals across them dropped; the variability reads the
    intervals between normal beats only, :data:`NN_MIN_CORR`, premature beats' excepted, :data:`PREMATURE_RR_REL`;
    its successive differences need :data:`MIN_NN_DIFFS`)."""
    from biosig.quality import detect_beats, ecg_window_beats
    x, fs_hz = first_channel(x), sampling_rate(fs_hz)
    run = _longest_finite_run(x, fs_hz)
    if run is None:
        return rr_features(np.zeros(0), n_beats=0), np.zeros(0, np.int64), np.zeros(0)
    if modality == "ecg":   # the quality gate's beats and correlations of these samples (kept: ecg_window_beats)
        found = ecg_window_beats(run[0], fs_hz)
        beats, clean, correlations = found.beats, found.clean, found.correlations
    else:
        (beats, clean), correlations = detect_beats(run[0], fs_hz, modality), None
    rr = beat_intervals(beats, fs_hz, run[1])
    nn = beat_intervals(beats, fs_hz, _not_normal(run[1], clean, beats, fs_hz, modality, correlations))
    return rr_features(rr, n_beats=len(beats), nn_s=nn, min_diffs=MIN_NN_DIFFS), beats, clean


#: A beat correlating under this with the window's average beat (:func:`biosig.quality.beat_correlations`)
#: is not a normal beat (an ectopic beat, an artefact taken for a beat): the intervals on both sides
#: leave the variability features, as HRV's NN intervals leave out ectopic beats (Task Force 1996);
#: the heart rate counts every beat. Before, 2 s of motion artefact at the end of an otherwise clean
#: 10 s window of CinC 2015 a103l (quality 0.85, usable) gave SDNN 71 ms for 3 (now 17).
NN_MIN_CORR = 0.5
#: ECG beats are compared without a wander (:data:`biosig.quality.DETREND_DEGREE`) where that raises the
#: window's mean correlation by more than this: a 0.5 Hz, 2 mV wander made every beat of a clean window
#: "ectopic" (RMSSD NaN). Not otherwise: detrended, the motion artefact of a103l below matched the beats.
WANDER_CORR_GAIN = 0.1


def _not_normal(bridged: np.ndarray, clean: np.ndarray, beats: np.ndarray, fs_hz: float,
                modality: str = "ppg", correlations=None) -> np.ndarray:
    """``bridged`` (bool over the run's samples) with the beats that are not normal beats
    (:data:`NN_MIN_CORR`) set as well: :func:`beat_intervals` drops the intervals across them. ECG
    beats are compared as the quality gate compares them (:func:`biosig.quality.ecg_beat_correlations`:
    baseline wander does not make a normal beat look ectopic: :data:`WANDER_CORR_GAIN`).
    ``correlations``: detrend degree -> :func:`biosig.quality.beat_correlations` of ``beats`` where
    they are known already (:meth:`biosig.quality.EcgBeats.correlations`), None: computed here."""
    from biosig.quality import DETREND_DEGREE, beat_correlations
    if correlations is None:
        def correlations(degree: int = 0) -> np.ndarray:
            return beat_correlations(clean, beats, fs_hz, degree)
    plain = correlations()
    odd = plain < NN_MIN_CORR     # NaN (a beat at the edge): kept
    if modality == "ecg" and odd.any():
        detrended = correlations(DETREND_DEGREE)
        if np.nanmean(detrended) > np.nanmean(plain) + WANDER_CORR_GAIN:
            odd = detrended < NN_MIN_CORR   # baseline wander: the beats compared without it
    if modality == "ecg":
        odd = odd | _premature(beats, fs_hz)
    if not odd.any():
        return bridged
    out = bridged.copy()
    out[beats[odd]] = True
    return out


#: An ECG beat ending an interval under this share of the window's median interval, followed by a
#: longer one, is premature (an atrial premature complex of normal shape, which the correlation does
#: not tell): its two intervals leave the NN intervals, where the rhythm without them is regular
#: (:data:`PREMATURE_MAX_CV`). One APC in a 10 s sinus window at 60-120 /min (synthetic, RMSSD
#: 14-39 ms) gave RMSSD 101-324 ms; two, 143-443.
PREMATURE_RR_REL = 0.8
#: ... only where the other intervals (two successive differences of them at least) vary by under
#: this coefficient of variation and their median successive difference is under
#: :data:`PREMATURE_MAX_MADSD` of their median: in an irregular rhythm (AF) no early beat is
#: premature, and every interval stays. With the CV alone 23 of 276 CinC 2017 AF windows changed
#: (fast AF at 140 /min, CV 0.10-0.12); with both 8, each regular but for its early beats (CV of the
#: others 0.004-0.05).
PREMATURE_MAX_CV = 0.1
PREMATURE_MAX_MADSD = 0.05


def _premature(beats: np.ndarray, fs_hz: float) -> np.ndarray:
    """Bool per beat: premature by :data:`PREMATURE_RR_REL` in an otherwise regular rhythm
    (:data:`PREMATURE_MAX_CV`, :data:`PREMATURE_MAX_MADSD`); none with under 4 beats."""
    out = np.zeros(len(beats), bool)
    if len(beats) < 4:
        return out
    rr = np.diff(np.asarray(beats, dtype=np.float64)) / fs_hz
    short = rr < PREMATURE_RR_REL * float(np.median(rr))
    longer_next = np.append(rr[1:] > rr[:-1], True)   # the last interval: no next one to compare
    out[1:] = short & longer_next
    rest = np.ones(len(rr), bool)
    k = np.flatnonzero(out[1:])
    rest[k] = False
    rest[k[k + 1 < len(rr)] + 1] = False
    d = np.abs(np.diff(np.where(rest, rr, np.nan)))
    d = d[np.isfinite(d)]   # successive differences of the other intervals, none across a premature beat
    if (len(d) < 2 or np.std(rr[rest]) > PREMATURE_MAX_CV * np.mean(rr[rest])
            or np.median(d) > PREMATURE_MAX_MADSD * np.median(rr[rest])):
        return np.zeros(len(beats), bool)
    return out


def _longest_finite_run(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The part of ``x`` (W,) the beat measures read and its bridged samples
    (:func:`biosig.flatline.measured_run`: a flat line of 1 s or more is a gap, gaps of at most
    60 ms are bridged, the longest run is kept), or None where the window has under 3 s of signal
    or no variation."""
    x = flat_runs_to_nan(x, fs_hz)
    if np.isfinite(x).sum() < 3 * fs_hz or np.nanstd(x) == 0:
        return None
    return bridged_run(x, fs_hz)


def uncertain_beats(ecg, fs_hz: float) -> bool:
    """Whether the beats of an ECG window (first lead, its longest finite run, as
    :func:`beats_and_features` uses) have an interval in doubt (:func:`biosig.ecg_beats.doubtful_intervals`:
    a QRS-like peak left between two beats, or a small beat too close to another): its heart rate
    may be off by a missed or a false beat."""
    from biosig.quality import ecg_window_beats
    fs_hz = sampling_rate(fs_hz)
    run = _longest_finite_run(first_channel(ecg), fs_hz)
    if run is None:
        return False
    return beats_in_doubt(run[0], fs_hz, ecg_window_beats(run[0], fs_hz))


def beats_in_doubt(x: np.ndarray, fs_hz: float, found) -> bool:
    """Whether the beats ``found`` (:func:`biosig.quality.ecg_window_beats`) of the ECG run ``x`` have an
    interval in doubt: a QRS-like peak left between two beats or a small beat too close to another
    (:func:`biosig.ecg_beats.doubtful_intervals`), or an artefact taken for a beat
    (:func:`_inserted_artefact`). The one copy of the clause :func:`uncertain_beats` and
    :func:`biosig.measures_window.ecg_withheld` apply."""
    from biosig.ecg_beats import doubtful_intervals
    return doubtful_intervals(x, fs_hz, found.detection) > 0 or _inserted_artefact(x, fs_hz, found)


#: A beat that correlates under this with the window's average beat (:func:`biosig.quality.ecg_beat_correlations`)
#: and splits one interval (its two are each under :data:`PREMATURE_RR_REL` of the median and add up
#: to :data:`INSERTED_SUM_REL` of it) is an artefact taken for a beat: the window is withheld
#: (``uncertain_beats``). A sharp 1 mV spike between two beats of a 10 s sinus window at 60-120 /min
#: (synthetic) correlated 0.53-0.61 and was published: heart rate 66.5 /min for 59.8, RMSSD 259 ms for 35.
#: On CinC 2017 (1010 windows) it withholds 21 more (no AF one); in 15 of them the detector had one
#: beat more than NeuroKit2 (the other 6: interpolated ventricular beats, rate right).
INSERTED_MAX_CORR = 0.75
INSERTED_SUM_REL = (0.8, 1.2)


def _inserted_artefact(x: np.ndarray, fs_hz: float, found=None) -> bool:
    """Whether a beat of the ECG run ``x`` is an artefact inserted into an interval (:data:`INSERTED_MAX_CORR`).
    ``found``: the beats of ``x`` (:func:`biosig.quality.ecg_window_beats`) where known."""
    from biosig.quality import ecg_window_beats
    found = ecg_window_beats(x, fs_hz) if found is None else found
    beats = found.beats
    if len(beats) < MIN_BEATS:
        return False
    rr = np.diff(beats).astype(np.float64)
    med = float(np.median(rr))
    a, b = rr[:-1], rr[1:]                       # the intervals before and after beats 1 .. n-2
    low = found.gate_correlations()[1:-1] < INSERTED_MAX_CORR   # NaN (at the edge): kept
    split = ((a < PREMATURE_RR_REL * med) & (b < PREMATURE_RR_REL * med)
             & (a + b >= INSERTED_SUM_REL[0] * med) & (a + b <= INSERTED_SUM_REL[1] * med))
    return bool(np.any(low & split))


def hrv_features(ecg, fs_hz: float) -> dict[str, float]:
    """HRV features (:data:`RR_KEYS`) of an ECG window: float (W,) or (C, W) (first lead used), any rate."""
    return beats_and_features(ecg, fs_hz, "ecg")[0]


def ibi_features(ppg, fs_hz: float) -> dict[str, float]:
    """Inter-beat-interval features (:data:`RR_KEYS`, ``hr_bpm`` is the pulse rate) of a PPG window."""
    return beats_and_features(ppg, fs_hz, "ppg")[0]
