"""The per-window measures of every modality, with alarm hygiene: one call, online and offline.

:func:`window_measures` is what ``serve`` publishes on ``score/<source>/<stream>`` and what
``score`` writes as columns of ``windows.parquet``: both call it on the same window samples (the
encoder's causal preprocessing, cut on the same grid), so the two agree to float precision.

Per modality (units in the names, see :mod:`biosig.measures_hrv`):

* ``ecg`` - heart rate and the HRV time-domain set from R peaks (:func:`hrv_features`) and the
  P-wave consistency of the same beats (:mod:`biosig.measures_atrial`);
* ``ppg`` - pulse rate (``hr_bpm``) and inter-beat statistics from pulse peaks (:func:`ibi_features`);
* ``resp`` - respiratory rate ``resp_rate_bpm`` and breath-interval statistics from inspiration peaks;
* ``spiro`` - FVC, FEV1, FEV1/FVC, PEF, FEF25-75 of an acceptable forced expiration in the window
  (volume in mL; :func:`spiro_features`);
* every modality - ``quality`` in [0, 1] (:func:`biosig.quality.block_quality`).

Alarm hygiene: the measures are reported only when ``quality >= min_quality`` (default
:data:`MIN_QUALITY`: Orphanidou's usable thresholds for ECG/PPG, 0.9 finite fraction otherwise);
otherwise every measure is ``None`` and ``missing`` names the reason (``low_quality``). A window
of good quality in which too few beats/breaths were found reports ``missing="too_few_beats"`` or
``"too_few_breaths"``. An ECG window with an interval in doubt (a QRS-like peak left between two
beats, or a small beat too close to another: :func:`biosig.measures_hrv.uncertain_beats`) reports
``missing="uncertain_beats"``: its heart rate may be off by a missed or a false beat. So does a PPG
window whose pulses alternate large and small or short and long (:func:`biosig.pulse_beats.pulses_alternate`):
pulsus alternans or a dicrotic wave near half the period, which a single pulse wave cannot tell
apart (the rate would be right or double); and one whose motion burst moves the rate
(:func:`biosig.pulse_beats.burst_in_doubt`: the rate of all pulses and that of the pulses outside
the burst disagree, or those alternate).
A RESP window whose breaths are in doubt (a breath left out between two found, an apnea or a lead off:
:func:`biosig.resp_doubt.breaths_in_doubt`) reports ``missing="uncertain_breaths"``: its rate may be 1/2 or 1/3;
so does one with an apnea, no breath for 10 s (:mod:`biosig.resp_apnea`): it has no rate of its own.
"""
from __future__ import annotations

import numpy as np

from biosig.arguments import float_signal, samples_first, sampling_rate
from biosig.errors import SignalError
from biosig.modality import check_modality
from biosig.flatline import FLAT_MODALITIES, longest_run, measured_run
from biosig.measures_atrial import ECG_KEYS, ecg_features
from biosig.measures_hrv import (MIN_BEATS, RR_KEYS, _longest_finite_run, beat_intervals, beats_and_features,
                                 beats_in_doubt, first_channel)
from biosig.pulse_beats import burst_in_doubt, pulses_alternate
from biosig.pulse_shape import second_rhythm
from biosig.quality import USABLE, _band, _dominant_period_s, _find_peaks, block_quality
from biosig.resp_doubt import BREATH_S, breaths_in_doubt

RESP_KEYS = ("resp_rate_bpm", "n_breaths", "breath_interval_mean_s", "breath_interval_sd_s")
SPIRO_KEYS = ("fvc_l", "fev1_l", "fev1_fvc", "pef_l_s", "fef25_75_l_s")
MEASURE_KEYS = {"ecg": ECG_KEYS, "ppg": RR_KEYS, "resp": RESP_KEYS, "spiro": SPIRO_KEYS}
MIN_FVC_ML = 500.0   # less exhaled volume in a spirogram window: no forced manoeuvre in it
MIN_QUALITY = {**USABLE, "resp": 0.9, "other": 0.9}

def unit_of(key: str) -> str:
    """Unit of a measure, from its name: ``_bpm`` 1/min, ``_ms`` ms, ``_s`` s, ``_pct`` %,
    ``n_`` count, otherwise dimensionless ``1``."""
    for suffix, unit in (("_bpm", "1/min"), ("_ms", "ms"), ("_l_s", "L/s"), ("_s", "s"), ("_pct", "%"), ("_l", "L")):
        if key.endswith(suffix):
            return unit
    return "count" if key.startswith("n_") else "1"


