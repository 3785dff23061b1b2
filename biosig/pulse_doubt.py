"""Whether the rhythm the pulse (PPG) detector found is a periodic motion rather than the pulse: the
band-passed wave is as symmetric as a sinusoid (:func:`periodic_motion`). NumPy only; called by
:func:`biosig.pulse_beats.burst_in_doubt`, so :func:`biosig.measures_window.window_measures` withholds
such a window (``missing="uncertain_beats"``).
"""
from __future__ import annotations

import numpy as np

#: A wave whose skewness AND first-derivative skewness are both under SYMMETRIC_SKEW in magnitude is a
#: sinusoid, no pulse train. A pulse is asymmetric: a narrow systolic peak over a wide diastole (the
#: wave's skewness) and a fast upstroke with a slow decay (its derivative's; Elgendi 2016 found skewness
#: the best single PPG quality index). Both are taken in magnitude: a camera PPG may be upside down.
#: Measured on 10-30 s windows that window_measures published (25-500 Hz), max(|skew|, |skew of the
#: derivative|): walking motion (1-3 Hz sinusoid, 1-5 x the pulse) published as the pulse rate 0.00-0.20
#: (median 0.02, 231 of 240 under 0.10); flicker aliased at 25-61 Hz published wrong 29 of 65 under 0.10;
#: real PPG (Welltory camera PPG 209 windows, CinC 2015 a103l 58, 041s 2) 0.32 or more; the pulse
#: generator's records (biosig.synthetic_pulse, 261 windows) 0.06 or more, 0.17 or more at 30-175 /min;
#: NeuroKit2's PPG (biosig.synthetic.simulate_ppg, 85) 0.83 or more; Gaussian pulses with a reflected wave
#: of 0.35 at 30-150 /min 0.35 or more. A walking motion with a phase-shifted 2nd harmonic is asymmetric
#: (0.28-0.68) and is not caught: 0 of its 109 wrong windows.
SYMMETRIC_SKEW = 0.1
#: ... only where the found rhythm is at most SYMMETRIC_MAX_BPM: a faster pulse is near a sinusoid after
#: the 0.5-8 Hz band-pass (its 2nd harmonic is at the band's edge): Gaussian pulses at 180-220 /min
#: measured 0.005-0.14, the pulse generator's at 200 /min 0.06. Walking motion was published at 64-178 /min.
SYMMETRIC_MAX_BPM = 175.0
SYMMETRIC_MIN_BEATS = 4   # fewer pulses: too little wave to judge its shape
SYMMETRIC_MIN_QUIET = 0.5   # a smaller share of the window outside bursts: the burst check's matter


def _skewness(v: np.ndarray) -> float:
    """The sample skewness (third standardised moment) of ``v``; 0 for a constant. The cube as ``v * v * v``:
    ``v ** 3`` calls ``pow`` per sample (60 us for 10 s at 125 Hz, twice a PPG window; the two differ in the
    last bit of some samples, the skewness by ~1e-16 relative, against :data:`SYMMETRIC_SKEW` 0.1)."""
    v = v - v.mean()
    s = float(v.std())
    return float(np.mean(v * v * v) / s ** 3) if s > 0 else 0.0


def wave_asymmetry(clean: np.ndarray, quiet: np.ndarray | None = None) -> float:
    """``max(|skewness|, |skewness of the first difference|)`` of the band-passed wave ``clean`` (of its
    samples where the bool mask ``quiet`` is set, and of the differences between two such samples): about 0
    for a sinusoid, 0.3-2 for a pulse wave of either polarity (:data:`SYMMETRIC_SKEW`)."""
    clean = np.asarray(clean, dtype=np.float64)
    keep = np.ones(len(clean), bool) if quiet is None else np.asarray(quiet, bool)
    if keep.sum() < 3:
        return float("inf")
    return max(abs(_skewness(clean[keep])), abs(_skewness(np.diff(clean)[keep[1:] & keep[:-1]])))


def periodic_motion(clean: np.ndarray, beats: np.ndarray, fs_hz: float, quiet: np.ndarray | None = None) -> bool:
    """Whether the pulses ``beats`` of the band-passed wave ``clean`` are more likely a periodic motion
    (walking, a hand swinging; flicker aliased into the pulse band) than the pulse: at least
    :data:`SYMMETRIC_MIN_BEATS` of them, at a rate of at most :data:`SYMMETRIC_MAX_BPM`, in a wave as
    symmetric as a sinusoid (:func:`wave_asymmetry` under :data:`SYMMETRIC_SKEW`). ``quiet``: the samples
    outside motion bursts (:func:`biosig.pulse_beats.burst_in_doubt`'s), the only ones judged, and at least
    :data:`SYMMETRIC_MIN_QUIET` of the window: a burst's large, symmetric swing would otherwise set the
    moments (of 560 pulse windows with 0.5-3 s bursts, 7 were taken for a motion over the whole window,
    1 over the quiet samples: a 130 /min pulse of the generator's as symmetric as a sinusoid, its rate right).

    A sinusoidal hand motion of 1-3 Hz at 1-5 x the pulse amplitude is the larger periodic component
    of the wave, and the detector follows it: the motion's rate was published as the pulse rate in 240
    of 263 windows (quality passed). The measured trade-off (at :data:`SYMMETRIC_SKEW`): 231 of those
    240 windows withheld, and 29 of the 65 flicker windows published wrong; of the published windows
    of real PPG (269) and of synthetic PPG without motion (30-220 /min, 1046) none; of Gaussian pulses
    with a reflected wave of 0.6-0.9 of the peak 2 of 321."""
    beats = np.asarray(beats, dtype=np.int64)
    if len(beats) < SYMMETRIC_MIN_BEATS:
        return False
    if quiet is not None and np.mean(quiet) < SYMMETRIC_MIN_QUIET:
        return False
    rate_bpm = 60.0 * fs_hz / float(np.mean(np.diff(beats)))
    return bool(rate_bpm <= SYMMETRIC_MAX_BPM and wave_asymmetry(clean, quiet) < SYMMETRIC_SKEW)
