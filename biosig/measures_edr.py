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
    if not lo <= f_peak <= hi or _faster_breathing_in_baseline(x, fs_hz, f_peak, hi, (len(t) - 1) / (t[-1] - t[0])):
        return float("nan")
    return float(60.0 * f_peak)


#: The continuous wave's spectrum is searched from the band's upper edge up to this share of the heart rate
#: (the pulse's own fundamental stays out of it) for breathing faster than the beats can show
BASELINE_MAX_HR_REL = 0.85
#: A rhythm there counts when its power is this many times that at the estimate and that at its mirror
#: image about the heart rate (2 HR - f): breathing at f under HR / 2 puts sidebands on the pulse's
#: fundamental at HR - f and HR + f, about alike (1-3 x); a baseline moving at the rate has no mirror
BASELINE_PEAK_REL = 8.0
BASELINE_HALF_WIDTH_HZ = 0.02   # power is summed over this much either side of a frequency


def _faster_breathing_in_baseline(x: np.ndarray, fs_hz: float, f_est_hz: float, hi_hz: float,
                                  hr_hz: float) -> bool:
    """Whether the wave ``x`` itself (sampled continuously, not once a beat) has a rhythm ``g``
    between ``hi_hz`` (the highest rate the beat series can show) and :data:`BASELINE_MAX_HR_REL` x
    ``hr_hz`` (the mean beat rate) with :data:`BASELINE_PEAK_REL` times the power at the estimate
    ``f_est_hz`` and at ``2 hr_hz - g``.

    Breathing above half the heart rate (a neonate: 60 /min at 120 /min), or above the band searched,
    folds into the beat series below it (at the heart rate less the breathing rate, or less twice
    it): 9.6-40 /min came back for 40-60 /min. The baseline of the wave moves at the breathing rate
    itself and shows it there; the slower breathing the estimate stands for would put about as much
    power at HR + f as at HR - f (its sidebands on the pulse)."""
    top = BASELINE_MAX_HR_REL * hr_hz
    if top <= hi_hz:
        return False
    n_fft = max(len(x), int(fs_hz * 240))
    f = np.fft.rfftfreq(n_fft, 1.0 / fs_hz)
    keep = f <= 2 * hr_hz - hi_hz + 2 * BASELINE_HALF_WIDTH_HZ
    s = np.asarray(x, dtype=np.float64)
    s = s - np.polyval(np.polyfit(np.arange(len(s)), s, 1), np.arange(len(s)))
    p = (np.abs(np.fft.rfft(s * np.hanning(len(s)), n=n_fft)) ** 2)[keep]
    f = f[keep]
    half = max(1, int(round(BASELINE_HALF_WIDTH_HZ / (f[1] - f[0]))))
    c = np.concatenate([[0.0], np.cumsum(p)])
    idx = np.arange(len(p))
    smooth = c[np.minimum(idx + half + 1, len(p))] - c[np.maximum(idx - half, 0)]   # power within +-half bins

    def at(g):
        return smooth[np.clip(np.round(np.asarray(g) / (f[1] - f[0])).astype(int), 0, len(p) - 1)]

    g = f[(f > hi_hz + BASELINE_HALF_WIDTH_HZ) & (f <= top)]
    if not len(g):
        return False
    own = at(g)
    strong = (own > BASELINE_PEAK_REL * float(at(f_est_hz))) & (own > BASELINE_PEAK_REL * at(2 * hr_hz - g))
    return bool(strong.any())
