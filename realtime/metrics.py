"""Forecast metrics of Pohl et al. (CMPB 2022, 2025), per marker in 3-D.

For a forecast ``yhat`` and truth ``y`` shaped (T, n) with the coordinates grouped into markers
(``LAC_x, LAC_y, LAC_z`` -> one marker, and so bare ``x, y, z``; a column without an ``_x/_y/_z``
suffix is a marker of its own), the error of marker k at step t is the Euclidean distance ``d[t, k]`` and

* RMSE = sqrt(mean d^2), MAE = mean d, max = max d (input units, mm for markers);
* nRMSE = sqrt(sum d^2) / sqrt(sum over all coordinates of (y - mean_t(y))^2);
* jitter = mean over t and markers of ||yhat(t+1) - yhat(t)||;
* clinical: p95 = 95th percentile of d (all markers), frac_gt2 / frac_gt5 = fraction of steps at
  which the worst marker's 3-D error exceeds 2 / 5 input units (mm);
* with a hold mask (steps without a forecast: beam off), ``duty`` = fraction of the steps with a
  forecast (beam on) and every error metric over the beam-on steps only
  (:func:`hold_tradeoff` sweeps a hold threshold on a causal error estimate).

Steps where the truth or the forecast is missing (NaN) are left out.
"""
from __future__ import annotations

import numpy as np

from realtime.errors import ForecastError

AXES = ("x", "y", "z")


def marker_groups(channels) -> list[list[int]]:
    """Indices of each marker's coordinates: ``<marker>_x/_y/_z`` share a group, and so do bare ``x``,
    ``y``, ``z`` (one marker's axes: a surrogate CSV's ``x_mm, y_mm, z_mm`` or a ``t_s`` table's ``x, y,
    z``, whose errors were per axis, the 3-D error up to sqrt(3) larger); other names are alone."""
    if isinstance(channels, str):   # one name, not its characters
        channels = [channels]
    if channels is None or not hasattr(channels, "__iter__"):
        raise ForecastError(f"channels={channels!r}: give the channel names")
    groups: dict[str | None, list[int]] = {}
    for i, name in enumerate(channels):
        stem, _, axis = str(name).rpartition("_")
        key = stem if stem and axis.lower() in AXES else None if str(name).lower() in AXES else f"\0{name}"
        groups.setdefault(key, []).append(i)
    return list(groups.values())


CLINICAL_MM = (2.0, 5.0)


def marker_errors(y_true, y_pred, groups) -> np.ndarray:
    """3-D error per step and marker (T, K); NaN where truth or forecast is missing."""
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return np.stack([np.sqrt(np.sum(err[:, g] ** 2, axis=1)) for g in groups], axis=1)


def hold_tradeoff(d_worst, risk, thresholds, hold=None) -> list[dict]:
    """Beam-on duty cycle vs error fractions when holding every step whose ``risk`` exceeds a threshold.

    d_worst (T,) worst-marker error per step (NaN: not scored); risk (T,) a causal estimate of the
    error known when the forecast was made (NaN: no estimate yet, counted as beam on); ``hold``
    (T,) bool: steps where the forecaster itself holds (warm-up, a gap, a reset), beam off at every
    threshold, so that ``duty`` is a share of the same steps as :func:`forecast_metrics`'s.
    """
    ok = np.isfinite(d_worst)
    d, r = d_worst[ok], risk[ok]
    held = np.zeros(d.size, bool) if hold is None else np.asarray(hold, bool)[ok]
    rows = []
    for thr in thresholds:
        on = ~(r > thr) & ~held
        rows.append({"threshold": float(thr), "duty": float(on.mean()) if d.size else float("nan"),
                     **{f"frac_gt{c:g}": float(np.mean(d[on] > c)) if on.any() else 0.0 for c in CLINICAL_MM}})
    return rows


