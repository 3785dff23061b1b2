"""Whether a second rhythm runs under the pulses the pulse (PPG) detector found (:func:`second_rhythm`):
what is left of the band-passed wave after the found pulses' median shape is taken out repeats at a period
that is no multiple of theirs. A hand motion larger than the pulse is what the detector follows, and the
pulse is then that second rhythm. NumPy only; :func:`biosig.measures_window.window_measures` withholds such a
PPG window (``missing="uncertain_beats"``).
"""
from __future__ import annotations

import functools

import numpy as np

#: The residual's autocorrelation (:func:`second_rhythm`) at a lag of RESIDUAL_MIN_S to RESIDUAL_MAX_S
#: (a pulse of 40-180 /min), AND at twice that lag (+-RESIDUAL_REPEAT_TOL: a rhythm repeats, noise does
#: not), at least SECOND_RHYTHM, lags within RESIDUAL_EXCLUDE_REL of a multiple of the found period left out
#: (a pulse's own beat-to-beat changes leave a residual at its period). Measured on 10 s windows that
#: window_measures published (25-500 Hz; a 2-harmonic motion of 1-3.4 Hz with a random 2nd-harmonic phase at
#: 1-5 x a 50-110 /min pulse, synthetic or Gaussian, either polarity; two sets of seeds): published wrong
#: 1167 of 1289, their score median 0.49, 235 of them 0.7 or more; real PPG (Welltory camera PPG, all 3
#: colours, 452 windows; CinC 2015 a103l 58, 041s 2) 0.40 at most; synthetic clean PPG (Gaussian, the pulse
#: generator's, NeuroKit2's; 40-185 /min, 2292) 0.65 at most, over 0.5 only at 150-185 /min (few lags are
#: left between the multiples of a fast pulse's period); the generator's sinus, AF, ectopy, bigeminy and
#: brady-tachy records (495) 0.45 at most. A thin margin on fast synthetic pulses: hence 0.7, not 0.6.
#: Below SECOND_RHYTHM_SLOW_BPM found, SECOND_RHYTHM_SLOW suffices: there the guards score lower (clean
#: synthetic 0.49 at most, real 0.40, the generator's records 0.45; 0.5 would leave 0.01 of margin). The same
#: windows, window_measures end to end: withheld of the 1167 wrong 235 -> 358 (asymmetric motion's rate
#: published 825 -> 539; seeds 71, tuned on: 331 -> 272; seeds 81: 331 -> 267), 7 more of the 122 motion
#: windows published right withheld, every guard window above published as before.
SECOND_RHYTHM = 0.7
SECOND_RHYTHM_SLOW = 0.55
SECOND_RHYTHM_SLOW_BPM = 140.0
RESIDUAL_MIN_S = 0.33
RESIDUAL_MAX_S = 1.5
RESIDUAL_EXCLUDE_REL = 0.12
RESIDUAL_REPEAT_TOL = 0.03
RESIDUAL_MIN_PULSES = 3   # fewer whole pulses: no median shape


def beat_residual(clean: np.ndarray, beats: np.ndarray) -> np.ndarray | None:
    """The band-passed wave ``clean`` from each pulse of ``beats`` over the median interval L, less the
    median of those L-sample stretches (the pulses' shape), joined (float64; None with under
    :data:`RESIDUAL_MIN_PULSES` whole stretches)."""
    clean, beats = np.asarray(clean, dtype=np.float64), np.asarray(beats, dtype=np.int64)
    if len(beats) < 2:
        return None
    L = int(np.median(np.diff(beats)))
    whole = beats[beats + L <= len(clean)]
    if L < 2 or len(whole) < RESIDUAL_MIN_PULSES:
        return None
    shape = np.median(clean[whole[:, None] + np.arange(L)], axis=0)
    if len(beats) and (np.diff(beats) > 0).all() and beats[0] >= 0:
        # each sample from the latest pulse at or before it, within L of it: what the loop below leaves there
        # (a later pulse's stretch overwrote the overlap), the same subtraction, the samples in order
        i = np.arange(int(beats[0]), len(clean))
        off = i - beats[np.searchsorted(beats, i, side="right") - 1]
        i, off = i[off < L], off[off < L]
        r = clean[i] - shape[off]
        return r if np.isfinite(r).all() else r[np.isfinite(r)]
    r = np.full(len(clean), np.nan)
    for b in beats:   # a later pulse's stretch overwrites the overlap, as the next pulse starts there
        e = min(len(clean), b + L)
        r[b:e] = clean[b:e] - shape[:e - b]
    return r[np.isfinite(r)]


