"""Synthetic PPG with varied rhythms and pulse shapes: unlabelled pretraining records for ppg-tiny
(issue 14) and a labelled model-selection task built from held-out seeds.

Written independently of the evaluation task ``synthetic_af_ppg`` of benchmarks/eval_probe.py (a
systolic + diastolic Gaussian pulse with Gaussian i.i.d. AF intervals): here every pulse is the sum
of two **log-normal** waves (a systolic wave and a reflected / diastolic wave with its own delay,
width and relative height, drawn per record), and the intervals come from five rhythm models:

==============  ========================================================================
kind            intervals
==============  ========================================================================
sinus           55-100 bpm; respiratory sinus arrhythmia (1-10 % of the interval at the
                breathing rate 0.12-0.4 Hz) plus a slow AR(1) heart-rate variation
                (coefficient 0.85-0.97, stationary spread 1-4 %)
ectopy          the sinus model plus premature beats (3-20 % of beats, coupling 0.55-0.8
                of the interval), each followed by a full or partial compensatory pause
af              60-150 bpm; irregularly irregular: i.i.d. intervals from a gamma or a
                log-normal distribution (drawn per record), coefficient of variation 8-35 %
bigeminy        45-90 bpm; alternating premature beat (coupling 0.55-0.75) and pause, the
                pattern broken by 0-25 % normal pairs; 1-2 % jitter
brady_tachy     regular, 38-55 or 100-150 bpm, RSA 0-3 %, AR(1) spread 0.5-2 %
==============  ========================================================================

``ARRHYTHMIA_PULSE_KINDS`` adds four clinical arrhythmias (``pretrain --synthetic-pulse-arrhythmia``;
issue 14: the classes of the owners' real 6-class PPG task), with per-beat pulse changes on top of
the filling law (textbook haemodynamics, nothing fitted to a recording):

==============  ========================================================================
pac             the sinus model plus premature ATRIAL beats (5-30 % of beats, coupling
                0.6-0.88): the sinus node is reset, so the pause is NOT compensatory (the
                next interval is 1.0-1.15 sinus intervals); the pulse shape is unchanged and
                its amplitude follows the filling law only
pvc             the sinus model plus premature VENTRICULAR beats (5-30 % of beats, or a
                bigeminy / trigeminy pattern in 25 % of records; coupling 0.4-0.72) with a
                FULL compensatory pause; the premature pulse is much smaller than filling
                alone gives (extra factor 0.1-0.6; 20 % of PVCs non-perfused, 0.02-0.08: a
                pulse deficit), broader (x1.15-1.7) with a weak reflected wave, and the beat
                after the pause is potentiated (x1.05-1.35)
svt             regular 140-230 bpm (interval CV 0.2-1.5 %), pulses x0.4-0.85; in 30 % of
                records paroxysmal: sinus before or after an abrupt switch
vt              110-220 bpm, interval CV 1-5 %, pulses x0.2-0.6 with 10-35 % beat-to-beat
                amplitude variation (atrio-ventricular dissociation), broader (x1.2-1.8),
                reflected wave 0-40 % of its usual height
==============  ========================================================================

Per beat the pulse amplitude follows the filling time, ``(RR_prev / median RR) ** g`` with ``g``
0.3-1.2 per record (clipped to 0.15-1.8), times respiratory amplitude modulation (0-15 %) and a
small beat-to-beat jitter; the pulse widths scale with sqrt of the median interval (by 0.75-1.15). On top:
respiratory baseline wander, a slow random-walk drift, white noise (1-15 % of the pulse height) and
Poisson motion artefacts (bursts of 0.5-4 s of band-limited 0.3-4 Hz oscillation under a Hann
envelope). Intervals are clipped to 0.27-2.2 s. Deterministic by seed (``numpy`` ``default_rng``).
"""
from __future__ import annotations

import numpy as np

from biosig.errors import SignalError
from biosig.record import Record

PULSE_KINDS = ("sinus", "ectopy", "af", "bigeminy", "brady_tachy")
ARRHYTHMIA_KINDS = ("pac", "pvc", "svt", "vt")
ARRHYTHMIA_PULSE_KINDS = PULSE_KINDS + ARRHYTHMIA_KINDS
RR_LIMITS_S = (0.27, 2.2)


def _ar1(rng, n: int, coef: float, spread: float) -> np.ndarray:
    """AR(1) series of length n with stationary standard deviation ``spread``."""
    e = rng.standard_normal(n) * spread * np.sqrt(1 - coef ** 2)
    out = np.empty(n)
    acc = rng.standard_normal() * spread
    for i in range(n):
        acc = coef * acc + e[i]
        out[i] = acc
    return out


