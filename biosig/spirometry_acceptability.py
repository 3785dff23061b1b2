"""ATS/ERS 2019 acceptability checks of one blow beyond start, pauses and end of expiration (called from
:func:`biosig.spirometry.spirometry_indices`): a cough in the first second, and spirograms whose numbers no human
lung makes (a volume in mL read as litres, a flow read as a volume) or no spirometry subject makes (a flow in L/s
labelled L/min), and a drifting flow-sensor zero (:func:`zero_drift_ml_s`: FVC fails) seen before and after the blow
or, negative, as a steady fall at its end. Volumes in mL, times in s, flows in L/s.

Cough (Graham et al., Am J Respir Crit Care Med 2019, table 7: "no cough in the first second of expiration" is
required for an acceptable and a usable FEV1, not for FVC): after peak flow the flow of a forced expiration falls
without rising again; a cough is a dip of the flow followed by a burst. Before this check a synthetic cough in the
first second (the generator's ``artefact="cough"``, 48 of 48 blows over 3 patterns, 25-1000 Hz) gave an acceptable
FEV1: the flow pause rule needs 0.2 s under 5 % of PEF and a cough's dip lasts 0.05-0.15 s. Measured on the 80 ms
flow between time zero and t0 + 1 s, the deepest notch (the lower of the falls from the highest flow before it and
to the highest flow after it) is 0.10-0.85 PEF for those coughs and at most 0.066 PEF on clean blows at 2 mL of
noise (it grows with the noise: the threshold does too, :data:`COUGH_NOISE_SDS`).
"""
from __future__ import annotations

import numpy as np

from biosig.errors import SignalError

#: ATS/ERS 2019 "no cough in the first second": a notch of the 80 ms flow at least this fraction of PEF deep ...
COUGH_NOTCH_FRACTION = 0.10
#: ... and this many SDs of the 80 ms flow's white noise (clean blows: notches of up to 8 SDs at 1000 Hz)
COUGH_NOISE_SDS = 10.0
COUGH_WINDOW_S = 0.080   # the flow the notch is read on: volume change over 80 ms (PEF's flow)

#: The most a human forced expiration gives: spirometers meeting ATS/ERS 2019 (ISO 26782 accuracy) measure flows up
#: to 14 L/s and volumes of at least 8 L; the largest recorded FVCs are near 10 L and PEFs near 16 L/s. Beyond
#: these the trace is in the wrong unit (a volume in mL read as L: FVC 4499 L was reported acceptable) or a flow
#: read as a volume (a flow in mL/s: PEF 139 L/s, FEV1 = FVC, an acceptable FEV1).
PEF_MAX_L_S = 20.0
FVC_MAX_ML = 15000.0
#: The least: ATS/ERS 2019 spirometry is done from ~3 years (preschool: Beydon et al., AJRCCM 2007); a 3-year-old
#: (~95 cm) exhales FVC ~0.5 L (GLI-2012 lower limit ~0.4 L) at a PEF of ~1.5-2 L/s. Under both limits (less than
#: half / a third of that) and a human blow times 60, the trace is a flow in L/s labelled L/min (FVC 0.07 L, PEF
#: 0.17 L/s was reported as a blow).
PEF_MIN_L_S = 0.5
FVC_MIN_ML = 200.0


def check_plausible(fvc_ml: float, pef_l_s: float) -> None:
    """:class:`SignalError` for a blow over :data:`FVC_MAX_ML` or :data:`PEF_MAX_L_S`: no lung exhales it. The
    message says which mistake the numbers point to: divided by 1000 a human blow (FVC 0.1-15 L, PEF 0.5-20 L/s) is
    a volume 1000x too large, i.e. values in mL labelled (or converted) as litres; otherwise both that and a flow
    read as a volume (FEV1 = FVC, a PEF no lung makes) are named."""
    if fvc_ml > FVC_MAX_ML or pef_l_s > PEF_MAX_L_S:
        head = (f"spirogram: FVC {fvc_ml / 1000.0:.4g} L and PEF {pef_l_s:.4g} L/s, over what a human lung exhales "
                f"(FVC <= {FVC_MAX_ML / 1000.0:g} L, PEF <= {PEF_MAX_L_S:g} L/s)")
        thousandth = 100.0 <= fvc_ml / 1000.0 <= FVC_MAX_ML and 0.5 <= pef_l_s / 1000.0 <= PEF_MAX_L_S
        if thousandth:
            raise SignalError(f"{head}: divided by 1000 it is a human blow (FVC {fvc_ml / 1e6:.3g} L, PEF "
                              f"{pef_l_s / 1000.0:.3g} L/s): the volume is 1000x too large, values in mL labelled as "
                              "litres (a 'volume [L]' header over mL) or converted to mL twice (mL * 1000); check "
                              "the unit in the header")
        raise SignalError(f"{head}: the volume looks 1000x too large (values in mL labelled as litres, or converted "
                          "to mL twice) or a flow was read as a volume; check the unit and the column (a flow needs "
                          "a flow unit, e.g. 'flow [L/s]')")


