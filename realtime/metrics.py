"""Forecast metrics of Pohl et al. (CMPB 2022, 2025), per marker in 3-D.

For a forecast ``yhat`` and truth ``y`` shaped (T, n) with the coordinates grouped into markers
(``LAC_x, LAC_y, LAC_z`` -> one marker; a column without an ``_x/_y/_z`` suffix is a marker of
its own), the error of marker k at step t is the Euclidean distance ``d[t, k]`` and

* RMSE = sqrt(mean d^2), MAE = mean d, max = max d (input units, mm for markers);
* nRMSE = sqrt(sum d^2) / sqrt(sum over all coordinates of (y - mean_t(y))^2);
* jitter = mean over t and markers of ||yhat(t+1) - yhat(t)||.

Steps where the truth or the forecast is missing (NaN) are left out.
"""
from __future__ import annotations

import numpy as np

from realtime.errors import ForecastError

AXES = ("x", "y", "z")


def marker_groups(channels) -> list[list[int]]:
    """Indices of each marker's coordinates: ``<marker>_x/_y/_z`` share a group, others are alone."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(channels):
        stem, _, axis = str(name).rpartition("_")
        key = stem if stem and axis.lower() in AXES else f"\0{name}"
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def forecast_metrics(y_true, y_pred, groups=None) -> dict[str, float]:
    """RMSE, nRMSE, MAE, max and jitter of a forecast; arrays (T, n) float, same units.

    Returns a dict of floats; ``n_steps`` is the number of steps scored.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise ForecastError(f"truth {y_true.shape} and forecast {y_pred.shape} must be equal (T, n) shapes")
    groups = groups if groups is not None else [list(range(y_true.shape[1]))]
    ok = np.isfinite(y_true).all(axis=1) & np.isfinite(y_pred).all(axis=1)
    if ok.sum() < 2:
        raise ForecastError(f"only {int(ok.sum())} scorable step(s): truth or forecast missing everywhere")
    err = y_pred[ok] - y_true[ok]
    d = np.stack([np.sqrt(np.sum(err[:, g] ** 2, axis=1)) for g in groups], axis=1)  # (T, K)
    yt = y_true[ok]
    denom = np.sqrt(np.sum((yt - yt.mean(axis=0)) ** 2))
    steps = np.diff(y_pred, axis=0)
    steps = steps[np.isfinite(steps).all(axis=1)]
    jit = np.stack([np.sqrt(np.sum(steps[:, g] ** 2, axis=1)) for g in groups], axis=1)
    return {
        "rmse": float(np.sqrt(np.mean(d ** 2))),
        "nrmse": float(np.sqrt(np.sum(d ** 2)) / denom) if denom > 0 else float("inf"),
        "mae": float(np.mean(d)),
        "max": float(np.max(d)),
        "jitter": float(np.mean(jit)) if jit.size else float("nan"),
        "n_steps": int(ok.sum()),
    }
