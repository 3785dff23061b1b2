"""Clinical measures from records: heart rate (ECG, PPG), respiratory rate (RESP), spirometry.

Rates are mean rates over the detected events: ``60 * (n - 1) / (t_last - t_first)`` per
valid run, pooled over runs (so a NaN gap neither adds a false long interval nor is smeared),
i.e. 60 over the mean event interval. Detectors are NeuroKit2's: ``ecg_clean`` + ``ecg_peaks``
(R peaks; a lead whose QRS points down is inverted first, see :func:`qrs_is_negative`), ``ppg_clean`` + ``ppg_findpeaks`` (systolic peaks; its beat window scaled to the pulse period,
:func:`_pulse_peaks_nk`), ``rsp_clean`` + ``rsp_peaks``
(end of inspiration). Spirometry indices follow ATS/ERS 2019, see :mod:`biosig.spirometry`.

All functions take a :class:`~biosig.record.Record` and measure one channel: ``channel`` when
given, else the only channel of the wanted modality or, among several ECG/PPG channels, the one
with the best signal quality (:func:`choose_channel`). They return ``nan`` when too few events are found,
and a PPG rate is ``nan`` where biosig's own pulse detector finds a rate more than 10 % off
(:func:`_checked_pulse_rate`; where they agree, the rate is biosig's). An ECG record's rate is
NeuroKit2's where it agrees within 5 % with biosig's in the 10 s windows whose measures are
published (:mod:`biosig.measures_window`, what ``score`` and ``serve`` publish), else the windows'
where enough of them are published (:func:`_checked_ecg_rate`: NeuroKit2 alone read 220 /min as
110, 30 /min at 125 Hz as 37-39, pacemaker spikes as beats; below 60 /min without its T waves); a
record with asynchronous pacing spikes gets the windows' rate where enough are published, else NaN.
"""
from __future__ import annotations

import logging

import numpy as np

from biosig.errors import SignalError
from biosig.flatline import FLAT_MODALITIES, flat_runs_to_nan
from biosig.measures_events import (MAX_TIME_HOLE_S, MIN_RUN_S, _detect_events, _pulse_peaks_nk,  # noqa: F401 (re-exported)
                                    _PulseRuns, _rate_per_min, _runs, _times, qrs_is_negative)
from biosig.record import Record, names_text, require_record
from biosig.spirometry import SpirometryIndices, spirometry_indices as _indices_from_volume

log = logging.getLogger(__name__)


def choose_channel(record: Record, modality: str) -> int:
    """Index of the channel to measure: the only channel of ``modality``, or among several ECG/PPG
    channels :func:`biosig.lead_quality.best_lead` (the leads within 0.1 of the best share of windows
    passing the quality gate, then the highest mean window quality; at most 24 windows each, the
    same assessment ``score`` ranks leads by), so one bad lead does not spoil the rate."""
    from biosig.modality import modality_channel_indices
    mods = require_record(record, "choose_channel()").channel_modalities
    # the one rule (a channel of unknown modality only where none is named so, never a pressure or a trend: with
    # '--modality ecg', ch2 in mmHg was a candidate lead until 2026-12-07)
    idx = modality_channel_indices(record.channels, mods, record.units, modality, record.modality)[0]
    if not idx:
        raise SignalError(f"no {modality} channel among {names_text(record.channels)} (record modality {record.modality})")
    if len(idx) == 1 or modality not in ("ecg", "ppg"):
        return idx[0]
    from biosig.lead_quality import best_lead
    return best_lead(record, idx, modality)


def _channel(record: Record, modality: str, channel: str | int | None) -> np.ndarray:
    """The samples of ``channel`` (default :func:`choose_channel`); for ECG and PPG, flat runs of
    1 s or more (a lead off) as NaN, so that no beat interval spans one
    (:func:`biosig.flatline.flat_runs_to_nan`)."""
    if channel is None:
        channel = choose_channel(record, modality)
    x = record.select([channel]).samples[0]
    return flat_runs_to_nan(x, record.fs_hz) if modality in FLAT_MODALITIES else x