def _sinus_intervals(rng, n_max: int, bpm: float, rsa: float, coef: float, spread: float):
    """The sinus interval model of the sinus-based kinds: ``(mean_s, rr)`` with ``rr(t, k)`` the k-th
    interval starting at time t: respiratory sinus arrhythmia (relative amplitude ``rsa`` at a
    breathing rate of 0.12-0.4 Hz) plus an AR(1) rate variation. Draws the breathing rate, its phase
    and the AR(1) series from ``rng``, in that order."""
    mean = 60.0 / bpm
    resp_hz, phase = rng.uniform(0.12, 0.4), rng.uniform(0, 2 * np.pi)
    slow = _ar1(rng, n_max, coef, spread)
    return mean, lambda t, k: mean * (1 + rsa * np.sin(2 * np.pi * resp_hz * t + phase) + slow[k % n_max])


def pulse_beat_times(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Beat times (s) from about -2 s to ``seconds`` + 2 s for one record of ``kind``
    (:data:`PULSE_KINDS`; module docstring)."""
    if kind not in PULSE_KINDS:
        raise SignalError(f"unknown pulse rhythm kind {kind!r}; expected one of {', '.join(PULSE_KINDS)}")
    n_max = int((seconds + 4.0) / RR_LIMITS_S[0]) + 4
    if kind in ("sinus", "ectopy", "brady_tachy"):
        if kind == "brady_tachy":
            bpm = rng.uniform(38, 55) if rng.random() < 0.5 else rng.uniform(100, 150)
            rsa, coef, spread = rng.uniform(0.0, 0.03), rng.uniform(0.85, 0.97), rng.uniform(0.005, 0.02)
        else:
            bpm = rng.uniform(55, 100)
            rsa, coef, spread = rng.uniform(0.01, 0.10), rng.uniform(0.85, 0.97), rng.uniform(0.01, 0.04)
        mean, sinus_rr = _sinus_intervals(rng, n_max, bpm, rsa, coef, spread)
        p_pre = rng.uniform(0.03, 0.20) if kind == "ectopy" else 0.0
        coupling, full = rng.uniform(0.55, 0.8), rng.random() < 0.5
        t, out, k = -2.0 - rng.uniform(0, mean), [], 0
        while t < seconds + 2.0:
            rr = sinus_rr(t, k)
            k += 1
            if p_pre and rng.random() < p_pre:
                c = coupling * (1 + 0.03 * rng.standard_normal())
                t += float(np.clip(c * rr, *RR_LIMITS_S))
                out.append(t)
                rr = (2.0 - c) * rr if full else rng.uniform(1.0, 1.25) * rr
            t += float(np.clip(rr, *RR_LIMITS_S))
            out.append(t)
        return np.asarray(out)
    if kind == "af":
        mean, cv = 60.0 / rng.uniform(60, 150), rng.uniform(0.08, 0.35)
        if rng.random() < 0.5:
            shape = 1.0 / cv ** 2
            rr = rng.gamma(shape, mean / shape, n_max)
        else:
            s = np.sqrt(np.log1p(cv ** 2))
            rr = mean * np.exp(s * rng.standard_normal(n_max) - 0.5 * s ** 2)
    else:   # bigeminy
        mean = 60.0 / rng.uniform(45, 90)
        coupling, p_break = rng.uniform(0.55, 0.75), rng.uniform(0.0, 0.25)
        jit = rng.uniform(0.01, 0.02)
        rr = []
        while len(rr) < n_max:
            c = coupling if rng.random() >= p_break else 1.0
            rr += [c * mean, (2.0 - c) * mean]
        rr = np.asarray(rr[:n_max]) * (1 + jit * rng.standard_normal(n_max))
    t = -2.0 - rng.uniform(0, mean) + np.cumsum(np.clip(rr, *RR_LIMITS_S))
    return t[t < seconds + 2.0]


def arrhythmia_beats(kind: str, seconds: float, rng: np.random.Generator):
    """One record of an arrhythmia kind (:data:`ARRHYTHMIA_KINDS`; module docstring): beat times (s)
    from about -2 s to ``seconds`` + 2 s and, per beat, the pulse amplitude factor (on top of the
    filling law), the width factor and the reflected-wave factor (float arrays), and whether the beat
    is premature (bool array: the ground truth of PAC / PVC records)."""
    if kind not in ARRHYTHMIA_KINDS:
        raise SignalError(f"unknown arrhythmia kind {kind!r}; expected one of {', '.join(ARRHYTHMIA_KINDS)}")
    n_max = int((seconds + 4.0) / RR_LIMITS_S[0]) + 4
    times, amp, width, dia, is_premature = [], [], [], [], []

    def beat(t, a=1.0, w=1.0, d=1.0, premature=False):
        times.append(t)
        amp.append(a)
        width.append(w)
        dia.append(d)
        is_premature.append(premature)

    if kind in ("pac", "pvc"):
        bpm = rng.uniform(55, 100)
        rsa, coef, spread = rng.uniform(0.01, 0.08), rng.uniform(0.85, 0.97), rng.uniform(0.01, 0.03)
        mean, sinus_rr = _sinus_intervals(rng, n_max, bpm, rsa, coef, spread)
        p_pre = rng.uniform(0.05, 0.30)
        pattern = int(rng.integers(2, 4)) if kind == "pvc" and rng.random() < 0.25 else 0   # bi- / trigeminy
        lo, hi = (0.6, 0.88) if kind == "pac" else (0.4, 0.72)
        coupling = rng.uniform(lo, hi)
        t, k, potentiate = -2.0 - rng.uniform(0, mean), 0, 1.0
        while t < seconds + 2.0:
            rr = sinus_rr(t, k)
            k += 1
            early = (k % pattern == 0) if pattern else rng.random() < p_pre / (1 - p_pre)
            if early:
                c = float(np.clip(coupling * (1 + 0.04 * rng.standard_normal()), lo - 0.05, hi + 0.05))
                t += float(np.clip(c * rr, *RR_LIMITS_S))
                if kind == "pac":
                    beat(t, premature=True)
                    rr = rr * rng.uniform(1.0, 1.15)             # sinus node reset: not compensatory
                else:
                    perfused = rng.random() >= 0.2
                    beat(t, rng.uniform(0.1, 0.6) if perfused else rng.uniform(0.02, 0.08),
                         rng.uniform(1.15, 1.7), rng.uniform(0.2, 0.8), True)
                    rr = (2.0 - c) * rr                           # full compensatory pause
                    potentiate = rng.uniform(1.05, 1.35)
            t += float(np.clip(rr, *RR_LIMITS_S))
            beat(t, potentiate)
            potentiate = 1.0
    else:   # svt, vt: a fast, nearly regular rhythm
        if kind == "svt":
            mean, cv = 60.0 / rng.uniform(140, 230), rng.uniform(0.002, 0.015)
            a0, w0, d0, var = rng.uniform(0.4, 0.85), 1.0, 1.0, 0.0
        else:
            mean, cv = 60.0 / rng.uniform(110, 220), rng.uniform(0.01, 0.05)
            a0, w0, d0, var = rng.uniform(0.2, 0.6), rng.uniform(1.2, 1.8), rng.uniform(0.0, 0.4), rng.uniform(0.1, 0.35)
        switch, sinus_first = None, rng.random() < 0.5
        if kind == "svt" and rng.random() < 0.3:                  # paroxysmal: an abrupt switch
            switch = rng.uniform(0.2, 0.8) * seconds
        sinus_mean = 60.0 / rng.uniform(60, 100)
        t = -2.0 - rng.uniform(0, mean)
        while t < seconds + 2.0:
            fast = switch is None or ((t >= switch) == sinus_first)
            if fast:
                t += float(np.clip(mean * (1 + cv * rng.standard_normal()), *RR_LIMITS_S))
                beat(t, a0 * float(np.clip(1 + var * rng.standard_normal(), 0.2, 2.0)), w0, d0)
            else:
                t += float(np.clip(sinus_mean * (1 + 0.02 * rng.standard_normal()), *RR_LIMITS_S))
                beat(t)
    keep = np.asarray(times) < seconds + 2.0
    return (*(np.asarray(v, dtype=np.float64)[keep] for v in (times, amp, width, dia)), np.asarray(is_premature, dtype=bool)[keep])


def _lognormal_wave(t: np.ndarray, mode_s: float, sigma: float) -> np.ndarray:
    """A log-normal-shaped wave of t >= 0 with its maximum 1 at ``mode_s``."""
    mu = np.log(mode_s) + sigma ** 2
    tt = np.maximum(t, 1e-6)
    w = np.exp(-((np.log(tt) - mu) ** 2) / (2 * sigma ** 2)) / tt
    peak = np.exp(-(sigma ** 2) / 2 - mu)           # value of exp(..)/t at the mode
    return np.where(t > 0, w / peak, 0.0)


def ppg_from_pulse_beats(beats_s: np.ndarray, n: int, fs_hz: float, rng: np.random.Generator,
                         amp_factor=None, width_factor=None, dia_factor=None) -> np.ndarray:
    """(n,) float64 pulse wave (a.u., pulse height about 1) with a two-log-normal pulse per beat,
    shape and amplitude law drawn from ``rng``; no noise or wander. The optional per-beat factors
    (arrays like ``beats_s``) scale each pulse's amplitude, its widths and its reflected wave; they
    draw nothing from ``rng``."""
    t = np.arange(n) / fs_hz
    rr = np.diff(beats_s, prepend=beats_s[0] - np.median(np.diff(beats_s)))
    med = float(np.median(rr))
    scale = float(np.clip(np.sqrt(med / 0.8), 0.75, 1.15))
    mode1, sig1 = rng.uniform(0.08, 0.16) * scale, rng.uniform(0.25, 0.45)
    delay2, mode2, sig2 = rng.uniform(0.12, 0.26) * scale, rng.uniform(0.10, 0.18) * scale, rng.uniform(0.3, 0.55)
    rel2 = rng.uniform(0.1, 0.5)
    g = rng.uniform(0.3, 1.2)
    am, resp_hz, ph = rng.uniform(0.0, 0.15), rng.uniform(0.12, 0.4), rng.uniform(0, 2 * np.pi)
    amp = np.clip((rr / med) ** g, 0.15, 1.8) * (1 + am * np.sin(2 * np.pi * resp_hz * beats_s + ph))
    amp = amp * (1 + rng.uniform(0.0, 0.05) * rng.standard_normal(len(beats_s)))
    ones = np.ones(len(beats_s))
    amp = amp * (ones if amp_factor is None else np.asarray(amp_factor, dtype=np.float64))
    wf = ones if width_factor is None else np.asarray(width_factor, dtype=np.float64)
    df = ones if dia_factor is None else np.asarray(dia_factor, dtype=np.float64)
    out = np.zeros(n)
    span = int(1.5 * fs_hz * max(1.0, float(wf.max(initial=1.0))))
    for b, a, w, r in zip(beats_s, amp, wf, df):
        i0 = max(0, int(np.floor(b * fs_hz)))
        i1 = min(n, int(np.ceil(b * fs_hz)) + span)
        if i1 <= i0:
            continue
        d = t[i0:i1] - b
        out[i0:i1] += a * (_lognormal_wave(d, mode1 * w, sig1)
                           + rel2 * r * _lognormal_wave(d - delay2 * w, mode2 * w, sig2))
    return out


def _artefacts(rng, n: int, fs_hz: float, seconds: float) -> np.ndarray:
    out = np.zeros(n)
    t = np.arange(n) / fs_hz
    for _ in range(rng.poisson(rng.uniform(0.0, 2.0) * seconds / 60.0)):
        dur = rng.uniform(0.5, 4.0)
        a = rng.uniform(-dur / 2, seconds - dur / 2)
        sel = (t >= a) & (t < a + dur)
        if not sel.any():
            continue
        env = np.sin(np.pi * (t[sel] - a) / dur) ** 2
        burst = sum(rng.uniform(0.2, 1.5) * np.sin(2 * np.pi * rng.uniform(0.3, 4.0) * t[sel] + rng.uniform(0, 6.3))
                    for _ in range(rng.integers(2, 6)))
        out[sel] += rng.uniform(0.5, 3.0) * env * burst
    return out


def simulate_pulse_record(kind: str, seconds: float, rng: np.random.Generator, fs_hz: float = 125.0) -> np.ndarray:
    """(n,) float64 SYNTHETIC PPG of rhythm ``kind``: pulses, wander, drift, noise and artefacts."""
    n = int(round(seconds * fs_hz))
    if n < 2:
        raise SignalError(f"{seconds} s at {fs_hz} Hz is fewer than 2 samples")
    if kind in ARRHYTHMIA_KINDS:
        beats, amp, width, dia, _ = arrhythmia_beats(kind, seconds, rng)
        x = ppg_from_pulse_beats(beats, n, fs_hz, rng, amp, width, dia)
    else:
        x = ppg_from_pulse_beats(pulse_beat_times(kind, seconds, rng), n, fs_hz, rng)
    t = np.arange(n) / fs_hz
    x = x + rng.uniform(0.0, 0.4) * np.sin(2 * np.pi * rng.uniform(0.12, 0.4) * t + rng.uniform(0, 2 * np.pi))
    x = x + np.cumsum(rng.standard_normal(n)) * rng.uniform(0.0, 0.01) / np.sqrt(fs_hz)
    x = x + rng.normal(0.0, rng.uniform(0.01, 0.15), n) + _artefacts(rng, n, fs_hz, seconds)
    return x * rng.uniform(0.5, 2.0) + rng.uniform(-1, 1)


def pulse_records(n_records: int, seconds: float, seed: int, fs_hz: float = 125.0, salt: int = 30_000,
                  kinds=PULSE_KINDS, prefix: str = "synthetic:ppg-rhythm"):
    """``n_records`` (name, Record, kind) with the kinds of ``kinds`` in turn (record i is
    ``kinds[i % len(kinds)]``), record i from ``default_rng([seed, salt + i])``."""
    for i in range(n_records):
        kind = kinds[i % len(kinds)]
        x = simulate_pulse_record(kind, seconds, np.random.default_rng([seed, salt + i]), fs_hz)
        yield (f"{prefix}:{seed}:{salt + i}",
               Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("PPG",), units=("a.u.",),
                      modality="ppg"), kind)
