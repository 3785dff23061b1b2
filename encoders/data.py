"""Training and embedding inputs: channel matching and windowing of biosig Records.

Windows are cut after the out-of-graph part of the checkpoint's pipeline, so what the model sees
in training is exactly what ``Encoder.embed`` and the streaming runtime feed it.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from encoders.config import GENERIC_CHANNEL
from encoders.errors import EncoderError, PipelineRateError

log = logging.getLogger(__name__)

# Channel-name aliases onto the vocabularies in encoders.config.CHANNEL_VOCAB (upper-cased keys).
_ALIASES = {"MLI": "I", "MLII": "II", "MLIII": "III", "MCL1": "V1", "D1": "I", "D2": "II", "D3": "III",
            "PLETH": "PPG", "PULSE": "PPG", "VOLUME_ML": "volume", "VOLUME": "volume", "FLOW": "flow",
            "FLOW_L_S": "flow"}
_GENERIC = GENERIC_CHANNEL   # a channel matching no name is embedded as its modality's (encoders.config)
# Channels per training sample: ECG/PPG leads are separate samples (each with its lead embedding);
# a spirogram sample is the pipeline's (volume, flow) pair.
SAMPLE_CHANNELS = {"ecg": 1, "ppg": 1, "audio": 1, "spiro": 2}


def channel_index(names, config) -> list[int]:
    """Positions in ``config.channels`` of channel ``names``: exact (case-insensitive) match,
    then aliases (``MLII`` -> ``II``, ``PLETH`` -> ``PPG``, ``ECG_V1`` -> ``V1``), else the
    modality's generic token (``ECG``, ``PPG``, ...)."""
    upper = {v.upper(): i for i, v in enumerate(config.channels)}
    out = []
    for name in ([names] if isinstance(names, str) else names):   # one str is one name
        key = str(name).strip().upper()
        key = re.sub(r"^(ECG|LEAD)[ _-]?(?=(I{1,3}|AV[RLF]|V[1-6])$)", "", key)
        idx = upper.get(_ALIASES.get(key, key).upper())
        out.append(upper[_GENERIC[config.modality].upper()] if idx is None else idx)
    return out


def channels_hint(channel_modalities, modality: str) -> str:
    """What to give instead where a record holds no channel of ``modality`` (the model's), for ``embed``'s
    error (:func:`select_channels`) and ``score``'s (:meth:`encoders.scoring.scorer.Scorer.select`),
    written once so that the two cannot drift (score said only "no usable ecg channel among: PLETH (ppg)"):
    a model shipped for what the channels are (a PPG-only file given to ecg-tiny: ppg-tiny), else, or
    also, how to say which channel is of ``modality``."""
    import pathlib
    shipped = pathlib.Path(__file__).resolve().parent / "checkpoints"   # encoders.checkpoint imports torch
    kinds = [m for m in dict.fromkeys(channel_modalities) if m != modality and (shipped / f"{m}-tiny").is_dir()]
    name = f"name the {modality} channel: --channel NAME={modality} or --modality {modality}"
    if not kinds:
        return name
    return f"use --model {kinds[0]}-tiny ({kinds[0]}), or {name}"   # fits score's 120-character summary line


def select_channels(record, modality: str, every_lead: bool = False):
    """The channels of ``record`` an encoder of ``modality`` uses (before the pipeline), on a
    uniform grid at its nominal rate when its sample times are irregular
    (:func:`biosig.readers.gap_resample.to_uniform_grid`: long holes stay NaN gaps). PPG and
    spirometry: the first such channel, unless ``every_lead`` (:func:`encoder_channels` chooses)."""
    from biosig.readers.gap_resample import to_uniform_grid
    from biosig.record import names_text, require_record
    record = to_uniform_grid(require_record(record, "embedding"))
    # the user's --channel NAME=MODALITY (metadata) first, then the guess from name and rate
    keep = [c for c, m in zip(record.channels, record.channel_modalities) if m == modality]
    if not keep:
        if record.modality != modality:
            raise EncoderError(f"the {modality} encoder needs {modality} channels: "
                               f"{channels_hint(record.channel_modalities, modality)}; the record has "
                               f"{record.modality} channels {names_text(record.channels)}; in Python "
                               f"Record(..., modality={modality!r})")
        keep = list(record.channels)
    # audio: every audio channel (the pipeline's ``mono`` step mixes them down); the selection keeps
    # the modality (Record.select guesses it again from the names: a channel "ch1" of a record read
    # with --modality ecg became "other", and the next selection refused it)
    return record.select(keep[:1] if modality in ("ppg", "spiro") and not every_lead else keep).replace(modality=modality)


