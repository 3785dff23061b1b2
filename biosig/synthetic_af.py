"""Atrial fibrillation (AF) for the simulator: irregular beat times, ECG and PPG built on them.

AF model (simple and stated, not a physiological simulator): ventricular intervals are
independent draws ``RR ~ mean * (1 + cv * N(0, 1))`` clipped to [0.33, 2.0] s (no sinus
respiratory modulation, no memory: an irregularly irregular rhythm, Tateno & Glass 2001 report
CV 0.15-0.3 in AF). The ECG has no P waves and carries fibrillatory f-waves (0.04 mV, 4-8 Hz with a
wandering frequency); each beat is a sum of Gaussians (Q, R, S, T; T delayed by ``0.25 sqrt(RR)``
as Bazett's law). The PPG pulse of each beat is a systolic plus a diastolic Gaussian whose
amplitude grows with the preceding interval (shorter filling, weaker pulse), as seen in AF.
"""
from __future__ import annotations

import numpy as np

RR_LIMITS_S = (0.33, 2.0)
# (offset from R in s, amplitude in mV, width in s); offsets of T scale with sqrt(RR)
_QRS = ((-0.025, -0.12, 0.010), (0.0, 1.0, 0.011), (0.027, -0.25, 0.010))
_T = (0.25, 0.30, 0.045)
_LEAD2_GAIN = (0.7, 1.3)   # a second lead: smaller R, larger T


def af_beat_times(seconds: float, heart_rate_bpm: float, cv: float, rng: np.random.Generator) -> np.ndarray:
    """Beat times (s) from -2 s to ``seconds`` + 2 s with irregular intervals (see module doc)."""
    mean = 60.0 / heart_rate_bpm
    n = int((seconds + 4.0) / (mean * (1 - cv))) + 8
    rr = np.clip(mean * (1.0 + cv * rng.standard_normal(n)), *RR_LIMITS_S)
    t = -2.0 + np.concatenate([[0.0], np.cumsum(rr)])
    return t[t <= seconds + 2.0]


def _gauss(t: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((t[None, :] - centre[:, None]) / width) ** 2)


#: The interval before a beat that has no other beat to take a median interval from (60 /min).
LONE_BEAT_RR_S = 1.0


def _beats_and_intervals(beats_s) -> tuple[np.ndarray, np.ndarray]:
    """``(beats, rr)``: the finite beat times of ``beats_s`` in order (a beat left out, NaN, is a
    pause) and the interval before each (the first's: the median interval; a lone beat's
    :data:`LONE_BEAT_RR_S`). A NaN left in made NaN of every interval, T wave and pulse it reached: a
    lone beat, 2.5 s of NaN signal; a NaN beat, the 64 beats of its block gone and the next block NaN."""
    b = np.asarray(beats_s, dtype=np.float64).ravel()
    b = np.sort(b[np.isfinite(b)])
    if len(b) < 2:
        return b, np.full(len(b), LONE_BEAT_RR_S)
    return b, np.diff(b, prepend=b[0] - np.median(np.diff(b)))


def ecg_from_beats(beats_s: np.ndarray, n: int, fs_hz: float, leads: int, rng: np.random.Generator,
                   fwave_mv: float = 0.04, p_wave_mv: float = 0.0, pr_s: float = 0.16,
                   p_width_s: float = 0.025) -> np.ndarray:
    """(leads, n) float64 ECG in mV with QRS-T complexes at ``beats_s`` and f-waves.

    ``p_wave_mv`` > 0 adds a P wave (a Gaussian of that amplitude and width ``p_width_s``) ``pr_s``
    before every beat - a rhythm with organised atrial activity (sinus, sinus arrhythmia, premature
    atrial beats). The default 0 gives the AF model of this module (no P waves) bit-identically:
    the P waves use no random numbers. A beat left out of ``beats_s`` (or NaN there) is a pause:
    baseline and f-waves, the other beats where they were (:func:`_beats_and_intervals`)."""
    t = np.arange(n) / fs_hz
    out = np.zeros((leads, n))
    beats_s, rr = _beats_and_intervals(beats_s)
    for k0 in range(0, len(beats_s), 64):           # bounded memory: 64 beats at a time
        b, r = beats_s[k0:k0 + 64], rr[k0:k0 + 64]
        near = (t > b.min() - 1.0) & (t < b.max() + 1.5)
        tt = t[near]
        qrs = sum(a * _gauss(tt, b + off, w) for off, a, w in _QRS).sum(axis=0)
        tw = (_T[1] * _gauss(tt, b + _T[0] * np.sqrt(r), _T[2])).sum(axis=0)
        for lead in range(leads):
            g = (1.0, 1.0) if lead == 0 else _LEAD2_GAIN
            out[lead, near] += g[0] * qrs + g[1] * tw
        if p_wave_mv > 0:
            pw = (p_wave_mv * _gauss(tt, b - pr_s, p_width_s)).sum(axis=0)
            for lead in range(leads):
                out[lead, near] += pw
    # f-waves: frequency wandering slowly between 4 and 8 Hz
    f_hz = 6.0 + 1.5 * np.sin(2 * np.pi * 0.1 * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f_hz) / fs_hz + rng.uniform(0, 2 * np.pi)
    out += fwave_mv * np.sin(phase)[None, :]
    return out


def ppg_from_beats(beats_s: np.ndarray, n: int, fs_hz: float) -> np.ndarray:
    """(n,) float64 pulse wave (a.u.) with one pulse per beat; amplitude follows the preceding RR.
    A beat left out of ``beats_s`` (or NaN there) is a pause: no pulse, baseline."""
    t = np.arange(n) / fs_hz
    beats_s, rr = _beats_and_intervals(beats_s)
    amp = np.clip(0.4 + 0.6 * rr / np.median(rr), 0.3, 1.6)
    out = np.zeros(n)
    for k0 in range(0, len(beats_s), 64):
        b, a = beats_s[k0:k0 + 64], amp[k0:k0 + 64]
        near = (t > b.min() - 1.0) & (t < b.max() + 1.5)
        tt = t[near]
        out[near] += (a[:, None] * (_gauss(tt, b + 0.18, 0.07) + 0.4 * _gauss(tt, b + 0.42, 0.09))).sum(axis=0)
    return out


def truth_heart_rate_bpm(beats_s: np.ndarray, seconds: float) -> float:
    """Mean heart rate of the beats that fall inside [0, seconds): 60 / mean interval."""
    b = beats_s[(beats_s >= 0) & (beats_s < seconds)]
    return float(60.0 / np.mean(np.diff(b)))
