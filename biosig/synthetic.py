"""Seeded synthetic signals for every modality: demos, tests and pretraining.

:func:`simulate` returns a :class:`~biosig.record.Record` whose ``metadata["truth"]`` holds the
parameters that generated it (heart rate, respiratory rate, pattern, ...). The same ``seed`` and
arguments give bit-identical samples. Unset physiological parameters (rates, noise levels) are
drawn from the seed within normal adult ranges, so different seeds vary.

Generators
----------
ecg : ECGSYN (McSharry et al. 2003) as NeuroKit2 implements it, integrated at tighter tolerances
    (:mod:`biosig.synthetic_ecgsyn`: NeuroKit2's own tolerances let 8 % of 60 s traces glitch,
    and which ones depends on the machine), 1 or 2 leads (``II``, ``V5``-like morphology on the
    same beats), mV, plus white noise and baseline wander. ECGSYN's cost grows faster than the
    duration, so signals over :data:`ECGSYN_SEGMENT_S` are stitched from segments cut at R peaks
    (the interval across a seam is a real RR interval of the earlier segment). A process keeps its
    last ECGSYN traces (:data:`biosig.synthetic_ecgsyn.CACHED_TRACES`): the same record asked for
    again (tests, pretraining) costs a copy.
ppg : NeuroKit2 ``ppg_simulate``.
resp : NeuroKit2 ``rsp_simulate`` (breathmetrics model).
audio : breath or cough sounds at 16 kHz (see :mod:`biosig.synthetic_sounds`).
spiro : forced expiration from a two-compartment lung-emptying model, volume in mL at 100 Hz
    (:mod:`biosig.synthetic_mechanics`).
motion : 3 external markers x 3 axes of breathing motion in mm (Lujan cos^2n model with irregular
    period and amplitude, baseline drift and noise) at 10 Hz (:mod:`biosig.synthetic_mechanics`).

Argument checks and the seeded streams are in :mod:`biosig.synthetic_checks`.
"""
from __future__ import annotations

import logging
import numbers
import time

import numpy as np

from biosig.arguments import positive_seconds, sampling_rate, whole_number
from biosig.errors import SignalError
from biosig.modality import MODALITIES, check_modality
from biosig.progress import progress_interval_s
from biosig.record import Record
from biosig.synthetic_checks import HEART_RATE_BPM, RESP_RATE_BPM, SPIRO_MIN_SECONDS, _n, _rng, _value  # noqa: F401
from biosig.synthetic_mechanics import (SPIRO_ARTEFACTS, SPIRO_PATTERNS, simulate_motion,  # noqa: F401 (re-exported)
                                        simulate_spiro, spiro_volume_ml)

log = logging.getLogger(__name__)
#: ECGSYN wave heights and widths of the second lead (``V5``-like) on the same beats as lead II
V5_WAVES = dict(ai=(0.8, -3.0, 22.0, -12.0, 1.1), bi=(0.25, 0.1, 0.12, 0.12, 0.4))

DEFAULT_FS_HZ = {"ecg": 250.0, "ppg": 125.0, "resp": 25.0, "audio": 16000.0, "spiro": 100.0, "motion": 10.0}
ECGSYN_SEGMENT_S = 60.0  # longer ECGs are stitched from ECGSYN segments at R peaks (linear cost)


#: Largest record :func:`simulate` makes (samples per channel): beyond it memory runs out, or the
#: beat generator runs for hours, before anything is written.
MAX_SIMULATE_SAMPLES = 50_000_000


