"""The score thread's ECG work per window, the old per-function path against the one that finds each
window's beats once.

Per ECG window the runtime's score thread runs the quality gate (``block_quality``), the measures and
the doubt check (``window_measures``). Before, each of them refined the QRS detection to R peaks
again (``quality.detect_beats``: three times a window) and correlated the beats with their average
beat again (the gate twice, ``template_correlation`` after ``detect_beats``; the NN intervals once or
twice; the inserted-artefact check twice). Now ``biosig.quality.ecg_window_beats`` keeps a window's
R peaks and their correlations, and every step reads them.

``baseline``: the old path, :func:`old_block_quality` and :func:`old_window_measures` below, which
call the separate functions as before (the QRS detection itself was already shared: it still is);
``ours``: ``block_quality`` and ``window_measures``. Windows: 10 s of ``biosig.synthetic`` ECG at 250,
300 and 500 Hz (sinus with noise and wander, AF; distinct seeds), one lead; each window starts with
this thread's kept results cleared, as a new window does. Milliseconds per window, the median of 5
passes. ``tests/test_ecg_once.py`` checks that both paths give the same values. Measured on the
shared 2-core test VM (load about 5, two runs): 250 Hz 4.3 -> 2.5 and 5.7 -> 4.5 ms, 300 Hz 5.4 -> 3.7
and 5.7 -> 4.5 ms, 500 Hz 9.7 -> 6.7 and 8.9 -> 6.7 ms (ratio 0.57-0.79). Per window, R peak refinements
(``_r_peaks``) went from 5.7 to 2.2 and beat correlations from 5.4 to 2.3; QRS detections stay 1.1.

    .venv/bin/python benchmarks/bench_ecg_measures.py [--windows 30]
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

import _common
from _common import row

RATES_HZ = (250.0, 300.0, 500.0)


# ------------------------------------------------------------------ the old path (before 2026-12-06)
def old_detect_beats(x, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """``biosig.quality.detect_beats(x, fs_hz, "ecg")`` as it was: R peaks refined on every call."""
    from biosig.ecg_beats import _band, ecg_detection
    from biosig.quality import DETREND_DEGREE, WANDER_FREE_HZ, _mean, _r_peaks, beat_correlations
    x = np.asarray(x, dtype=np.float64)
    d = ecg_detection(x, fs_hz)
    beats = _r_peaks(d.clean, d.qrs, fs_hz)
    steady = _r_peaks(_band(x, fs_hz, WANDER_FREE_HZ, 40.0), d.qrs, fs_hz)
    if not np.array_equal(beats, steady) and (_mean(beat_correlations(d.clean, steady, fs_hz, DETREND_DEGREE))
                                              > _mean(beat_correlations(d.clean, beats, fs_hz, DETREND_DEGREE))):
        beats = steady
    return beats, d.clean


def _old_channel_quality(x: np.ndarray, fs_hz: float) -> float:
    from biosig.flatline import bridged_run, flat_runs_to_nan
    from biosig.quality import _MAX_HR_BPM, _MIN_HR_BPM, template_correlation
    x = flat_runs_to_nan(x, fs_hz)
    finite = np.isfinite(x)
    frac = float(finite.mean()) if len(x) else 0.0
    if frac == 0.0:
        return 0.0
    if not finite.all():
        x = bridged_run(x, fs_hz)[0]
    if len(x) < 2 or np.nanstd(x) == 0 or len(x) < 3 * fs_hz:
        return 0.0
    beats, clean = old_detect_beats(x, fs_hz)
    cc = template_correlation(clean, beats, fs_hz, "ecg")
    score = float(np.mean(cc)) if len(cc) else 0.0
    if len(beats) < 3:
        return 0.0
    hr = 60.0 * fs_hz / float(np.median(np.diff(beats)))
    if not _MIN_HR_BPM <= hr <= _MAX_HR_BPM:
        return 0.0
    return float(np.clip(score, 0.0, 1.0)) * frac


def old_block_quality(x, fs_hz: float) -> float:
    """``block_quality(x, fs_hz, "ecg")`` as it was, for a (C, W) window."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return float(np.mean([_old_channel_quality(r, fs_hz) for r in x])) if x.shape[1] else 0.0


def _old_not_normal(bridged, clean, beats, fs_hz: float) -> np.ndarray:
    from biosig.measures_hrv import NN_MIN_CORR, WANDER_CORR_GAIN, _premature
    from biosig.quality import DETREND_DEGREE, beat_correlations
    plain = beat_correlations(clean, beats, fs_hz)
    odd = plain < NN_MIN_CORR
    if odd.any():
        detrended = beat_correlations(clean, beats, fs_hz, DETREND_DEGREE)
        if np.nanmean(detrended) > np.nanmean(plain) + WANDER_CORR_GAIN:
            odd = detrended < NN_MIN_CORR
    odd = odd | _premature(beats, fs_hz)
    if not odd.any():
        return bridged
    out = bridged.copy()
    out[beats[odd]] = True
    return out