def detect_events(record: Record, modality: str, channel: str | int | None = None) -> np.ndarray:
    """Sample indices (int64) of beats (ecg, ppg) or breaths (resp) over the whole record."""
    require_record(record, "detect_events()")
    return _detect_events(record, modality, _channel(record, modality, channel), _PulseRuns())


def _mean_rate_per_min(record: Record, modality: str, channel) -> float:
    if channel is None:
        channel = choose_channel(record, modality)
    x = _channel(record, modality, channel)
    pulses = _PulseRuns()   # biosig's pulses per run: detected once, for NeuroKit2's beat window and the check
    events = _detect_events(record, modality, x, pulses)
    t = _times(record)
    rate = _rate_per_min(x, record.fs_hz, lambda a, b: np.sort(events[(events >= a) & (events < b)]), t)
    if modality == "ppg" and np.isfinite(rate):
        return _checked_pulse_rate(x, record.fs_hz, rate, t, pulses)
    if modality == "ecg" and np.isfinite(rate):
        return _checked_ecg_rate(x, record.fs_hz, rate, events, t)
    return rate


PULSE_RATE_AGREEMENT = 0.10   # relative difference above which a PPG pulse rate is not reported


def _checked_pulse_rate(x: np.ndarray, fs_hz: float, rate_per_min: float, t_s: np.ndarray | None = None,
                        pulses: _PulseRuns | None = None) -> float:
    """A PPG record's pulse rate from two detectors: NeuroKit2's (``rate_per_min``) and biosig's own
    (:func:`biosig.quality.detect_beats`, another method: systolic peaks 0.6 periods apart, every pulse
    of pulsus alternans; what the window measures publish). Where the two rates differ by more than
    :data:`PULSE_RATE_AGREEMENT`, one of them misses or doubles pulses (small pulses of pulsus
    alternans, dicrotic waves, artefacts) and the rate is not trustworthy: a warning, and NaN. Where
    they agree, biosig's: in pulsus alternans NeuroKit2 still misses some small pulses within the
    tolerance (CinC 2015 a103l, 180-210 s: 115.1 /min against biosig's 125.6 and the ECG's 127.3; over
    the whole record 119.4, 124.7 and 124.5; MIMIC 041s 95.45, 95.53, 95.54). Where biosig's detector
    finds no rate, NeuroKit2's stands. Not applied to ECG records (see :func:`_mean_rate_per_min`).
    ``pulses``: biosig's pulses per run, those NeuroKit2's beat window was scaled with (detected here
    where not given)."""
    pulses = _PulseRuns() if pulses is None else pulses
    ours = _rate_per_min(x, fs_hz, lambda a, b: a + pulses(x, fs_hz, a, b), t_s)
    if not np.isfinite(ours):
        return rate_per_min   # nothing to check against: NeuroKit2's rate stands
    if abs(rate_per_min - ours) > PULSE_RATE_AGREEMENT * ours:
        log.warning("PPG pulse rate not reported: the two pulse detectors disagree (%.0f vs %.0f /min)",
                    rate_per_min, ours)
        return float("nan")
    return ours


ECG_WINDOW_S = 10.0          # the windows of the ECG record rate's second opinion (what ``score`` publishes)
# relative difference above which NeuroKit2's ECG record rate is overruled: where both detectors find
# the same beats in the same windows they agree within 0.8 % (100: 0.05 %, 03700181: 0.004 %, a103l:
# 0.8 %), so more is an extra or a missing beat; at 10 % NeuroKit2's T waves at 35-45 /min passed (40 /min
# at 125 Hz read 42.1-43.1, 35 /min up to 48.4, while every window published read 39.9-40.1)
ECG_RATE_AGREEMENT = 0.05
ASYNC_SPIKE_SHARE = 0.10    # asynchronous pacing spikes over this share of NeuroKit2's R peaks: its rate is no candidate
ECG_MIN_WINDOWS = 2          # published windows the second opinion needs ...
ECG_MIN_WINDOW_SHARE = 0.5   # ... and this share of the record's whole windows
ECG_SLOW_PER_MIN = 60.0      # below it NeuroKit2's R peaks that are T or P waves are not counted (_checked_ecg_rate)


