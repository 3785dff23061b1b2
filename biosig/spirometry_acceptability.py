"""ATS/ERS 2019 acceptability checks of one blow beyond start, pauses and end of expiration (called from
:func:`biosig.spirometry.spirometry_indices`): a cough in the first second, and spirograms whose numbers no human
lung makes (a volume in mL read as litres, a flow read as a volume). Volumes in mL, times in s, flows in L/s.

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


def check_plausible(fvc_ml: float, pef_l_s: float) -> None:
    """:class:`SignalError` for a blow over :data:`FVC_MAX_ML` or :data:`PEF_MAX_L_S`: no lung exhales it."""
    if fvc_ml > FVC_MAX_ML or pef_l_s > PEF_MAX_L_S:
        raise SignalError(f"spirogram: FVC {fvc_ml / 1000.0:.4g} L and PEF {pef_l_s:.4g} L/s, over what a human lung "
                          f"exhales (FVC <= {FVC_MAX_ML / 1000.0:g} L, PEF <= {PEF_MAX_L_S:g} L/s): the volume looks "
                          "1000x too large (litres written as mL?) or a flow was read as a volume; check the unit "
                          "and the column (a flow needs a flow unit, e.g. 'flow [L/s]')")


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
