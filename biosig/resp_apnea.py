"""Whether a respiration window holds an apnea: no breath for at least :data:`APNEA_S` seconds.

An apnea's flat stretch is no flat stretch in the breath band: the 0.05 Hz high-pass of
:func:`biosig.measures_window.breath_peaks` turns it into a slow hump (zero-phase) or an exponential recovery
(the runtime's causal filter), and a hump of 30 % of a breath passed as one. A 12 s apnea in 30 s of 10 /min
breathing published 6.5-8.5 /min: the apnea's interval was cut in two of a normal length, and
:func:`biosig.resp_doubt.breaths_in_doubt` found no gap. Here the breaths are looked for in a band whose
high-pass is at :data:`APNEA_HP_REL` x the breath rate found (a breath keeps ~90 % of its size there, the hump
of a >= 10 s pause at 10 /min and faster a few %); the apnea is a stretch over which the signal's range over
3/4 of a breath interval stays under :data:`APNEA_REL` of the breaths' (the AASM scores an apnea at a >= 90 %
drop of the breath's excursion for >= 10 s; 25 % leaves room for the filters' residue and scores no hypopnea).

Clinically a window with an apnea has no respiratory rate of its own: the breaths around the pause give the
rate of a breathing that is not there, and their count over the window (a bradypnea) hides the apnea, the
event to report. The window is withheld (``uncertain_breaths``: "a pause or apnea in the window").

Measured: see :func:`apnea_in`.
"""
from __future__ import annotations

import numpy as np

#: No breath for this long is an apnea (the adult definition, AASM scoring manual)
APNEA_S = 10.0
#: The breaths are looked for above this share of the rate found (1 / interval): a breath keeps ~90 % of its
#: range there, the hump a >= 10 s pause leaves in the breath band under a few %
APNEA_HP_REL = 0.5
#: ... and (the longer stretch of the two) above this floor: at 6-9 /min APNEA_HP_REL x the rate is at or under the band's 0.05 Hz, which keeps the
#: hump of a 10-15 s pause (the pause's own scale) at 30-60 % of a breath: a span over it saw a breath. At 0.08 Hz
#: (order-2 zero-phase gain ~0.5 at 6 /min, under 0.01 at 0.03-0.04 Hz) the hump is gone and the breaths keep
#: their shape relative to each other. 0.1 Hz withheld 6 of NeuroKit2's 6 /min windows, 0.12 Hz 40
APNEA_HP_MIN_HZ = 0.08
#: The signal's range over a span of this share of the breath interval (any such span of a breath covers over
#: half its excursion) under APNEA_REL of the breaths' (the 75th percentile of the spans' ranges over the
#: window: a window half apnea keeps the breaths' size) sees no breath
APNEA_SPAN_REL = 0.75
APNEA_REL = 0.25
#: Percentile of the spans' ranges taken as the breaths' size
APNEA_REF_PCT = 75.0
#: The stretch measured falls short of a pause by up to this much (the filters' residue at its ends)
APNEA_TOL_S = 2.0


def apnea_in(x: np.ndarray, fs_hz: float, interval_s: float, band_hz: tuple[float, float]) -> bool:
    """Whether the finite 1-D window ``x`` holds a stretch of :data:`APNEA_S` without a breath (:func:`apnea_s`,
    less :data:`APNEA_TOL_S`), for breaths about ``interval_s`` apart.

    Measured (NumPy breaths at 6-30 /min with one pause of 10-20 s, 30 s windows holding it whole, 25/125/250 Hz,
    raw and the runtime path): 803 of 2940 windows published a wrong rate, now 45 (6-8 /min only: a 30 s window
    holds 2 breaths and the 0.05 Hz floor of the band keeps the pause's hump), 59 published in all; with
    :data:`APNEA_HP_MIN_HZ` 20 (27 published; held-out seeds 2-5: 106 -> 51), 19 of them 10 s pauses on the runtime
    path (the pause at the threshold). Also 6-9 /min (seeds 0-1): 74 -> 35; the 0.08 Hz floor withheld 0 more of
    4538 clean windows 4-60 /min (25-250 Hz, raw and runtime, 30 and 60 s) but one (5 /min, runtime, 60 s), 0 of
    NeuroKit2's 2349 published, 0 of 03700181's 40, 0 of 5324 adversarial (raw and runtime). Unchanged:
    clean breathing 6-60 /min (5880 of 5880 windows published and right), NeuroKit2's breathing 6-60 /min (2376
    windows, every field the same), the RESP of WFDB 03700181 (20 of 20 published, raw and runtime); of the
    adversarial cases of :func:`biosig.resp_doubt.faster_rhythm` 7 right windows withheld (Cheyne-Stokes 3,
    spikes 2, irregular 1, a 15-30 s apnea 1), 13 wrong ones less."""
    return apnea_s(x, fs_hz, interval_s, band_hz) >= APNEA_S - APNEA_TOL_S


