"""Synthetic auscultation: lung sounds through a stethoscope (``kind="auscultation"``), seeded.

Pretraining data for audio encoders that must transfer to lung sounds (issue 14: the owners'
held-out audio task is normal vs disease on auscultation recordings). Nothing is fitted to a real
recording; the ranges are textbook values from the CORSA guidelines (Sovijarvi et al., Eur Respir
Rev 2000) and the lung-sound literature (Pasterkamp et al., Am J Respir Crit Care Med 1997):

* **Breath sounds** are turbulent-flow noise whose loudness follows the flow: vesicular sounds
  (chest wall) have most of their power below 500 Hz, loud on inspiration and faint on
  expiration; bronchial sounds (near the large airways) are louder, brighter and as loud on
  expiration. Breathing at 10-30 breaths per min, inspiration 35-45 % of the cycle.
* **Wheezes** are continuous tonal sounds, dominant frequency 100-1000 Hz, at least 100 ms long,
  usually expiratory, monophonic or polyphonic (2-4 unrelated pitches), with harmonics and a
  gliding pitch. **Rhonchi** are low-pitched wheezes (dominant frequency 100-200 Hz).
* **Crackles** are discontinuous, explosive and short: fine crackles (two-cycle duration
  2CD < 10 ms, 3-7 ms here) late in inspiration, coarse crackles (2CD > 10 ms, 10-20 ms here)
  early in inspiration and during expiration. Each is one damped oscillation with a sharp
  initial deflection.
* **Heart sounds** S1 and S2 (20-150 Hz damped oscillations, 80-150 ms) at 50-120 beats per min,
  S2 about 0.3 s after S1.
* **Stethoscope and chest wall**: a low-pass of 300-2000 Hz (chest wall and bell/diaphragm),
  a high-pass of 20-120 Hz, sometimes a 4 kHz recorder (ICBHI-style devices), contact and
  friction noise (low-frequency thumps), ambient noise and sometimes speech babble.

Returned by :func:`biosig.synthetic_sounds.simulate_audio` (``kind="auscultation"``):
``metadata["truth"]["events"]`` holds ``(start_s, stop_s, label)`` per inhale/exhale phase,
wheeze (``wheeze`` / ``rhonchus``) and crackle (``crackle-fine`` / ``crackle-coarse``), plus
``site`` (``vesicular`` / ``bronchial``), ``heart_bpm``, ``breath_bpm``, ``device``, ``lowpass_hz``
and ``adventitious`` (the adventitious sound kinds that occur in the record's events).
"""
from __future__ import annotations

import numpy as np
from scipy import signal

SITES = ("vesicular", "bronchial")
DEVICES = ("wideband", "4khz")


def _breathing(rng, n, fs, site, band_noise):
    """Breath-sound noise and the inhale/exhale phases: (x, phases [(start_s, stop_s, label)])."""
    x = np.zeros(n)
    phases = []
    bpm = rng.uniform(10, 30)
    s = rng.uniform(0.0, 60.0 / bpm)   # start anywhere in a cycle
    s -= 60.0 / bpm
    bright = site == "bronchial"
    exp_gain = rng.uniform(0.6, 1.0) if bright else rng.uniform(0.1, 0.35)
    hi_in = rng.uniform(800, 1500) if bright else rng.uniform(400, 900)
    while s < n / fs:
        period = 60.0 / bpm * rng.uniform(0.85, 1.15)
        insp = rng.uniform(0.35, 0.45) * period
        for a, d, gain, label, hi in ((s, insp, 1.0, "inhale", hi_in),
                                      (s + insp, period - insp, exp_gain, "exhale", 0.8 * hi_in)):
            ia, m = int(round(a * fs)), int(round(d * fs))
            i0, i1 = max(0, ia), min(n, ia + m)
            phases.append((float(a), float(a + d), label))
            if i1 <= i0:
                continue
            env = np.sin(np.pi * np.arange(m) / m) ** 2
            noise = band_noise(rng, m, fs, 80, hi)
            x[i0:i1] += gain * (env * noise)[i0 - ia:i1 - ia]
        s += period
    return x / max(np.std(x), 1e-12), phases, float(bpm)