def encoder_channels(record, config):
    """:func:`select_channels`, then, where an ECG or PPG record has more leads than the model takes
    (``config.in_channels``; ECG models are trained one lead per sample; a PPG's channels named ppg,
    e.g. a camera CSV read with ``--channel G=ppg``, of which the first was taken), the ones ``score``
    feeds it (:func:`encoders.lead_choice.ranked_leads`, the call score makes: leads within 0.1 of the
    best share of windows passing the quality gate, then the model's vocabulary order). ``embed`` fed
    every lead at once, an input the model never saw in training and not what ``score`` or ``serve``
    feed. Where fewer leads than that are usable, the vocabulary order decides among all of them. The
    probe's hrv and ibi baselines take the lead this gives a one-lead model (:mod:`encoders.baselines`)."""
    from biosig.lead_quality import lead_summaries
    from encoders.lead_choice import QUALITY_RANKED_MODALITIES, fed_lead_order, unusable_reasons
    modality = config.modality
    sel = select_channels(record, modality, every_lead=modality == "ppg")
    n = int(config.in_channels or 1)
    if modality not in QUALITY_RANKED_MODALITIES or sel.n_channels <= n:
        return sel
    return sel.select(fed_lead_order(sel.channels, modality, tuple(config.channels), n, unusable_reasons(sel.samples),
                                     lambda cand: {i: s["fraction_usable"]
                                                   for i, s in lead_summaries(sel, cand, modality).items()}))


@dataclass(frozen=True, eq=False)
class WindowSet:
    """Training windows.

    Attributes
    ----------
    x : float32 (N, C, T) at the model rate, after the out-of-graph pipeline (NaN replaced by 0).
    channel_idx : int64 (N, C), channel vocabulary ids.
    sources : N source names (file or ``synthetic:<seed>``).
    """

    x: np.ndarray
    channel_idx: np.ndarray
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def fingerprint(self) -> str:
        """Hex digest of the windows and their channel ids (not the source names: the same folder
        reached by another path is the same data); what ``pretrain --resume`` compares."""
        import hashlib
        h = hashlib.blake2b(digest_size=16)
        for a in (self.x, self.channel_idx):
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(np.ascontiguousarray(a).data)
        return h.hexdigest()


def quality_windows(model, record, prepared, wins: np.ndarray) -> np.ndarray:
    """The windows ``wins`` of ``model.prepare(record)`` (``prepared``) with the recorded flat runs
    of ``record`` as NaN gaps (:func:`biosig.flatline.mark_flat_runs`), and for audio the spans whose
    channels cancel when mixed (:func:`biosig.quality_audio.mark_cancelled_spans`): what quality is computed on
    (the embedding sees ``wins`` unchanged)."""
    gapped = quality_record(prepared, record, model.config.modality)
    return wins if gapped is prepared else model.windows(gapped)[0]


def quality_record(prepared, record, modality: str):
    """``prepared`` (``record`` after a model's pipeline) with the recorded flat runs of ``record``
    as NaN gaps, and for audio the spans whose channels cancel when mixed; ``prepared`` itself where
    there are none. What ``embed`` (:func:`quality_windows`) and ``score`` compute quality on."""
    from biosig.flatline import mark_flat_runs
    from biosig.quality_audio import mark_cancelled_spans
    raw = select_channels(record, modality)
    return mark_cancelled_spans(mark_flat_runs(prepared, raw, modality), raw, modality)


def record_windows(record, config, outside, window_s: float, hop_s: float, min_valid: float = 0.5):
    """Windows (n, C, T) float32 and channel ids (n, C) of one record for training."""
    from biosig.windows import window_array
    rec = outside.apply(select_channels(record, config.modality))
    if abs(rec.fs_hz - config.input_fs_hz) > 1e-6:   # a configuration error, not this record's: no skipping
        raise PipelineRateError(f"the pipeline gives {rec.fs_hz:g} Hz; {config.name} expects "
                                f"{config.input_fs_hz:g} Hz (begin the pipeline with a resample to that rate)")
    w = window_array(rec, window_s, hop_s, pad_short=True)
    keep = w.valid_fraction >= min_valid
    x = np.nan_to_num(w.x[keep], nan=0.0, posinf=0.0, neginf=0.0)              # (n, C_rec, T)
    ids = np.asarray(channel_index(rec.channels, config), dtype=np.int64)
    k = SAMPLE_CHANNELS[config.modality]
    if k == 1 and x.shape[1] > 1:   # one sample per lead
        n, c, t = x.shape
        return x.reshape(n * c, 1, t), np.tile(ids, n)[:, None]
    x = x[:, :k]
    return x, np.broadcast_to(ids[:k], (x.shape[0], k)).copy()