def _ecg_window_beats(x: np.ndarray, fs_hz: float, events: np.ndarray, t_s: np.ndarray | None,
                      not_beats: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[np.ndarray], int, int]:
    """``(ours, nk, n_windows, n_spikes)``: biosig's R peaks (sample indices of ``x``) and NeuroKit2's
    (``events`` in the same samples) in each whole :data:`ECG_WINDOW_S` window of each finite run of
    ``x`` whose measures :func:`biosig.measures_window.window_measures` publishes (quality gate
    passed, no interval in doubt: what ``score`` and ``serve`` publish; :func:`biosig.measures_window.ecg_published`
    without the measures, MIT-BIH 100 0.76 -> 0.56 s: ``benchmarks/bench_heart_rate.py``), how many whole windows
    there are, and how many pacing spikes that no beat follows biosig's detector found in them
    (:func:`biosig.ecg_beats.asynchronous_spikes`, published windows or not). ``not_beats``, where
    given, gets NeuroKit2's R peaks in each published window that are no beat
    (:func:`biosig.ecg_beats.false_r_peaks`)."""
    from biosig.ecg_beats import asynchronous_spikes, false_r_peaks
    from biosig.measures_window import ecg_published
    from biosig.quality import ecg_window_beats

    w = int(round(ECG_WINDOW_S * fs_hz))
    ours, nk, n, spikes = [], [], 0, 0
    for a, b in _runs(x, fs_hz, t_s):
        for s in range(a, b - w + 1, w):
            n += 1
            seg = x[s:s + w]
            published = ecg_published(seg, fs_hz)   # window_measures(seg, fs_hz, "ecg")["ok"], not the measures
            found = ecg_window_beats(seg, fs_hz)   # the measures' beats, kept per thread
            spikes += len(asynchronous_spikes(found.detection, fs_hz))
            if published:
                ours.append(s + found.beats)
                nk.append(np.sort(events[(events >= s) & (events < s + w)]))
                if not_beats is not None:
                    not_beats.append(s + false_r_peaks(nk[-1] - s, found.beats, found.clean, fs_hz))
    return ours, nk, n, spikes


def _pooled_rate_per_min(beats: list[np.ndarray], fs_hz: float, t_s: np.ndarray | None) -> float:
    """60 over the mean interval between the beats of each window, pooled over the windows (NaN with
    fewer than 2 intervals); sample times ``t_s`` where they are irregular."""
    iv = [np.diff(t_s[b]) if t_s is not None else np.diff(b) / fs_hz for b in beats]
    iv = np.concatenate(iv) if iv else np.zeros(0)
    return float(60.0 / iv.mean()) if len(iv) >= 2 else float("nan")


