"""Spirograms: flow-volume preprocessing and the ATS/ERS 2019 forced-expiration indices.

Conventions: volume in mL (exhaled volume, increasing during the blow), time in s, flow in L/s.

Back-extrapolated time zero (ATS/ERS 2019, Graham et al., Am J Respir Crit Care Med 2019,
section "Start of test criteria"): draw the line through the point of peak flow with slope equal
to the peak flow; time zero is where this line crosses volume zero (the volume at the start of
the blow). The back-extrapolated volume (BEV) is the volume exhaled before time zero; a blow is
acceptable only if BEV <= 5 % of FVC or 100 mL, whichever is greater. FEV1 is the volume exhaled
one second after time zero; FEF25-75 is the mean flow between 25 % and 75 % of FVC. End of
forced expiration (EOFE) is reached when the volume rose by at most 25 mL in the last second of
expiration (plateau) or the forced expiratory time (FET, from t0 to the end of expiration) reached
15 s. Expiration ends where the volume stops rising (:func:`end_of_expiration`), not at the end of
the trace: a flat or falling tail after it (breath hold, inspiration, leak) is no plateau. Volume
zero is the lowest volume before peak flow (maximal inspiration), so an inspiration recorded
before the blow is part of FVC.

PEF (ATS/ERS 2019 with ISO 26782, and the ATS "Vol-80" PEF of the standard test waveforms):
flow is derived from the volume-time curve as the volume change over an 80 ms window centred on
each sample (:data:`PEF_WINDOW_S`), not as the sample-to-sample slope, which reads high on noisy
or coarsely sampled volume. The same flow gives the slope of the back-extrapolation line. A
flow-time spirogram is integrated to volume first (trapezoids, volume 0 at its first sample), so
that its 80 ms flow is the mean flow over the window and both forms give the same indices. Units and their
conversion (:func:`to_volume_ml`, :data:`VOLUME_UNITS`, :data:`FLOW_UNITS`) live in :mod:`biosig.spirometry_units`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from biosig.arguments import float_signal, sampling_rate
from biosig.errors import PipelineError, SignalError
from biosig.record import Record, names_text
from biosig.spirometry_acceptability import cough_dip_l_s, zero_drift_ml_s
from biosig.spirometry_checks import _check_first_second_recorded, _check_sampling
from biosig.spirometry_end import (EOFE_AVERAGE_S, EOFE_END_TOL_ML, EOFE_NOISE_SDS, EOFE_SMOOTH_S,  # noqa: F401
                                   PAUSE_WINDOW_S, _expiration_end, _moving_average, _noise_sd_ml, end_of_expiration,
                                   _fall_is_expiration_shaped, first_second_pause_s, plateau_gain_ml,
                                   plateau_level_ml)
from biosig.spirometry_units import (FLOW_UNITS, LITRE_BLOW_SNR, LITRE_SPAN, ML_SPAN, VOLUME_UNITS,  # noqa: F401
                                     check_per_minute_flow, check_plausible, to_volume_ml, volume_from_flow)

FLOW_VOLUME_PARAMS = {"n_points": (int, 128)}
EOFE_PLATEAU_ML = 25.0  # ATS/ERS 2019 end of forced expiration: < 0.025 L gained in the last 1 s
EOFE_FET_S = 15.0       # ... or a forced expiratory time of at least 15 s
FORCED_TPEF_S = 0.3     # a forced expiration peaks within 0.3 s of time zero (a good start: < 0.12 s; a tidal breath: ~0.8 s)
PEF_WINDOW_S = 0.080    # flow for PEF: volume change over 80 ms (ATS/ERS 2019, ISO 26782)


def flow_over_window(t_s: np.ndarray, volume_ml: np.ndarray, window_s: float = PEF_WINDOW_S,
                     hold_ends: bool = False) -> np.ndarray:
    """Flow in L/s: ``(V(t + w/2) - V(t - w/2)) / w`` with ``V`` linearly interpolated between
    samples (1-D, finite ``volume_ml``); the window is cut at the ends of the trace, or with
    ``hold_ends`` the volume is held at its end values outside the trace and the window stays ``w``
    wide (a blow that starts at the first sample: the cut window read its first 40 ms as PEF)."""
    t, v = np.asarray(t_s, dtype=np.float64), np.asarray(volume_ml, dtype=np.float64)
    half = window_s / 2.0
    if len(t) > 1:
        dt = (t[-1] - t[0]) / (len(t) - 1)
        k = int(round(half / dt))
        if k >= 1 and abs(half - k * dt) < 1e-9 * dt * k and np.allclose(np.diff(t), dt, rtol=1e-9, atol=0):
            # uniform samples, a window of whole samples: exact index differences (equal volume steps compare equal)
            idx = np.arange(len(t))
            lo_i, hi_i = np.clip(idx - k, 0, len(t) - 1), np.clip(idx + k, 0, len(t) - 1)
            width = np.full(len(t), 2 * k * dt) if hold_ends else (hi_i - lo_i) * dt
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(width > 0, (v[hi_i] - v[lo_i]) / np.where(width > 0, width, 1.0), 0.0) / 1000.0
    lo, hi = (t - half, t + half) if hold_ends else (np.clip(t - half, t[0], t[-1]), np.clip(t + half, t[0], t[-1]))
    width = hi - lo
    dv = np.interp(hi, t, v) - np.interp(lo, t, v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(width > 0, dv / np.where(width > 0, width, 1.0), 0.0) / 1000.0


# ---------------------------------------------------------------------------------- preprocessing
def monotonic_volume(volume_ml: np.ndarray) -> np.ndarray:
    """Running maximum of a volume trace (1-D), NaN kept where the input is NaN."""
    v = np.asarray(volume_ml, dtype=np.float64)
    out = np.fmax.accumulate(np.where(np.isfinite(v), v, -np.inf))
    out[~np.isfinite(v) | np.isneginf(out)] = np.nan
    return out


def flow_by_differencing(volume_ml: np.ndarray, fs_hz: float) -> np.ndarray:
    """Flow in L/s from volume in mL by first differences; the first sample's flow is 0."""
    v = np.asarray(volume_ml, dtype=np.float64)
    return np.diff(v, prepend=v[:1]) * fs_hz / 1000.0


