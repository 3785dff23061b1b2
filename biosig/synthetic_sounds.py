"""Synthetic breath and cough sounds (16 kHz mono), seeded.

Physically motivated source-filter synthesis:

* Airflow through the airways is turbulent: its sound is noise whose loudness follows the flow.
* A **cough** has three phases (Korpas et al. 1996): an explosive phase (glottis opens, 30-50 ms of
  loud broadband noise with a ~5 ms attack), an intermediate phase (100-250 ms of decaying
  turbulent noise) and, in some coughs, a voiced phase (vocal folds vibrating at f0 of 100-300 Hz,
  50-150 ms). Noise and voicing pass through vocal-tract resonances (formants F1-F3).
* **Breathing** alternates inhalation (~40 % of the cycle) and exhalation with smooth flow
  envelopes; breath noise is band-limited (about 100-2000 Hz) and quieter on exhalation.

* A **scene** (``kind="scene"``, pretraining data) varies what real recordings vary: coughs with
  random phase durations, voicing, crackles and vocal tracts (3-5 formants), breathing, background
  babble, room reverberation, a noise floor (white / pink / brown, mains hum) of -65 to -20 dB and
  a recording channel (wideband; telephone: 200-400 to 3000-3600 Hz, 8 kHz, G.711 mu-law; lossy
  low-pass with a coarse quantiser; resonant colouration), with gain and sometimes clipping.

Returned record: float32 (1, T) in [-1, 1], channel ``mono``, ``metadata["truth"]["events"]``
with ``(start_s, stop_s, label)`` per cough or breath phase (scenes: ``cough`` / ``cough-voiced``
only, plus ``channel``, ``rt60_s``, ``noise_db``, ``breathing`` and ``babble_db``).

``kind="auscultation"``: lung sounds through a stethoscope (breath sounds, wheezes, rhonchi, fine
and coarse crackles, heart sounds), see :mod:`biosig.synthetic_lung`.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from biosig.errors import SignalError
from biosig.record import Record

AUDIO_KINDS = ("cough", "breath", "scene", "auscultation")   # append only: the index seeds the rng


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


# --- kind="scene": varied coughs and breaths through a random recording chain --------------------
# Pretraining data for audio encoders that must transfer to real recordings: what differs between
# microphones, rooms and telephone lines is made to vary here, so that it is not what the embedding
# is trained to keep. Nothing is fitted to any real recording: the ranges are textbook values
# (formants, cough phases, RT60 of rooms, the 300-3400 Hz / 8 kHz telephone channel, G.711 mu-law).
CHANNELS = ("wideband", "telephone", "lowpass", "colour")


def _tract(rng):
    """A random vocal-tract resonance set: 3-5 formant frequencies (Hz) and Q factors."""
    lo = np.array([250, 800, 1900, 3000, 4200])
    hi = np.array([900, 2300, 3300, 4300, 5500])
    k = int(rng.integers(3, 6))
    return rng.uniform(lo[:k], hi[:k]), rng.uniform(3, 12, k)


def _varied_cough(rng, fs, tract):
    """One cough with randomised phases: explosive burst (attack 2-10 ms, 20-60 ms), intermediate
    turbulent noise (80-350 ms, decaying), optional voiced tail (f0 80-350 Hz gliding, 40-250 ms)
    and optional crackles (wet cough). Returns (x, duration_s, voiced)."""
    f, q = tract
    d_exp, d_int = rng.uniform(0.02, 0.06), rng.uniform(0.08, 0.35)
    voiced = rng.random() < 0.5
    d_voi = rng.uniform(0.04, 0.25) if voiced else 0.0
    n = int((d_exp + d_int + d_voi) * fs)
    t = np.arange(n) / fs
    attack = rng.uniform(0.002, 0.01)
    env = np.where(t < d_exp, 1 - np.exp(-t / attack), np.exp(-(t - d_exp) / (rng.uniform(0.2, 0.6) * d_int)))
    noise = _bandnoise(rng, n, fs, rng.uniform(80, 300), rng.uniform(3000, 7800)) * env
    x = rng.uniform(0.2, 0.8) * noise + _formants(noise, fs, f, q)
    if rng.random() < 0.3:   # crackles: short clicks during the intermediate phase
        for c in rng.uniform(d_exp, d_exp + d_int, int(rng.integers(2, 8))):
            i = int(c * fs)
            m = min(int(0.003 * fs), n - i)
            x[i:i + m] += rng.uniform(0.3, 1.0) * np.hanning(m) * rng.choice([-1, 1]) * np.max(np.abs(x))
    if voiced:
        f0 = rng.uniform(80, 350) * (1 + rng.uniform(-0.3, 0.3) * np.clip((t - d_exp - d_int) / max(d_voi, 1e-3), 0, 1))
        phase = 2 * np.pi * np.cumsum(f0) / fs
        tv = t - (d_exp + d_int)
        on = np.clip(tv / 0.01, 0, 1) * np.exp(-np.clip(tv, 0, None) / rng.uniform(0.3, 1.0) / max(d_voi, 1e-3))
        pulses = signal.sawtooth(phase) * on * rng.uniform(0.2, 0.8)
        x += _formants(pulses, fs, f, q * 2)
    fade = np.minimum(1.0, (n - np.arange(n)) / (0.005 * fs))
    return x * fade, d_exp + d_int + d_voi, voiced


def _speech_like(rng, n, fs):
    """Background babble: a voiced source (f0 90-250 Hz with intonation) whose formants change every
    syllable (120-300 ms), amplitude-modulated at the syllable rate."""
    y = np.zeros(n)
    s = 0
    f0 = rng.uniform(90, 250)
    while s < n:
        m = min(int(rng.uniform(0.12, 0.30) * fs), n - s)
        t = np.arange(m) / fs
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))) / fs
        src = signal.sawtooth(phase) * np.sin(np.pi * np.arange(m) / m) ** 2
        y[s:s + m] = _formants(src, fs, *_tract(rng)) if rng.random() < 0.8 else 0.0
        s += m
    return y


def _room(rng, x, fs):
    """Room reverberation: an exponentially decaying noise impulse response (RT60 0.1-0.8 s)."""
    rt60 = rng.uniform(0.1, 0.8)
    t = np.arange(int(rt60 * fs)) / fs
    ir = rng.normal(size=len(t)) * np.exp(-6.9 * t / rt60)
    ir[0] = 0.0
    wet = signal.fftconvolve(x, ir)[:len(x)]
    wet *= np.std(x) / max(np.std(wet), 1e-12)
    return x + rng.uniform(0.1, 0.7) * wet, rt60


def _mu_law(x, bits=8):
    mu = 2 ** bits - 1
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    y = np.round((y + 1) / 2 * mu) / mu * 2 - 1
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def _channel(rng, x, fs, kind):
    """Microphone / line / codec colouration of ``x`` (peak about 1)."""
    if rng.random() < 0.7:   # microphone high-pass roll-off
        x = signal.sosfilt(signal.butter(2, rng.uniform(40, 200), "highpass", fs=fs, output="sos"), x)
    if kind == "telephone":   # band-limit, 8 kHz, G.711 mu-law, back to the input rate
        lo, hi = rng.uniform(200, 400), rng.uniform(3000, 3600)
        x = signal.sosfilt(signal.butter(4, [lo, hi], "bandpass", fs=fs, output="sos"), x)
        if fs % 8000 == 0:
            k = int(fs // 8000)
            x = signal.resample_poly(_mu_law(np.clip(signal.resample_poly(x, 1, k), -1, 1)), k, 1)
    elif kind == "lowpass":   # a lossy codec's band limit and a coarser quantiser
        x = signal.sosfilt(signal.butter(6, min(rng.uniform(3500, 7500), 0.45 * fs), "lowpass", fs=fs, output="sos"), x)
        q = 2.0 ** -rng.integers(7, 13)
        x = np.round(x / q) * q
    elif kind == "colour":    # 1-3 resonant boosts or cuts of +-8 dB
        for _ in range(int(rng.integers(1, 4))):
            b, a = signal.iirpeak(rng.uniform(200, min(6000, 0.45 * fs)), rng.uniform(1, 5), fs=fs)
            x = x + rng.uniform(-0.6, 1.5) * signal.lfilter(b, a, x)
    return x


def _noise_floor(rng, n, fs):
    """Background noise of unit RMS: white, pink or brown, sometimes with mains hum."""
    w = rng.normal(size=n)
    colour = rng.integers(0, 3)
    if colour:   # 1/f (pink, -3 dB/oct) or 1/f^2 (brown) through the spectrum
        spec = np.fft.rfft(w)
        f = np.maximum(np.fft.rfftfreq(n, 1 / fs), 20.0)
        w = np.fft.irfft(spec / f ** (0.5 * colour), n)
    if rng.random() < 0.2:
        w = w / np.std(w) + rng.uniform(0.5, 3) * np.sin(2 * np.pi * rng.choice([50, 60]) * np.arange(n) / fs)
    return w / max(np.std(w), 1e-12)


def _scene(rng, seconds, fs):
    """Coughs (0.2-1.2 per s), breaths, babble, room, channel and noise floor; (x, events, truth)."""
    n = int(round(seconds * fs))
    x = np.zeros(n)
    events = []
    tract = _tract(rng)
    rate = rng.uniform(0.2, 1.2)
    breathing = bool(rng.random() < 0.4)
    if breathing:   # breathing under the coughs
        s, period = 0.0, 60.0 / rng.uniform(12, 30)
        while s < seconds:
            cyc, _ = _breath_cycle(rng, fs, period * rng.uniform(0.85, 1.15))
            i = int(s * fs)
            m = min(len(cyc), n - i)
            x[i:i + m] += rng.uniform(0.05, 0.3) * cyc[:m]
            s += len(cyc) / fs
    s = rng.uniform(0.0, 1.0)
    while s < seconds - 0.1:
        if rng.random() < 0.2:
            tract = _tract(rng)   # another speaker / posture now and then
        c, dur, voiced = _varied_cough(rng, fs, tract)
        i = int(s * fs)
        m = min(len(c), n - i)
        x[i:i + m] += c[:m] * rng.uniform(0.3, 1.0) / max(np.max(np.abs(c)), 1e-12)
        events.append((float(s), float(s + dur), "cough-voiced" if voiced else "cough"))
        s += dur + rng.exponential(1.0 / rate) + 0.05
    babble_db = float(rng.uniform(-30, -12)) if rng.random() < 0.3 else None
    if babble_db is not None:
        x += 10 ** (babble_db / 20) * _speech_like(rng, n, fs) / 0.3
    rt60 = 0.0
    if rng.random() < 0.6:
        x, rt60 = _room(rng, x, fs)
    x /= max(np.max(np.abs(x)), 1e-12)
    channel = CHANNELS[int(rng.choice(len(CHANNELS), p=[0.3, 0.3, 0.2, 0.2]))]
    noise_db = rng.uniform(-65, -20)
    x = x + 10 ** (noise_db / 20) * _noise_floor(rng, n, fs)
    x = _channel(rng, x, fs, channel)
    gain = 10 ** rng.uniform(-0.3, 0.5)
    x = np.tanh(gain * x) if gain > 1.5 and rng.random() < 0.5 else gain * x   # clipping sometimes
    return x, events, {"channel": channel, "rt60_s": rt60, "noise_db": noise_db, "breathing": breathing,
                       "babble_db": babble_db}


def simulate_audio(seconds: float, seed: int, fs_hz: float = 16000.0, kind: str = "cough",
                   n_events: int | None = None) -> Record:
    """Breath or cough audio lasting ``seconds`` at ``fs_hz`` (see the module docstring), in full scale
    (unit ``FS``, peak 0.9), the unit the audio reader gives and every writer round-trips."""
    if kind not in AUDIO_KINDS:
        raise SignalError(f"kind={kind!r}; accepted: {', '.join(AUDIO_KINDS)}")
    if fs_hz < 4000:
        raise SignalError(f"fs_hz={fs_hz} too low for breath/cough audio; use at least 4000 Hz")
    rng = np.random.default_rng([seed, 6, AUDIO_KINDS.index(kind)])
    n = int(round(seconds * fs_hz))
    x = 0.003 * rng.normal(size=n)  # room/microphone noise floor
    events = []
    truth = {}
    if kind == "scene":
        if n_events is not None:
            raise SignalError("n_events does not apply to kind='scene' (its cough rate is drawn per record)")
        x, events, truth = _scene(rng, seconds, fs_hz)
    elif kind == "auscultation":
        if n_events is not None:
            raise SignalError("n_events does not apply to kind='auscultation' (its events are drawn per record)")
        from biosig.synthetic_lung import auscultation
        x, events, truth = auscultation(rng, seconds, fs_hz, _bandnoise, speech_like=_speech_like)
    elif kind == "cough":
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
    return Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("mono",), units=("FS",),
                  modality="audio", metadata={"truth": {"kind": kind, "events": events, **truth}})
