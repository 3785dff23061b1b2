"""Respiratory rate from ECG or PPG modulation, for records without a respiration channel.

Breathing modulates the beat series three ways: the beat-to-beat interval (respiratory sinus
arrhythmia), the R-wave / pulse amplitude (chest impedance, venous return) and the baseline.
:func:`modulation_resp_rate` detects beats (:func:`biosig.quality.detect_beats`), forms the
interval and amplitude series, resamples both at 4 Hz, and returns 60 x the frequency of the
largest peak of their summed, normalised spectra within 0.1-0.7 Hz (6-42 breaths/min, and below
half the heart rate); ``nan`` when the largest value is no peak (at the edge of the band searched,
slow drift rising out of it). Charlton et al. 2016 (Physiol Meas 37:610) review such estimators: expect
a few breaths/min of error, more with irregular rhythms (AF) or ectopy, so it is reported as
``edr_resp_rate_bpm``, never in place of a measured respiration channel.
"""
from __future__ import annotations

import numpy as np

from biosig.arguments import float_signal, sampling_rate
from biosig.errors import SignalError
from biosig.flatline import flat_runs_to_nan, longest_run
from biosig.arguments import samples_first

FS_SERIES_HZ = 4.0
BAND_HZ = (0.1, 0.7)
MIN_SECONDS = 30.0
EDGE_MARGIN_HZ = 0.02   # the spectrum is searched this far beyond BAND_HZ, to tell a peak from an edge


def modulation_resp_rate(x, fs_hz: float, modality: str) -> float:
    """Respiratory rate (breaths/min) of an ECG or PPG signal (W,) or (C, W) (first channel) of at
    least :data:`MIN_SECONDS` seconds; ``nan`` when too few beats are found."""
    from biosig.quality import detect_beats
    if modality not in ("ecg", "ppg"):
        raise SignalError(f"respiration from modulation needs ECG or PPG, got {modality!r}")
    x, fs_hz = float_signal(x), sampling_rate(fs_hz)
    if samples_first(x):   # (W, C): its "first channel" was 1-2 samples, nan
        raise SignalError(f"expected (channels, samples), got shape {x.shape}: samples first? pass x.T")
    x = flat_runs_to_nan(x[0] if x.ndim == 2 else x, fs_hz)     # a lead off is a gap
    x = x[slice(*longest_run(np.isfinite(x)))]
    if len(x) < MIN_SECONDS * fs_hz or np.std(x) == 0:
        return float("nan")
    beats, clean = detect_beats(x, fs_hz, modality)
    if len(beats) < 20:
        return float("nan")
    t = beats / fs_hz
    rr = np.diff(t)
    keep = (rr > 0.25) & (rr < 2.5)
    if keep.sum() < 2:                                  # no plausible beat intervals to follow
        return float("nan")
    t_mid, rr = (t[1:] + t[:-1])[keep] / 2.0, rr[keep]
    amp = clean[beats]
    grid = np.arange(t[0], t[-1], 1.0 / FS_SERIES_HZ)
    hr_hz = 1.0 / np.median(rr)
    lo, hi = BAND_HZ[0], min(BAND_HZ[1], 0.5 * hr_hz)
    n_fft = max(len(grid), int(FS_SERIES_HZ * 240))   # zero padding: 1/240 Hz bins
    f = np.fft.rfftfreq(n_fft, 1.0 / FS_SERIES_HZ)
    # the peak must be a peak: searched a little beyond the band on both sides, a maximum at that
    # edge (spectra rising towards slow drift) or outside the band is no breathing rate. Before, the
    # band's lower edge came back as the rate: 6.0 /min exactly for 22 of 165 CinC 2017 records
    band = (f >= lo - EDGE_MARGIN_HZ) & (f <= hi + EDGE_MARGIN_HZ)
    total = np.zeros(band.sum())
    for tt, series in ((t_mid, rr), (t, amp)):
        s = np.interp(grid, tt, series)
        s = s - np.polyval(np.polyfit(grid, s, 1), grid)
        p = np.abs(np.fft.rfft(s * np.hanning(len(s)), n=n_fft)) ** 2
        if p[band].sum() > 0:
            total += p[band] / p[band].sum()
    if not total.any():
        return float("nan")
    k = int(np.argmax(total))
    if not 0 < k < len(total) - 1:   # the maximum at the searched span's edge: no peak
        return float("nan")
    a, b, c = total[k - 1], total[k], total[k + 1]   # parabolic refinement of the peak
    den = a - 2 * b + c
    f_peak = f[band][0] + (k + (0.5 * (a - c) / den if den != 0 else 0.0)) * (f[1] - f[0])
    if not lo <= f_peak <= hi:
        return float("nan")
    return float(60.0 * f_peak)