def _checked_ecg_rate(x: np.ndarray, fs_hz: float, rate_per_min: float, events: np.ndarray,
                      t_s: np.ndarray | None = None) -> float:
    """An ECG record's heart rate: NeuroKit2's (``rate_per_min``, R peaks ``events``) checked against
    biosig's window measures (:func:`_ecg_window_beats`: the :data:`ECG_WINDOW_S` windows whose
    measures are published). NeuroKit2's detector alone missed every other beat at 220 /min (its
    0.3 s refractory period: 110), read 30 /min at 125 Hz as 37-39 (T waves) and counted
    asynchronous pacemaker spikes (72 /min over a 30 /min rhythm: 78). Where its rate in those
    windows is more than :data:`ECG_RATE_AGREEMENT` off biosig's there, and the windows are
    confident (:data:`ECG_MIN_WINDOWS` and :data:`ECG_MIN_WINDOW_SHARE` of the record's whole
    windows), the record's rate is the windows' (pooled intervals, as the record rate: CinC 2017
    A06847, a rate that changes, reads 58.1 /min, xqrs and gqrs 58.1 and 58.0; the median window
    52.7). Where they are not confident, NeuroKit2's rate stands, with a warning (with NaN, 4 CinC
    2017 records that other detectors measure lost their rate); so it does with no published window
    (biosig's detector over a whole noisy single-lead record is no arbiter: checked so, 61 of the
    200 CinC 2017 records were NaN). Below :data:`ECG_SLOW_PER_MIN` (windows' rate), NeuroKit2's R
    peaks that the published windows show to be T or P waves (:func:`biosig.ecg_beats.false_r_peaks`)
    are not counted in the rate that stands: one or two a minute at 30-45 /min read 2-6 % high within
    the check (35 /min at 125 Hz, seed 1: 37.1, now 35.0). At normal rates the rule moved 14 of the 200
    CinC 2017 records, 11 towards wfdb's xqrs and gqrs but A02072 away (65.5 -> 63.4, both 65.5), and
    MIT-BIH 203 (multiform PVCs, 92.1 -> 91.8): not applied there.

    Where the windows hold pacing spikes that no beat follows (:func:`biosig.ecg_beats.asynchronous_spikes`),
    more than :data:`ASYNC_SPIKE_SHARE` of NeuroKit2's R peaks in number (enough to move its rate by
    more than the check allows), NeuroKit2's rate is no candidate: it has no spike filter and counts
    them. The rate is the windows' where they are confident, else NaN with a warning: at 125 Hz a
    spike split over two samples stays in biosig's detection too, its windows are withheld
    (``uncertain_beats``), and a 30 or 70 /min rhythm under 72 /min spikes was returned as
    NeuroKit2's 78.4 and 90.5 /min (0 and 2 of 6 windows published). No window of MIT-BIH 100,
    03700181, a103l or the CinC 2017 records holds one; of the 47 MIT-BIH records of
    ``pretrain/ecg/mitdb`` 203 and 219 hold one each (noise, against 2769 and 2154 beats: a rule on
    any spike made 203's rate NaN and moved 219's 71.6 to 72.1), so no real record's rate changes."""
    ours, nk, n_windows, n_spikes = _ecg_window_beats(x, fs_hz, events, t_s, not_beats := [])
    windows_rate = _pooled_rate_per_min(ours, fs_hz, t_s)
    if not_beats and len(wrong := np.concatenate(not_beats)) and windows_rate < ECG_SLOW_PER_MIN:   # not counted
        kept = np.setdiff1d(events, wrong)   # NeuroKit2's T or P waves, where its rate stands
        log.info("ECG heart rate: %d of NeuroKit2's R peaks are T or P waves (%.1f /min with them)", len(wrong), rate_per_min)
        rate_per_min = _rate_per_min(x, fs_hz, lambda a, b: kept[(kept >= a) & (kept < b)], t_s)
    confident = len(ours) >= ECG_MIN_WINDOWS and len(ours) >= ECG_MIN_WINDOW_SHARE * n_windows
    if n_spikes > ASYNC_SPIKE_SHARE * len(events):   # NeuroKit2 counts them as beats: its rate is no candidate
        if confident and np.isfinite(windows_rate):
            log.info("ECG heart rate from the window measures: %.1f /min in %d of %d windows (%d asynchronous "
                     "pacing spikes)", windows_rate, len(ours), n_windows, n_spikes)
            return windows_rate
        log.warning("ECG heart rate not reported: %d asynchronous pacing spikes, which NeuroKit2's R peaks count "
                    "as beats (%d), and %d of %d windows' measures published (too few to measure it)",
                    n_spikes, len(events), len(ours), n_windows)
        return float("nan")
    if not np.isfinite(windows_rate):
        return rate_per_min
    nk_rate = _pooled_rate_per_min(nk, fs_hz, t_s)   # NeuroKit2's rate in the same windows: like with like
    if abs(nk_rate - windows_rate) <= ECG_RATE_AGREEMENT * windows_rate:
        return rate_per_min
    if confident:
        log.info("ECG heart rate from the window measures: %.1f /min in %d of %d windows, where NeuroKit2's R peaks "
                 "read %.1f (%.1f over the record)", windows_rate, len(ours), n_windows, nk_rate, rate_per_min)
        return windows_rate
    log.warning("ECG heart rate %.0f /min unconfirmed: NeuroKit2's R peaks read %.0f /min in the %d published of %d "
                "windows, biosig's %.0f (too few windows to overrule)", rate_per_min, nk_rate, len(ours), n_windows,
                windows_rate)
    return rate_per_min


