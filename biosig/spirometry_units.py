"""Spirogram units: the volume and flow unit tables, the conversion of one channel to exhaled volume in mL, and the
refusals of numbers in the wrong unit (split from :mod:`biosig.spirometry` and
:mod:`biosig.spirometry_acceptability`, which re-export every name here that was imported from them).

Two conversions, so that no caller needs a flag to turn a check off:

- :func:`convert_volume_ml`: the channel as its unit says (a flow integrated by :func:`volume_from_flow`, a volume
  without a unit read by its span). A reader uses it: ``biosig info`` reads a flow-time file of resting breathing in
  L/min, which no check of a forced expiration may refuse.
- :func:`to_volume_ml`: the same plus :func:`check_per_minute_flow` (a flow in L/s labelled L/min, or the reverse:
  :func:`flow_unit_doubt`), for everything that measures a blow (the indices, the encoders' features, the runtime's
  scores). Offline scoring's per-window measures (:func:`encoders.heads.features.record_window_measures`) ask
  :func:`flow_unit_doubt` itself and withhold the windows of a channel in doubt (``missing`` "unit_in_doubt").

A volume read from a flow-time file at read (``metadata["flow_unit"]``) gets the L/min check later, from
:func:`check_flow_time_volumes`; a blow no human lung exhales (a volume 1000x too large, a flow read as a volume) is
refused by :func:`check_plausible` once its FVC and PEF are known. Volumes in mL, flows in L/s, times in s.
"""
from __future__ import annotations

import logging

import numpy as np

from biosig.arguments import float_signal, sampling_rate
from biosig.errors import SignalError

log = logging.getLogger(__name__)

VOLUME_UNITS = {"ml": 1.0, "l": 1000.0, "litre": 1000.0, "liter": 1000.0}
FLOW_UNITS = {"l/s": 1.0, "ml/s": 1e-3, "l/min": 1.0 / 60.0}
# A forced expiration moves 0.3-8 L: a unitless trace spanning at most LITRE_SPAN is in L, one
# spanning at least ML_SPAN in mL; in between the unit cannot be told and must be written.
LITRE_SPAN, ML_SPAN = 15.0, 100.0
LITRE_BLOW_SNR = 20.0   # spirometry_indices: a "blow" of <= LITRE_SPAN mL this many noise SDs high is litres
_TOLD: set = set()

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


def volume_from_flow(flow_l_s: np.ndarray, fs_hz: float) -> np.ndarray:
    """Exhaled volume in mL from flow in L/s (trapezoids; 0 at the first sample).

    Raises :class:`SignalError` on NaN gaps: a gap in flow leaves the volume after it unknown.
    """
    f, fs_hz = float_signal(flow_l_s, max_ndim=1), sampling_rate(fs_hz)
    if not np.isfinite(f).all():
        raise SignalError(f"flow-time spirogram has {int((~np.isfinite(f)).sum())} missing sample(s); "
                          "the volume after a gap is unknown, so it cannot be integrated")
    steps = (f[1:] + f[:-1]) / 2.0 / float(fs_hz) * 1000.0
    return np.concatenate([[0.0], np.cumsum(steps)])