def simulate(modality: str, seconds: float, seed: int = 0, fs_hz: float | None = None, **kw) -> Record:
    """A synthetic record of ``modality`` lasting ``seconds``.

    Parameters
    ----------
    modality : one of ecg, ppg, resp, audio, spiro, motion.
    seconds : duration in s (> 0).
    seed : integer seed; identical arguments give identical output.
    fs_hz : sampling rate; defaults per modality in :data:`DEFAULT_FS_HZ`.
    **kw : modality-specific parameters, e.g. ``heart_rate_bpm``, ``noise_mv``, ``leads`` (ecg);
        ``heart_rate_bpm`` (ppg); ``rhythm="sinus"|"af"`` and ``af_cv`` (af only; ecg, ppg: atrial
        fibrillation, see :mod:`biosig.synthetic_af`); ``resp_rate_bpm`` (resp, motion); ``kind="cough"|"breath"|"scene"|"auscultation"``
        (audio); ``pattern="normal"|"obstructive"|"restrictive"`` and ``artefact=None|"cough"|"effort"|"early-stop"|"slow-start"`` (spiro). Unknown keys raise.
    """
    check_modality(modality)
    if modality not in GENERATORS:
        raise SignalError(f"no simulator for modality {modality!r}; available: {', '.join(GENERATORS)}")
    seconds = positive_seconds(seconds, "seconds")
    fs = sampling_rate(fs_hz) if fs_hz is not None else DEFAULT_FS_HZ[modality]
    from biosig.modality import MIN_FS_HZ
    if fs < MIN_FS_HZ.get(modality, 0.0):   # info, score and serve would not take it for this modality
        raise SignalError(f"fs_hz={fs:g} is below {MIN_FS_HZ[modality]:g} Hz, the lowest rate biosig reads "
                          f"as {modality}: the record would be 'other' to info, score and serve")
    if seconds * fs > MAX_SIMULATE_SAMPLES:
        raise SignalError(f"{seconds:g} s at {fs:g} Hz is {seconds * fs:.3g} samples per channel, more than "
                          f"{MAX_SIMULATE_SAMPLES:,} (about 400 MB each); use a shorter duration or a lower rate")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2 ** 32:
        raise SignalError(f"seed={seed!r} must be an integer from 0 to 2**32 - 1")
    seed = int(seed)
    fn = GENERATORS[modality]
    import inspect

    accepted = [p for p in inspect.signature(fn).parameters if p not in ("seconds", "seed", "fs_hz")]
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise SignalError(f"simulate({modality!r}): unknown parameter(s) {', '.join(unknown)}; "
                          f"accepted: {', '.join(accepted)}")
    rec = fn(seconds=float(seconds), seed=seed, fs_hz=fs, **kw)
    meta = dict(rec.metadata)
    meta.update(synthetic=True, seed=seed)
    return rec.replace(metadata=meta)


MAX_EVENTS_PER_S = 10           # simulate("audio", n_events=...): at most this many events per second


def sinus_heart_rate_bpm(seed: int) -> float:
    """The heart rate :func:`simulate_ecg` draws for ``seed`` in sinus rhythm when none is given.
    A simulated patient's PPG takes it too, so that a bed's ECG and pulse agree."""
    return float(_rng(seed, 1).uniform(55, 100))


RHYTHMS = ("sinus", "af")


def _check_rhythm(rhythm: str, af_cv=None, heart_rate_std_bpm=None):
    """Refuse an unknown ``rhythm`` and a parameter of the other rhythm: ``af_cv`` (the spread of AF's beat
    intervals, default 0.2) in sinus rhythm, or ``heart_rate_std_bpm`` (ECGSYN's sinus variability, default
    1 bpm) in AF, was ignored without a word."""
    if rhythm not in RHYTHMS:
        raise SignalError(f"rhythm={rhythm!r}; accepted: {', '.join(RHYTHMS)}")
    if af_cv is not None and rhythm != "af":
        raise SignalError(f"af_cv={af_cv!r} applies to rhythm=af only (sinus beats do not use it); add rhythm=af "
                          "or leave af_cv out")
    if heart_rate_std_bpm is not None and rhythm == "af":
        raise SignalError(f"heart_rate_std_bpm={heart_rate_std_bpm!r} applies to sinus rhythm only (AF's beat "
                          "intervals spread by af_cv); give af_cv=... instead")