def heart_rate(record: Record, channel: str | int | None = None) -> float:
    """Mean heart rate in beats per minute from an ECG (R peaks) or PPG (pulse peaks) record.

    ``channel`` (name or index) is measured with its own modality's detector (a ``PLETH`` channel
    with the pulse detector even where the record also has ECG leads); a channel whose name says
    neither is measured as the record's ECG, else PPG."""
    mods = set(require_record(record, "heart_rate()").channel_modalities) | {record.modality}
    modality = "ecg" if "ecg" in mods else "ppg" if "ppg" in mods else None
    if channel is not None:   # the channel's own detector: a PLETH of an ECG+PPG record went to the R-peak detector
        own = record.select([channel]).channel_modalities[0]
        modality = own if own in ("ecg", "ppg") else modality
    if modality is None:
        raise SignalError(f"heart rate needs an ECG or PPG channel; channels are {names_text(record.channels)}")
    return _mean_rate_per_min(record, modality, channel)


def respiratory_rate(record: Record, channel: str | int | None = None) -> float:
    """Mean respiratory rate in breaths per minute from a RESP channel."""
    return _mean_rate_per_min(require_record(record, "respiratory_rate()"), "resp", channel)


def spirometry_indices(record: Record | np.ndarray, fs_hz: float | None = None, smooth_s: float = 0.0) -> SpirometryIndices:
    """ATS/ERS 2019 indices (FVC, FEV1, FEV1/FVC, PEF, FEF25-75, back-extrapolated t0 and volume).

    ``record``: a spirogram record (its ``volume_ml`` channel, else the channel
    :func:`biosig.spirometry.record_volume_ml` takes: volume in mL / L, flow in L/s / mL/s), or a
    1-D volume array in mL with ``fs_hz``. One blow: a trace of several blows in a row (or of tidal
    breaths) raises :class:`SignalError` naming :func:`biosig.spirometry_end.split_blows`, which
    cuts it into blows as ``biosig spiro`` does.
    """
    if isinstance(record, Record):
        from biosig.spirometry import grid_samples, record_volume_ml, to_volume_ml
        if "volume_ml" in record.channels:
            i = record.channels.index("volume_ml")
            v = to_volume_ml(grid_samples(record)[i], record.units[i] or "mL", record.fs_hz, "volume_ml")
        else:
            v = record_volume_ml(record)
        from biosig.spirometry_acceptability import check_flow_time_volumes   # (a flow-time CSV: L/s as L/min)
        check_flow_time_volumes([v], record.fs_hz, record.metadata.get("flow_unit"))
        fs_hz = record.fs_hz
    else:
        v = np.asarray(record, dtype=np.float64)
        if fs_hz is None:
            raise SignalError("spirometry_indices(array) needs fs_hz")
    from biosig.spirometry_end import split_blows
    blows = split_blows(v, float(fs_hz))
    if len(blows) > 1:
        raise SignalError(f"spirometry_indices: the trace holds {len(blows)} blows (or breaths) in a row, not one; "
                          "cut it with biosig.spirometry_end.split_blows(volume_ml, fs_hz) and measure each "
                          "(as `biosig spiro` does)")
    return _indices_from_volume(v, float(fs_hz), smooth_s=smooth_s)


# Per-window HRV / inter-beat features (also the HRV/IBI baselines of ``probe --baseline``).
from biosig.measures_hrv import RR_KEYS, hrv_features, ibi_features, rr_features  # noqa: E402,F401
from biosig.measures_edr import modulation_resp_rate  # noqa: E402,F401  (respiration from ECG/PPG)