@functools.lru_cache(maxsize=256)
def fast_fft_len(n: int) -> int:
    """The smallest ``2^a 3^b 5^c`` at least ``n``: an FFT of that length is 5-10 times faster than one of a
    length with a large prime factor (NumPy's pocketfft falls back to Bluestein's algorithm there). The
    autocorrelation of :func:`second_rhythm_score` was taken at ``2 n``, any ``n``: 0.44 ms a 10 s window at
    125-500 Hz, 0.06 ms at this length; its values differ by at most ~1e-15 of ``ac(0)`` (rounding)."""
    best, p5 = 1 << max(0, (n - 1).bit_length()), 1
    while p5 < n * 2:
        p35 = p5
        while p35 < n * 2:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def second_rhythm_score(clean: np.ndarray, beats: np.ndarray, fs_hz: float) -> float:
    """``max over lags L of min(ac(L), max ac(2 L +- 3 %))``: the normalised (unbiased) autocorrelation
    ``ac`` of :func:`beat_residual`, L from :data:`RESIDUAL_MIN_S` to :data:`RESIDUAL_MAX_S` and away from
    the found period's multiples (:data:`RESIDUAL_EXCLUDE_REL`); 0 where nothing is left to judge."""
    r = beat_residual(clean, beats)
    if r is None or len(r) < 4:
        return 0.0
    r = r - r.mean()
    n = len(r)
    m = fast_fft_len(2 * n - 1)   # any length >= 2 n - 1 gives the linear autocorrelation
    ac = np.fft.irfft(np.abs(np.fft.rfft(r, m)) ** 2, m)[:n]
    if not ac[0] > 0:
        return 0.0
    ac = ac / ac[0] * n / (n - np.arange(n))
    period_s = float(np.median(np.diff(beats))) / fs_hz
    lags_s = np.arange(n) / fs_hz
    sel = (lags_s >= RESIDUAL_MIN_S) & (lags_s <= RESIDUAL_MAX_S) & (2 * lags_s < 0.6 * n / fs_hz)
    k = np.round(lags_s / period_s)
    sel &= np.abs(lags_s - np.maximum(k, 1) * period_s) > RESIDUAL_EXCLUDE_REL * period_s
    idx = np.flatnonzero(sel)
    if not len(idx):
        return 0.0
    lo = (2 * idx * (1 - RESIDUAL_REPEAT_TOL)).astype(np.int64)
    hi = np.minimum(n, (2 * idx * (1 + RESIDUAL_REPEAT_TOL)).astype(np.int64) + 1)
    # ac[lo:hi].max() of each lag at once: the even outputs of reduceat over (lo, hi) pairs (lo < hi <= n; the
    # appended entry makes hi = n a valid index and is never in an even output's span). The same numbers.
    pairs = np.column_stack([lo, hi]).ravel()
    repeat = np.maximum.reduceat(np.append(ac, 0.0), pairs)[::2]
    return float(np.max(np.minimum(ac[idx], repeat)))


def second_rhythm(clean: np.ndarray, beats: np.ndarray, fs_hz: float) -> bool:
    """Whether a rhythm at a period other than the pulses' runs under the pulses ``beats`` of the band-passed
    wave ``clean`` (:func:`second_rhythm_score` at least :data:`SECOND_RHYTHM`): the pulse under a larger
    periodic motion that the detector followed. Unlike :func:`biosig.pulse_doubt.wave_asymmetry` it does not
    ask the motion to be a sinusoid: a hand motion whose 2nd harmonic is phase-shifted (asymmetric) and a
    motion over 175 /min were published as the pulse rate. The bar is :data:`SECOND_RHYTHM_SLOW` where the
    pulses found (their median interval) are slower than :data:`SECOND_RHYTHM_SLOW_BPM`."""
    score = second_rhythm_score(clean, beats, fs_hz)
    if not score >= SECOND_RHYTHM_SLOW:
        return False
    interval_s = float(np.median(np.diff(np.asarray(beats, dtype=np.float64)))) / fs_hz
    return bool(score >= (SECOND_RHYTHM_SLOW if 60.0 < SECOND_RHYTHM_SLOW_BPM * interval_s else SECOND_RHYTHM))