def _wheeze(rng, m, fs, low_pitched):
    """One continuous tonal sound of ``m`` samples: 1-4 pitches with harmonics, gliding."""
    t = np.arange(m) / fs
    y = np.zeros(m)
    for _ in range(1 if low_pitched or rng.random() < 0.6 else int(rng.integers(2, 5))):
        f0 = rng.uniform(100, 200) if low_pitched else rng.uniform(150, 1000)
        glide = 1 + rng.uniform(-0.25, 0.25) * t / max(t[-1], 1e-3) + 0.02 * np.sin(2 * np.pi * rng.uniform(2, 8) * t)
        phase = 2 * np.pi * np.cumsum(f0 * glide) / fs
        for h, amp in enumerate((1.0, rng.uniform(0.1, 0.6), rng.uniform(0.0, 0.3)), start=1):
            y += amp * np.sin(h * phase)
    ramp = np.minimum(1.0, np.minimum(np.arange(m), m - 1 - np.arange(m)) / (0.02 * fs))
    return y * ramp / max(np.max(np.abs(y)), 1e-12)


def _crackle(rng, fs, coarse):
    """One crackle: a damped oscillation whose first (sharp) deflection sets its pitch."""
    two_cycle_s = rng.uniform(0.010, 0.020) if coarse else rng.uniform(0.003, 0.007)
    f = 2.0 / two_cycle_s
    m = int(2.5 * two_cycle_s * fs)
    t = np.arange(m) / fs
    y = np.sin(2 * np.pi * f * t * (1 + 0.3 * t / t[-1])) * np.exp(-t / (0.6 * two_cycle_s))
    return y * rng.choice([-1.0, 1.0]), two_cycle_s


def _heart(rng, n, fs):
    """S1-S2 pairs at 50-120 bpm; (x of unit peak, bpm)."""
    bpm = rng.uniform(50, 120)
    x = np.zeros(n)
    s = rng.uniform(0, 60.0 / bpm)
    while s < n / fs:
        for delay, f_lo, dur in ((0.0, 30, rng.uniform(0.10, 0.15)), (rng.uniform(0.28, 0.34), 50, rng.uniform(0.08, 0.12))):
            i = int((s + delay) * fs)
            m = min(int(dur * fs), n - i)
            if m <= 0:
                continue
            t = np.arange(m) / fs
            f = rng.uniform(f_lo, f_lo + 80)
            x[i:i + m] += np.sin(2 * np.pi * f * t) * np.exp(-t / (0.3 * dur)) * (1 - np.exp(-t / 0.005))
        s += 60.0 / bpm * rng.uniform(0.97, 1.03)
    return x / max(np.max(np.abs(x)), 1e-12), float(bpm)


def _thumps(rng, n, fs):
    """Contact and friction noise: a few low-frequency bumps (stethoscope moved or rubbed)."""
    x = np.zeros(n)
    for _ in range(int(rng.poisson(n / fs / 8))):
        m = int(rng.uniform(0.02, 0.2) * fs)
        i = int(rng.integers(0, max(1, n - m)))
        x[i:i + m] += rng.normal() * np.hanning(m)[:n - i]
    return signal.sosfilt(signal.butter(2, 60, "lowpass", fs=fs, output="sos"), x) * 20