def apnea_s(x: np.ndarray, fs_hz: float, interval_s: float, band_hz: tuple[float, float]) -> float:
    """The longest stretch of the finite 1-D window ``x``, in s, without a breath, for breaths about
    ``interval_s`` apart: the run of centres of spans of :data:`APNEA_SPAN_REL` x ``interval_s`` (whole spans in
    the window) whose range (max - min) of ``x`` in the band from :data:`APNEA_HP_REL` / ``interval_s`` (and, the
    longer, from :data:`APNEA_HP_MIN_HZ` where that is higher) to ``band_hz[1]`` is under :data:`APNEA_REL` of the
    breaths', plus one span (a span of the run sees no breath: the pause is the run and half a span at each end).
    0 where every span sees a breath.

    Internal (only :func:`apnea_in` reads it; no measure publishes it): it reads short of the pause built in by
    0.2-3.5 s (the filters' residue at its ends, :data:`APNEA_TOL_S`), so it is no apnea duration to report.
    """
    if not (interval_s > 0 and np.isfinite(interval_s)) or len(x) < 2:
        return 0.0
    lo_hz = max(band_hz[0], APNEA_HP_REL / interval_s)
    out = _quiet_s(x, fs_hz, interval_s, lo_hz, band_hz[1])
    if APNEA_HP_MIN_HZ > lo_hz:   # slow breathing: the floor's band too (the longer stretch: it only adds)
        out = max(out, _quiet_s(x, fs_hz, interval_s, APNEA_HP_MIN_HZ, band_hz[1]))
    return out


def _quiet_s(x: np.ndarray, fs_hz: float, interval_s: float, lo_hz: float, hi_hz: float) -> float:
    """:func:`apnea_s` in the band ``lo_hz`` - ``hi_hz``."""
    from biosig.quality import _band
    y = _band(x, fs_hz, lo_hz, hi_hz)
    step = max(1, int(fs_hz / 10.0))   # spans on a 10 Hz grid (a 250 Hz window: 25 x fewer)
    half = max(1, int(round(0.5 * APNEA_SPAN_REL * interval_s * fs_hz / step)))
    rng = _running(y, step, half, np.maximum) - _running(y, step, half, np.minimum)
    rng = rng[half:len(rng) - half]   # whole spans only: one cut at the window's end sees half a breath
    if len(rng) == 0:
        return 0.0
    ref = float(np.percentile(rng, APNEA_REF_PCT))
    quiet = rng < APNEA_REL * ref
    if not (ref > 0 and quiet.any()):
        return 0.0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    return (int(np.max(edges[1::2] - edges[::2])) + 2 * half) * step / fs_hz


def _running(y: np.ndarray, step: int, half: int, op) -> np.ndarray:
    """``op`` (np.maximum / np.minimum) of ``y`` over the spans of ``2 half + 1`` grid points of ``step``
    samples centred on each grid point, cut at the window's ends (the grid point's own samples included)."""
    n = len(y) // step * step
    blocks = op.reduce(y[:n].reshape(-1, step), axis=1)
    if n < len(y):
        blocks = np.append(blocks, op.reduce(y[n:]))
    fill = -np.inf if op is np.maximum else np.inf
    pad = np.concatenate([np.full(half, fill), blocks, np.full(half, fill)])
    out = blocks.copy()
    for k in range(-half, half + 1):
        out = op(out, pad[half + k:half + k + len(blocks)])
    return out