def _real_array(x, what: str) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ForecastError(f"{what} must hold real numbers, got an array of dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def forecast_metrics(y_true, y_pred, groups=None, hold=None) -> dict[str, float]:
    """RMSE, nRMSE, MAE, max, jitter and the clinical errors of a forecast; arrays (T, n), same units.

    ``hold`` (T,) bool marks steps without a forecast (beam off: warm-up, a gap, a reset): every
    error metric is taken over the other steps (a held step publishes no number, so it has no
    error; the fallback value the learner keeps there is not a forecast) and ``duty`` is the
    fraction of steps with a forecast.  Returns a dict of floats; ``n_steps`` is the number of
    steps scored (beam on, truth and forecast finite); the error metrics are NaN when fewer than 2,
    and the nRMSE also where the truth does not move on the steps scored (its spread is 0).
    """
    y_true, y_pred = _real_array(y_true, "truth"), _real_array(y_pred, "forecast")
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise ForecastError(f"truth {y_true.shape} and forecast {y_pred.shape} must be equal (T, n) shapes")
    groups = groups if groups is not None else [list(range(y_true.shape[1]))]
    if hold is not None and np.shape(hold) != y_true.shape[:1]:
        raise ForecastError(f"hold shaped {np.shape(hold)} for {y_true.shape[0]} steps; expected ({y_true.shape[0]},)")
    ok = np.isfinite(y_true).all(axis=1) & np.isfinite(y_pred).all(axis=1)
    if ok.sum() < 2:
        raise ForecastError(f"only {int(ok.sum())} scorable step(s): truth or forecast missing everywhere")
    on = np.ones(ok.size, bool) if hold is None else ~np.asarray(hold, bool)
    duty = float(on[ok].mean())
    ok &= on
    keys = ("p95", *(f"frac_gt{c:g}" for c in CLINICAL_MM), "rmse", "nrmse", "mae", "max", "jitter")
    if ok.sum() < 2:
        return {**{k: float("nan") for k in keys}, "duty": duty, "n_steps": int(ok.sum())}
    err = y_pred[ok] - y_true[ok]
    d = np.stack([np.sqrt(np.sum(err[:, g] ** 2, axis=1)) for g in groups], axis=1)  # (T, K)
    # the truth's spread, centred on its first scored sample before the mean: a truth that does not
    # move on the scored steps (a tracker frozen, its later steps held) has a spread of exactly 0,
    # where the mean of one number repeated is off by rounding (-461.9 x 20: 1.7e-13) and the nRMSE
    # came out 5e11; it is undefined there (NaN), not huge
    yt = y_true[ok] - y_true[ok][0]
    denom = np.sqrt(np.sum((yt - yt.mean(axis=0)) ** 2))
    published = np.where(on[:, None], y_pred, np.nan)   # consecutive published forecasts only
    steps = np.diff(published, axis=0)
    steps = steps[np.isfinite(steps).all(axis=1)]
    jit = np.stack([np.sqrt(np.sum(steps[:, g] ** 2, axis=1)) for g in groups], axis=1)
    worst = d.max(axis=1)
    return {
        "p95": float(np.percentile(d, 95)),
        **{f"frac_gt{c:g}": float(np.mean(worst > c)) for c in CLINICAL_MM},
        "duty": duty,
        "rmse": float(np.sqrt(np.mean(d ** 2))),
        "nrmse": float(np.sqrt(np.sum(d ** 2)) / denom) if denom > 0 else float("nan"),
        "mae": float(np.mean(d)),
        "max": float(np.max(d)),
        "jitter": float(np.mean(jit)) if jit.size else float("nan"),
        "n_steps": int(ok.sum()),
    }


HOLD_THRESHOLDS_MM = (1.0, 2.0, 3.0, 5.0, float("inf"))  # hold when the recent error RMS exceeds it
RISK_WINDOW = 50  # steps of known errors behind the causal error level


def causal_error_level(worst, h: int, window: int = RISK_WINDOW) -> np.ndarray:
    """For the forecast of step k (made at k - h): RMS of the worst-marker errors of the targets
    k - h - window + 1 .. k - h, the ones known when it was made (NaN before any is known)."""
    w = np.where(np.isfinite(worst), worst ** 2, 0.0)
    n = np.isfinite(worst).astype(float)
    cw, cn = np.concatenate([[0.0], np.cumsum(w)]), np.concatenate([[0.0], np.cumsum(n)])
    out = np.full(worst.size, np.nan)
    k = np.arange(h, worst.size)
    hi = k - h + 1  # known targets: indices < hi
    lo = np.maximum(hi - window, 0)
    cnt = cn[hi] - cn[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[k] = np.where(cnt > 0, np.sqrt((cw[hi] - cw[lo]) / np.maximum(cnt, 1)), np.nan)
    return out
