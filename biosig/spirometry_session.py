"""A spirometry session of several blows (ATS/ERS 2019, Graham et al. 2019): which blows are
acceptable for FEV1 and for FVC, the session's best values and its repeatability grade (A-F, U).
The blows' indices come from :func:`biosig.spirometry.spirometry_indices`."""
from __future__ import annotations

from biosig.spirometry import SpirometryIndices

#: ATS/ERS 2019 grading (Graham et al. 2019, table 10, age > 6): repeatability limits in mL.
GRADE_LIMITS_ML = (("A", 150.0, 3), ("B", 150.0, 2), ("C", 200.0, 2), ("D", 250.0, 2))


def acceptable_fev1(ind: SpirometryIndices) -> bool:
    """FEV1 acceptable: a forced expiration (``forced_ok``: peak flow within 0.3 s of t0, not a tidal
    breath), start of test criterion (BEV within its limit), no flow pause (hesitation, glottic
    closure) between peak flow and t0 + 1 s and no cough in the first second (``cough_ok``,
    :func:`biosig.spirometry_acceptability.cough_dip_l_s`)."""
    return bool(ind.forced_ok and ind.bev_ok and ind.pause_ok and ind.cough_ok)


def acceptable_fvc(ind: SpirometryIndices) -> bool:
    """FVC acceptable: FEV1's criteria but the cough (Graham et al. 2019, table 7: a cough in the first second
    fails FEV1, not FVC), end of forced expiration (plateau or FET >= 15 s) and no flow-sensor zero drift
    (``drift_ok``: the volume rising at a constant rate before the blow and after it, FVC too large, or falling
    steadily at the trace's end, FVC too small; :func:`biosig.spirometry_acceptability.zero_drift_ml_s`)."""
    return bool(ind.forced_ok and ind.bev_ok and ind.pause_ok and ind.eofe_ok and ind.drift_ok)


def repeatability_grade(values_ml: list[float], n_usable: int) -> tuple[str, float]:
    """ATS/ERS 2019 grade (A-F, U) of the acceptable values of one index, and the difference
    between the largest two (NaN with fewer than two)."""
    vals = sorted(values_ml, reverse=True)
    diff = vals[0] - vals[1] if len(vals) >= 2 else float("nan")
    if not vals:
        return ("U" if n_usable else "F"), diff
    if len(vals) == 1:
        return "E", diff
    for grade, limit, need in GRADE_LIMITS_ML:
        if len(vals) >= need and diff <= limit:
            return grade, diff
    return "E", diff


def session_summary(blows: list[SpirometryIndices]) -> dict:
    """Best values and repeatability of one session's blows (ATS/ERS 2019).

    FVC and FEV1 are the largest acceptable values (they may come from different blows);
    FEV1/FVC is their ratio; PEF is the largest over acceptable-FEV1 blows. A blow is *usable*
    (grade U rather than F when none is acceptable) only with its BEV within the limit and no
    glottic closure / flow pause in the first second (Graham et al. 2019, table 7): a session of
    hesitant starts or of first-second pauses is graded F, not U.
    """
    fev1_ok = [b.fev1_ml for b in blows if acceptable_fev1(b)]
    fvc_ok = [b.fvc_ml for b in blows if acceptable_fvc(b)]
    n_usable = sum(bool(b.forced_ok and b.bev_ok and b.pause_ok) for b in blows)
    grade_fev1, diff_fev1 = repeatability_grade(fev1_ok, n_usable)
    grade_fvc, diff_fvc = repeatability_grade(fvc_ok, n_usable)
    best_fev1 = max(fev1_ok) if fev1_ok else float("nan")
    best_fvc = max(fvc_ok) if fvc_ok else float("nan")
    pefs = [b.pef_l_s for b in blows if acceptable_fev1(b)]
    return {"n_blows": len(blows), "n_acceptable_fev1": len(fev1_ok), "n_acceptable_fvc": len(fvc_ok),
            "fvc_ml": best_fvc, "fev1_ml": best_fev1,
            "fev1_fvc": best_fev1 / best_fvc if fev1_ok and fvc_ok else float("nan"),
            "pef_l_s": max(pefs) if pefs else float("nan"),
            "fev1_repeat_ml": diff_fev1, "fvc_repeat_ml": diff_fvc,
            "grade_fev1": grade_fev1, "grade_fvc": grade_fvc}
