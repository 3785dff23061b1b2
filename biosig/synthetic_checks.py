"""Argument checks and seeded random streams shared by the simulators of :mod:`biosig.synthetic`
(:mod:`biosig.synthetic_mechanics` included)."""
from __future__ import annotations

import numpy as np

from biosig.errors import SignalError

HEART_RATE_BPM = (20.0, 250.0)   # heart rates the ECG and PPG simulators take
RESP_RATE_BPM = (3.0, 60.0)      # respiratory rates (the resp pipeline's 0.05-1 Hz band)
#: Shortest spirogram ``biosig simulate`` writes: the blow starts 0.5 s in and ``biosig spiro`` measures its
#: first second (FEV1); 0.1 s wrote 10 samples of noise and no blow, without a word
SPIRO_MIN_SECONDS = 1.5


def _value(value, name: str, lo: float = 0.0, hi: float = float("inf")) -> float:
    """A simulator parameter as a float from ``lo`` to ``hi``; :class:`SignalError` naming it
    otherwise (``resp_rate_bpm=0`` was a ZeroDivisionError, ``-5`` a NumPy error, ``fvc_ml=-100`` a
    blow breathing in, ``noise_mv=-1`` NumPy's "scale < 0")."""
    try:
        v = float("nan") if isinstance(value, (bool, np.bool_)) else float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not (np.isfinite(v) and lo <= v <= hi):
        span = f"from {lo:g} to {hi:g}" if np.isfinite(hi) else f"{lo:g} or more"
        raise SignalError(f"{name}={value!r} must be a number {span}")
    return v


def _n(seconds: float, fs_hz: float) -> int:
    n = int(round(seconds * fs_hz))
    if n < 2:
        raise SignalError(f"{seconds} s at {fs_hz} Hz is fewer than 2 samples")
    return n


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])

