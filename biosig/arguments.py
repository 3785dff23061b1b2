"""Checks of the arguments the public functions take: a sampling rate, a signal array, a file
path, channel names or indices, and whole or positive numbers.

A user's mistake (a rate of 0, a 3-D array, text where numbers belong, a path that is None) is a
:class:`biosig.errors.SignalError` (a :class:`~biosig.errors.ReadError` for paths) with the value
in its message, never a ZeroDivisionError or an IndexError from deep inside NumPy. The packages
above pass their own error class to :func:`whole_number` and :func:`positive_number`.
"""
from __future__ import annotations

import math
import numbers
import os
import pathlib

import numpy as np

from biosig.errors import ReadError, SignalError


#: Windows are (channels, samples): one with more rows than this and than its columns is taken for
#: (samples, channels) and refused (:func:`samples_first`).
MAX_CHANNELS = 16


def samples_first(x: np.ndarray) -> bool:
    """Whether a 2-D window looks (samples, channels): more rows than columns and than
    :data:`MAX_CHANNELS`. The one rule of the quality score and every beat measure: a (2500, 20)
    window was refused by one and read as 2500 "channels" of 20 samples by the other."""
    return x.ndim == 2 and x.shape[0] > max(x.shape[1], MAX_CHANNELS)


def positive_number(value, name: str, what: str, error: type[Exception] = SignalError) -> float:
    """``value`` as a float; ``error`` naming ``name`` unless it is a finite number above 0 (a
    bool is not a number here: ``fs_hz=True`` is a mistake, not 1 Hz)."""
    try:
        v = math.nan if isinstance(value, (bool, np.bool_)) else float(value)
    except (TypeError, ValueError, OverflowError):
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise error(f"{name}={value!r} must be a positive {what}")
    return v


def whole_number(value, name: str, minimum: int = 0, maximum: int | None = None,
                 error: type[Exception] = SignalError) -> int:
    """``value`` as an int; ``error`` naming ``name`` unless it is an integer (not a bool, not a
    float that happens to be whole) from ``minimum`` to ``maximum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum \
            or (maximum is not None and value > maximum):
        bounds = f", {minimum} or more" if maximum is None else f" from {minimum} to {maximum}"
        raise error(f"{name}={value!r} must be a whole number{bounds}")
    return int(value)


def sampling_rate(fs_hz) -> float:
    """``fs_hz`` as a float; :class:`SignalError` unless it is a finite number above 0."""
    return positive_number(fs_hz, "fs_hz", "sampling rate")


def positive_seconds(value, name: str) -> float:
    """``value`` as a float; :class:`SignalError` naming ``name`` unless it is a finite number of
    seconds above 0."""
    return positive_number(value, name, "number of seconds")


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


def file_path(path) -> pathlib.Path:
    """``path`` as a :class:`pathlib.Path`; :class:`ReadError` unless it is a ``str`` or an
    ``os.PathLike`` naming a text path (not ``None``, a number or bytes) without a NUL byte."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise ReadError(repr(path), f"a file path is a str or os.PathLike, not {type(path).__name__}")
    if "\0" in path:
        raise ReadError(repr(path), "a file path cannot hold a NUL character")
    return pathlib.Path(path)


def channel_list(channels) -> list:
    """``channels`` (one name or index, or an iterable of them) as a list; :class:`SignalError`
    for ``True`` / ``False`` (not indices) and anything else that names no channel."""
    if isinstance(channels, (str, int, np.integer)):
        channels = [channels]
    try:
        out = list(channels)
    except TypeError:
        raise SignalError(f"channels={channels!r}: give a channel name or index, or a list of them") from None
    for c in out:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (str, int, np.integer)):
            raise SignalError(f"channel {c!r}: a channel is a name (str) or an index (int)")
    return out
