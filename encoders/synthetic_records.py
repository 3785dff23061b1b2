"""Synthetic pretraining records: simulated recordings (biosig.synthetic) for ``pretrain``, each
yielded as ``(source, Record)`` with the source ``synthetic:<generator>:<seed>``.

Record sources of :mod:`encoders.data` (which re-exports every name here), beside its
:func:`encoders.data.file_records`: ECG rhythms (:func:`synthetic_rhythm_records`) and atrial activity
(:func:`synthetic_atrial_records`), PPG rhythms, forced expirations and auscultation sounds. No label
is stored or used.
"""
from __future__ import annotations

import numpy as np

from encoders.errors import EncoderError


# Simulator settings of the synthetic pretraining records per modality: audio pretrains on scenes
# (varied coughs and breaths through random rooms, noise floors and recording channels, see
# biosig.synthetic_sounds) so that the recording channel is not what the embedding keeps.
SYNTHETIC_KW = {"audio": {"kind": "scene"}}


def synthetic_records(modality: str, n_records: int, seconds: float, seed: int = 0):
    """``n_records`` simulated records (biosig.synthetic), seeds ``seed .. seed + n - 1``."""
    from biosig.synthetic import simulate
    kw = SYNTHETIC_KW.get(modality, {})
    for i in range(n_records):
        yield f"synthetic:{modality}:{seed + i}", simulate(modality, seconds, seed=seed + i, **kw)


def synthetic_rhythm_records(n_records: int, seconds: float, seed: int = 0, fs_hz: float = 250.0,
                             atrial: bool = False):
    """``n_records`` SYNTHETIC single-lead ECG records with one beat model (QRS-T complexes of
    :func:`biosig.synthetic_af.ecg_from_beats`) and a continuum of rhythms: half regular (sinus-like:
    respiratory modulation of 0-8 %, 0.5-3 % beat-to-beat jitter, 0-8 % premature beats), half
    irregular (i.i.d. intervals with a coefficient of variation of 5-25 %); heart rate 50-130 bpm,
    baseline wander, noise and f-wave level drawn per record. Rhythm irregularity then varies
    independently of beat morphology, so a pretext target on rhythm cannot be met by recognising
    the recording. No label is stored or used. Seeds ``seed + 10_000 + i``.

    ``atrial=True`` (issue 14, fourth round) gives :func:`synthetic_atrial_records` instead: atrial
    activity (P waves or f-waves) varying independently of the rhythm."""
    if atrial:
        yield from synthetic_atrial_records(n_records, seconds, seed, fs_hz)
        return
    from biosig.record import Record
    from biosig.synthetic_af import ecg_from_beats
    n = int(round(seconds * fs_hz))
    t = np.arange(n) / fs_hz
    for i in range(n_records):
        rng = np.random.default_rng([seed, 10_000 + i])
        mean_rr = 60.0 / rng.uniform(50, 130)
        irregular = i % 2 == 1
        cv, jitter, resp = rng.uniform(0.05, 0.25), rng.uniform(0.005, 0.03), rng.uniform(0.0, 0.08)
        p_ectopic = rng.uniform(0.0, 0.08)
        resp_hz, phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
        beats = _beat_times(rng, seconds, mean_rr, irregular, cv, resp, resp_hz, phase, jitter, p_ectopic,
                            ectopic_when_irregular=False)
        x = ecg_from_beats(beats, n, fs_hz, 1, rng, fwave_mv=rng.uniform(0.0, 0.05))[0]
        x = x * rng.uniform(0.6, 1.6) + rng.uniform(0.0, 0.3) * np.sin(2 * np.pi * resp_hz * t + phase)
        x = x + rng.normal(0, rng.uniform(0.01, 0.06), n)
        yield (f"synthetic:ecg-rhythm:{seed + 10_000 + i}",
               Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("ECG",)))


ATRIAL_KINDS = ("regular+P", "irregular-no-P", "irregular+P", "regular-no-P")