MISSING_REASONS = ("low_quality", "too_few_beats", "uncertain_beats", "too_few_breaths", "uncertain_breaths",
                   "no_manoeuvre", "unacceptable_manoeuvre", "unit_in_doubt")
BREATH_BAND_HZ = (0.05, 2.0)   # breath peaks are found in this band (1 Hz, as before, cut a 60 /min breathing to 1/4)


def measure_keys(modality: str) -> tuple[str, ...]:
    """The measure names reported for ``modality`` (empty for audio, spiro, motion, ...)."""
    return MEASURE_KEYS.get(modality, ())


def breath_peaks(resp, fs_hz: float) -> np.ndarray:
    """Sample indices of inspiration peaks of a respiration signal (W,) or (C, W): peaks of the
    0.05-2 Hz band (:data:`BREATH_BAND_HZ`), at least 0.5 x the dominant breath period apart
    (autocorrelation, :data:`BREATH_S`), above 30 % of the robust range, each rising and falling
    by at least :data:`BREATH_PROMINENCE_REL` of the median breath (:func:`_prominent`)."""
    x, fs_hz = first_channel(resp), sampling_rate(fs_hz)   # (W, 1) read as 1 sample: no breaths, no error
    finite = np.isfinite(x)
    if finite.sum() < 2 * BREATH_S[0] * fs_hz or np.nanstd(x) == 0:
        return np.zeros(0, np.int64)
    x = _filled(x)
    clean = _band(x, fs_hz, *BREATH_BAND_HZ)
    lo, hi = np.percentile(clean, [2, 98])
    if not hi > lo:
        return np.zeros(0, np.int64)
    period = _dominant_period_s(clean, fs_hz, BREATH_S[0], min(BREATH_S[1], 0.8 * len(x) / fs_hz))
    peaks = _find_peaks(clean, max(1, int(0.5 * period * fs_hz)), lo + 0.3 * (hi - lo)).astype(np.int64)
    return _prominent(clean, peaks)


BREATH_PROMINENCE_REL = 0.3   # a breath peak rises and falls by at least this share of the median breath's