def check_per_minute_flow(volume_ml: np.ndarray, flow_l_s: np.ndarray, unit: str, check: bool = True) -> np.ndarray:
    """``volume_ml`` (integrated from ``flow_l_s``, a channel in ``unit`` converted to L/s), or :class:`SignalError`
    for a channel in L/min under :data:`FVC_MIN_ML` (its largest rise) and :data:`PEF_MIN_L_S` (its largest flow) that
    is a human blow times 60 (within those limits and :data:`FVC_MAX_ML`, :data:`PEF_MAX_L_S`): values in L/s labelled
    L/min. Only a channel labelled L/min: a small volume in mL (the same numbers) may be what it says. ``check``
    False: none (a reader: ``biosig info`` reads a flow of resting breathing in L/min; the indices refuse it)."""
    if not check or unit.strip().lower() != "l/min":
        return volume_ml
    fvc_ml = float(np.max(volume_ml - np.minimum.accumulate(volume_ml))) if len(volume_ml) else 0.0
    pef_l_s = float(np.max(flow_l_s)) if len(flow_l_s) else 0.0
    fvc60, pef60 = fvc_ml * 60.0, pef_l_s * 60.0
    if (fvc_ml < FVC_MIN_ML and pef_l_s < PEF_MIN_L_S and FVC_MIN_ML <= fvc60 <= FVC_MAX_ML
            and PEF_MIN_L_S <= pef60 <= PEF_MAX_L_S):
        raise SignalError(f"spirogram in L/min: FVC {fvc_ml / 1000.0:.3g} L and PEF {pef_l_s:.3g} L/s, under what "
                          f"any spirometry subject exhales (FVC >= {FVC_MIN_ML / 1000.0:g} L and PEF >= "
                          f"{PEF_MIN_L_S:g} L/s; a 3-year-old's: ~0.5 L, 1.5-2 L/s): times 60 it is a human blow (FVC "
                          f"{fvc60 / 1000.0:.3g} L, PEF {pef60:.3g} L/s): a flow in L/s labelled as L/min ('flow "
                          "[L/min]' over L/s values)? check the unit in the header")
    return volume_ml


def check_flow_time_volumes(volumes_ml, fs_hz: float, unit) -> None:
    """:func:`check_per_minute_flow` of volumes a reader integrated from a flow channel in ``unit`` (the record's
    ``metadata["flow_unit"]``: a flow-time CSV is converted at read, unrefused): the flow again from their steps."""
    for v in volumes_ml:
        v = np.asarray(v, dtype=np.float64)
        check_per_minute_flow(v, np.diff(v) * (fs_hz / 1000.0), str(unit or ""))


def cough_dip_l_s(t_s: np.ndarray, volume_ml: np.ndarray, t0_s: float, pef_l_s: float, noise_sd_ml: float) -> float:
    """Depth (L/s) of a cough in the first second of a blow, 0.0 for none: the deepest notch of the flow (the
    volume change over :data:`COUGH_WINDOW_S`) between ``t0_s`` and ``t0_s + 1``, counted when it is at least
    :data:`COUGH_NOTCH_FRACTION` of PEF and :data:`COUGH_NOISE_SDS` SDs of that flow's noise (``noise_sd_ml``: the
    white-noise SD of the volume). ``volume_ml``: the monotonic volume the indices are read on."""
    t = np.asarray(t_s, dtype=np.float64)
    m = (t >= t0_s) & (t <= t0_s + 1.0)
    if m.sum() < 3:
        return 0.0
    v, half = np.asarray(volume_ml, dtype=np.float64), COUGH_WINDOW_S / 2.0   # spirometry.flow_over_window's
    f = (np.interp(t[m] + half, t, v) - np.interp(t[m] - half, t, v)) / COUGH_WINDOW_S / 1000.0   # held ends
    depth = float(np.max(np.minimum(np.maximum.accumulate(f) - f, np.maximum.accumulate(f[::-1])[::-1] - f)))
    flow_sd = np.sqrt(2.0) * noise_sd_ml / COUGH_WINDOW_S / 1000.0
    return depth if depth >= max(COUGH_NOTCH_FRACTION * pef_l_s, COUGH_NOISE_SDS * flow_sd) else 0.0


#: A flow-sensor zero offset (a constant flow integrated: the volume rises linearly before the blow and after its
#: plateau, FVC + the offset times the trace's length: +1000 mL at 50 mL/s over 20 s) is read before the blow: the
#: least-squares slope of the samples from the trace's start to DRIFT_PRE_GAP_S before time zero, at least
#: DRIFT_PRE_MIN_S of them (a trace starting at the blow, like UK Biobank's 0.04 s before it, gives no verdict). The
#: tail alone cannot tell it: a real blow's tail (UK Biobank field 3066) runs at a constant 21-28 mL/s for 4 s, very
#: slow COPD tails (tau 10-15 s) keep 80 % of their flow over 3 s; docs/preprocessing.md, tests/test_spiro71.py.
DRIFT_PRE_MIN_S = 0.3
DRIFT_PRE_GAP_S = 0.15
DRIFT_MIN_ML_S = 10.0      # slower drift gives FVC under +150 mL on a 15 s trace
DRIFT_SES = 4.0            # ... and the slope this many standard errors above 0
DRIFT_TAIL_FRACTION = 0.5  # ... and the volume still rising at its end at half that rate


