"""Embeddings from a loaded encoder: :class:`Encoder` (what :func:`encoders.load` returns).

``Encoder.embed(record)`` puts a record with irregular sample times on a uniform grid at its
nominal rate (long holes stay NaN gaps), applies the out-of-graph part of the checkpoint's
pipeline, cuts the record into windows of the modality's default length and hop, maps channel
names onto the model's channel vocabulary and returns one row per window.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from encoders.arguments import window_batch
from encoders.errors import EncoderError
from encoders.window_checks import check_window_shape

log = logging.getLogger(__name__)

EMBED_COLUMNS = ("source", "channels", "t0_s", "t1_s", "quality", "embedding")


class Encoder:
    """A trained (or random) encoder with its preprocessing pipeline.

    Attributes
    ----------
    model : :class:`encoders.model.EncoderModel` in eval mode.
    config : its :class:`encoders.config.EncoderConfig`.
    model_id : ``"<name>-<first 10 hex of the weights' SHA-256>"``.
    meta : training metadata stored in the checkpoint.
    """

    def __init__(self, model, pipeline=None, meta: dict | None = None):
        from encoders.weights import weights_hash
        self.model = model.eval()
        self.config = model.config
        self.meta = dict(meta or {})
        self._pipeline_src = pipeline
        self._pipeline = None
        self.model_id = self.meta.get("model_id") or f"{self.config.name}-{weights_hash(model)[:10]}"
        self.window_s_override: float | None = None   # --window-s; None: the training window
        self.af_prevalence: float | None = None       # --af-prevalence; None: af_prob as its head was fitted

    @property
    def window_s(self) -> float:
        """Embedding window in seconds: ``window_s_override`` if set, else the window the model was
        trained on (the checkpoint's ``train_config.window_s``, else ``config.window_s``)."""
        if self.window_s_override is not None:
            return float(self.window_s_override)
        trained = (self.meta.get("train_config") or {}).get("window_s")
        return float(trained or self.config.window_s)

    @property
    def hop_s(self) -> float:
        """Hop between windows (:func:`biosig.windows.hop_for_window_s`, as ``score``)."""
        from biosig.windows import hop_for_window_s
        return hop_for_window_s(self.config.modality, self.window_s)

    def __repr__(self) -> str:
        return f"Encoder({self.model_id!r}, modality={self.config.modality!r})"

    # ------------------------------------------------------------------ pipeline
    @property
    def pipeline(self):
        """The full biosig Pipeline stored in the checkpoint (default pipeline when none stored)."""
        if self._pipeline is None:
            from encoders.weights import pipeline_from_dict
            src = self._pipeline_src
            if src is None:
                from biosig.pipeline import default_pipeline
                self._pipeline = default_pipeline(self.config.modality)
            elif isinstance(src, dict):
                self._pipeline = pipeline_from_dict(src)
            else:
                self._pipeline = src
        return self._pipeline

    # ------------------------------------------------------------------ channels
    def channel_index(self, names) -> list[int]:
        """Positions in ``config.channels`` of channel ``names`` (see :func:`encoders.data.channel_index`)."""
        from encoders.data import channel_index
        return channel_index(names, self.config)

    # ------------------------------------------------------------------ embedding
    @torch.no_grad()
    def embed_windows(self, x: np.ndarray, channel_idx=None, batch_size: int = 64) -> np.ndarray:
        """Embed windows already at the model rate.

        Parameters
        ----------
        x : float array (B, C, T) after the out-of-graph pipeline; NaN is replaced by 0.
        channel_idx : optional ints (C,) or (B, C) (one row per window), positions in
            ``config.channels``.
        batch_size : windows per forward pass, 1 or more.

        Returns
        -------
        float32 (B, D), deterministic for identical input.
        """
        x, idx, batch_size = window_batch(x, channel_idx, batch_size, len(self.config.channels))
        check_window_shape(x, idx, self.config)
        idx = None if idx is None else torch.from_numpy(idx)
        xt = torch.from_numpy(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))
        out = [self.model.embed_forward(xt[i:i + batch_size], idx if idx is None or idx.ndim == 1 else idx[i:i + batch_size])
               for i in range(0, len(xt), batch_size)]
        if not out:
            return np.zeros((0, self.config.dim), dtype=np.float32)
        return torch.cat(out).numpy().astype(np.float32)

    def prepare(self, record):
        """Channel selection plus the out-of-graph pipeline: a Record at ``config.input_fs_hz``."""
        from encoders.data import select_channels
        rec = select_channels(record, self.config.modality)
        outside, _ = self.pipeline.split_in_model()
        rec = outside.apply(rec)
        if abs(rec.fs_hz - self.config.input_fs_hz) > 1e-6:
            raise EncoderError(f"the pipeline produced {rec.fs_hz} Hz but {self.config.name} expects "
                               f"{self.config.input_fs_hz} Hz")
        return rec

    def windows(self, rec):
        """(windows (W, C, T) float32, t0_s (W,)) with :attr:`window_s` and :attr:`hop_s` (the
        training window unless overridden); a record shorter than one window gives one window of
        its own length."""
        from biosig.windows import embedding_grid, window_array
        w = window_array(rec, *embedding_grid(rec, self.window_s, self.hop_s), pad_short=False)
        return w.x, w.t0_s

    def quality(self, windows: np.ndarray, fs_hz: float) -> np.ndarray:
        """Quality in [0, 1] per window (:func:`biosig.quality.window_quality`)."""
        from encoders.record_embed import windows_quality
        return windows_quality(windows, fs_hz, self.config.modality)

    def embed(self, record, source: str | None = None, batch_size: int = 64, recorded=None):
        """One row per window of ``record``: polars DataFrame with columns ``source`` (str),
        ``channels`` (str, comma-joined), ``t0_s``, ``t1_s`` (float64, seconds from the record's
        first sample), ``quality`` (float32) and ``embedding`` (list[float32] of length D), then the
        per-window measures (:meth:`window_measures`). ``recorded``: the Record ``record`` was made
        from outside the model (``embed --audio-fmax-hz``: the file before its band), for the
        quality of what was recorded (:func:`encoders.record_embed.record_quality`)."""
        from encoders.record_embed import embed_record, embedding_frame, record_quality
        embedded = embed_record(self, record, batch_size, recorded)
        measures = self.window_measures(embedded.record, len(embedded.windows))
        return embedding_frame(embedded, record_quality(self, embedded), source, measures)

    def window_measures(self, record, n_windows: int):
        """Per-window measures (``measures_ok``, ``missing``, the modality's measures, ``af_prob``
        for ECG/PPG): the numbers ``serve`` publishes on ``score/`` and ``score`` writes, computed
        on the causally preprocessed windows (:mod:`encoders.heads.features`), on the embedding's
        own grid (training window or --window-s; the modality's default grid put the measures of
        other windows on these rows)."""
        outside, _ = self.pipeline.split_in_model()
        return window_measure_columns(record, self.config, outside, self.window_s, self.hop_s, n_windows,
                                      self.af_prevalence)


