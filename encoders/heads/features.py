"""Offline windows exactly as the streaming runtime cuts them, and their measures.

The runtime preprocesses each stream with the encoder's out-of-graph pipeline run *causally*
(:meth:`biosig.pipeline.Pipeline.stream`) and cuts windows of ``round(window_s * fs)`` samples
every ``round(hop_s * fs)`` from the first processed sample. :func:`causal_windows` does the same
on a whole record, so that :func:`biosig.measures_window.window_measures` gets identical samples
online (``serve``) and offline (``score``, head training).
"""
from __future__ import annotations

import numpy as np

from biosig.flatline import FLAT_MODALITIES, window_flat_mask, with_gaps
from biosig.measures_window import measured_span_s, window_measures


def causal_windows(samples: np.ndarray, fs_hz: float, channels, pipeline, window_s: float, hop_s: float,
                   n_channels: int | None = None, n_windows: int | None = None, flat_gaps: bool = False):
    """``(windows, fs_out_hz)``: a list of float32 (C, <=W) windows of the causally preprocessed record.

    ``pipeline``: a :class:`biosig.pipeline.Pipeline` (or None: raw samples); ``n_channels``: the
    channels kept (the model's ``in_channels``); ``n_windows``: pad with the record's tail when the
    offline window grid has more windows (a record shorter than one window gives one short window);
    ``flat_gaps``: NaN where a window's samples come from a flat run of recorded samples, as the
    runtime marks them for quality and measures (:func:`biosig.flatline.window_flat_mask`).
    """
    x = np.asarray(samples, dtype=np.float32)  # the runtime receives float32 frames
    if pipeline is not None:
        pipe = pipeline.stream(float(fs_hz), x.shape[0], tuple(channels))
        y, fs_out = pipe.process(x), float(pipe.fs_out_hz)
    else:
        y, fs_out = x, float(fs_hz)
    y = np.asarray(y)
    c_out = y.shape[0]
    y = y[: (n_channels or x.shape[0])]
    w, h = max(1, int(round(window_s * fs_out))), max(1, int(round(hop_s * fs_out)))
    n = y.shape[1]
    count = max(0, (n - w) // h + 1)
    if n_windows is not None:
        count = max(count, int(n_windows))
    wins = [y[:, i * h:i * h + w] for i in range(count)]
    if flat_gaps:
        wins = [with_gaps(win, window_flat_mask(x, 0, float(fs_hz), fs_out, i * h, win.shape[1], c_out))
                for i, win in enumerate(wins)]
    return wins, fs_out


def record_window_measures(samples, fs_hz, channels, modality: str, pipeline, window_s: float, hop_s: float,
                           n_channels: int | None = None, n_windows: int | None = None, units=None) -> list[dict]:
    """:func:`window_measures` of every runtime-equivalent window of a record.

    Spirograms are measured on the raw volume (in mL, ``units`` converts L and flows), as ``serve`` does for
    spirogram streams without an encoder (a spirogram encoder's pipeline turns the window into a
    flow-volume curve, on which no index can be measured). ECG and PPG windows are measured with
    their recorded flat runs as gaps (``flat_gaps``), as ``serve`` measures them."""
    if modality == "spiro":   # volume in mL from mL, L, L/s, mL/s or no unit (biosig.spirometry.to_volume_ml)
        from biosig.spirometry import to_volume_ml
        unit, name = (list(units)[0] if units else ""), (list(channels)[0] if channels else "volume")
        pipeline, n_channels = None, 1
        samples = to_volume_ml(np.asarray(samples, dtype=np.float64)[0], unit, fs_hz, name)[None]
    wins, fs_out = causal_windows(samples, fs_hz, channels, pipeline, window_s, hop_s, n_channels, n_windows,
                                  flat_gaps=modality in FLAT_MODALITIES)
    # window_s: how long the signal the measures come from is (a record shorter than one window is
    # one short window; a window with a gap is measured on its longest run)
    return [{**window_measures(w, fs_out, modality), "window_s": measured_span_s(w, fs_out, modality)}
            for w in wins]
