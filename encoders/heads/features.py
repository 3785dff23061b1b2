"""Offline windows exactly as the streaming runtime cuts them, and their measures.

The runtime preprocesses each stream with the encoder's out-of-graph pipeline run *causally*
(:meth:`biosig.pipeline.Pipeline.stream`) and cuts windows of ``round(window_s * fs)`` samples
every ``round(hop_s * fs)`` from the first processed sample. :func:`causal_windows` does the same
on a whole record, so that :func:`biosig.measures_window.window_measures` gets identical samples
online (``serve``) and offline (``score``, head training).
"""
from __future__ import annotations

import logging

import numpy as np

from biosig.flatline import FLAT_MODALITIES, window_flat_mask, with_gaps
from biosig.measures_window import measure_keys, measured_span_s, window_measures

log = logging.getLogger(__name__)


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


#: ``missing`` of every window of a flow channel whose unit is in doubt
#: (:func:`biosig.spirometry_units.flow_unit_doubt`)
UNIT_IN_DOUBT = "unit_in_doubt"


def record_window_measures(samples, fs_hz, channels, modality: str, pipeline, window_s: float, hop_s: float,
                           n_channels: int | None = None, n_windows: int | None = None, units=None,
                           flow_unit: str | None = None) -> list[dict]:
    """:func:`window_measures` of every runtime-equivalent window of a record.

    Spirograms are measured on the raw volume (in mL, ``units`` converts L and flows), as ``serve`` does for
    spirogram streams without an encoder (a spirogram encoder's pipeline turns the window into a
    flow-volume curve, on which no index can be measured). A flow channel (its unit in ``units``, or ``flow_unit``:
    the unit of the flow a flow-time CSV reader integrated to mL, its ``metadata["flow_unit"]``) whose blow
    :func:`biosig.spirometry_units.flow_unit_doubt` finds in another unit (L/s labelled L/min or the reverse: the rule
    ``biosig spiro`` refuses a file by) has every window's measures withheld (None, ``missing``
    :data:`UNIT_IN_DOUBT`), said once per record in a warning (stderr). ECG and PPG windows are measured with
    their recorded flat runs as gaps (``flat_gaps``), as ``serve`` measures them."""
    doubt = None
    if modality == "spiro":   # volume in mL from mL, L, L/s, mL/s or no unit (biosig.spirometry_units)
        samples, doubt = _spiro_volume(samples, fs_hz, channels, units, flow_unit)
        pipeline, n_channels = None, 1
    wins, fs_out = causal_windows(samples, fs_hz, channels, pipeline, window_s, hop_s, n_channels, n_windows,
                                  flat_gaps=modality in FLAT_MODALITIES)
    # window_s: how long the signal the measures come from is (a record shorter than one window is
    # one short window; a window with a gap is measured on its longest run)
    rows = [{**window_measures(w, fs_out, modality), "window_s": measured_span_s(w, fs_out, modality)} for w in wins]
    if doubt:
        log.warning("%s: every window's spirometry measures withheld (missing %r)", doubt, UNIT_IN_DOUBT)
        rows = [{**r, **{k: None for k in measure_keys(modality)}, "ok": False, "missing": UNIT_IN_DOUBT}
                for r in rows]
    return rows


def _spiro_volume(samples, fs_hz, channels, units, flow_unit) -> tuple[np.ndarray, str | None]:
    """``(volume_ml (1, T), doubt)``: the first channel as exhaled volume in mL
    (:func:`biosig.spirometry_units.convert_volume_ml`) and :func:`~biosig.spirometry_units.flow_unit_doubt`'s reason
    (or None) for its flow: the channel's own (a flow unit in ``units``) or, for a volume in mL integrated from a flow
    in ``flow_unit``, its steps (:func:`~biosig.spirometry_units.flow_time_doubt`, as ``biosig spiro``)."""
    from biosig.spirometry_units import FLOW_UNITS, convert_volume_ml, flow_time_doubt, flow_unit_doubt
    unit, name = (list(units)[0] if units else ""), (list(channels)[0] if channels else "volume")
    x = np.asarray(samples, dtype=np.float64)[0]
    v = convert_volume_ml(x, unit, fs_hz, name)
    key = (unit or "").strip().lower()
    if key in FLOW_UNITS:
        doubt = flow_unit_doubt(v, x * FLOW_UNITS[key], key)
    else:
        doubt = flow_time_doubt(v, fs_hz, flow_unit) if flow_unit else None
    return v[None], doubt
