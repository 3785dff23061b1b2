"""Synthetic breath and cough sounds (16 kHz mono), seeded.

Physically motivated source-filter synthesis:

* Airflow through the airways is turbulent: its sound is noise whose loudness follows the flow.
* A **cough** has three phases (Korpas et al. 1996): an explosive phase (glottis opens, 30-50 ms of
  loud broadband noise with a ~5 ms attack), an intermediate phase (100-250 ms of decaying
  turbulent noise) and, in some coughs, a voiced phase (vocal folds vibrating at f0 of 100-300 Hz,
  50-150 ms). Noise and voicing pass through vocal-tract resonances (formants F1-F3).
* **Breathing** alternates inhalation (~40 % of the cycle) and exhalation with smooth flow
  envelopes; breath noise is band-limited (about 100-2000 Hz) and quieter on exhalation.

Returned record: float32 (1, T) in [-1, 1], channel ``mono``, ``metadata["truth"]["events"]``
with ``(start_s, stop_s, label)`` per cough or breath phase.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from biosig.errors import SignalError
from biosig.record import Record

AUDIO_KINDS = ("cough", "breath")


def _bandnoise(rng, n, fs, lo, hi, order=2):
    sos = signal.butter(order, [lo, min(hi, 0.45 * fs)], "bandpass", fs=fs, output="sos")
    return signal.sosfilt(sos, rng.normal(size=n))


def _formants(x, fs, freqs_hz, qs):
    """Sum of resonances (parallel formant filter bank) applied to ``x``."""
    y = np.zeros_like(x)
    for f, q in zip(freqs_hz, qs):
        if f < 0.45 * fs:
            b, a = signal.iirpeak(f, q, fs=fs)
            y += signal.lfilter(b, a, x)
    return y


def _cough(rng, fs):
    """One cough, (n,) float64 and its phase durations."""
    d_exp, d_int = rng.uniform(0.03, 0.05), rng.uniform(0.10, 0.25)
    d_voi = rng.uniform(0.05, 0.15) if rng.random() < 0.6 else 0.0
    n = int((d_exp + d_int + d_voi) * fs)
    t = np.arange(n) / fs
    env = np.where(t < d_exp, 1 - np.exp(-t / 0.005), np.exp(-(t - d_exp) / (0.35 * d_int)))
    noise = _bandnoise(rng, n, fs, 150, 7000) * env
    f1, f2, f3 = rng.uniform(450, 800), rng.uniform(1100, 1900), rng.uniform(2300, 3200)
    x = 0.6 * noise + 0.8 * _formants(noise, fs, (f1, f2, f3), (4, 5, 6))
    if d_voi > 0:
        f0 = rng.uniform(100, 300)
        tv = t - (d_exp + d_int)
        on = (tv >= 0).astype(float) * np.exp(-np.clip(tv, 0, None) / (0.5 * d_voi + 1e-9))
        pulses = signal.sawtooth(2 * np.pi * f0 * t) * on * 0.4
        x += _formants(pulses, fs, (f1, f2, f3), (8, 10, 12))
    fade = np.minimum(1.0, (n - np.arange(n)) / (0.005 * fs))
    return x * fade, d_exp + d_int + d_voi


def _breath_cycle(rng, fs, period_s):
    n = int(period_s * fs)
    t = np.arange(n) / period_s / fs  # 0..1
    insp = rng.uniform(0.35, 0.45)
    flow_in = np.where(t < insp, np.sin(np.pi * t / insp) ** 2, 0.0)
    flow_ex = np.where(t >= insp, np.sin(np.pi * (t - insp) / (1 - insp)) ** 2, 0.0)
    x = 1.0 * flow_in * _bandnoise(rng, n, fs, 200, 2000) + 0.6 * flow_ex * _bandnoise(rng, n, fs, 100, 1200)
    return x, insp * period_s


def simulate_audio(seconds: float, seed: int, fs_hz: float = 16000.0, kind: str = "cough",
                   n_events: int | None = None) -> Record:
    """Breath or cough audio lasting ``seconds`` at ``fs_hz`` (see the module docstring)."""
    if kind not in AUDIO_KINDS:
        raise SignalError(f"kind={kind!r}; accepted: {', '.join(AUDIO_KINDS)}")
    if fs_hz < 4000:
        raise SignalError(f"fs_hz={fs_hz} too low for breath/cough audio; use at least 4000 Hz")
    rng = np.random.default_rng([seed, 6, AUDIO_KINDS.index(kind)])
    n = int(round(seconds * fs_hz))
    x = 0.003 * rng.normal(size=n)  # room/microphone noise floor
    events = []
    if kind == "cough":
        k = n_events if n_events is not None else max(1, int(seconds / 2.0))
        starts = np.sort(rng.uniform(0.1, max(0.11, seconds - 0.5), k))
        for s in starts:
            c, dur = _cough(rng, fs_hz)
            i = int(s * fs_hz)
            m = min(len(c), n - i)
            if m <= 0:
                continue
            x[i:i + m] += c[:m] * rng.uniform(0.5, 1.0)
            events.append((float(s), float(s + dur), "cough"))
    else:
        s, period = 0.0, 60.0 / rng.uniform(12, 20)
        while s < seconds and (n_events is None or len(events) < 2 * n_events):
            cyc, t_in = _breath_cycle(rng, fs_hz, period * rng.uniform(0.85, 1.15))
            i = int(s * fs_hz)
            m = min(len(cyc), n - i)
            x[i:i + m] += 0.2 * cyc[:m]
            dur = len(cyc) / fs_hz
            events += [(s, s + t_in, "inhale"), (s + t_in, s + dur, "exhale")]
            s += dur
    peak = np.max(np.abs(x))
    x = 0.9 * x / peak if peak > 0 else x
    return Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("mono",), units=("",),
                  modality="audio", metadata={"truth": {"kind": kind, "events": events}})
