"""The SYNTHETIC tasks of ``eval_probe.py`` (ECG and PPG): seeded generators of labelled records,
independent of the pretraining generators of ``biosig.synthetic_pulse`` and ``encoders.data`` except
where a docstring says otherwise (``synthetic_atrial_ecg`` shares the beat model: in-domain, model
selection only). The spirogram tasks are in ``spiro_tasks.py``; the real sets in ``probe_data.py``."""
from __future__ import annotations

import numpy as np


def af_or_sinus_beats(af: bool, mean_rr: float, tb: float, seconds: float, resp_hz: float, resp_phase: float,
                      rng) -> list[tuple[float, float]]:
    """Beats ``[(time_s, preceding interval_s), ...]`` from ``tb`` until past ``seconds + 1`` of the
    two-class rhythm of ``synthetic_af_ppg`` and ``synthetic_rhythm_ecg``: AF = i.i.d. intervals
    (CV 6-14 %, drawn per beat); sinus = respiratory sinus arrhythmia (2-8 %) plus 2 % jitter, and in
    6 % of the cycles a premature beat at 70 % of the interval followed by its pause. Intervals are
    floored at 0.3 s. Draws from ``rng`` in a fixed order (the callers' records depend on it)."""
    beats = []
    while tb < seconds + 1:
        if af:   # irregularly irregular, moderately (CV 6-14 %)
            rr = mean_rr * (1 + rng.normal(0, rng.uniform(0.06, 0.14)))
        else:    # respiratory sinus arrhythmia, and a premature beat with its pause now and then
            rr = mean_rr * (1 + rng.uniform(0.02, 0.08) * np.sin(2 * np.pi * resp_hz * tb + resp_phase)
                            + rng.normal(0, 0.02))
            if rng.random() < 0.06:
                beats.append((tb + 0.7 * rr, 0.7 * rr))
                tb, rr = tb + 0.7 * rr, 1.3 * rr
        rr = max(rr, 0.3)
        tb += rr
        beats.append((tb, rr))
    return beats


def _ppg_from_beats(beats, mean_rr: float, t: np.ndarray, seconds: float, resp_hz: float, resp_phase: float,
                    rng) -> np.ndarray:
    """One SYNTHETIC PPG trace (float64) from ``beats`` = [(time_s, preceding interval_s), ...]: a
    systolic + diastolic Gaussian wave per beat (random widths, delay and ratio per record), smaller
    after a shorter interval (``min(rr / mean_rr, 1.4) ** 1.5``: less filling time), plus respiratory
    baseline wander, white noise and Poisson(1) motion bursts of 1-3 s. Draws from ``rng`` in a fixed order."""
    n = len(t)
    x = np.zeros(n)
    w1, w2, d2, a2 = rng.uniform(0.08, 0.12), rng.uniform(0.12, 0.18), rng.uniform(0.25, 0.35), rng.uniform(0.3, 0.6)
    for tb, rr in beats:
        amp = min(rr / mean_rr, 1.4) ** 1.5    # shorter filling time, smaller pulse (every rhythm)
        x += amp * (np.exp(-0.5 * ((t - tb) / w1) ** 2) + a2 * np.exp(-0.5 * ((t - tb - d2) / w2) ** 2))
    x += 0.3 * np.sin(2 * np.pi * resp_hz * t + resp_phase) + rng.normal(0, rng.uniform(0.05, 0.3), n)
    for _ in range(rng.poisson(1.0)):   # motion artefacts: 1-3 s bursts of low-frequency noise
        a, dur = rng.uniform(0, seconds - 3), rng.uniform(1, 3)
        sel = (t >= a) & (t < a + dur)
        x[sel] += np.cumsum(rng.normal(0, 0.15, sel.sum()))
    return x


def _ppg_record(x: np.ndarray, fs_hz: float, name: str):
    from biosig.record import Record
    return Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("PLETH",), units=("a.u.",),
                  modality="ppg", metadata={"record": name})


