"""Checks of the arguments every public signal function takes: a sampling rate and a signal array.

A user's mistake (a rate of 0, a 3-D array, text where numbers belong) is a
:class:`biosig.errors.SignalError` with the value in its message, never a ZeroDivisionError or
an IndexError from deep inside NumPy.
"""
from __future__ import annotations

import math

import numpy as np

from biosig.errors import SignalError


def _positive(value, name: str, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise SignalError(f"{name}={value!r} must be a positive {what}")
    return v


def sampling_rate(fs_hz) -> float:
    """``fs_hz`` as a float; :class:`SignalError` unless it is a finite number above 0."""
    return _positive(fs_hz, "fs_hz", "sampling rate")


def positive_seconds(value, name: str) -> float:
    """``value`` as a float; :class:`SignalError` naming ``name`` unless it is a finite number of
    seconds above 0."""
    return _positive(value, name, "number of seconds")


def float_signal(x, max_ndim: int = 2) -> np.ndarray:
    """``x`` as a float64 array of samples ``(W,)`` or ``(C, W)``; :class:`SignalError` for values
    that are not real numbers or an array of more than ``max_ndim`` dimensions."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise SignalError(f"a signal holds real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 0 or arr.ndim > max_ndim:
        expected = "a 1-D signal" + (" or (channels, samples)" if max_ndim > 1 else "")
        raise SignalError(f"expected {expected}, got shape {arr.shape}")
    return arr.astype(np.float64, copy=False)
