"""Records as tables: :meth:`biosig.record.Record.to_polars` and :meth:`~biosig.record.Record.from_polars`
(a polars DataFrame with a time column in seconds), the sampling rate a time column says
(:func:`_nominal_rate_hz`, whether its times are irregular: :func:`_irregular`), and a table's column names
in a message (:func:`names_text`).

Split from :mod:`biosig.record`, which re-exports every name here.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from biosig.errors import SignalError


def names_text(names, most: int = 10) -> str:
    """``names`` joined by ", " for a message; past ``most``, the first ones and the count (a table
    read with a thousand columns must not turn one error line into a page)."""
    names = [str(n) for n in names]
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most])}, ... ({len(names)} in all)"


def record_to_polars(record):
    """:meth:`biosig.record.Record.to_polars` of ``record`` (see there)."""
    import polars as pl

    if clash := next((n for k, n in enumerate(record.channels) if n in ("t_s", *record.channels[:k])), None):
        raise SignalError(f"{'a channel is' if clash == 't_s' else 'two channels are'} named {clash!r}; a table "
                          "needs one name per column (Record.replace(channels=...))")
    cols = {"t_s": record.t_s}
    for name, row in zip(record.channels, record.samples):
        cols[name] = row
    return pl.DataFrame(cols)


def record_from_polars(cls, df, fs_hz: float | None = None, modality: str = "", units: Sequence[str] = (),
                       time_column: str = "t_s", **kwargs):
    """:meth:`biosig.record.Record.from_polars`: a ``cls`` (the Record class) from ``df`` (see there)."""
    if time_column not in df.columns:
        raise SignalError(f"no {time_column!r} column; columns are {names_text(df.columns)}")
    chans = [c for c in df.columns if c != time_column]
    if not chans:
        raise SignalError(f"only a {time_column!r} column, no signal columns")
    if df.height < 2:
        raise SignalError(f"{df.height} row(s): at least 2 samples are needed")
    t = df[time_column].cast(float).to_numpy().astype(np.float64)
    dt = np.diff(t)
    if not np.all(np.isfinite(t)) or np.any(dt <= 0):
        raise SignalError(f"column {time_column!r} must be finite and strictly increasing")
    step = float(np.median(dt))
    fs = float(fs_hz) if fs_hz is not None else float(f"{1.0 / step:.6g}")  # 1 / 0.01 is 100 Hz, not 99.99999999999999
    irregular = _irregular(t, fs)
    if irregular and fs_hz is None:
        fs = _nominal_rate_hz(t, step)
    elif fs_hz is None and len(t) > 2:
        # times printed to a few decimals: the median step is a rounded one (360 Hz to 6 decimals,
        # 0.002778 s, read 359.971 Hz and 40 s as 40.003 s); the slope over every row is not
        if abs(_slope_rate_hz(t, step) - fs) > RATE_DIGITS_REL * fs:
            fs = _nominal_rate_hz(t, step)
    x = np.empty((len(chans), df.height), dtype=np.float32)   # (no float64 stack of all channels first)
    for i, c in enumerate(chans):
        x[i] = df[c].cast(float).to_numpy()
    return cls(samples=x, fs_hz=fs, channels=tuple(chans), units=tuple(units), modality=modality,
               times_s=(t - t[0]) if irregular else None, **kwargs)


#: A regular time column's rate is its median step's to 6 significant digits (rounding: at most 5e-6 off)
#: unless the least-squares slope over all rows says another rate by more than this.
RATE_DIGITS_REL = 1e-5


def _irregular(t: np.ndarray, fs_hz: float) -> bool:
    """Whether sample times ``t`` depart from a ``fs_hz`` grid by more than 1 % of a period between two samples."""
    return bool(np.max(np.abs(np.diff(t) - 1.0 / fs_hz)) > 0.01 / fs_hz)


def _slope_rate_hz(t: np.ndarray, step: float) -> float:
    """1 / the least-squares period of times ``t``, each interval counting ``round(dt / step)`` periods."""
    k = np.concatenate([[0.0], np.cumsum(np.maximum(np.rint(np.diff(t) / step), 1.0))])
    kc = k - k.mean()
    return 1.0 / (float(np.dot(kc, t - t.mean())) / float(np.dot(kc, kc)))


def _nominal_rate_hz(t: np.ndarray, step: float) -> float:
    """The nominal rate of sample times ``t`` whose median interval is ``step``: each interval
    counts ``round(dt / step)`` periods (a dropped row counts 2), the period is the least-squares
    slope of ``t`` against that period count, and a rate within 0.1 % of a whole number of Hz
    is that number (a 250 Hz logger's jittered times give 250, not the median's 249.985)."""
    fs = _slope_rate_hz(t, step)
    whole = round(fs)
    return float(whole) if whole >= 1 and abs(fs - whole) <= 1e-3 * fs else fs
