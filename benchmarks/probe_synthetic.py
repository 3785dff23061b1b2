"""The SYNTHETIC tasks of ``eval_probe.py`` (ECG and PPG): seeded generators of labelled records,
independent of the pretraining generators of ``biosig.synthetic_pulse`` and ``encoders.data`` except
where a docstring says otherwise (``synthetic_atrial_ecg`` shares the beat model: in-domain, model
selection only). The spirogram tasks are in ``spiro_tasks.py``; the real sets in ``probe_data.py``."""
from __future__ import annotations

from typing import NamedTuple

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


# the six classes of ``synthetic_arrhythmia_ppg`` (label = index; Liu et al. 2022 style) and their
# sinus / mean rate ranges (bpm): sinus, PVC and PAC share 55-110 bpm, so rate alone separates only
# the tachycardias (and VT from SVT only in part: 150-200 bpm is common to both)
PPG_ARRHYTHMIAS = ("sinus", "PVC", "PAC", "VT", "SVT", "AF")
PPG_ARRHYTHMIA_BPM = ((55, 110), (55, 110), (55, 110), (120, 200), (150, 220), (70, 150))
MIN_INTERVAL_S = 0.27   # floor of every interval of synthetic_arrhythmia_ppg (about 220 bpm)
NORMAL, PREMATURE, POST_PAUSE = 0, 1, 2   # ArrhythmiaBeats.kind


class ArrhythmiaBeats(NamedTuple):
    """The beats of one ``synthetic_arrhythmia_ppg`` record (arrays of one value per beat)."""
    times: np.ndarray      # pulse times (s); the first ones before 0 (the record starts mid-rhythm)
    rr: np.ndarray         # interval preceding each beat (s), floored at MIN_INTERVAL_S
    cycle_rr: np.ndarray   # sinus interval of the cycle (PVC / PAC: the one the premature beat and its
    #                        pause replace); VT / SVT / AF: the beat's own interval
    amp: np.ndarray        # pulse amplitude factor (1: a sinus beat after an interval of mean length)
    width: np.ndarray      # systolic wave width multiplier
    dia: np.ndarray        # diastolic wave amplitude multiplier
    kind: np.ndarray       # NORMAL, PREMATURE (PVC / PAC) or POST_PAUSE (the beat after its pause)
    mean_rr: float         # mean sinus (PVC, PAC) or mean (VT, SVT, AF) interval (s)
    resp_hz: float
    resp_phase: float


