"""One record through a model up to its window embeddings and quality: the steps that
:meth:`encoders.embed.Encoder.embed`, :meth:`encoders.inference.InferenceModel.embed` and the probe's
:func:`encoders.baselines.window_embeddings` share, written once so that the three give the same
numbers by construction (they were three copies of one sequence, kept equal only by a test).

``model`` is either of the two model classes: both have ``config``, ``prepare``, ``windows`` and
``embed_windows``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from encoders.data import channel_index, encoder_channels, quality_windows


@dataclass(frozen=True)
class EmbeddedRecord:
    """A record's windows and their embeddings.

    ``record``: on a uniform time grid, reduced to the channels the encoder reads (what the
    per-window measures and the quality's flat runs are computed from); ``prepared``: ``record``
    after the model's out-of-graph pipeline; ``windows`` float32 (W, C, T) of ``prepared`` starting
    at ``t0_s`` (W,) seconds; ``embeddings`` float32 (W, D); ``recorded``: the same channels as
    recorded, where ``record`` was made from them outside (an audio band, ``--audio-fmax-hz``), else
    ``record`` (audio clipping is counted on it: :func:`biosig.quality_audio.recorded_clipped_shares`)."""
    record: object
    prepared: object
    windows: np.ndarray
    t0_s: np.ndarray
    embeddings: np.ndarray
    recorded: object = None

    @property
    def window_s(self) -> float:
        return self.windows.shape[-1] / self.prepared.fs_hz


def embed_record(model, record, batch_size: int = 64, recorded=None, require_signal: bool = True) -> EmbeddedRecord:
    """Embed every window of ``record`` (a biosig Record; irregular times are put on a uniform grid
    once, here). ``recorded``: the Record ``record`` was made from (an audio band), for quality.
    ``require_signal``: refuse a record without signal (:func:`_check_something_recorded`); a probe's
    features (:func:`encoders.baselines.window_embeddings`) keep such a record as windows of quality 0, so one
    flat recording in a labelled set does not end the whole probe."""
    from biosig.readers.gap_resample import to_uniform_grid
    from biosig.record import require_record

    def channels(rec):   # the leads score and serve feed (ECG: in_channels of them); later steps select within
        return encoder_channels(to_uniform_grid(require_record(rec, "embedding")), model.config)
    record = channels(record)
    if require_signal:
        _check_something_recorded(record)
    prepared = model.prepare(record)
    wins, t0 = model.windows(prepared)
    _check_record_length(model, prepared, wins, record.metadata)
    emb = model.embed_windows(wins, channel_index(prepared.channels, model.config), batch_size)
    return EmbeddedRecord(record, prepared, wins, t0, emb, record if recorded is None else channels(recorded))


def _check_something_recorded(record) -> None:
    """:class:`encoders.errors.EncoderError` where the channels fed to the model hold no signal at all: every
    sample missing, or one value throughout (a lead off, a zero-filled export). Such a record gave a full set of
    rows of quality 0 and exit code 0 (a 100 s all-NaN ECG: 19 windows of zero input), where ``score`` refuses it
    (:func:`encoders.lead_choice.unusable_reasons`); partial gaps stay windows of low quality."""
    from biosig.record import names_text
    from encoders.errors import EncoderError
    x = np.asarray(record.samples, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        raise EncoderError(f"no signal to embed: every sample of {names_text(record.channels)} is missing "
                           f"({record.n_samples} sample(s), all NaN or empty)")
    rows = [row[ok] for row, ok in zip(x, finite) if ok.sum() > 1]   # one sample: too short, said after this
    if rows and all(not np.ptp(row) > 0 for row in rows):
        raise EncoderError(f"no signal to embed: {names_text(record.channels)} "
                           f"{'is' if record.n_channels == 1 else 'are'} constant (a flat line: lead off or "
                           "zero-filled?)")


_SAID_SHORT: set = set()   # model windows (s) whose short-record warning was given in this process


def _check_record_length(model, prepared, wins, metadata) -> None:
    """:class:`encoders.errors.EncoderError` for a record below the model's smallest input, and a warning (once
    per model window in a process; later ones at -v) for one shorter than the model's window: as ``score`` says
    both (:func:`encoders.window_checks.short_record_problem`, :func:`encoders.window_checks.short_record_note`)."""
    import logging

    from encoders.config import min_input_samples
    from encoders.errors import EncoderError
    from encoders.window_checks import short_record_note, short_record_problem
    if len(wins) and (problem := short_record_problem(wins.shape[-1], prepared.fs_hz, min_input_samples(model.config))):
        raise EncoderError(problem)
    window_s = float(model.window_s)
    if len(wins) == 1 and wins.shape[-1] < round(window_s * prepared.fs_hz):
        say = logging.WARNING if window_s not in _SAID_SHORT else logging.INFO
        _SAID_SHORT.add(window_s)
        name = metadata.get("source", metadata.get("path", "a record"))
        note = short_record_note(wins.shape[-1] / prepared.fs_hz, window_s, model.config.modality)
        logging.getLogger(__name__).log(say, "%s: %s%s", name, note, " (said once; -v: each)" if say > logging.INFO else "")


def windows_quality(windows: np.ndarray, fs_hz: float, modality: str, clipped_recorded=None) -> np.ndarray:
    """float32 (W,) :func:`biosig.quality.window_quality` of each window in [0, 1] (``clipped_recorded``
    (W,): audio, the clipped share of each window's recorded samples)."""
    from biosig.quality import window_quality
    clipped = np.zeros(len(windows)) if clipped_recorded is None else clipped_recorded
    return np.array([float(window_quality(w, fs_hz, modality, clipped_recorded=c)) for w, c in zip(windows, clipped)],
                    np.float32)


def record_quality(model, embedded: EmbeddedRecord) -> np.ndarray:
    """float32 (W,): the quality column of ``embed``, on the windows with the recorded flat runs (and
    for audio the spans whose channels cancel) as gaps (:func:`encoders.data.quality_windows`); audio
    windows also lose quality for the clipping of their recorded samples (``embedded.recorded``)."""
    qwins = quality_windows(model, embedded.record, embedded.prepared, embedded.windows)
    clipped = None
    if model.config.modality == "audio":
        from biosig.quality_audio import recorded_clipped_shares
        clipped = recorded_clipped_shares(embedded.recorded if embedded.recorded is not None else embedded.record,
                                          embedded.t0_s, embedded.window_s)
    return windows_quality(qwins, embedded.prepared.fs_hz, model.config.modality, clipped)


def embedding_frame(embedded: EmbeddedRecord, quality: np.ndarray, source: str | None, measures):
    """``embed``'s rows (:data:`encoders.embed.EMBED_COLUMNS`, then the ``measures`` DataFrame's
    columns): ``source`` None names the record's ``source`` or ``path`` metadata."""
    import polars as pl
    rec, t0 = embedded.record, embedded.t0_s
    n = len(embedded.windows)
    src = source if source is not None else str(rec.metadata.get("source", rec.metadata.get("path", "")))
    return pl.DataFrame({
        "source": [src] * n,
        "channels": [",".join(embedded.prepared.channels)] * n,
        "t0_s": t0.astype(np.float64),
        "t1_s": (t0 + embedded.window_s).astype(np.float64),
        "quality": quality,
        "embedding": pl.Series("embedding", embedded.embeddings.tolist(), dtype=pl.List(pl.Float32)),
    }).hstack(measures)