#: Longest training window (samples at the model's input rate): a short record (at least half a window) is padded to
#: a whole window, so a mistyped --window-s would otherwise exhaust memory.
MAX_WINDOW_SAMPLES = 1 << 22


def build_windows(records, config, pipeline, window_s: float | None = None, hop_s: float | None = None) -> WindowSet:
    """Stack the training windows of ``records`` (an iterable of ``(source, Record)``)."""
    from biosig.pipeline import default_window
    from biosig.windows import hop_for_window_s
    window_s = window_s or config.window_s or default_window(config.modality)[0]
    hop_s = hop_s or hop_for_window_s(config.modality, window_s)
    if window_s * config.input_fs_hz > MAX_WINDOW_SAMPLES:   # short records are padded to a window
        raise EncoderError(f"window_s={window_s:g} s is {window_s * config.input_fs_hz:.3g} samples at "
                           f"{config.input_fs_hz:g} Hz, more than {MAX_WINDOW_SAMPLES:,}; use a shorter --window-s")
    outside, _ = pipeline.split_in_model()
    xs, ids, sources = [], [], []
    skipped, empty = [], []
    for source, rec in records:
        try:
            x, i = record_windows(rec, config, outside, window_s, hop_s)
        except PipelineRateError:
            raise
        except EncoderError as exc:   # a record without this modality's channels: skip it
            skipped.append(source)
            log.info("skipping %s: %s", source, exc)
            continue
        if not len(x):   # shorter than half a window, or mostly gaps: said below, not dropped silently
            empty.append(source)
            continue
        xs.append(x)
        ids.append(i)
        sources.extend([source] * len(x))
    if skipped:
        log.warning("skipped %d record(s) without %s channels", len(skipped), config.modality)
    if empty:
        log.warning("%d record(s) gave no training window (under half of each %g s window valid: too short or "
                    "mostly gaps): %s", len(empty), window_s, ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else ""))
    if not sources:
        why = [f"{len(skipped)} record(s) without {config.modality} channels"] if skipped else []
        why += [f"{len(empty)} record(s) too short or mostly gaps"] if empty else []
        raise EncoderError(f"no usable {config.modality} windows of {window_s} s in the data"
                           + (f" ({'; '.join(why)})" if why else ""))
    return WindowSet(np.concatenate(xs).astype(np.float32), np.concatenate(ids), tuple(sources))


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


def file_records(paths, modality: str, channel: str | None = None):
    """Records found under ``paths`` (files, WFDB record names or folders; biosig.readers).

    ``channel`` (``pretrain --channel``): train on that channel of each record, by name, as a
    ``modality`` channel (a camera PPG's ``G`` where its red channel clips); a record without it is
    an :class:`EncoderError` listing its channels (never another channel in its place)."""
    import os

    from biosig.readers import discover, read
    from biosig.record import names_text
    if channel is not None and (not isinstance(channel, str) or not channel.strip()):
        raise EncoderError(f"channel={channel!r} must be a channel name (a non-empty str)")
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)   # one path: not its characters
    found = discover(paths)
    if not found:
        raise EncoderError(f"no readable recordings under {', '.join(map(str, paths))}")
    from biosig.errors import BiosigError
    unreadable = []
    for path in found:
        try:
            rec = read(path)
        except BiosigError as exc:   # one damaged file of a corpus: say so, train on the others
            unreadable.append(f"{path}: {getattr(exc, 'problem', exc)}")
            log.warning("skipping unreadable %s", unreadable[-1])
            continue
        if channel is not None:
            if channel not in rec.channels:
                made = f" (PPG is {rec.metadata['ppg_from']})" if rec.metadata.get("ppg_from") else ""
                raise EncoderError(f"{path}: no channel {channel!r} (--channel); its channels are "
                                   f"{names_text(rec.channels)}{made}")
            given = dict(rec.metadata.get("channel_modalities") or {}, **{channel: modality})
            rec = rec.select([channel]).replace(modality=modality, metadata=dict(rec.metadata, channel_modalities=given))
        yield str(path), rec
    if unreadable and len(unreadable) == len(found):
        raise EncoderError(f"none of the {len(found)} recording(s) under {', '.join(map(str, paths))} could be "
                           f"read; the first: {unreadable[0]}")
    if unreadable:
        log.warning("skipped %d of %d recording(s) that could not be read (listed above)", len(unreadable), len(found))