def auscultation(rng, seconds, fs, band_noise, speech_like=None):
    """One auscultation record: (x float64 (n,), events, truth). The sound primitives come from
    biosig.synthetic_sounds, which calls this function (so this module cannot import that one):
    ``band_noise(rng, n, fs, lo_hz, hi_hz)`` band-limited Gaussian noise; ``speech_like(rng, n, fs)``
    background babble, added to some records when given."""
    n = int(round(seconds * fs))
    site = SITES[int(rng.random() < 0.3)]
    x, phases, breath_bpm = _breathing(rng, n, fs, site, band_noise)
    events = list(phases)
    adv = {"wheeze": rng.random() < 0.35, "rhonchus": rng.random() < 0.15,
           "crackle-fine": rng.random() < 0.3, "crackle-coarse": rng.random() < 0.25}
    for label in ("wheeze", "rhonchus"):
        if not adv[label]:
            continue
        level = 10 ** (rng.uniform(-6, 12) / 20)   # relative to the breath sound RMS
        expiratory_only = rng.random() < 0.7
        for a, b, ph in phases:
            if (ph == "inhale" and expiratory_only) or rng.random() < 0.2:
                continue
            d = (b - a) * rng.uniform(0.3, 0.9)
            if d < 0.1:
                continue
            start = a + rng.uniform(0, (b - a) - d)
            i, m = int(start * fs), int(d * fs)
            if i < 0 or i + m > n:
                continue
            x[i:i + m] += level * np.sqrt(2) * _wheeze(rng, m, fs, label == "rhonchus")
            events.append((float(start), float(start + d), label))
    for label in ("crackle-fine", "crackle-coarse"):
        if not adv[label]:
            continue
        coarse = label == "crackle-coarse"
        level = 10 ** (rng.uniform(6, 20) / 20)
        for a, b, ph in phases:
            if ph == "exhale" and not coarse:
                continue   # fine crackles: late inspiratory; coarse: early inspiratory and expiratory
            lo, hi = (a, a + 0.5 * (b - a)) if coarse else (a + 0.4 * (b - a), b)
            for c in np.sort(rng.uniform(lo, hi, int(rng.integers(1, 12)))):
                y, dur = _crackle(rng, fs, coarse)
                i = int(c * fs)
                if i < 0 or i + len(y) > n:
                    continue
                x[i:i + len(y)] += level * rng.uniform(0.5, 1.0) * y
                events.append((float(c), float(c + dur), label))
    heart, heart_bpm = _heart(rng, n, fs)
    x += 10 ** (rng.uniform(-6, 14) / 20) * heart
    x += 10 ** (rng.uniform(-10, 10) / 20) * _thumps(rng, n, fs)
    if speech_like is not None and rng.random() < 0.25:
        x += 10 ** (rng.uniform(-25, -5) / 20) * speech_like(rng, n, fs) / 0.3
    # chest wall + stethoscope: band 20-120 Hz .. 300-2000 Hz, then ambient noise and the recorder
    hp, lp = rng.uniform(20, 120), rng.uniform(300, 2000)
    x = signal.sosfilt(signal.butter(2, hp, "highpass", fs=fs, output="sos"), x)
    x = signal.sosfilt(signal.butter(int(rng.integers(2, 5)), min(lp, 0.45 * fs), "lowpass", fs=fs, output="sos"), x)
    x = x / max(np.max(np.abs(x)), 1e-12)
    x = x + 10 ** (rng.uniform(-60, -25) / 20) * rng.normal(size=n)
    device = DEVICES[int(rng.random() < 0.4)]
    if device == "4khz" and fs % 4000 == 0:
        k = int(fs // 4000)
        x = signal.resample_poly(signal.resample_poly(x, 1, k), k, 1)[:n]
    elif device == "4khz" and fs > 4000:   # other rates: the same band limit (below 2 kHz), as a low-pass
        x = signal.sosfiltfilt(signal.butter(10, 1900.0, "lowpass", fs=fs, output="sos"), x)
    x = x * 10 ** rng.uniform(-0.5, 0.0)   # undone by simulate_audio's peak normalisation; kept so that
    events.sort()                           # the seeded stream (audio-tiny's pretraining data) stays the same
    present = {lab for *_, lab in events}   # what the record holds (a drawn sound may find no room)
    truth = {"site": site, "breath_bpm": breath_bpm, "heart_bpm": heart_bpm, "device": device,
             "lowpass_hz": float(lp), "adventitious": [k for k in adv if k in present]}
    return x, events, truth