def convert_volume_ml(x, unit: str, fs_hz: float, name: str = "volume") -> np.ndarray:
    """Exhaled volume in mL of one spirogram channel as its unit says, unchecked: a volume in mL or L, a flow in L/s,
    mL/s or L/min (integrated by :func:`volume_from_flow`), or a volume without a unit, read as L or mL from its span
    (with a warning; a span between :data:`LITRE_SPAN` and :data:`ML_SPAN` is an error). A channel named ``flow...``
    without a unit is an error: a flow read as a volume gives indices that look plausible and are wrong."""
    v = np.asarray(x, dtype=np.float64)
    key = (unit or "").strip().lower()
    if key in VOLUME_UNITS:
        return v * VOLUME_UNITS[key]
    if key in FLOW_UNITS:
        return volume_from_flow(v * FLOW_UNITS[key], fs_hz)
    if key:
        raise SignalError(f"spirogram channel {name!r} in {unit!r}; accepted units: mL, L (volume), "
                          "L/s, mL/s, L/min (flow)")
    if name.strip().lower().startswith("flow"):
        raise SignalError(f"spirogram channel {name!r} looks like a flow but has no unit: write it in the "
                          "header, e.g. 'flow [L/s]' or 'flow_l_s' (a flow read as a volume gives wrong indices)")
    finite = v[np.isfinite(v)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    if span <= LITRE_SPAN or span >= ML_SPAN:
        read_as = "L" if span <= LITRE_SPAN else "mL"
        if (name, read_as) not in _TOLD:   # once per channel name and reading, not once per window
            _TOLD.add((name, read_as))
            log.warning("spirogram channel %r has no unit; its span of %.4g fits %s: read as %s (write "
                        "'volume [L]' or 'volume [mL]' in the header to say)", name, span,
                        "litres" if read_as == "L" else "millilitres", read_as)
        return v * 1000.0 if read_as == "L" else v
    raise SignalError(f"spirogram channel {name!r} has no unit and spans {span:.3g}: neither litres nor "
                      "millilitres of a forced expiration; write the unit in the header, e.g. 'volume [L]'")


def to_volume_ml(x, unit: str, fs_hz: float, name: str = "volume") -> np.ndarray:
    """:func:`convert_volume_ml` of a channel that is measured as a blow: a flow channel also gets
    :func:`check_per_minute_flow` (a flow in L/s labelled L/min is refused here, not by a reader)."""
    v = convert_volume_ml(x, unit, fs_hz, name)
    key = (unit or "").strip().lower()
    if key in FLOW_UNITS:
        check_per_minute_flow(v, np.asarray(x, dtype=np.float64) * FLOW_UNITS[key], key)
    return v


def flow_unit_doubt(volume_ml: np.ndarray, flow_l_s: np.ndarray, unit: str) -> str | None:
    """Why a flow channel labelled ``unit`` looks to hold another unit, or None: the one rule that ``biosig spiro``
    (:func:`check_per_minute_flow`, :func:`check_flow_time_volumes`) and offline scoring
    (:func:`encoders.heads.features.record_window_measures`) apply. ``volume_ml``: the channel integrated as its unit
    says; ``flow_l_s``: its flow converted to L/s as its unit says. Labelled L/min: a blow under :data:`FVC_MIN_ML`
    (its largest rise) and :data:`PEF_MIN_L_S` (its largest flow) that times 60 is a human blow (within those limits
    and :data:`FVC_MAX_ML`, :data:`PEF_MAX_L_S`): values in L/s. Labelled L/s: a blow over :data:`FVC_MAX_ML` or
    :data:`PEF_MAX_L_S` that divided by 60 is a human blow: values in L/min (before 2026-12-07 it was refused by
    :func:`check_plausible` as "mL labelled as litres"). Only these two labels: a small volume in mL (the same
    numbers) may be what it says, and a flow 1000x off is :func:`check_plausible`'s."""
    key = (unit or "").strip().lower()
    if key not in ("l/min", "l/s"):
        return None
    v, f = np.asarray(volume_ml, dtype=np.float64), np.asarray(flow_l_s, dtype=np.float64)
    v, f = v[np.isfinite(v)], f[np.isfinite(f)]
    fvc_ml = float(np.max(v - np.minimum.accumulate(v))) if len(v) else 0.0
    pef_l_s = float(np.max(f)) if len(f) else 0.0
    scale = 60.0 if key == "l/min" else 1.0 / 60.0
    fvc_as, pef_as = fvc_ml * scale, pef_l_s * scale
    human = FVC_MIN_ML <= fvc_as <= FVC_MAX_ML and PEF_MIN_L_S <= pef_as <= PEF_MAX_L_S
    if key == "l/min" and fvc_ml < FVC_MIN_ML and pef_l_s < PEF_MIN_L_S and human:
        return (f"spirogram in L/min: FVC {fvc_ml / 1000.0:.3g} L and PEF {pef_l_s:.3g} L/s, under what any spirometry "
                f"subject exhales (FVC >= {FVC_MIN_ML / 1000.0:g} L and PEF >= {PEF_MIN_L_S:g} L/s; a 3-year-old's: "
                f"~0.5 L, 1.5-2 L/s): times 60 it is a human blow (FVC {fvc_as / 1000.0:.3g} L, PEF {pef_as:.3g} L/s): "
                "a flow in L/s labelled as L/min ('flow [L/min]' over L/s values)? check the unit in the header")
    if key == "l/s" and (fvc_ml > FVC_MAX_ML or pef_l_s > PEF_MAX_L_S) and human:
        return (f"spirogram in L/s: FVC {fvc_ml / 1000.0:.4g} L and PEF {pef_l_s:.4g} L/s, over what a human lung "
                f"exhales (FVC <= {FVC_MAX_ML / 1000.0:g} L, PEF <= {PEF_MAX_L_S:g} L/s): divided by 60 it is a human "
                f"blow (FVC {fvc_as / 1000.0:.3g} L, PEF {pef_as:.3g} L/s): a flow in L/min labelled as L/s ('flow "
                "[L/s]' over L/min values)? check the unit in the header")
    return None


def check_per_minute_flow(volume_ml: np.ndarray, flow_l_s: np.ndarray, unit: str) -> np.ndarray:
    """``volume_ml`` (integrated from ``flow_l_s``, a channel in ``unit`` converted to L/s), or :class:`SignalError`
    where :func:`flow_unit_doubt` finds it in another unit (L/s labelled L/min, or L/min labelled L/s). A reader
    does not call it (:func:`convert_volume_ml`: ``biosig info`` reads a flow of resting breathing in L/min)."""
    doubt = flow_unit_doubt(volume_ml, flow_l_s, unit)
    if doubt:
        raise SignalError(doubt)
    return volume_ml


def flow_time_doubt(volume_ml, fs_hz: float, unit) -> str | None:
    """:func:`flow_unit_doubt` of a volume a reader integrated from a flow channel in ``unit`` (the record's
    ``metadata["flow_unit"]``: a flow-time CSV is converted at read, unrefused): the flow again from its steps."""
    v = np.asarray(volume_ml, dtype=np.float64)
    return flow_unit_doubt(v, np.diff(v) * (float(fs_hz) / 1000.0), str(unit or ""))


def check_flow_time_volumes(volumes_ml, fs_hz: float, unit) -> None:
    """:class:`SignalError` where :func:`flow_time_doubt` finds one of ``volumes_ml`` (integrated at read from a flow
    in ``unit``) in another unit (``biosig spiro``, the record's indices)."""
    for v in volumes_ml:
        doubt = flow_time_doubt(v, fs_hz, unit)
        if doubt:
            raise SignalError(doubt)


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