def _line_ml_s(t: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    """``(slope, standard error)`` of the least-squares line through ``(t, v)`` (mL/s)."""
    tc = t - t.mean()
    slope = float(tc @ v / (tc @ tc))
    resid = v - v.mean() - slope * tc
    return slope, float(np.sqrt(resid @ resid / max(1, len(t) - 2) / (tc @ tc)))


#: A negative offset makes the volume fall at a constant rate after its top (FVC too small: the offset over the time
#: to the top, -230 to -840 mL on COPD blows at -20 to -80 mL/s, accepted). Read at the trace's end: the volume falls
#: for at least DRIFT_FALL_MIN_S after its highest 0.2 s mean, and over the trace's last DRIFT_FALL_MIN_S at
#: DRIFT_MIN_ML_S to DRIFT_FALL_MAX_ML_S (DRIFT_SES standard errors) at a steady rate (its halves' slopes within
#: DRIFT_FALL_STEADY of it, plus their noise). A real exhalation's volume does not fall steadily at its end: an
#: inspiration falls at 0.5-5 L/s and speeds up; UK Biobank's blow falls 5 mL in the 0.4 s after its top.
DRIFT_FALL_MIN_S = 1.0
DRIFT_FALL_MAX_ML_S = 300.0
DRIFT_FALL_STEADY = 0.5


def falling_tail_ml_s(t_s: np.ndarray, volume_ml: np.ndarray) -> float:
    """Rate (mL/s, negative) at which the volume falls steadily at the end of the trace (:data:`DRIFT_FALL_MIN_S`),
    a negative flow-sensor zero offset; 0.0 for none."""
    t, v = np.asarray(t_s, dtype=np.float64), np.asarray(volume_ml, dtype=np.float64)
    if len(t) < 8:
        return 0.0
    n = max(1, int(round(0.2 / float(np.median(np.diff(t))))))
    avg = np.convolve(v, np.ones(n) / n, mode="valid")               # avg[i]: mean of v[i:i + n]
    fall_s = t[-1] - t[int(np.argmax(avg)) + n // 2]
    last = t >= t[-1] - max(DRIFT_FALL_MIN_S, fall_s / 2.0)     # the fall's second half: the blow's flow has died out
    if fall_s < DRIFT_FALL_MIN_S or last.sum() < 6:
        return 0.0
    slope, se = _line_ml_s(t[last], v[last])
    (s1, se1), (s2, se2) = (_line_ml_s(t[m], v[m]) for m in np.array_split(np.flatnonzero(last), 2))
    steady = abs(s1 - s2) <= DRIFT_FALL_STEADY * abs(slope) + DRIFT_SES * float(np.hypot(se1, se2))
    ok = -DRIFT_FALL_MAX_ML_S <= slope <= -max(DRIFT_MIN_ML_S, DRIFT_SES * se) and steady
    return slope if ok else 0.0


def zero_drift_ml_s(t_s: np.ndarray, volume_ml: np.ndarray, t0_s: float, tail_ml_s: float) -> float:
    """Rate (mL/s) of a flow-sensor zero drift, 0.0 for none seen. Positive: the volume rises at a constant rate
    before the blow (least-squares slope of the samples up to :data:`DRIFT_PRE_GAP_S` before time zero ``t0_s``, over
    at least :data:`DRIFT_PRE_MIN_S`, at least :data:`DRIFT_MIN_ML_S` and :data:`DRIFT_SES` standard errors) and
    still rises at its end (``tail_ml_s``: the volume gained in the last 1 s of expiration,
    :func:`~biosig.spirometry_end.plateau_gain_ml`, at least :data:`DRIFT_TAIL_FRACTION` of that rate); FVC then
    holds the offset integrated over the whole trace. Negative: the volume falls steadily at the trace's end
    (:func:`falling_tail_ml_s`, no pre-blow stretch needed); FVC then misses it up to the volume's top. A clean blow
    (flat before, any rising or flat tail) has none; one that starts at time zero has no positive verdict."""
    t, v = np.asarray(t_s, dtype=np.float64), np.asarray(volume_ml, dtype=np.float64)
    pre = t <= t0_s - DRIFT_PRE_GAP_S
    if pre.sum() < 3 or t[pre][-1] - t[0] < DRIFT_PRE_MIN_S or not np.isfinite(tail_ml_s):
        return falling_tail_ml_s(t, v)
    slope, se = _line_ml_s(t[pre], v[pre])
    ok = slope >= max(DRIFT_MIN_ML_S, DRIFT_SES * se) and tail_ml_s >= DRIFT_TAIL_FRACTION * slope
    return slope if ok else falling_tail_ml_s(t, v)