def old_beats_and_features(x, fs_hz: float):
    """``measures_hrv.beats_and_features(x, fs_hz, "ecg")`` as it was."""
    from biosig.measures_hrv import MIN_NN_DIFFS, first_channel, _longest_finite_run, beat_intervals, rr_features
    x = first_channel(x)
    run = _longest_finite_run(x, fs_hz)
    if run is None:
        return rr_features(np.zeros(0), n_beats=0), np.zeros(0, np.int64), np.zeros(0)
    beats, clean = old_detect_beats(run[0], fs_hz)
    rr = beat_intervals(beats, fs_hz, run[1])
    nn = beat_intervals(beats, fs_hz, _old_not_normal(run[1], clean, beats, fs_hz))
    return rr_features(rr, n_beats=len(beats), nn_s=nn, min_diffs=MIN_NN_DIFFS), beats, clean


def _old_inserted_artefact(x, fs_hz: float) -> bool:
    from biosig.measures_hrv import INSERTED_MAX_CORR, INSERTED_SUM_REL, MIN_BEATS, PREMATURE_RR_REL
    from biosig.quality import ecg_beat_correlations
    beats, clean = old_detect_beats(x, fs_hz)
    if len(beats) < MIN_BEATS:
        return False
    rr = np.diff(beats).astype(np.float64)
    med = float(np.median(rr))
    a, b = rr[:-1], rr[1:]
    low = ecg_beat_correlations(clean, beats, fs_hz)[1:-1] < INSERTED_MAX_CORR
    split = ((a < PREMATURE_RR_REL * med) & (b < PREMATURE_RR_REL * med)
             & (a + b >= INSERTED_SUM_REL[0] * med) & (a + b <= INSERTED_SUM_REL[1] * med))
    return bool(np.any(low & split))


def old_uncertain_beats(x, fs_hz: float) -> bool:
    """``measures_hrv.uncertain_beats`` as it was."""
    from biosig.ecg_beats import doubtful_intervals
    from biosig.measures_hrv import first_channel, _longest_finite_run
    run = _longest_finite_run(first_channel(x), fs_hz)
    return run is not None and (doubtful_intervals(run[0], fs_hz) > 0 or _old_inserted_artefact(run[0], fs_hz))


def old_ecg_features(x, fs_hz: float) -> dict:
    """``measures_atrial.ecg_features`` on the old path."""
    from biosig.measures_atrial import p_wave_consistency
    vals, beats, clean = old_beats_and_features(x, fs_hz)
    p = p_wave_consistency(clean, beats, fs_hz) if np.isfinite(vals["hr_bpm"]) else float("nan")
    return {**vals, "p_wave_consistency": p}


def old_window_measures(x, fs_hz: float, quality: float) -> dict:
    """``window_measures(x, fs_hz, "ecg", quality=quality)`` on the old path."""
    from biosig.measures_atrial import ECG_KEYS
    from biosig.measures_window import MIN_QUALITY
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    thr = MIN_QUALITY["ecg"]
    out = {"quality": float(quality), "min_quality": thr, "ok": False, "missing": None, **{k: None for k in ECG_KEYS}}
    if not quality >= thr:
        return {**out, "missing": "low_quality"}
    vals = old_ecg_features(x, fs_hz)
    if not np.isfinite(vals["hr_bpm"]):
        return {**out, "missing": "too_few_beats"}
    if old_uncertain_beats(x, fs_hz):
        return {**out, "missing": "uncertain_beats"}
    out.update({k: (float(v) if np.isfinite(v) else None) for k, v in vals.items()}, ok=True)
    return out


# ------------------------------------------------------------------ timing
def forget_kept() -> None:
    """Clear this thread's kept detections and R peaks (``biosig.ecg_beats.reused``): a new window."""
    import biosig.ecg_beats as ecg_beats
    ecg_beats._recent.entries = []


def old_path(windows, fs_hz: float) -> list:
    out = []
    for x in windows:
        forget_kept()
        q = old_block_quality(x, fs_hz)
        out.append((q, old_window_measures(x, fs_hz, q)))
    return out


def new_path(windows, fs_hz: float) -> list:
    from biosig.measures_window import window_measures
    from biosig.quality import block_quality
    out = []
    for x in windows:
        forget_kept()
        q = block_quality(x, fs_hz, "ecg")
        out.append((q, window_measures(x, fs_hz, "ecg", quality=q)))
    return out


def synthetic_windows(n: int, fs_hz: float) -> list[np.ndarray]:
    """``n`` distinct 10 s one-lead windows: sinus (the simulator's noise and wander) and every fourth AF."""
    from biosig.synthetic import simulate
    return [simulate("ecg", 10, seed=100 + i, fs_hz=fs_hz, rhythm="af" if i % 4 == 3 else "sinus").samples[:1]
            for i in range(n)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--windows", type=int, default=30, help="distinct 10 s windows per rate (default 30)")
    args = p.parse_args(argv)
    if args.windows < 1:
        p.error("--windows must be at least 1")
    print(f"score-thread ECG work per 10 s window (quality gate + measures + doubt check), {args.windows} windows "
          "per rate; baseline: the old per-function path, ours: beats found once")
    print(f"{'':<24} | {'baseline':>12} | {'ours':>12} | ratio")
    for fs_hz in RATES_HZ:
        windows = synthetic_windows(args.windows, fs_hz)
        t_old = _common.timed(lambda: old_path(windows, fs_hz), repeat=5, warmup=True)
        t_new = _common.timed(lambda: new_path(windows, fs_hz), repeat=5, warmup=True)
        row(f"{fs_hz:.0f} Hz: time per window", 1e3 * t_old / len(windows), 1e3 * t_new / len(windows),
            unit="ms", width=24)
    forget_kept()
    return 0


if __name__ == "__main__":
    sys.exit(main())
