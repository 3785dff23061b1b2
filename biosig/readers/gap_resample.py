"""Resampling inside the readers: integer polyphase ratios and NaN gaps that stay gaps.

Readers bring channels recorded at different rates to one rate (multi-frequency WFDB, EDF) and
:func:`biosig.readers.resample` changes a record's rate; both go through these two functions.
"""
from __future__ import annotations

import numpy as np

from biosig.errors import ReadError


def read_ratio(fs_out: float, fs_in: float) -> tuple[int, int]:
    """Integers (up, down) with fs_in * up / down == fs_out to :data:`biosig.filters.RESAMPLE_RATE_REL_TOL`."""
    from biosig.errors import SignalError
    from biosig.filters import resample_ratio

    try:
        return resample_ratio(fs_in, fs_out)
    except SignalError as exc:
        raise ReadError("<record>", str(exc)) from None


def upsample_keeping_gaps(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """Polyphase resampling of ``x`` (T,) by ``up/down`` that keeps NaN gaps as NaN.

    Gaps are bridged by linear interpolation only for the filter's sake (so that gap edges do
    not ring against zeros); every output sample whose input span touches a gap is NaN again.
    """
    from scipy.signal import resample_poly

    bad = np.isnan(x)
    if bad.all():
        return np.full(-(-len(x) * up // down), np.nan)
    filled = x
    if bad.any():
        idx = np.arange(len(x))
        filled = x.copy()
        filled[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    y = resample_poly(filled, up, down)
    if bad.any():
        j = np.arange(len(y))
        start = np.minimum((j * down) // up, len(x) - 1)
        stop = np.clip(((j + 1) * down) // up, start + 1, len(x))
        count = np.concatenate([[0], np.cumsum(bad)])
        y[(count[stop] - count[start]) > 0] = np.nan
    return y