def atrial_rhythm_beats(kind: str, seconds: float, rng: np.random.Generator):
    """Beat times (s, from about -1 s to ``seconds`` + 1.5 s) and ECG options for one record of
    ``kind`` (:data:`ATRIAL_KINDS`): regular = sinus-like (respiratory modulation 0-8 %, jitter
    0.5-3 %, 0-8 % premature beats with a pause); irregular = i.i.d. intervals (CV 5-25 %) plus 0-30 %
    premature beats. "+P": a P wave before every beat (0.05-0.25 mV, PR 0.12-0.20 s, 10 % inverted),
    no f-waves; "-no-P": no P waves, f-waves of 0-0.10 mV (AF when irregular; junctional rhythm
    or flutter-like when regular). Returns (beats_s, dict of :func:`ecg_from_beats` keywords)."""
    if kind not in ATRIAL_KINDS:
        raise EncoderError(f"unknown atrial rhythm kind {kind!r}; expected one of {', '.join(ATRIAL_KINDS)}")
    irregular, has_p = kind.startswith("irregular"), kind.endswith("+P")
    mean_rr = 60.0 / rng.uniform(50, 130)
    cv, jitter, resp = rng.uniform(0.05, 0.25), rng.uniform(0.005, 0.03), rng.uniform(0.0, 0.08)
    p_ectopic = rng.uniform(0.0, 0.3) if irregular else rng.uniform(0.0, 0.08)
    resp_hz, phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
    beats = _beat_times(rng, seconds, mean_rr, irregular, cv, resp, resp_hz, phase, jitter, p_ectopic,
                        ectopic_when_irregular=True)
    if has_p:
        sign = -1.0 if rng.random() < 0.1 else 1.0
        opts = dict(fwave_mv=0.0, p_wave_mv=sign * rng.uniform(0.05, 0.25), pr_s=rng.uniform(0.12, 0.20),
                    p_width_s=rng.uniform(0.02, 0.035))
    else:
        opts = dict(fwave_mv=rng.uniform(0.0, 0.10))
    return beats, opts


def _beat_times(rng, seconds, mean_rr, irregular, cv, resp, resp_hz, phase, jitter, p_ectopic,
                ectopic_when_irregular: bool) -> np.ndarray:
    """Beat times (s) from about -1 s to ``seconds`` + 1.5 s: i.i.d. intervals (``irregular``) or
    sinus-like ones with respiratory modulation and jitter; a premature beat (0.7 RR, then a 1.3 RR
    pause) with probability ``p_ectopic`` - in irregular rhythms too only when
    ``ectopic_when_irregular`` (the random draws, and so every record, stay as they were)."""
    beats, tb = [], -rng.uniform(0, mean_rr) - 1.0
    while tb < seconds + 1.5:
        if irregular:
            rr = mean_rr * (1 + cv * rng.standard_normal())
        else:
            rr = mean_rr * (1 + resp * np.sin(2 * np.pi * resp_hz * tb + phase) + jitter * rng.standard_normal())
        if (ectopic_when_irregular or not irregular) and rng.random() < p_ectopic:
            beats.append(tb + 0.7 * rr)
            tb, rr = tb + 0.7 * rr, 1.3 * rr
        tb += float(np.clip(rr, 0.3, 2.0))
        beats.append(tb)
    return np.asarray(beats)


def synthetic_atrial_records(n_records: int, seconds: float, seed: int = 0, fs_hz: float = 250.0):
    """``n_records`` SYNTHETIC single-lead ECG records, the four kinds of :data:`ATRIAL_KINDS` in
    turn (record i is kind i % 4): RR irregularity and atrial activity (P waves vs none + f-waves)
    vary independently, so an embedding trained on them cannot infer "no P wave" from an irregular
    rhythm - what HRV already has - and has to look at the atrial segment. Same QRS-T beat model
    as :func:`synthetic_rhythm_records`, heart rate 50-130 bpm, baseline wander and noise drawn per
    record. No label is stored or used. Seeds ``seed + 20_000 + i``."""
    from biosig.record import Record
    from biosig.synthetic_af import ecg_from_beats
    n = int(round(seconds * fs_hz))
    t = np.arange(n) / fs_hz
    for i in range(n_records):
        rng = np.random.default_rng([seed, 20_000 + i])
        beats, opts = atrial_rhythm_beats(ATRIAL_KINDS[i % 4], seconds, rng)
        x = ecg_from_beats(beats, n, fs_hz, 1, rng, **opts)[0]
        x = x * rng.uniform(0.6, 1.6) + rng.uniform(0.0, 0.3) * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t
                                                                         + rng.uniform(0, 2 * np.pi))
        x = x + rng.normal(0, rng.uniform(0.01, 0.06), n)
        yield (f"synthetic:ecg-atrial:{seed + 20_000 + i}",
               Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("ECG",)))


