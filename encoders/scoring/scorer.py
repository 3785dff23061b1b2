"""Score one record: read, match channels, preprocess, window, embed, quality, measures.

A :class:`Scorer` is built once per worker process (local engine) or actor (Ray engine): it holds
the model's backend and its out-of-graph preprocessing pipeline. :meth:`Scorer.score` turns one
record path into an *outcome*: the record's window rows and record row, or an error row naming the
stage that failed. It never raises for a bad record; the run goes on.
"""
from __future__ import annotations

import logging
import math
import os
import time
import traceback
from typing import Any

import numpy as np
import polars as pl

from biosig.interrupts import interrupts_deferred, polars_io
from encoders.lead_choice import (canonical_lead, choose_channels,  # noqa: F401 (re-exported)
                                   ranked_leads, unusable_reasons)
from encoders.data import quality_record
from encoders.scoring.errors import RecordFailure
from encoders.scoring.model import LoadedModel
from encoders.scoring.schema import (ERROR_SCHEMA, MEASURE_SCHEMA, RECORD_SCHEMA, SCORED_WINDOW_SCHEMA, iso_start_time,
                                     record_key)

log = logging.getLogger(__name__)

STAGES = ("read", "channels", "preprocess", "windows", "quality", "embed", "measures",
          "worker")   # worker: the process scoring the record alone died (encoders.scoring.local)
# heads run on the window measures of each modality (encoders/heads); af_prob per window and,
# per record, its mean over the windows that passed the quality threshold
from encoders.heads import HEADS_BY_MODALITY as HEADS  # noqa: E402

# The clinical measures reported per model modality (columns of records.parquet).
MEASURES: dict[str, tuple[str, ...]] = {
    "ecg": ("heart_rate_bpm", "edr_resp_rate_bpm", "af_prob"),
    "ppg": ("heart_rate_bpm", "edr_resp_rate_bpm", "af_prob"),
    "resp": ("resp_rate_bpm",),
    "audio": (),
    "spiro": ("fvc_l", "fev1_l", "fev1_fvc", "pef_l_s", "fef25_75_l_s"),
}


def _stage(name: str):
    """Decorator: exceptions raised inside become :class:`RecordFailure` of stage ``name``."""
    def deco(fn):
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except RecordFailure:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of one record is reported, not fatal
                log.debug("stage %s failed:\n%s", name, traceback.format_exc())
                raise RecordFailure(name, exc) from exc
        run.__name__ = fn.__name__
        run.__doc__ = fn.__doc__
        return run
    return deco


GENERIC_TOKEN = {"ecg": "ECG", "ppg": "PPG", "audio": "AUDIO", "spiro": "volume"}