def _prominent(clean: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """``peaks`` without those whose prominence (the smaller of the rise from the lowest point since
    the previous peak and the fall to the lowest point before the next) is under
    :data:`BREATH_PROMINENCE_REL` of the median, the least prominent first: a shoulder in an
    expiratory pause is no breath. At 6 /min one made a 30 s window read 8.5 /min."""
    peaks = np.asarray(peaks, dtype=np.int64)
    while len(peaks) >= 3:
        bounds = np.concatenate([[0], peaks, [len(clean)]])
        low = np.array([clean[a:b + 1].min() for a, b in zip(bounds[:-1], bounds[1:])])
        prom = clean[peaks] - np.maximum(low[:-1], low[1:])
        k = int(np.argmin(prom))
        if prom[k] >= BREATH_PROMINENCE_REL * float(np.median(prom)):
            break
        peaks = np.delete(peaks, k)
    return peaks


def _filled(x: np.ndarray) -> np.ndarray:
    """``x`` with its NaN samples set to the mean of the others (what the breath band is taken of)."""
    finite = np.isfinite(x)
    return x if finite.all() else np.where(finite, x, np.nanmean(x))


def breath_features(resp, fs_hz: float) -> dict[str, float]:
    """Respiratory rate of a respiration window: 60 / mean interval of :func:`breath_peaks`
    (needs 2 breaths), with the breath count and interval statistics. The rate of the breaths found:
    :func:`window_measures` withholds it (``uncertain_breaths``) where :func:`biosig.resp_doubt.breaths_in_doubt`
    finds a breath left out between two, a pause over :data:`biosig.resp_doubt.GAP_REL` intervals or an apnea
    (no breath for 10 s, :func:`biosig.resp_apnea.apnea_in`)."""
    return _breath_features(resp, fs_hz)[0]


def _breath_features(resp, fs_hz: float) -> tuple[dict[str, float], np.ndarray]:
    """:func:`breath_features` and the peaks they come from."""
    out = {k: float("nan") for k in RESP_KEYS}
    peaks = breath_peaks(resp, fs_hz)
    iv = np.diff(peaks) / fs_hz
    iv = iv[(iv >= BREATH_S[0]) & (iv <= BREATH_S[1])]
    out["n_breaths"] = float(len(peaks))
    if len(iv) >= 1:
        out.update(resp_rate_bpm=60.0 / iv.mean(), breath_interval_mean_s=iv.mean(),
                   breath_interval_sd_s=iv.std(ddof=1) if len(iv) > 1 else 0.0)
    return {k: float(v) for k, v in out.items()}, peaks


def spiro_features(volume_ml, fs_hz: float) -> tuple[dict, str | None]:
    """ATS/ERS indices (:func:`biosig.spirometry.spirometry_indices`) of a spirogram window whose
    first channel is exhaled volume in mL, and the reason they are withheld (or None): windows
    with under :data:`MIN_FVC_ML` exhaled are ``no_manoeuvre``; a manoeuvre failing the
    back-extrapolation, first-second pause or cough, or end-of-expiration criteria is
    ``unacceptable_manoeuvre`` (a cough fails FEV1 only, but the window's indices are published together)."""
    from biosig.spirometry import spirometry_indices
    from biosig.spirometry_session import acceptable_fev1, acceptable_fvc
    x, fs_hz = first_channel(volume_ml), sampling_rate(fs_hz)   # (W, 1) read as 1 sample: "no_manoeuvre"
    try:
        idx = spirometry_indices(x, fs_hz)
    except SignalError:
        return {}, "no_manoeuvre"
    if not idx.fvc_ml >= MIN_FVC_ML:
        return {}, "no_manoeuvre"
    if not (acceptable_fvc(idx) and acceptable_fev1(idx)):   # BEV, no pause or cough in the first second, EOFE
        return {}, "unacceptable_manoeuvre"
    d = idx.as_dict()
    return {k: float(d[k]) for k in SPIRO_KEYS}, None


def measured_span_s(x, fs_hz: float, modality: str) -> float:
    """Seconds of signal the beat measures of window ``x`` (C, W) come from: the longest run of its
    first channel without a gap (NaN, or for ECG and PPG a flat line; for those, gaps of at most
    60 ms are bridged: :func:`biosig.flatline.measured_run`); the window's length when it has none. A head fitted on 10 s windows is given this, not the window's length, as ``window_s``."""
    row, fs_hz = np.atleast_2d(float_signal(x))[0], sampling_rate(fs_hz)
    if modality in FLAT_MODALITIES:
        return len(measured_run(row, fs_hz)[0]) / fs_hz
    a, b = longest_run(np.isfinite(row))
    return (b - a) / fs_hz


def window_measures(x, fs_hz: float, modality: str, quality: float | None = None,
                    min_quality: float | None = None) -> dict:
    """Measures of one window ``x`` float (C, W) or (W,) at ``fs_hz``.

    Parameters
    ----------
    quality : the window's quality when already computed (the runtime has it), else computed here
        with :func:`biosig.quality.block_quality`.
    min_quality : the publish threshold; default ``MIN_QUALITY[modality]``.

    Returns
    -------
    ``{"quality": float, "min_quality": float, "ok": bool, "missing": str | None, <measure>: float | None}``
    with the measure names of :func:`measure_keys`; ``ok`` is False (and every measure None) when
    the window is below the threshold or its measures could not be computed.
    """
    fs_hz, modality = sampling_rate(fs_hz), check_modality(modality)   # "ekg" was measured as "other": ok, quality 1
    for name, value in (("quality", quality), ("min_quality", min_quality)):
        if value is not None and (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number))
                                  or np.isnan(value)):
            raise SignalError(f"{name}={value!r} must be a number from 0 to 1")
    # a flat line is a gap (ECG, PPG): block_quality and the beat measures (their longest run without
    # one, biosig.flatline.measured_run) each see to it
    x = np.atleast_2d(float_signal(x))
    if modality in MEASURE_KEYS and samples_first(x):   # (W, C): quality 0, low_quality
        raise SignalError(f"expected a window shaped (channels, samples), got {x.shape}: samples first? pass x.T")
    q = block_quality(x, fs_hz, modality) if quality is None else float(quality)
    thr = MIN_QUALITY.get(modality, MIN_QUALITY["other"]) if min_quality is None else float(min_quality)
    keys = measure_keys(modality)
    out = {"quality": float(q), "min_quality": thr, "ok": False, "missing": None, **{k: None for k in keys}}
    if not q >= thr:
        out["missing"] = "low_quality"
        return out
    if modality == "ecg":   # the rule ecg_published applies, in one place (ecg_withheld)
        out["missing"] = ecg_withheld(x, fs_hz)
        if out["missing"]:
            return out
        vals, reason = ecg_features(x, fs_hz), "too_few_beats"   # hr_bpm finite: ecg_withheld counted its intervals
    elif modality == "ppg":
        (vals, pulses, clean), reason = beats_and_features(x, fs_hz, "ppg"), "too_few_beats"
    elif modality == "resp":
        (vals, peaks), reason = _breath_features(x, fs_hz), "too_few_breaths"
        if np.isfinite(vals["resp_rate_bpm"]) and breaths_in_doubt(_filled(first_channel(x)), fs_hz, peaks,
                                                                   BREATH_BAND_HZ):
            out["missing"] = "uncertain_breaths"   # a breath left out, a pause or apnea: the rate may be 1/2, 1/3
            return out
    elif modality == "spiro":
        vals, reason = spiro_features(x, fs_hz)
        if reason:
            out["missing"] = reason
            return out
        main = "fvc_l"
    else:
        out["ok"] = True
        return out
    main = {"resp": "resp_rate_bpm", "spiro": "fvc_l"}.get(modality, "hr_bpm")
    if not np.isfinite(vals[main]):
        out["missing"] = reason
        return out
    if modality == "ppg" and (pulses_alternate(clean, pulses, fs_hz) or burst_in_doubt(clean, pulses, fs_hz)
                              or second_rhythm(clean, pulses, fs_hz)):   # a larger motion followed, the pulse under it
        out["missing"] = "uncertain_beats"
        return out
    out.update({k: (float(v) if np.isfinite(v) else None) for k, v in vals.items()}, ok=True)
    return out