_SAID_SHORT: set = set()   # (head, window_s) whose af_prob-all-null warning was given


def window_measure_columns(record, config, outside, window_s: float, hop_s: float, n_windows: int,
                           af_prevalence: float | None = None):
    """The measure columns of ``n_windows`` embedding rows of ``record`` (windows of ``window_s`` every
    ``hop_s``) for a model of ``config`` whose out-of-graph pipeline is ``outside``: ``measures_ok``,
    ``missing``, the modality's measures and, for ECG/PPG, ``af_prob`` (the shipped head at
    ``af_prevalence``). Windows shorter than the head was fitted on give no ``af_prob``: said once in a
    warning, not left to be found in a column of nulls. Shared by :class:`Encoder` and
    :class:`encoders.inference.InferenceModel`."""
    import polars as pl
    from biosig.measures_window import measure_keys
    from encoders.data import select_channels
    from encoders.heads.features import record_window_measures
    sel = select_channels(record, config.modality)
    rows = record_window_measures(sel.samples, sel.fs_hz, sel.channels, config.modality, outside,
                                  window_s, hop_s, int(config.in_channels or 1), n_windows, sel.units,
                                  flow_unit=sel.metadata.get("flow_unit"))[:n_windows]
    cols = {"measures_ok": pl.Series([bool(r["ok"]) for r in rows], dtype=pl.Boolean),
            "missing": pl.Series([r["missing"] for r in rows], dtype=pl.String),
            **{k: pl.Series([r.get(k) for r in rows], dtype=pl.Float64) for k in measure_keys(config.modality)}}
    head = _head_for(config.modality, af_prevalence)
    if head is not None:
        if head.too_short(window_s) and (head.name, window_s) not in _SAID_SHORT:
            _SAID_SHORT.add((head.name, window_s))
            log.warning("af_prob is null in every window: the %s head was fitted on windows of at least %g s "
                        "and these are %g s (--window-s); give --window-s %g or more for it", head.name,
                        head.min_window_s, window_s, head.min_window_s)
        cols["af_prob"] = pl.Series([head.predict(r) if r["ok"] else None for r in rows], dtype=pl.Float64)
    return pl.DataFrame(cols)


def _head_for(modality: str, prevalence: float | None = None):
    """The shipped head of a modality (``ecg-af``, ``ppg-af``), read at ``prevalence`` when given, or None."""
    from encoders.heads import HEADS_BY_MODALITY, load_head
    try:
        return load_head(HEADS_BY_MODALITY[modality], prevalence) if modality in HEADS_BY_MODALITY else None
    except EncoderError as exc:
        log.error("head for %s not available: %s", modality, exc)
        return None