# ---------------------------------------------------------------------------------- ECG, PPG, resp
def simulate_ecg(seconds: float, seed: int, fs_hz: float, heart_rate_bpm: float | None = None,
                 heart_rate_std_bpm: float | None = None, noise_mv: float | None = None, leads: int = 1,
                 baseline_wander_mv: float | None = None, rhythm: str = "sinus", af_cv: float | None = None) -> Record:
    from biosig.synthetic_ecgsyn import ecgsyn as ecgsyn_lead

    rng = _rng(seed, 1)
    _check_rhythm(rhythm, af_cv, heart_rate_std_bpm)
    hr = float(rng.uniform(55, 100)) if heart_rate_bpm is None else _value(heart_rate_bpm, "heart_rate_bpm", *HEART_RATE_BPM)   # sinus_heart_rate_bpm
    if rhythm == "af" and heart_rate_bpm is None:  # uncontrolled AF: ventricular rate 80-130 bpm
        hr = float(_rng(seed, 13).uniform(80, 130))
    noise = float(rng.uniform(0.005, 0.05)) if noise_mv is None else _value(noise_mv, "noise_mv")
    wander = float(rng.uniform(0.0, 0.15)) if baseline_wander_mv is None else _value(baseline_wander_mv, "baseline_wander_mv")
    heart_rate_std_bpm = 1.0 if heart_rate_std_bpm is None else _value(heart_rate_std_bpm, "heart_rate_std_bpm")
    af_cv = 0.2 if af_cv is None else _value(af_cv, "af_cv", 0.0, 0.9)
    if isinstance(leads, bool) or leads not in (1, 2) or not isinstance(leads, numbers.Integral):   # 2.0 was a TypeError
        raise SignalError(f"leads={leads!r}; accepted: 1 or 2")
    n = _n(seconds, fs_hz)
    # the same random_state gives the same RR series, so both leads share their beats
    morphologies = [dict(), V5_WAVES][:leads]
    # ECGSYN runs at a whole rate: at another fs_hz, at the next whole rate and then a spline to
    # fs_hz (it ran at round(fs_hz) labelled fs_hz: 62.5 Hz read 0.8 % fast, 50.4 Hz 0.8 %)
    sr_hz = float(_whole_rate(fs_hz))
    n_sr = n if sr_hz == fs_hz else int(np.ceil(n * sr_hz / fs_hz)) + 1

    def ecgsyn(length: int, random_state: int) -> np.ndarray:
        rows = []
        for extra in morphologies:
            rows.append(ecgsyn_lead(length / sr_hz + 2.0, length, int(round(sr_hz)), hr, heart_rate_std_bpm, random_state,
                                    **extra))
        return np.stack(rows)

    seg_n = int(ECGSYN_SEGMENT_S * sr_hz)
    truth = {}
    if rhythm == "af":  # irregular beats, no P waves, f-waves (biosig.synthetic_af)
        from biosig.synthetic_af import af_beat_times, ecg_from_beats, truth_heart_rate_bpm
        beats = af_beat_times(n / fs_hz, hr, af_cv, _rng(seed, 11))
        x = ecg_from_beats(beats, n, fs_hz, leads, _rng(seed, 12))
        truth = {"heart_rate_bpm": truth_heart_rate_bpm(beats, n / fs_hz), "target_heart_rate_bpm": hr,
                 "af_cv": float(af_cv), "model": "af-gaussian-beats", "beats_s": beats.tolist()}
    elif n_sr <= seg_n:
        x = ecgsyn(n_sr, seed)
    else:  # ECGSYN's cost grows faster than its length: stitch segments at R peaks
        from biosig.quality import detect_beats

        pieces, total, k = [], 0, 0
        every_s, t_log = progress_interval_s(), time.monotonic()
        while total < n_sr:
            if time.monotonic() - t_log >= every_s:
                t_log = time.monotonic()
                log.info("ecg: %.0f of %.0f s simulated", total / sr_hz, n_sr / sr_hz)
            seg = ecgsyn(seg_n, int(np.random.SeedSequence([seed, 7, k]).generate_state(1)[0]))
            beats, _ = detect_beats(seg[0], sr_hz, "ecg")
            r = max(1, int(0.03 * sr_hz))  # cut exactly at the apex of the raw R wave
            beats = [max(0, q - r) + int(np.argmax(seg[0, max(0, q - r):q + r])) for q in beats]
            # interior beats only: the first and last may be cut by the segment's edges
            a, b = (0 if k == 0 else int(beats[1]), int(beats[-2])) if len(beats) >= 4 else (0, seg_n)
            # ECGSYN rescales each run to its own min/max: match baseline and range to the first
            lo, mid, hi = np.percentile(seg, [0.5, 50, 99.5], axis=1, keepdims=True)
            if k == 0:
                ref_mid, ref_range = mid, hi - lo
            seg = ref_mid + (seg - mid) * ref_range / np.maximum(hi - lo, 1e-9)
            pieces.append(seg[:, a:b])
            total, k = total + (b - a), k + 1
        x = np.concatenate(pieces, axis=1)[:, :n_sr]
    if rhythm != "af" and sr_hz != fs_hz:
        x = np.stack([_at_rate(row, int(sr_hz), fs_hz, n) for row in x])
    t = np.arange(n) / fs_hz
    x += wander * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t + rng.uniform(0, 2 * np.pi))
    x += rng.normal(0.0, noise, size=x.shape)
    return Record(samples=x.astype(np.float32), fs_hz=fs_hz, channels=("II", "V5")[:leads],
                  units=("mV",) * leads, modality="ecg",
                  metadata={"truth": {"heart_rate_bpm": hr, "noise_mv": noise, "baseline_wander_mv": wander,
                                      "model": "ecgsyn", "rhythm": rhythm, **truth}})