class Scorer:
    """Scores record paths with one loaded model.

    Parameters
    ----------
    model : the loaded model (backend, pipeline, window geometry).
    batch_size : windows per backend call.
    """

    def __init__(self, model: LoadedModel, batch_size: int = 64, read_options: dict | None = None):
        self.model = model
        self.batch_size = int(batch_size)
        self.read_options = dict(read_options or {})  # --modality / --channel
        self.measure_columns = MEASURES.get(model.modality, ())
        self.head = None
        if model.modality in HEADS:
            from encoders.heads import load_head
            try:
                self.head = load_head(HEADS[model.modality], model.af_prevalence)
            except Exception as exc:  # noqa: BLE001 - measures still go out without the head
                log.error("head %s not available: %s", HEADS[model.modality], exc)

    # ------------------------------------------------------------------ stages
    @_stage("read")
    def read(self, path: str):
        """The record at ``path``; irregular sample times go onto a uniform grid at the nominal
        rate (:func:`biosig.readers.gap_resample.to_uniform_grid`: long holes stay NaN gaps)."""
        from biosig.readers import read
        from biosig.readers.gap_resample import to_uniform_grid
        return to_uniform_grid(read(path, **self.read_options))

    @_stage("channels")
    def select(self, rec):
        """The record's channels fed to the pipeline (their count: :attr:`n_select`)."""
        m = self.model
        why = unusable_reasons(rec.samples)
        usable = [not w for w in why]
        mods = rec.channel_modalities
        if m.modality not in mods and rec.modality == m.modality:
            # a record read with --modality ecg whose channels' names say nothing ("ch1"): all of them
            # are the modality's, as embed takes them (encoders.data.select_channels)
            mods = (m.modality,) * rec.n_channels
        if m.modality not in mods:   # what to give instead, in embed's words (one function: no drift)
            from biosig.record import names_text
            from encoders.data import channels_hint
            raise ValueError(f"no usable {m.modality} channel: {channels_hint(mods, m.modality)}; the record has "
                             + names_text([f"{c} ({mod})" for c, mod in zip(rec.channels, mods)]))
        n = self.n_select
        if m.modality == "audio":   # every usable audio channel: the pipeline's mono step mixes them, as in embed
            n = max(1, sum(mod == "audio" and ok for mod, ok in zip(mods, usable)))
        idx = ranked_leads(rec, usable, why, m.modality, m.vocabulary, n, mods)   # embed's rule (encoder_channels)
        return rec.select(idx).replace(modality=m.modality)

    @property
    def n_select(self) -> int:
        """Record channels to take: one waveform for PPG and spirograms (volume-time; the pipeline
        derives the flow channel), ``in_channels`` leads for ECG; for audio every usable channel
        (:meth:`select`: the pipeline mixes them down to mono)."""
        return self.model.in_channels if self.model.modality == "ecg" else 1

    def channel_idx(self, channels: tuple[str, ...]) -> np.ndarray:
        """int64 (C,): positions of ``channels`` in the model vocabulary; unknown names take the
        modality's generic token (``ECG``, ``PPG``, ...) or position 0."""
        vocab = {name.upper(): i for i, name in enumerate(self.model.vocabulary)}
        generic = vocab.get(GENERIC_TOKEN.get(self.model.modality, "").upper(), 0)
        return np.array([vocab.get(canonical_lead(c), vocab.get(c.upper(), generic)) for c in channels],
                        dtype=np.int64)

    @_stage("preprocess")
    def band(self, rec):
        """``rec`` low-passed to the job's audio band at the model's rate (:func:`biosig.audio_band.band_limit`;
        ``rec`` itself without one): what the model, the quality and the measures are computed on, as in embed."""
        from biosig.audio_band import band_limit
        return band_limit(rec, self.model.audio_fmax_hz, self.model.input_fs_hz)

    @_stage("preprocess")
    def preprocess(self, rec):
        out = self.model.outside.apply(rec)
        if abs(out.fs_hz - self.model.input_fs_hz) > 1e-6 * self.model.input_fs_hz:
            raise ValueError(f"pipeline output is {out.fs_hz:g} Hz, the model expects "
                             f"{self.model.input_fs_hz:g} Hz")
        if out.n_channels != self.model.in_channels:
            raise ValueError(f"pipeline output has {out.n_channels} channel(s) {list(out.channels)}, the "
                             f"model takes {self.model.in_channels}")
        return out

    def grid(self, rec) -> tuple[float, float]:
        """(window_s, hop_s) for ``rec``: :func:`biosig.windows.embedding_grid` of the model's, as
        ``embed`` and the probes cut it (the path the model cards' numbers were measured on; zero
        padding gave other embeddings, and a long --window-s a graph error)."""
        from biosig.windows import embedding_grid
        return embedding_grid(rec, self.model.window_s, self.model.hop_s)

    @_stage("windows")
    def windows(self, rec):
        """:class:`biosig.windows.Windows` of the preprocessed record on :meth:`grid`."""
        from biosig.windows import window_array
        window_s, hop_s = self.grid(rec)
        win = window_array(rec, window_s, hop_s, pad_short=False)
        if len(win) == 0:
            raise ValueError(f"record of {rec.duration_s:.2f} s yields no {window_s:g} s window")
        from encoders.window_checks import short_record_problem
        if problem := short_record_problem(win.x.shape[-1], rec.fs_hz, self.model.min_window_samples):
            raise ValueError(problem)   # as embed says it (the backend's own error is a reshape failure)
        return win

    @_stage("quality")
    def quality(self, rec, n_windows: int, recorded=None, win=None) -> np.ndarray:
        """Quality of each of the ``n_windows`` windows of ``rec``; audio windows ``win`` also lose it
        for the clipping of their samples in ``recorded`` (the selected channels before the band)."""
        from biosig.quality import window_quality
        window_s, hop_s = self.grid(rec)
        clipped = None
        if self.model.modality == "audio" and recorded is not None and win is not None:
            from biosig.quality_audio import recorded_clipped_shares
            clipped = recorded_clipped_shares(recorded, win.t0_s, window_s)
        q = np.asarray(window_quality(rec, window_s=window_s, hop_s=hop_s, clipped_recorded=clipped),
                       dtype=np.float32)
        if len(q) != n_windows:  # the signal windows decide; a shorter quality grid leaves NaN
            q = np.concatenate([q, np.full(max(0, n_windows - len(q)), np.nan, np.float32)])[:n_windows]
        return q

    @_stage("embed")
    def embed(self, x: np.ndarray, channel_idx: np.ndarray) -> np.ndarray:
        """float32 (N, D) embeddings of windows ``x`` float32 (N, C, W); NaN (gaps, padding) -> 0.
        ``channel_idx`` int64 (C,): vocabulary positions of the C channels."""
        x = np.where(np.isfinite(x), x, 0.0).astype(np.float32)
        run = self.model.backend.run
        out = [run(x[i:i + self.batch_size], channel_idx) for i in range(0, len(x), self.batch_size)]
        emb = np.concatenate(out).astype(np.float32)
        if emb.shape[0] != len(x) or not np.isfinite(emb).all():
            raise ValueError(f"backend returned {emb.shape} with non-finite values for {x.shape} windows")
        return emb

    @_stage("measures")
    def measures(self, rec) -> dict[str, float | None]:
        from biosig import measures as ms
        out: dict[str, float | None] = {c: None for c in self.measure_columns}
        modality = self.model.modality
        if modality in ("ecg", "ppg"):
            from biosig.measures_edr import modulation_resp_rate
            out["heart_rate_bpm"] = None   # from the usable windows (_score)
            out["edr_resp_rate_bpm"] = modulation_resp_rate(rec.samples[0], rec.fs_hz, modality)
        elif modality == "resp":
            out["resp_rate_bpm"] = ms.respiratory_rate(rec)
        elif modality == "spiro":
            idx = ms.spirometry_indices(rec)
            get = idx.get if isinstance(idx, dict) else (lambda k: getattr(idx, k, None))
            for c in self.measure_columns:
                out[c] = get(c)
        return {k: (None if v is None or not math.isfinite(float(v)) else float(v)) for k, v in out.items()}

    @_stage("measures")
    def window_measures(self, sel, n_windows: int) -> pl.DataFrame:
        """Per-window measures on the windows the runtime would see (the model's out-of-graph
        pipeline run causally, same grid): :func:`biosig.measures_window.window_measures`."""
        from encoders.heads.features import record_window_measures
        from encoders.scoring.schema import MEASURE_COLUMNS
        m = self.model
        rows = record_window_measures(sel.samples, sel.fs_hz, sel.channels, m.modality, m.outside,
                                      m.window_s, m.hop_s, m.in_channels, n_windows, sel.units,
                                      flow_unit=sel.metadata.get("flow_unit"))[:n_windows]
        cols = {c: [] for c in ("measures_ok", "missing", *MEASURE_COLUMNS)}
        for r in rows:
            cols["measures_ok"].append(bool(r["ok"]))
            cols["missing"].append(r["missing"])
            cols["measure_quality"].append(r["quality"])
            cols["af_prob"].append(self.head.predict(r) if (self.head is not None and r["ok"]) else None)
            for c in MEASURE_COLUMNS:
                if c not in ("measure_quality", "af_prob"):
                    cols[c].append(r.get(c))
        return polars_io(pl.DataFrame, cols, schema=MEASURE_SCHEMA)   # a Ctrl-C after it (biosig.interrupts)

    # ------------------------------------------------------------------ one record
    def score(self, path: str) -> dict[str, Any]:
        """Score one record; return its outcome (never raises for a bad record).

        Returns
        -------
        dict with ``key``, ``record`` (path), ``ok``, ``n_windows``, ``seconds`` and either
        ``windows`` + ``record_row`` (polars DataFrames) or ``error`` (a one-row DataFrame).
        """
        key, t_start = record_key(path), time.perf_counter()
        try:
            return self._score(path, key, t_start)
        except RecordFailure as fail:
            message = str(fail.cause) or type(fail.cause).__name__
            log.info("%s failed at %s: %s", path, fail.stage, message)
            error = polars_io(pl.DataFrame, [{"record": path, "key": key, "stage": fail.stage,
                                              "error_type": type(fail.cause).__name__, "message": message}],
                              schema=ERROR_SCHEMA)
            return {"key": key, "record": path, "ok": False, "n_windows": 0, "error": error,
                    "seconds": time.perf_counter() - t_start}

    def _score(self, path: str, key: str, t_start: float) -> dict[str, Any]:
        raw = self.read(path)
        picked = self.select(raw)
        sel = self.band(picked)
        clean = self.preprocess(sel)
        win = self.windows(clean)
        emb = self.embed(win.x, self.channel_idx(clean.channels))
        n = len(win)
        # a lead off is a gap for quality, and audio channels that cancel when mixed (embed's quality_windows)
        gapped = quality_record(clean, sel, self.model.modality)
        quality = self.quality(gapped, n, picked, win) * win.valid_fraction.astype(np.float32)
        measures = self.measures(sel)
        per_window = self.window_measures(sel, n)
        # Polars frames from here on, quick: a Ctrl-C after them, one KeyboardInterrupt (biosig.interrupts)
        with interrupts_deferred():
            if "af_prob" in measures:
                af = per_window["af_prob"].drop_nulls()
                measures["af_prob"] = float(af.mean()) if len(af) else None
            if "heart_rate_bpm" in measures:   # from the windows that pass the quality gate, as af_prob
                # (over the whole record a noisy lead gave 106 /min where every window was low_quality)
                hr = per_window.filter(pl.col("measures_ok"))["hr_bpm"].drop_nulls()
                measures["heart_rate_bpm"] = float(hr.mean()) if len(hr) else None
            used = list(sel.channels)
            windows = pl.concat([pl.DataFrame({
                "record": [path] * n, "key": [key] * n, "window": np.arange(n, dtype=np.int32),
                "t0_s": win.t0_s, "t1_s": win.t1_s, "channels": [used] * n, "quality": quality,
                "valid_fraction": win.valid_fraction.astype(np.float32),
                "embedding": pl.Series("embedding", emb).cast(pl.List(pl.Float32)),
            }), per_window], how="horizontal").select(list(SCORED_WINDOW_SCHEMA)).cast(SCORED_WINDOW_SCHEMA)
            finite_q = quality[np.isfinite(quality)]
            seconds = time.perf_counter() - t_start
            row = {
                "record": path, "key": key, "name": os.path.basename(path),
                "start_time": iso_start_time(raw.start_time),
                "duration_s": float(raw.duration_s), "fs_hz": float(raw.fs_hz),
                "channels": list(raw.channels), "used_channels": used, "n_windows": n,
                "mean_quality": float(finite_q.mean()) if finite_q.size else None,
                "embedding": emb.mean(axis=0).astype(np.float32).tolist(),
                **measures, "seconds": seconds,
            }
            schema = {**{c: t for c, t in RECORD_SCHEMA.items() if c != "seconds"},
                      **{c: pl.Float64 for c in measures}, "seconds": pl.Float64}
            record_row = pl.DataFrame([row], schema=schema)
        from encoders.window_checks import short_record_note
        short = n == 1 and win.x.shape[-1] < round(self.model.window_s * clean.fs_hz)   # said after the summary
        return {"key": key, "record": path, "ok": True, "n_windows": n, "windows": windows,
                "record_row": record_row, "seconds": seconds, "short_window": short_record_note(
                    win.x.shape[-1] / clean.fs_hz, self.model.window_s, self.model.modality) if short else None}
