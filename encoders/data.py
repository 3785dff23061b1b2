"""Training and embedding inputs: channel matching and windowing of biosig Records.

Windows are cut after the out-of-graph part of the checkpoint's pipeline, so what the model sees
in training is exactly what ``Encoder.embed`` and the streaming runtime feed it. The synthetic
pretraining records are :mod:`encoders.synthetic_records` (re-exported here).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from encoders.config import GENERIC_CHANNEL
from encoders.errors import EncoderError, PipelineRateError
from encoders.synthetic_records import (ATRIAL_KINDS, SYNTHETIC_KW, _beat_times, atrial_rhythm_beats,  # noqa: F401 (re-exported)
                                        synthetic_atrial_records, synthetic_blow_records, synthetic_lung_records,
                                        synthetic_pulse_records, synthetic_records, synthetic_rhythm_records)

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
    from biosig.modality import modality_channel_indices
    record = to_uniform_grid(require_record(record, "embedding"))
    # the user's --channel NAME=MODALITY (metadata) first, then the guess from name and rate; channels of unknown
    # modality only where none is named of it and the record is of it (--modality), never a pressure (041s's ABP)
    mods = record.channel_modalities
    taken, left = modality_channel_indices(record.channels, mods, record.units, modality, record.modality)
    if not taken:
        if record.modality != modality:
            raise EncoderError(f"the {modality} encoder needs {modality} channels: "
                               f"{channels_hint(mods, modality)}; the record has "
                               f"{record.modality} channels {names_text(record.channels)}; in Python "
                               f"Record(..., modality={modality!r})")
        raise EncoderError(f"the {modality} encoder needs {modality} channels: {channels_hint(mods, modality)}; "
                           f"none of {left_out_phrase(record, left, modality)} can be one")
    keep = [record.channels[i] for i in taken]
    if left:   # said once per record: later selections are of the kept channels
        from encoders.lead_choice import say_left_out
        say_left_out(record, mods, left, modality)
    # audio: every audio channel (the pipeline's ``mono`` step mixes them down); the selection keeps
    # the modality (Record.select guesses it again from the names: a channel "ch1" of a record read
    # with --modality ecg became "other", and the next selection refused it)
    return record.select(keep[:1] if modality in ("ppg", "spiro") and not every_lead else keep).replace(modality=modality)


def left_out_phrase(record, left: list[int], modality: str) -> str:
    """``ABP (other, mmHg), PLETH (ppg)``: the channels ``left`` of ``record`` (positions) as
    :func:`biosig.modality.left_out_text` names them."""
    from biosig.modality import left_out_text
    return left_out_text(record.channels, record.channel_modalities, record.units, left, modality)


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
