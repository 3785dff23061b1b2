"""Refusals of spirograms whose first second cannot be measured (split from :mod:`biosig.spirometry`,
which calls them from :func:`~biosig.spirometry.spirometry_indices`). Times in s, as there."""
from __future__ import annotations

import numpy as np

from biosig.errors import SignalError


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