def arrhythmia_ppg_beats(label: int, seconds: float, rng) -> ArrhythmiaBeats:
    """The beats of one record of class ``label`` (:data:`PPG_ARRHYTHMIAS`) from about 1.5 s before 0
    until past ``seconds + 1``. Textbook physiology, nothing fitted to real data:

    * sinus: 55-110 bpm, respiratory sinus arrhythmia 2-8 % plus 2 % jitter; pulse amplitude by the
      filling law ``min(rr / mean_rr, 1.4) ** 1.5`` (shorter filling time, smaller pulse).
    * PVC: sinus with premature ventricular beats (a fraction 10-30 % of the beats, and at least one
      inside ``[0, seconds)``), coupling 0.45-0.70 of the sinus interval and a FULL compensatory pause
      (premature + following interval = 2 sinus intervals); the PVC's pulse is the filling law times
      0.1-0.5 (one PVC in five not perfused: 0.05, a pulse deficit), its systolic wave 1.2-1.6 x broader;
      the beat after the pause potentiated (filling law x 1.1-1.3).
    * PAC: sinus with premature atrial beats (10-30 %, at least one), coupling 0.60-0.85, NON-compensatory
      pause (following interval = sinus interval x 1.0-1.12: the sinus node is reset); filling law only,
      normal shape.
    * VT: 120-200 bpm, interval CV 1-4 %; amplitude 0.25-0.6 of sinus, varying 10-30 % (SD) from beat to
      beat (AV dissociation: half with the phase of the atria beating at 60-100 bpm, half at random);
      systolic wave 1.3-1.8 x broader, diastolic wave 0-0.3 of normal.
    * SVT: 150-220 bpm, interval CV 0.3-1.5 %, amplitude 0.5-0.8, normal shape.
    * AF: 70-150 bpm mean rate, i.i.d. intervals (CV 8-25 %), filling law.

    Every class draws the same record parameters in the same order before its beats."""
    lo, hi = PPG_ARRHYTHMIA_BPM[label]
    mean_rr = 60.0 / rng.uniform(lo, hi)
    resp_hz, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
    rsa, frac = rng.uniform(0.02, 0.08), rng.uniform(0.10, 0.30)
    t_force = rng.uniform(0.5, max(seconds - 3.5, 0.6))   # PVC / PAC: the first cycle after it has one
    cv = rng.uniform(*{3: (0.01, 0.04), 4: (0.003, 0.015), 5: (0.08, 0.25)}.get(label, (0.0, 0.0)))
    vt_level, vt_var, vt_width, vt_dia = (rng.uniform(0.25, 0.6), rng.uniform(0.10, 0.30), rng.uniform(1.3, 1.8),
                                          rng.uniform(0.0, 0.3))
    atrial_rr, atrial_phase = 60.0 / rng.uniform(60, 100), rng.uniform(0, 2 * np.pi)
    svt_level = rng.uniform(0.5, 0.8)

    def fill(rr):   # shorter filling time, smaller pulse (every rhythm)
        return min(rr / mean_rr, 1.4) ** 1.5

    rows = []       # (time, rr, cycle_rr, amp, width, dia, kind)
    tb = -1.5 - rng.uniform(0, mean_rr)   # the record starts mid-rhythm
    ectopic_in_record = label not in (1, 2)
    while tb < seconds + 1:
        if label in (0, 1, 2):
            rr = mean_rr * (1 + rsa * np.sin(2 * np.pi * resp_hz * tb + resp_phase) + rng.normal(0, 0.02))
            # a premature beat in a fraction q of the sinus cycles is frac = q / (1 + q) of all beats
            premature = label in (1, 2) and (rng.random() < frac / (1 - frac)
                                             or (not ectopic_in_record and tb >= t_force))
            if premature and label == 1:     # PVC, full compensatory pause
                pre = max(rng.uniform(0.45, 0.70) * rr, MIN_INTERVAL_S)
                post = 2 * rr - pre
                extra = rng.uniform(0.1, 0.5) if rng.random() >= 0.2 else 0.05
                rows.append((tb + pre, pre, rr, fill(pre) * extra, rng.uniform(1.2, 1.6), 1.0, PREMATURE))
                rows.append((tb + pre + post, post, rr, fill(post) * rng.uniform(1.1, 1.3), 1.0, 1.0, POST_PAUSE))
            elif premature:                  # PAC, sinus node reset: non-compensatory pause
                pre = max(rng.uniform(0.60, 0.85) * rr, MIN_INTERVAL_S)
                post = rr * rng.uniform(1.0, 1.12)
                rows.append((tb + pre, pre, rr, fill(pre), 1.0, 1.0, PREMATURE))
                rows.append((tb + pre + post, post, rr, fill(post), 1.0, 1.0, POST_PAUSE))
            if premature:
                ectopic_in_record = ectopic_in_record or 0 <= tb + pre < seconds
                tb += pre + post
                continue
            rr = max(rr, MIN_INTERVAL_S)
            amp, width, dia = fill(rr), 1.0, 1.0
        else:
            rr = max(mean_rr * (1 + rng.normal(0, cv)), MIN_INTERVAL_S)
            if label == 3:     # VT: the atrial contribution varies with the phase of the dissociated atria
                z = (np.sqrt(2) * np.cos(2 * np.pi * (tb + rr) / atrial_rr + atrial_phase) + rng.normal()) / np.sqrt(2)
                amp = vt_level * fill(rr) * max(1 + vt_var * z, 0.05)
                width, dia = vt_width, vt_dia
            else:
                amp, width, dia = (svt_level if label == 4 else 1.0) * fill(rr), 1.0, 1.0
        tb += rr
        rows.append((tb, rr, rr, amp, width, dia, NORMAL))
    cols = list(zip(*rows))
    return ArrhythmiaBeats(*(np.array(c, dtype=float) for c in cols[:6]), np.array(cols[6], dtype=int),
                           mean_rr, resp_hz, resp_phase)