def ecg_published(x, fs_hz: float) -> bool:
    """Whether :func:`window_measures` publishes the measures of the ECG window ``x`` (C, W) or (W,)
    (its ``ok``) without computing them: the quality gate passed (:data:`MIN_QUALITY`) and
    :func:`ecg_withheld` finds no reason to withhold them. The ECG record rate's check asks it of
    every 10 s window (:func:`biosig.measures.heart_rate`): the HRV set and the P waves that
    ``window_measures`` computes as well made MIT-BIH 100's 180 windows take 0.63 s, now 0.45
    (median of 5, one process; the record rate: ``benchmarks/bench_heart_rate.py``)."""
    fs_hz = sampling_rate(fs_hz)
    x = np.atleast_2d(float_signal(x))
    if samples_first(x):
        raise SignalError(f"expected a window shaped (channels, samples), got {x.shape}: samples first? pass x.T")
    return bool(block_quality(x, fs_hz, "ecg") >= MIN_QUALITY["ecg"]) and ecg_withheld(x, fs_hz) is None


def ecg_withheld(x, fs_hz: float) -> str | None:
    """Why the measures of an ECG window ``x`` (C, W) past the quality gate are withheld, or None:
    ``"too_few_beats"`` where the first channel's longest finite run has under
    :data:`biosig.measures_hrv.MIN_BEATS` - 1 intervals counted (``hr_bpm`` NaN), else
    ``"uncertain_beats"`` where one is in doubt (:func:`biosig.measures_hrv.beats_in_doubt`: a peak
    left between beats, an inserted artefact). The one copy of the rule: :func:`window_measures`
    and :func:`ecg_published` both ask it (they kept a copy each, checked
    against each other on 1949 windows). Every field of ``window_measures`` the same as with the two
    copies, at the default gate and at ``min_quality=0``: the 10 s windows (5 s step) of the 200 CinC
    2017 records (1010), the 4 shared WFDB records (987) and MIT-BIH 101-113 (8640, both leads)
    (``tests/test_measures67_one_rule.py``: one window per clause)."""
    run = _longest_finite_run(first_channel(x), fs_hz)   # what the measures and the doubt check read
    if run is None:
        return "too_few_beats"
    from biosig.quality import ecg_window_beats
    found = ecg_window_beats(run[0], fs_hz)   # the gate's beats of these samples, kept
    if np.isfinite(beat_intervals(found.beats, fs_hz, run[1])).sum() < MIN_BEATS - 1:   # hr_bpm NaN
        return "too_few_beats"
    return "uncertain_beats" if beats_in_doubt(run[0], fs_hz, found) else None