def _whole_rate(fs_hz: float) -> int:
    """The whole rate in Hz NeuroKit2's simulators run at for a record at ``fs_hz``: ``fs_hz`` itself
    when whole, else the next whole rate above (:func:`_at_rate` takes the samples to ``fs_hz``)."""
    return int(fs_hz) if float(fs_hz).is_integer() else int(np.ceil(fs_hz))


def _at_rate(x: np.ndarray, sr: int, fs_hz: float, n: int) -> np.ndarray:
    """The first ``n`` samples at ``fs_hz`` of ``x`` simulated at the whole rate ``sr``: ``x`` itself
    when the rates are equal, else a cubic spline through ``x`` at ``i / fs_hz``. NeuroKit2 takes a
    whole ``sampling_rate``; its samples at ``round(fs_hz)`` labelled ``fs_hz`` put every rate off by
    ``fs_hz / round(fs_hz)`` (a PPG at 62.5 Hz read 0.8 % fast, a RESP at 1.4 Hz 40 %)."""
    if sr == fs_hz:
        return x[:n]
    from scipy.interpolate import CubicSpline

    t = np.arange(n) / fs_hz
    if len(x) < 2 or (len(x) - 1) / sr < t[-1]:
        raise SignalError(f"simulated {len(x)} samples at {sr} Hz, too few for {n} at {fs_hz:g} Hz")
    return CubicSpline(np.arange(len(x)) / sr, x)(t)


#: NeuroKit2's breathmetrics model fails on fewer than about two breaths (5 s failed for 5 of 40
#: seeds, 2 s for all): shorter records are the start of a 30 s simulation
RESP_MIN_SIMULATED_S = 30.0
#: NeuroKit2's PPG model fails on under about two beats (1 s + the 1 s margin failed for 2 of 8 seeds)
PPG_MIN_SIMULATED_S = 5.0