def _arrhythmia_ppg_trace(beats: ArrhythmiaBeats, t: np.ndarray, seconds: float, rng) -> np.ndarray:
    """One SYNTHETIC PPG trace (float64) of ``beats``: per beat a systolic + diastolic Gaussian wave
    (random widths, delay and ratio per record, compressed at fast rates: shorter ejection) scaled by
    the beat's amplitude, width and diastolic factors; plus respiratory baseline wander, white noise,
    occasional 0.5-2 s motion bursts and a random overall gain and offset."""
    w1, w2 = rng.uniform(0.07, 0.11), rng.uniform(0.11, 0.17)
    d2, a2 = rng.uniform(0.24, 0.34), rng.uniform(0.25, 0.6)
    s = min(1.0, beats.mean_rr / 0.8) ** 0.5
    x = np.zeros(len(t))
    for tb, amp, width, dia in zip(beats.times, beats.amp, beats.width, beats.dia):
        x += amp * (np.exp(-0.5 * ((t - tb) / (w1 * s * width)) ** 2)
                    + a2 * dia * np.exp(-0.5 * ((t - tb - d2 * s) / (w2 * s)) ** 2))
    x += rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * beats.resp_hz * t + beats.resp_phase)
    x += rng.normal(0, rng.uniform(0.02, 0.15), len(t))
    for _ in range(rng.poisson(0.4 * seconds / 10.0)):   # motion: low-frequency random walk
        dur = rng.uniform(0.5, 2.0)
        a = rng.uniform(0, max(seconds - dur, 0.0))
        sel = (t >= a) & (t < a + dur)
        x[sel] += np.cumsum(rng.normal(0, 0.08, sel.sum()))
    return x * np.exp(rng.uniform(np.log(0.3), np.log(3.0))) + rng.normal(0, 1.0)


def arrhythmia_ppg_signal(label: int, seconds: float, fs_hz: float, rng) -> tuple[np.ndarray, ArrhythmiaBeats]:
    """One record of :func:`synthetic_arrhythmia_ppg` before the Record: (trace float64, its beats)."""
    beats = arrhythmia_ppg_beats(label, seconds, rng)
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    return _arrhythmia_ppg_trace(beats, t, seconds, rng), beats


def synthetic_arrhythmia_ppg(n_per_class: int = 40, seconds: float = 10.0, fs_hz: float = 100.0, seed: int = 7000):
    """SYNTHETIC 6-class PPG arrhythmia records and labels 0..5 (:data:`PPG_ARRHYTHMIAS`: sinus rhythm,
    premature ventricular contractions (PVC), premature atrial contractions (PAC), ventricular
    tachycardia (VT), supraventricular tachycardia (SVT), atrial fibrillation (AF)): the synthetic
    counterpart of the owners' real 6-rhythm PPG task (Liu et al. 2022 style: 10 s at 100 Hz). Beat
    times and per-beat pulse factors from :func:`arrhythmia_ppg_beats` (textbook physiology), rendered
    by its own pulse model (:func:`_arrhythmia_ppg_trace`); independent of the pretraining generator
    (``biosig.synthetic_pulse``) and of the other PPG tasks here. Record ``i`` has label ``i % 6``; one
    generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    records, labels = [], []
    for i in range(len(PPG_ARRHYTHMIAS) * n_per_class):
        label = i % len(PPG_ARRHYTHMIAS)
        x, _ = arrhythmia_ppg_signal(label, seconds, fs_hz, rng)
        records.append(_ppg_record(x, fs_hz, f"synthetic-ppg-arrhythmia-{i}"))
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
