"""Atrial activity of an ECG window: is there a P wave before every beat?

Atrial fibrillation is an irregular ventricular rhythm *without organised atrial activity*: no P
wave precedes the QRS complexes, the baseline carries fibrillatory waves instead. Beat-interval
statistics (:mod:`biosig.measures_hrv`) see only the first half: to them an irregular rhythm
with P waves (sinus arrhythmia, frequent premature atrial beats) looks like AF, and AF at a
controlled ventricular rate differs from a slow, irregular sinus rhythm only in its P waves.

``p_wave_consistency``: the atrial segment of each beat is the stretch 250 to 60 ms before its R
peak (where the P wave of a conducted sinus beat lies; the same segment as the ``atrial``
pretraining descriptors of :mod:`encoders.descriptors`). Each segment is correlated (Pearson)
with the window's atrial template, the per-sample median over the beats' segments, and the
measure is the mean correlation: near 1 with a P wave of constant shape before every beat, near 0
in AF (f-waves are not phase-locked to the QRS). It needs :data:`MIN_SEGMENTS` beats whose
segment lies inside the window.

The segments are cut from the 0.5-40 Hz band-passed lead that the R-peak detector returns
(:func:`biosig.quality.detect_beats`), so a raw window and a preprocessed one give close values
(MIT-BIH 100, 60 windows of 10 s, raw at 360 Hz in mV vs the ecg-tiny pipeline's output: within
0.05, median difference -0.009).
"""
from __future__ import annotations

import numpy as np

from biosig.measures_hrv import RR_KEYS, beats_and_features

ATRIAL_KEYS = ("p_wave_consistency",)
ATRIAL_SEGMENT_S = (-0.25, -0.06)   # relative to the R peak
MIN_SEGMENTS = 4
ECG_KEYS = RR_KEYS + ATRIAL_KEYS   # the per-window measures of an ECG window


def atrial_segments(clean: np.ndarray, beats: np.ndarray, fs_hz: float) -> np.ndarray:
    """(n, L) float64: the atrial segment of every beat whose segment lies inside ``clean``."""
    a, b = (int(round(t * fs_hz)) for t in ATRIAL_SEGMENT_S)
    beats = np.asarray(beats, dtype=np.int64)
    keep = beats[(beats + a >= 0) & (beats + b <= len(clean))]
    if b - a < 3 or not len(keep):
        return np.zeros((0, max(b - a, 0)))
    return np.asarray(clean, dtype=np.float64)[keep[:, None] + np.arange(a, b)[None, :]]


def p_wave_consistency(clean: np.ndarray, beats: np.ndarray, fs_hz: float) -> float:
    """Mean Pearson correlation of each beat's atrial segment with the median segment (see the
    module doc); ``nan`` with fewer than :data:`MIN_SEGMENTS` segments or a flat template."""
    seg = atrial_segments(clean, beats, fs_hz)
    if len(seg) < MIN_SEGMENTS:
        return float("nan")
    tmpl = np.median(seg, axis=0)
    tmpl = tmpl - tmpl.mean()
    seg = seg - seg.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(seg, axis=1) * np.linalg.norm(tmpl)
    if not norms.max() > 0:
        return float("nan")
    corr = np.divide(seg @ tmpl, norms, out=np.zeros(len(seg)), where=norms > 0)
    return float(np.mean(corr))


def ecg_features(ecg, fs_hz: float) -> dict[str, float]:
    """:data:`ECG_KEYS` of an ECG window (W,) or (C, W) (first lead): the HRV set of
    :func:`biosig.measures_hrv.hrv_features` and :func:`p_wave_consistency` of the same beats."""
    vals, beats, clean = beats_and_features(ecg, fs_hz, "ecg")
    p = p_wave_consistency(clean, beats, fs_hz) if np.isfinite(vals["hr_bpm"]) else float("nan")
    return {**vals, "p_wave_consistency": p}