def synthetic_af_ppg(n_per_class: int = 60, seconds: float = 30.0, fs_hz: float = 100.0, seed: int = 1000):
    """SYNTHETIC PPG records and labels (1 = AF): pulses (systolic + diastolic Gaussian waves) at
    beat times from a regular rhythm with respiratory modulation (sinus) or i.i.d. irregular
    intervals with interval-dependent pulse amplitude (AF); baseline wander and noise on both."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    for i in range(2 * n_per_class):
        af = i % 2
        hr = rng.uniform(60, 110) if af else rng.uniform(55, 95)
        mean_rr = 60.0 / hr
        tb = -rng.uniform(0, mean_rr)
        resp_hz, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
        beats = af_or_sinus_beats(af, mean_rr, tb, seconds, resp_hz, resp_phase, rng)
        x = _ppg_from_beats(beats, mean_rr, t, seconds, resp_hz, resp_phase, rng)
        records.append(_ppg_record(x, fs_hz, f"synthetic-ppg-{i}"))
        labels.append(af)
    return records, np.array(labels)


# the six classes of ``synthetic_rhythm_ppg`` (label = index) and their sinus / mean rate ranges (bpm):
# the four rhythm classes share 55-100 bpm so that rate alone separates only brady- and tachycardia
PPG_RHYTHMS = ("sinus", "AF", "ectopy", "bigeminy", "bradycardia", "tachycardia")
PPG_RHYTHM_BPM = ((55, 100), (55, 100), (55, 100), (55, 100), (38, 55), (105, 150))


def rhythm_ppg_beats(label: int, seconds: float, rng):
    """Beat times of one record of class ``label`` (see :data:`PPG_RHYTHMS`):
    ``(beats [(time_s, preceding interval_s), ...], mean_rr_s, resp_hz, resp_phase)``.

    Sinus, brady- and tachycardia: respiratory sinus arrhythmia (2-8 % of the interval; 1-4 % for
    tachycardia) plus 2 % jitter. AF: i.i.d. intervals, CV 6-14 %. Ectopy: sinus with 10-25 % of the
    beats premature (coupling 55-75 % of the sinus interval) followed by a full compensatory pause
    (premature + pause = two sinus intervals). Bigeminy: every sinus beat followed by a premature beat
    (fixed coupling 55-75 % per record) and its compensatory pause, so intervals alternate short-long.
    Every class draws the same parameters in the same order (fixed number of draws before the beats)."""
    mean_rr = 60.0 / rng.uniform(*PPG_RHYTHM_BPM[label])
    resp_hz, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
    rsa = rng.uniform(0.01, 0.04) if label == 5 else rng.uniform(0.02, 0.08)
    cv, frac, coupling = rng.uniform(0.06, 0.14), rng.uniform(0.10, 0.25), rng.uniform(0.55, 0.75)
    beats, tb = [], -rng.uniform(0, mean_rr)
    while tb < seconds + 1:
        if label == 1:
            rr = mean_rr * (1 + rng.normal(0, cv))
        else:
            rr = mean_rr * (1 + rsa * np.sin(2 * np.pi * resp_hz * tb + resp_phase) + rng.normal(0, 0.02))
            # ectopy: a premature beat in a fraction q of the sinus cycles is frac = q / (1 + q) of all beats
            c = None
            if label == 2 and rng.random() < frac / (1 - frac):
                c = rng.uniform(0.55, 0.75)
            elif label == 3:
                c = coupling
            if c is not None:
                beats.append((tb + c * rr, c * rr))
                tb, rr = tb + c * rr, (2 - c) * rr
        rr = max(rr, 0.3)
        tb += rr
        beats.append((tb, rr))
    return beats, mean_rr, resp_hz, resp_phase


def synthetic_rhythm_ppg(n_per_class: int = 30, seconds: float = 30.0, fs_hz: float = 100.0, seed: int = 5000):
    """SYNTHETIC 6-class PPG rhythm records and labels 0..5 (:data:`PPG_RHYTHMS`: sinus, AF, ectopy,
    bigeminy, bradycardia, tachycardia; beat times from :func:`rhythm_ppg_beats`), rendered by the pulse
    model of :func:`synthetic_af_ppg` (the same per-record shape, noise and motion draws). Record ``i``
    has label ``i % 6``; one generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    records, labels = [], []
    for i in range(len(PPG_RHYTHMS) * n_per_class):
        label = i % len(PPG_RHYTHMS)
        beats, mean_rr, resp_hz, resp_phase = rhythm_ppg_beats(label, seconds, rng)
        x = _ppg_from_beats(beats, mean_rr, t, seconds, resp_hz, resp_phase, rng)
        records.append(_ppg_record(x, fs_hz, f"synthetic-ppg-rhythm-{i}"))
        labels.append(label)
    return records, np.array(labels)


