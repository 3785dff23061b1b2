"""Refusals of spirograms whose sampling or first second cannot be measured (split from :mod:`biosig.spirometry`,
which calls them from :func:`~biosig.spirometry.spirometry_indices`). Times in s, as there."""
from __future__ import annotations

import numpy as np

from biosig.errors import SignalError

MIN_FS_HZ = 10.0   # the lowest spirogram rate a stream may declare (docs/protocol.md); spirometers sample at >= 100 Hz


def _check_sampling(n_valid: int, fs_hz: float) -> None:
    """:class:`SignalError` for a spirogram sampled below :data:`MIN_FS_HZ` or holding under 1 s of samples, with
    the rate and the seconds it was read as: a time column in ms named ``t_s`` (0.1 Hz) was measured as a 3-hour
    "tidal breath" with exit code 0, and seconds named ``time_ms`` (100 kHz: 12 ms) said only "1228 valid
    samples, need at least 1 s"."""
    hint = "; is the time column in the unit its name says (t_s: seconds, time_ms: milliseconds)?"
    if fs_hz < MIN_FS_HZ:
        raise SignalError(f"spirogram: sampled at {fs_hz:.3g} Hz, below the {MIN_FS_HZ:g} Hz a spirogram needs "
                          f"(PEF is read over 80 ms; spirometers sample at 100 Hz or more){hint}")
    if n_valid < max(3, int(fs_hz)):
        raise SignalError(f"spirogram: {n_valid} valid samples at {fs_hz:.6g} Hz ({n_valid / fs_hz:.3g} s), need at "
                          f"least 1 s of data" + (hint if n_valid >= 3 and n_valid / fs_hz < 0.1 else ""))


def _check_first_second_recorded(t: np.ndarray, t0_s: float, fs_hz: float, pef_window_s: float) -> None:
    """:class:`SignalError` where samples are missing for over half the PEF window (40 ms of 80 ms)
    between t0 - ``pef_window_s`` and t0 + 1 s: bridged, a gap over the peak gave PEF 3.9 instead of
    6.2 L/s and FEV1 4 % low, acceptable. A single dropped row is bridged; gaps before or after that
    second are too."""
    missing = np.diff(t) - 1.0 / fs_hz
    within = (t[1:] >= t0_s - pef_window_s) & (t[:-1] <= t0_s + 1.0)
    bad = np.flatnonzero(within & (missing > pef_window_s / 2.0 + 1e-9))
    if bad.size:
        i = int(bad[0])
        raise SignalError(f"spirogram: {missing[i]:.3f} s of samples missing after {t[i]:.3f} s, in the first second "
                          f"of the blow (time zero {t0_s:.3f} s): PEF, time zero and FEV1 cannot be measured")