def simulate_ppg(seconds: float, seed: int, fs_hz: float, heart_rate_bpm: float | None = None,
                 motion_amplitude: float | None = None, rhythm: str = "sinus", af_cv: float | None = None) -> Record:
    import neurokit2 as nk

    rng = _rng(seed, 2)
    _check_rhythm(rhythm, af_cv)
    hr = float(rng.uniform(55, 100)) if heart_rate_bpm is None else _value(heart_rate_bpm, "heart_rate_bpm", *HEART_RATE_BPM)
    if rhythm == "af" and heart_rate_bpm is None:  # the same draw as the ECG of the same seed
        hr = float(_rng(seed, 13).uniform(80, 130))
    motion = float(rng.uniform(0.0, 0.2)) if motion_amplitude is None else _value(motion_amplitude, "motion_amplitude")
    af_cv = 0.2 if af_cv is None else _value(af_cv, "af_cv", 0.0, 0.9)
    n = _n(seconds, fs_hz)
    truth = {"heart_rate_bpm": hr, "motion_amplitude": motion, "rhythm": rhythm}
    if rhythm == "af":  # the ECG's beat times for the same seed: a bed's ECG and PPG agree
        from biosig.synthetic_af import af_beat_times, ppg_from_beats, truth_heart_rate_bpm
        beats = af_beat_times(n / fs_hz, hr, af_cv, _rng(seed, 11))
        x = ppg_from_beats(beats, n, fs_hz)
        t = np.arange(n) / fs_hz
        x = x + motion * 0.1 * np.sin(2 * np.pi * 0.2 * t) + rng.normal(0.0, 0.01, n)
        truth.update(heart_rate_bpm=truth_heart_rate_bpm(beats, n / fs_hz), target_heart_rate_bpm=hr,
                     af_cv=float(af_cv), model="af-gaussian-pulses", beats_s=beats.tolist())
    else:
        sr = _whole_rate(fs_hz)
        x = nk.ppg_simulate(duration=max(n / fs_hz + 1.0, PPG_MIN_SIMULATED_S), sampling_rate=sr,
                            heart_rate=hr, motion_amplitude=motion, powerline_amplitude=0.0, random_state=seed)
        x = _at_rate(np.asarray(x, dtype=np.float64), sr, fs_hz, n)
    return Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("PLETH",), units=("a.u.",),
                  modality="ppg", metadata={"truth": truth})


def simulate_resp(seconds: float, seed: int, fs_hz: float, resp_rate_bpm: float | None = None,
                  noise: float | None = None) -> Record:
    import neurokit2 as nk

    rng = _rng(seed, 3)
    rr = float(rng.uniform(10, 22)) if resp_rate_bpm is None else _value(resp_rate_bpm, "resp_rate_bpm", *RESP_RATE_BPM)
    noise = float(rng.uniform(0.0, 0.03)) if noise is None else _value(noise, "noise")
    n = _n(seconds, fs_hz)
    n_sim = max(n, int(round(RESP_MIN_SIMULATED_S * fs_hz)))   # breathmetrics needs a few breaths
    sr = max(_whole_rate(fs_hz), 2)   # breathmetrics smooths over sr / 2 samples: at 1 Hz, half a sample (a TypeError)
    n_sr = int(np.ceil(n_sim * sr / fs_hz))
    x = nk.rsp_simulate(duration=n_sr / sr, length=n_sr, sampling_rate=sr, respiratory_rate=rr,
                        noise=noise, method="breathmetrics", random_state=seed)
    x = _at_rate(np.asarray(x, dtype=np.float64), sr, fs_hz, n)
    return Record(samples=x[None].astype(np.float32), fs_hz=fs_hz, channels=("RESP",), units=("a.u.",),
                  modality="resp", metadata={"truth": {"resp_rate_bpm": rr, "noise": noise}})



def _simulate_audio(seconds: float, seed: int, fs_hz: float, kind: str = "cough", n_events: int | None = None) -> Record:
    from biosig.synthetic_sounds import simulate_audio

    _n(seconds, fs_hz)   # at least 2 samples, as every other generator asks
    if n_events is not None:   # -1 was a NumPy error, 2.5 a TypeError, 10**9 ran for ever
        n_events = whole_number(n_events, "n_events", 0, max(1, int(MAX_EVENTS_PER_S * seconds)))
    return simulate_audio(seconds=seconds, seed=seed, fs_hz=fs_hz, kind=kind, n_events=n_events)


GENERATORS = {"ecg": simulate_ecg, "ppg": simulate_ppg, "resp": simulate_resp, "audio": _simulate_audio,
              "spiro": simulate_spiro, "motion": simulate_motion}
assert set(GENERATORS) <= set(MODALITIES)