def synthetic_pulse_records(n_records: int, seconds: float, seed: int = 0, fs_hz: float = 125.0,
                            arrhythmia: bool = False):
    """``n_records`` SYNTHETIC single-channel PPG records for pretraining (issue 14, ppg-tiny): the five
    rhythm kinds of :data:`biosig.synthetic_pulse.PULSE_KINDS` in turn (sinus with respiratory sinus
    arrhythmia, sinus with premature beats, AF-like irregularly irregular, bigeminy, brady/tachy),
    log-normal pulse shapes, amplitude laws, wander, noise and motion artefacts drawn per record
    (biosig/synthetic_pulse.py; independent of eval_probe's ``synthetic_af_ppg``). No label is stored
    or used. Records from ``default_rng([seed, 30_000 + i])``. With ``arrhythmia`` the kinds are
    :data:`biosig.synthetic_pulse.ARRHYTHMIA_PULSE_KINDS` (those five plus premature atrial and
    ventricular beats, SVT and VT), records from ``default_rng([seed, 40_000 + i])``."""
    from biosig.synthetic_pulse import ARRHYTHMIA_PULSE_KINDS, PULSE_KINDS, pulse_records
    kinds, salt = (ARRHYTHMIA_PULSE_KINDS, 40_000) if arrhythmia else (PULSE_KINDS, 30_000)
    prefix = "synthetic:ppg-arrhythmia" if arrhythmia else "synthetic:ppg-rhythm"
    for name, rec, _kind in pulse_records(n_records, seconds, seed, fs_hz, salt, kinds, prefix):
        yield name, rec


def synthetic_blow_records(n_records: int, seconds: float, seed: int = 0):
    """``n_records`` SYNTHETIC forced expirations for pretraining spirogram encoders: the patterns of
    :data:`biosig.synthetic.SPIRO_PATTERNS` in turn, every other blow with one acquisition artefact of
    :data:`biosig.synthetic.SPIRO_ARTEFACTS` in turn (cough, variable effort, early stop, slow start;
    the two-compartment model of :func:`biosig.synthetic.simulate_spiro` on a warped clock), so the
    curve's shape varies beyond its pattern. No label is stored or used. Seeds ``seed + 40_000 + i``."""
    from biosig.synthetic import SPIRO_ARTEFACTS, SPIRO_PATTERNS, simulate_spiro
    for i in range(n_records):
        pattern = SPIRO_PATTERNS[i % len(SPIRO_PATTERNS)]
        artefact = SPIRO_ARTEFACTS[(i // 2) % len(SPIRO_ARTEFACTS)] if i % 2 else None
        s = seed + 40_000 + i
        yield f"synthetic:spiro-blow:{s}", simulate_spiro(seconds, seed=s, fs_hz=100.0, pattern=pattern,
                                                          artefact=artefact)


def synthetic_lung_records(n_records: int, seconds: float, seed: int = 0):
    """``n_records`` SYNTHETIC auscultation records for pretraining audio encoders: lung sounds
    through a stethoscope (breath sounds, wheezes, rhonchi, fine and coarse crackles, heart sounds;
    :mod:`biosig.synthetic_lung`). No label is stored or used. Seeds ``seed + 50_000 + i``."""
    from biosig.synthetic import simulate
    for i in range(n_records):
        s = seed + 50_000 + i
        yield f"synthetic:audio-lung:{s}", simulate("audio", seconds, seed=s, kind="auscultation")