def synthetic_rhythm_ecg(n_per_class: int = 40, seconds: float = 30.0, fs_hz: float = 250.0, seed: int = 2000):
    """SYNTHETIC single-lead ECG records and labels (1 = AF) that differ in rhythm only: the same
    Gaussian QRS-T beat model (biosig.synthetic_af.ecg_from_beats) and the same random f-wave level
    (0-0.04 mV) in both classes; beat times from a regular rhythm with respiratory sinus arrhythmia
    and occasional premature beats (sinus) or i.i.d. irregular intervals (AF, CV 6-14 %); baseline
    wander and noise on both. The model-selection task of issue 14 (never CinC 2017)."""
    from biosig.record import Record
    from biosig.synthetic_af import ecg_from_beats
    rng = np.random.default_rng(seed)
    records, labels = [], []
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    for i in range(2 * n_per_class):
        af = i % 2
        mean_rr = 60.0 / (rng.uniform(60, 110) if af else rng.uniform(55, 95))
        resp_hz, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
        beats = [b for b, _ in af_or_sinus_beats(af, mean_rr, -rng.uniform(0, mean_rr) - 1.0, seconds,
                                                  resp_hz, resp_phase, rng)]
        x = ecg_from_beats(np.asarray(beats), n, fs_hz, 1, rng, fwave_mv=rng.uniform(0.0, 0.04))[0]
        x = x * rng.uniform(0.6, 1.6) + rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * resp_hz * t + resp_phase)
        x = x + rng.normal(0, rng.uniform(0.01, 0.06), n)
        records.append(Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("ECG",)))
        labels.append(af)
    return records, np.asarray(labels)


def synthetic_atrial_ecg(n_per_class: int = 40, seconds: float = 30.0, fs_hz: float = 250.0, seed: int = 3000):
    """SYNTHETIC single-lead ECG records and labels (1 = AF) whose RR series come from the SAME
    irregular model (i.i.d. intervals, CV 5-25 %, 0-30 % premature beats; encoders.data.atrial_rhythm_beats)
    and differ in atrial activity only: AF = no P waves + f-waves (0-0.10 mV), rest = a P wave
    before every beat (irregular non-AF rhythm: sinus arrhythmia, frequent premature atrial beats).
    HRV cannot separate them; an embedding that encodes atrial activity can. Seeds ``seed + i``,
    not used in pretraining (those are 20_000+); model selection of the issue-14 fourth round."""
    from biosig.record import Record
    from biosig.synthetic_af import ecg_from_beats
    from encoders.data import atrial_rhythm_beats
    n = int(seconds * fs_hz)
    t = np.arange(n) / fs_hz
    records, labels = [], []
    for i in range(2 * n_per_class):
        af = 1 - i % 2
        rng = np.random.default_rng(seed + i)
        beats, opts = atrial_rhythm_beats("irregular-no-P" if af else "irregular+P", seconds, rng)
        x = ecg_from_beats(beats, n, fs_hz, 1, rng, **opts)[0]
        x = x * rng.uniform(0.6, 1.6) + rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t)
        x = x + rng.normal(0, rng.uniform(0.01, 0.06), n)
        records.append(Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("ECG",)))
        labels.append(af)
    return records, np.asarray(labels)


def synthetic_lung_sounds(n_per_class: int = 60, seconds: float = 15.0, seed: int = 600_000):
    """SYNTHETIC auscultation records and labels (1 = any adventitious sound: wheeze, rhonchus,
    fine or coarse crackles), the synthetic analogue of normal vs disease lung sounds. Records of
    :mod:`biosig.synthetic_lung` (``kind="auscultation"``, 16 kHz) from seeds ``seed`` upward, taken
    in order until each class has ``n_per_class``. The SAME generator as audio-tiny's auscultation
    pretraining records (seeds 50_000+) and audio_pretext's held-out ones (550_000+), on other seeds:
    an in-domain check, not evidence about real lung sounds."""
    from biosig.synthetic import simulate
    records, labels, counts = [], [], [0, 0]
    s = seed
    while min(counts) < n_per_class:
        rec = simulate("audio", seconds, seed=s, kind="auscultation")
        s += 1
        y = int(bool(rec.metadata["truth"]["adventitious"]))
        if counts[y] >= n_per_class:
            continue
        counts[y] += 1
        records.append(rec)
        labels.append(y)
    return records, np.asarray(labels)
