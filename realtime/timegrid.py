"""Sample times onto the protocol's step grid (for :mod:`realtime.sessions`).

Irregular times are resampled by linear interpolation without bridging holes
(:func:`resample_uniform`); a table's times are checked (:func:`_check_times`) and put on the
``rate_hz`` grid when they are off it (:func:`_on_rate_grid`); marker rows, one row per step, are
checked against ``rate_hz`` (:func:`_check_marker_rate`) and get a missing step for every frame lost
where their timestamps jump (:func:`_dropped_frames_as_gaps`).
"""
from __future__ import annotations

import logging

import numpy as np

from biosig.arguments import positive_number
from realtime.errors import ForecastError

# the session loader's warnings (resampled, lost frames, a rate off): said under its name, as before the split
log = logging.getLogger("realtime.sessions")


def _rate(rate_hz) -> float:
    return positive_number(rate_hz, "rate_hz", "number of Hz", error=ForecastError)


def resample_uniform(t_s, X, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of X (T, n) at times t_s (T,) onto a grid at ``rate_hz``.

    NaN samples are left out of the interpolation, never bridged: a grid point between two valid
    samples of a coordinate that are not neighbours (a NaN sample lies between them, or they are
    more than ``DROPPED_FRAMES`` median sample intervals apart: rows lost) is NaN unless it is within
    half a period of one of them (that sample, its time jittered or rounded to the ms); so are grid
    points more than one period away from the nearest valid sample.  Returns (grid_t_s (K,), Y (K, n)).
    """
    rate_hz = _rate(rate_hz)
    t_s = np.asarray(t_s, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if t_s.ndim != 1 or X.ndim != 2 or X.shape[0] != t_s.shape[0] or t_s.size < 2:
        raise ForecastError(f"times shaped {t_s.shape} and samples shaped {X.shape}: expected (T,) and (T, n), T >= 2")
    if not (np.isfinite(t_s).all() and (np.diff(t_s) > 0).all()):
        raise ForecastError("times must be finite and strictly increasing")
    period = 1.0 / rate_hz
    grid = t_s[0] + np.arange(int(np.floor((t_s[-1] - t_s[0]) / period + 1e-9)) + 1) * period
    Y = np.full((grid.size, X.shape[1]), np.nan)
    spacing = float(np.median(np.diff(t_s)))
    for c in range(X.shape[1]):
        ok = np.isfinite(X[:, c])
        if ok.sum() < 2:
            continue
        tv = t_s[ok]
        Y[:, c] = np.interp(grid, tv, X[ok, c])
        idx = np.clip(np.searchsorted(tv, grid), 1, tv.size - 1)
        near = np.minimum(np.abs(grid - tv[idx - 1]), np.abs(tv[idx] - grid))
        Y[near > period * 1.0001, c] = np.nan
        # a hole (invalid samples, lost rows) between two valid samples is not interpolated: the
        # grid points inside it used to take values made up from both ends (an invalid sample
        # next to a valid one became data, learnt and scored)
        pos = np.flatnonzero(ok)
        hole = (np.diff(pos) > 1) | (np.diff(tv) > DROPPED_FRAMES * spacing)   # (n_valid - 1,) per interval
        inside = hole[idx - 1] & (near >= 0.5 * period) & (grid > tv[0]) & (grid < tv[-1])
        Y[inside, c] = np.nan
    return grid - grid[0], Y


def _check_times(path, t) -> None:
    """Times of a ``t_s`` table: at least 2, finite, strictly increasing; the error names the first
    bad data row (1-based, the header not counted), as the surrogate readers do."""
    if t.size < 2:
        raise ForecastError(f"{path}: 't_s' must hold at least 2 times, got {t.size}")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ForecastError(f"{path}: 't_s' is missing or not a number at data row {int(bad[0]) + 1}")
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        j = int(back[0])
        what = "repeats" if t[j + 1] == t[j] else "goes backwards"
        raise ForecastError(f"{path}: 't_s' {what} at data row {j + 2} ({t[j + 1]:g} s after {t[j]:g} s); "
                            "times must be strictly increasing (sort the rows, drop the duplicate)")


RATE_TOLERANCE = 0.2  # marker rows are taken as steps: refuse a --rate-hz 20 % off their timestamps


def _on_rate_grid(path, t, X, rate_hz: float):
    """(t, X, resampled): samples whose timestamps are off the ``rate_hz`` grid by more than 1 % of
    a step are resampled onto it (with a warning when the median rate is far from ``rate_hz``)."""
    dt = np.diff(t)
    if np.max(np.abs(dt - 1.0 / rate_hz)) <= 0.01 / rate_hz:
        return t, X, False
    fs = 1.0 / float(np.median(dt))
    ms = abs(1000 * fs - rate_hz) <= RATE_TOLERANCE * rate_hz   # times in ms in a column said to be seconds
    # upsampling makes samples up between the recorded ones, which a forecaster predicts more easily
    # than real ones (a 10 Hz table at --rate-hz 12.5: last-value RMSE 0.71 mm at 0.08 s, scored as
    # if measured): warned from 2 % on, where 25 % slower than --rate-hz went by with an info line
    up = fs < (1 - RATE_WARNING) * rate_hz
    (log.warning if up or abs(fs - rate_hz) > RATE_TOLERANCE * rate_hz else log.info)(
        "%s: timestamps at %.3g Hz (median), resampled to --rate-hz %g%s", path, fs, rate_hz,
        "; they look like milliseconds: 't_s' is seconds (name a column of ms 't_ms')" if ms else
        f"; upsampled: the samples between the recorded ones are interpolated and scored as data (give --rate-hz "
        f"{fs:.3g} to forecast the recorded samples only)" if up else "")
    t, X = resample_uniform(t, X, rate_hz)
    return t, X, True


RATE_WARNING = 0.02   # ... and warn when it is more than 2 % off: every time and horizon in seconds is off as much


def _check_marker_rate(name: str, times_s, rate_hz: float) -> None:
    fs = 1.0 / float(np.median(np.diff(times_s)))
    if abs(fs - rate_hz) > RATE_TOLERANCE * rate_hz:
        if abs(fs / 1000 - rate_hz) <= RATE_TOLERANCE * rate_hz:   # a 10 Hz file with times in s read as ms
            raise ForecastError(f"session {name}: the timestamps step by {1000 / fs:.3g} (median): they look like "
                                f"seconds, and a marker CSV's 'Timestamp' is milliseconds; write them in ms (x 1000)")
        raise ForecastError(f"session {name}: the timestamps say {fs:.3g} Hz but --rate-hz is {rate_hz:g}; marker rows "
                            f"are taken as steps at --rate-hz, so give --rate-hz {fs:.3g}")
    if abs(fs - rate_hz) > RATE_WARNING * rate_hz:
        log.warning("session %s: the timestamps say %.4g Hz but --rate-hz is %g; marker rows are taken as steps at "
                    "--rate-hz, so every time and horizon in seconds is %.0f %% off (give --rate-hz %.4g)",
                    name, fs, rate_hz, 100 * abs(fs / rate_hz - 1), fs)


DROPPED_FRAMES = 1.75  # a marker timestamp step this many median steps long has lost frames (unless the
                      # next step is under half a period: a late frame, then an early one)


def _dropped_frames_as_gaps(name: str, times_s, X: np.ndarray) -> np.ndarray:
    """Marker rows (one row = one step) with a missing (NaN) step for every frame lost where the
    timestamps jump: rows on both sides of a dropout are not consecutive steps, and gluing them
    would hide the gap from the learners (no hold) and shift every later step's time."""
    dt = np.diff(np.asarray(times_s, dtype=np.float64))
    period = float(np.median(dt))
    late = np.zeros(dt.size, bool)
    late[:-1] = dt[1:] < 0.5 * period   # jitter: the next frame makes up for it, nothing was lost
    k = np.where((dt > DROPPED_FRAMES * period) & ~late, np.rint(dt / period), 1).astype(np.int64)
    if (k == 1).all():
        return X
    at = np.concatenate([[0], np.cumsum(k)])
    out = np.full((int(at[-1]) + 1, X.shape[1]), np.nan)
    out[at] = X
    log.warning("session %s: the timestamps jump over %d lost frame(s) in %d place(s) (longest %.3g s); "
                "kept as missing steps", name, int((k - 1).sum()), int((k > 1).sum()), float(dt.max()))
    return out