def flow_volume_curve(volume_ml: np.ndarray, fs_hz: float, n_points: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Expiratory flow-volume curve on a fixed grid.

    Returns ``(grid_ml, flow_l_s)``, float64 (n_points,) each: the grid runs from the start volume to
    the largest volume; the flow at each grid volume is the flow at the first time it is reached.
    """
    fs_hz = sampling_rate(fs_hz)
    v = monotonic_volume(float_signal(volume_ml, max_ndim=1))
    ok = np.isfinite(v)
    if ok.sum() < 2:
        raise SignalError("flow-volume curve: fewer than 2 valid volume samples")
    t = np.arange(len(v)) / fs_hz
    flow = flow_by_differencing(v, fs_hz)
    v_ok, t_ok, f_ok = v[ok], t[ok], flow[ok]
    rising = np.concatenate([[True], np.diff(v_ok) > 0])
    grid = np.linspace(v_ok[0], v_ok[-1], n_points)
    t_at = np.interp(grid, v_ok[rising], t_ok[rising])
    return grid, np.interp(t_at, t_ok, f_ok)


def flow_volume_offline(rec: Record, p: dict) -> Record:
    """Step ``flow_volume``: (1, T) volume -> (2, T) ``volume_ml`` (monotonic), ``flow_l_s``.

    The flow-volume curve on a fixed grid of ``n_points`` volumes goes to
    ``metadata["flow_volume"] = {"volume_ml": ..., "flow_l_s": ...}``.
    """
    if rec.n_channels != 1:
        raise PipelineError(f"flow_volume expects 1 volume channel, got {rec.n_channels} "
                            f"({names_text(rec.channels)}); add select_channels first")
    v = monotonic_volume(rec.samples[0])
    flow = flow_by_differencing(v, rec.fs_hz)
    meta = dict(rec.metadata)
    if np.isfinite(v).sum() >= 2:
        grid, fv = flow_volume_curve(rec.samples[0], rec.fs_hz, p["n_points"])
        meta["flow_volume"] = {"volume_ml": grid, "flow_l_s": fv}
    return rec.replace(samples=np.stack([v, flow]).astype(np.float32), channels=("volume_ml", "flow_l_s"),
                       units=("mL", "L/s"), modality=rec.modality, metadata=meta)


class FlowVolumeStream:
    """Streaming ``flow_volume``: running maximum and previous sample carried between chunks."""

    def __init__(self, p: dict, fs_hz: float, n_channels: int):
        if n_channels != 1:
            raise PipelineError(f"flow_volume expects 1 volume channel, got {n_channels}")
        self.fs_hz = float(fs_hz)
        self.reset()

    def reset(self) -> None:
        self._max = -np.inf
        self._prev = None  # last volume of the previous chunk; None before the first chunk

    def process(self, chunk: np.ndarray) -> np.ndarray:
        x = np.asarray(chunk, dtype=np.float64)
        if x.shape[1] == 0:
            return np.zeros((2, 0), dtype=np.float32)
        v = np.fmax.accumulate(np.concatenate([[self._max], np.where(np.isfinite(x[0]), x[0], -np.inf)]))[1:]
        self._max = v[-1]
        v[~np.isfinite(x[0])] = np.nan
        first = v[0] if self._prev is None else self._prev
        flow = np.diff(np.concatenate([[first], v])) * self.fs_hz / 1000.0
        self._prev = v[-1]
        return np.stack([v, flow]).astype(np.float32)


# ---------------------------------------------------------------------------------- indices
@dataclass(frozen=True)
class SpirometryIndices:
    """ATS/ERS 2019 indices of one forced expiration.

    Volumes in mL, flows in L/s, times in s from the first sample of the trace.
    """

    fvc_ml: float
    fev1_ml: float
    fev1_fvc: float
    pef_l_s: float
    fef25_75_l_s: float
    t0_s: float               # back-extrapolated time zero
    bev_ml: float             # back-extrapolated volume
    bev_limit_ml: float       # max(5 % FVC, 100 mL)
    bev_ok: bool              # bev_ml <= bev_limit_ml
    t_pef_s: float
    fet_s: float = float("nan")        # forced expiratory time: t0 to the end of expiration
    plateau_ml: float = float("nan")   # volume gained in the last 1 s of expiration (spirometry_end.plateau_gain_ml)
    eofe_ok: bool = False             # end of forced expiration: plateau <= 25 mL or FET >= 15 s
    pause_s: float = 0.0              # longest flow pause between PEF and t0 + 1 s (0: none)
    pause_ok: bool = True             # no pause in the first second (spirometry_end.first_second_pause_s)
    forced_ok: bool = True            # a forced expiration: peak flow within FORCED_TPEF_S of t0 (not a tidal breath)
    cough_dip_l_s: float = 0.0        # depth of a cough's flow notch in the first second (0: none; spirometry_acceptability)
    cough_ok: bool = True             # no cough in the first second (ATS/ERS 2019: FEV1 only)
    drift_ml_s: float = 0.0           # zero drift (+: before and after the blow, -: a steady fall at its end; 0: none)
    drift_ok: bool = True             # no such drift (spirometry_acceptability.zero_drift_ml_s)

    @property
    def fvc_l(self) -> float:
        return self.fvc_ml / 1000.0

    @property
    def fev1_l(self) -> float:
        return self.fev1_ml / 1000.0

    def as_dict(self) -> dict:
        """All fields plus ``fvc_l`` and ``fev1_l``."""
        return {**asdict(self), "fvc_l": self.fvc_l, "fev1_l": self.fev1_l}


def back_extrapolate(t_s: np.ndarray, volume_ml: np.ndarray, flow_l_s: np.ndarray) -> tuple[float, float, float]:
    """``(t0_s, t_pef_s, pef_l_s)``: the tangent at peak flow (slope = PEF) crosses volume 0 at t0."""
    i = int(np.nanargmax(flow_l_s))
    pef = float(flow_l_s[i])
    if not pef > 0:
        raise SignalError("spirogram: no positive expiratory flow")
    t0 = float(t_s[i] - (volume_ml[i] / 1000.0) / pef)
    return t0, float(t_s[i]), pef


def spirometry_indices(volume_ml: np.ndarray, fs_hz: float, smooth_s: float = 0.0,
                       pef_window_s: float = PEF_WINDOW_S) -> SpirometryIndices:
    """FVC, FEV1, FEV1/FVC, PEF, FEF25-75, time zero and BEV of a volume-time trace (1-D, mL).

    The trace starts at its lowest volume before peak flow (maximal inspiration), is made
    monotonic and shifted to volume 0 there; flow is the volume change over ``pef_window_s`` (80
    ms, see the module docstring); ``smooth_s > 0`` additionally smooths that flow by a centred
    moving average before the peak search. FET and the plateau are read at
    :func:`end_of_expiration`, FVC is the level the volume ends at
    (:func:`~biosig.spirometry_end.plateau_level_ml`: not the largest noisy sample), a flow
    pause between peak flow and t0 + 1 s fails ``pause_ok``, and peak flow more than
    :data:`FORCED_TPEF_S` after t0 fails ``forced_ok`` (a tidal breath, not a forced expiration).

    Raises :class:`SignalError` for a blow of at most :data:`LITRE_SPAN` mL well above its noise:
    a volume in litres passed as mL (a forced expiration, infants' included, moves over 15 mL).
    """
    fs_hz = sampling_rate(fs_hz)
    raw = float_signal(volume_ml, max_ndim=1).astype(np.float64)
    ok = np.isfinite(raw)
    _check_sampling(int(ok.sum()), float(fs_hz))
    t, raw = np.flatnonzero(ok) / float(fs_hz), raw[ok]
    noise = _noise_sd_ml(raw)     # the white noise of the trace, once (robust to the blow's samples)
    flow_of = (lambda tt, vv: flow_over_window(tt, vv, pef_window_s, hold_ends=True)) if pef_window_s > 0 else \
        (lambda tt, vv: np.gradient(vv, tt) / 1000.0)
    n_avg = max(1, int(round(EOFE_AVERAGE_S * fs_hz)))
    _check_sign(t, raw, _moving_average(raw, n_avg), noise)
    start = int(np.argmin(raw[: int(np.argmax(flow_of(t, monotonic_volume(raw)))) + 1]))
    # an inspiration before the blow, not noise: read on the EOFE_AVERAGE_S average (on the samples, the
    # lowest of 50 noisy ones was 4 SDs under the first in 1 blow of 20: FVC +0.4 mL at 2 mL of noise)
    avg = _moving_average(raw[: start + 1], n_avg)
    if avg[0] - avg.min() > 4.0 * noise:
        t, raw = t[start:], raw[start:]
    v = monotonic_volume(raw) - raw[0]
    flow = flow_of(t, v)
    if smooth_s > 0:
        k = max(1, int(round(smooth_s * fs_hz)))
        flow = np.convolve(flow, np.ones(k) / k, mode="same")
    end, fall = _expiration_end(raw, fs_hz, noise)
    fvc = plateau_level_ml(raw, fs_hz, end, noise) - float(raw[0])
    if not fvc > 0:
        raise SignalError("spirogram: no exhaled volume (FVC <= 0)")
    if fvc <= LITRE_SPAN and fvc > LITRE_BLOW_SNR * noise:
        raise SignalError(f"spirogram: FVC {fvc:.4g} mL, a blow far above its noise: the volume looks like litres; "
                          "pass volume_ml = litres * 1000 (a forced expiration moves over 15 mL, an infant's too)")
    t0, t_pef, pef = back_extrapolate(t, v, flow)
    check_plausible(fvc, pef)     # a volume 1000x too large or a flow read as a volume: no lung exhales it
    _check_first_second_recorded(t, t0, fs_hz, PEF_WINDOW_S)   # the 80 ms window, whatever pef_window_s
    bev = float(np.interp(t0, t, v))
    fev1 = float(np.interp(t0 + 1.0, t, v))
    t25, t75 = np.interp([0.25 * fvc, 0.75 * fvc], v + np.arange(len(v)) * 1e-9, t)
    fef = (0.5 * fvc / 1000.0) / (t75 - t25) if t75 > t25 else float("nan")
    limit = max(0.05 * fvc, 100.0)
    fet = float(t[end]) - t0
    plateau = plateau_gain_ml(raw, fs_hz, end, fall)   # least-squares slope over 1 s: no running-maximum bias
    eofe = bool((np.isfinite(plateau) and plateau <= EOFE_PLATEAU_ML) or fet >= EOFE_FET_S)
    pause = first_second_pause_s(t, flow_over_window(t, v, PAUSE_WINDOW_S), t0, t_pef, pef)
    dip = cough_dip_l_s(t, v, t0, pef, noise) if pause == 0.0 else 0.0   # a pause is said once, as a pause
    drift = zero_drift_ml_s(t, raw, t0, plateau, t_pef, noise)   # a constant rate before and after the blow,
    # or a steady fall at its end (a zero offset: spirometry_acceptability)
    return SpirometryIndices(fvc_ml=fvc, fev1_ml=fev1, fev1_fvc=fev1 / fvc, pef_l_s=pef, fef25_75_l_s=float(fef),
                             t0_s=t0, bev_ml=bev, bev_limit_ml=limit, bev_ok=bool(bev <= limit), t_pef_s=t_pef,
                             fet_s=fet, plateau_ml=plateau, eofe_ok=eofe, pause_s=pause, pause_ok=pause == 0.0,
                             forced_ok=bool(t_pef - t0 <= FORCED_TPEF_S), cough_dip_l_s=dip, cough_ok=dip == 0.0,
                             drift_ml_s=drift, drift_ok=drift == 0.0)


FLIPPED_FLOW_RATIO = 2.0   # _check_sign: the fall is this many times faster than any rise


def _check_sign(t: np.ndarray, raw: np.ndarray, avg: np.ndarray, noise_sd_ml: float) -> None:
    """:class:`SignalError` for a volume trace whose forced expiration goes down (exhaled volume
    negative, or a flow with expiration negative): its largest fall exceeds its largest rise, well
    above the noise, at a peak flow :data:`FLIPPED_FLOW_RATIO` times that of any rise. Read as it
    is, an inspiration before the blow became the "blow" (FVC 1.0 L, FEV1/FVC 1.0, acceptable).
    ``avg``: ``raw`` averaged over :data:`EOFE_AVERAGE_S`; ``noise_sd_ml``: its white-noise SD."""
    rise = float(np.max(avg - np.minimum.accumulate(avg)))
    fall = float(np.max(np.maximum.accumulate(avg) - avg))
    if fall <= max(rise, LITRE_SPAN, LITRE_BLOW_SNR * noise_sd_ml):
        return
    flow = flow_over_window(t, raw)
    up, down = max(float(np.max(flow)), 0.0), max(float(-np.min(flow)), 0.0)
    if down > FLIPPED_FLOW_RATIO * up and _fall_is_expiration_shaped(t, avg):
        raise SignalError(f"spirogram: the volume falls by {fall:.0f} mL at up to {down:.2f} L/s and rises by at most "
                          f"{rise:.0f} mL at {up:.2f} L/s: the expiration looks recorded downward (exhaled volume "
                          "must rise); negate the volume (or flow) column")


def grid_samples(rec: Record) -> np.ndarray:
    """The samples (C, N) of ``rec`` on its uniform ``fs_hz`` grid: ``rec.samples`` when its times
    are regular, else each sample at the grid index nearest its time in ``times_s`` and NaN where
    no sample was recorded (a dropped row is a gap, never bridged). The indices read time as
    ``index / fs_hz``: a spirogram with 20 dropped rows during the blow gave FEV1 4925 mL and PEF
    15.7 L/s instead of 4677 mL and 10.0 L/s.

    :class:`SignalError` where the times are off the grid (two samples nearest one index, or more
    than a quarter period away from it): resample such a record first."""
    if rec.times_s is None or not rec.times_irregular:
        return rec.samples
    pos = rec.times_s * rec.fs_hz
    idx = np.rint(pos).astype(np.int64)
    if np.any(np.abs(pos - idx) > 0.25) or np.any(np.diff(idx) <= 0):
        raise SignalError(f"sample times are off the {rec.fs_hz:g} Hz grid (jitter over a quarter period); "
                          "the indices need a uniform grid: resample the record first")
    out = np.full((rec.n_channels, int(idx[-1]) + 1), np.nan, dtype=rec.samples.dtype)
    out[:, idx] = rec.samples
    return out


def record_volume_ml(rec: Record) -> np.ndarray:
    """The exhaled volume (mL, 1-D) of a spirogram record: its volume channel (named ``volume...``
    or in mL / L), else its flow channel (L/s, mL/s, L/min), else its only channel when it has no unit
    (:func:`to_volume_ml` reads it by its span), on the uniform grid of :func:`grid_samples`."""
    picks = spirogram_channels(rec)
    if not picks:
        raise SignalError("no spirogram channel: expected a volume (mL or L) or flow (L/s, mL/s, L/min) channel; "
                          "channels are " + names_text(f"{c} [{u or 'no unit'}]" for c, u in zip(rec.channels, rec.units)))
    return to_volume_ml(grid_samples(rec)[picks[0]], rec.units[picks[0]], rec.fs_hz, rec.channels[picks[0]])


def spirogram_channels(rec: Record) -> list[int]:
    """Indices of a spirogram record's volume channels (named ``volume...`` or in mL / L), else of its
    flow channels (L/s, mL/s, L/min), else ``[0]`` for a single channel without a unit whose name says no other
    modality (an ECG's ``II`` or a ``RESP`` column was read as a volume: six "blows" refused, or one acceptable
    blow of 0.6 L); ``[]`` for none."""
    units = [u.strip().lower() for u in rec.units]
    names = [c.strip().lower() for c in rec.channels]
    unnamed = units == [""] and (rec.channel_modalities[0] in ("spiro", "other") or names[0].startswith("flow"))
    return ([i for i, (n, u) in enumerate(zip(names, units)) if n.startswith("volume") or u in VOLUME_UNITS]
            or [i for i, u in enumerate(units) if u in FLOW_UNITS] or ([0] if unnamed else []))


def record_volumes_ml(rec: Record) -> list[tuple[str, np.ndarray]]:
    """``[(channel, volume_ml), ...]``: every volume channel of a spirogram record (several columns,
    several blows), else every flow channel, else :func:`record_volume_ml`'s pick; each as
    :func:`record_volume_ml` reads it. Only the first was read: the other blows were dropped unsaid."""
    picks = spirogram_channels(rec)
    if len(picks) < 2:
        return [(rec.channels[picks[0]] if picks else rec.channels[0], record_volume_ml(rec))]
    grid = grid_samples(rec)
    return [(rec.channels[i], to_volume_ml(grid[i], rec.units[i], rec.fs_hz, rec.channels[i])) for i in picks]
