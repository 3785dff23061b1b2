"""Spirograms, end of forced expiration and the first second: where expiration ends
(:func:`end_of_expiration`), the volume it ends at (:func:`plateau_level_ml`, FVC) and flow
pauses in the first second (:func:`first_second_pause_s`). Volumes in mL, times in s, flows in
L/s, as in :mod:`biosig.spirometry` (which re-exports these names).

FVC on a noisy trace: the running maximum of the samples climbs with their white noise (about 3
SDs over a 10 s trace at 100 Hz: +34 mL at 10 mL of noise on the synthetic blows), so FVC is the
level of the trace where expiration ends, on a :data:`EOFE_AVERAGE_S` average. Traces whose noise is
under :data:`FVC_NOISE_FLOOR_ML` keep their largest sample (exact on noise-free traces).

Pauses (ATS/ERS 2019, Graham et al. 2019: hesitation, glottic closure or a flow interruption in
the first second make FEV1 unacceptable): the back-extrapolated volume sees a pause before peak
flow, not one after it, which lowers FEV1 by 12 % (0.3 s) to 26 % (0.5 s) of an exponential blow
with BEV 11 mL (limit 200 mL).
"""
from __future__ import annotations

import numpy as np

EOFE_SMOOTH_S = 1.0     # end of expiration: where the mean volume over the next 1 s comes within
EOFE_END_TOL_ML = 0.5   # ... 0.5 mL of the highest such mean less
EOFE_NOISE_SDS = 4.0    # ... 4 SDs of that mean's white noise (see end_of_expiration)
EOFE_AVERAGE_S = 0.2    # averages that take out white noise (falls, inspirations, FVC's level)
EOFE_SEARCH_S = 0.5     # the plateau: the flattest 1 s window ending at most 0.5 s after the end found


def _noise_sd_ml(v: np.ndarray) -> float:
    """White-noise SD of a volume trace from its median absolute second difference (robust to the
    few fast-changing samples of the blow)."""
    d2 = np.diff(v, 2)
    return 1.4826 * float(np.median(np.abs(d2))) / np.sqrt(6.0) if d2.size else 0.0


def _moving_average(v: np.ndarray, n: int) -> np.ndarray:
    """Centred mean of ``n`` samples; edges padded with the end values."""
    n = max(1, min(len(v), n))
    return np.convolve(np.pad(v, (n // 2, n - 1 - n // 2), mode="edge"), np.ones(n) / n, mode="valid")


def end_of_expiration(volume_ml: np.ndarray, fs_hz: float) -> int:
    """Index of the end of expiration in a volume trace (1-D, finite, mL): the first sample where
    the mean volume over the next :data:`EOFE_SMOOTH_S` (fewer samples before the fall) comes within
    :data:`EOFE_END_TOL_ML` of the highest such mean, each mean less :data:`EOFE_NOISE_SDS` SDs of its
    white noise, searched before the volume falls (:func:`_fall_index`). After it the volume stays flat
    or falls: an early stop followed by a breath hold, an inspiration or a leak ends expiration
    there, however long the trace goes on; a trace cut while the volume still rises ends at its
    last samples. The means are of the samples, not of a running maximum (which climbs with the
    noise: ends found up to 0.6 s late or 2 s early at 10-20 mL of noise)."""
    v = np.asarray(volume_ml, dtype=np.float64)
    return _expiration_end(v, fs_hz, _noise_sd_ml(v))[0]


def _fall_index(v: np.ndarray, fs_hz: float, noise_sd_ml: float) -> int:
    """Index past the last sample before the volume falls (inspiration, leak): the end of the
    last :data:`EOFE_AVERAGE_S` window whose mean is within :data:`FVC_FALL_SDS` noise SDs (and
    :data:`EOFE_END_TOL_ML`) of the highest; ``len(v)`` for a trace that does not fall."""
    n = max(1, min(len(v), int(round(EOFE_AVERAGE_S * fs_hz))))
    csum = np.concatenate([[0.0], np.cumsum(v)])
    avg = (csum[n:] - csum[:-n]) / n
    return int(np.flatnonzero(avg >= avg.max() - FVC_FALL_SDS * noise_sd_ml / np.sqrt(n) - EOFE_END_TOL_ML)[-1]) + n


def _expiration_end(v: np.ndarray, fs_hz: float, noise_sd_ml: float) -> tuple[int, int]:
    """``(end, fall)``: :func:`end_of_expiration`'s index and :func:`_fall_index`."""
    fall = _fall_index(v, fs_hz, noise_sd_ml)
    w = v[:fall]
    n1 = max(1, int(round(EOFE_SMOOTH_S * fs_hz)))
    csum = np.concatenate([[0.0], np.cumsum(w)])
    idx = np.arange(len(w))
    stop = np.minimum(idx + n1, len(w))
    ahead = (csum[stop] - csum[idx]) / (stop - idx)
    sd = noise_sd_ml / np.sqrt(stop - idx)           # the means' noise, wider near the fall
    level = float(np.max(ahead - EOFE_NOISE_SDS * (sd - sd.min())))
    return int(np.argmax(ahead >= level - EOFE_NOISE_SDS * sd.min() - EOFE_END_TOL_ML)), fall


def _window_slopes(v: np.ndarray, n: int) -> np.ndarray:
    """Least-squares slope (per sample) of ``v[a:a + n]`` for each ``a`` (cumulative sums)."""
    i = np.arange(len(v), dtype=np.float64)
    cy, ciy = np.concatenate([[0.0], np.cumsum(v)]), np.concatenate([[0.0], np.cumsum(i * v)])
    a = np.arange(len(v) - n + 1)
    sy = cy[a + n] - cy[a]
    sxy = ciy[a + n] - ciy[a] - a * sy
    sx, sxx = n * (n - 1) / 2.0, (n - 1) * n * (2 * n - 1) / 6.0
    return (n * sxy - sx * sy) / (n * sxx - sx * sx)


def plateau_gain_ml(v: np.ndarray, fs_hz: float, end: int, fall: int) -> float:
    """Volume gained in the last 1 s of expiration (mL): the least-squares slope of the 1 s of
    samples before it (robust to white noise by construction: SD 0.35 noise SDs at 100 Hz, 0.7 at
    25 Hz, unlike the difference of two levels), the flattest of the windows ending from ``end``
    (:func:`end_of_expiration`) to :data:`EOFE_SEARCH_S` after it, never past ``fall``
    (:func:`_fall_index`). The end is found early on a noisy slow tail (its tolerance grows with the
    noise); an early stop's window reaches at most 0.5 s into the hold and keeps half its flow.
    NaN for a trace of under 1 s before ``fall``."""
    n = max(2, int(round(fs_hz)) + 1)
    lo, hi = max(end, n - 1), min(end + int(round(EOFE_SEARCH_S * fs_hz)), fall - 1, len(v) - 1)
    if hi < lo:
        return float("nan")
    return float(np.min(_window_slopes(v[lo - n + 1: hi + 1], n))) * fs_hz


FVC_NOISE_FLOOR_ML = 0.01   # noise SD under which FVC is the largest sample (its bias: ~3.5 SDs, < 0.04 mL)
FVC_FALL_SDS = 5.0          # the volume fell once its average is this many noise SDs below the highest


def plateau_level_ml(v: np.ndarray, fs_hz: float, end: int, noise_sd_ml: float | None = None) -> float:
    """The volume expiration ends at (FVC before the zero is taken off) of trace ``v`` (1-D,
    finite, mL) whose expiration ends at index ``end`` (:func:`end_of_expiration`).

    Read on the mean of the last :data:`EOFE_AVERAGE_S` of samples of the plateau: the window ends
    at the last sample whose average is within :data:`FVC_FALL_SDS` noise SDs (and
    :data:`EOFE_END_TOL_ML`) of the highest average, i.e. at the end of the trace unless the volume
    falls (inspiration, leak: then the highest window of the last ``n`` before it); a tail still rising (a trace cut before its plateau) adds the rise
    of its last second over half the window. Never above the largest sample; the largest sample
    itself where the noise is under :data:`FVC_NOISE_FLOOR_ML` (``noise_sd_ml``: :func:`_noise_sd_ml`
    of ``v``, computed when not given)."""
    top = float(np.max(v))
    s = _noise_sd_ml(v) if noise_sd_ml is None else noise_sd_ml
    n = max(1, int(round(EOFE_AVERAGE_S * fs_hz)))
    if s <= FVC_NOISE_FLOOR_ML or len(v) < n + 2:
        return top
    csum = np.concatenate([[0.0], np.cumsum(v)])
    avg = (csum[n:] - csum[:-n]) / n              # avg[i] = mean of v[i : i + n]
    k = int(np.flatnonzero(avg >= avg.max() - FVC_FALL_SDS * s / np.sqrt(n) - EOFE_END_TOL_ML)[-1])
    # where the volume falls (inspiration, leak) the window at the crossing holds fallen samples: the
    # highest of the windows ending in the last n samples before it (about 2 independent ones)
    level = float(avg[k] if k == len(avg) - 1 else np.max(avg[max(0, k - n):k + 1]))
    if n >= 3:   # a tail still rising: the window's mean lags its last sample by (n - 1) / 2 samples
        slope = float(np.polyfit(np.arange(n, dtype=np.float64), v[k:k + n], 1)[0])   # mL per sample
        level += max(0.0, slope) * (n - 1) / 2.0
    return min(level, top)


FLIPPED_PEAK_FRACTION = 0.25   # a forced expiration peaks this early in its first 90 % of volume


def _fall_is_expiration_shaped(t: np.ndarray, avg: np.ndarray) -> bool:
    """Whether the largest fall of the averaged trace ``avg`` has a forced expiration's shape: its
    peak flow within the first :data:`FLIPPED_PEAK_FRACTION` of the time it takes to 90 % of its
    volume (an exponential emptying peaks at ~0.1 s of ~1.4 s). A forced inspiration peaks about
    midway: an obstructive blow (slow) followed by a fast full inspiration falls more, and faster,
    than it rises, and is no flipped trace."""
    drop = np.maximum.accumulate(avg) - avg
    j = int(np.argmax(drop))
    i = int(np.argmax(avg[: j + 1]))
    seg = avg[i: j + 1]
    if len(seg) < 4:
        return True
    fallen = seg[0] - seg
    a = int(np.argmax(fallen >= 0.02 * fallen[-1]))            # where the fall starts
    b = int(np.argmax(fallen >= 0.9 * fallen[-1]))             # 90 % of its volume
    p = a + int(np.argmin(np.diff(seg[a: b + 1]))) if b > a else a   # fastest fall
    return b > a and (t[i + p] - t[i + a]) <= FLIPPED_PEAK_FRACTION * (t[i + b] - t[i + a])


PAUSE_FLOW_FRACTION = 0.05  # a pause: flow under 5 % of PEF ...
PAUSE_WINDOW_S = 0.1        # ... (volume change over 0.1 s) ...
PAUSE_MIN_S = 0.2           # ... for at least 0.2 s (a flow stop of ~0.3 s), between PEF and t0 + 1 s,
PAUSE_RESUME_FRACTION = 0.10  # ... after which flow comes back above 10 % of PEF


def first_second_pause_s(t_s: np.ndarray, flow_l_s: np.ndarray, t0_s: float, t_pef_s: float,
                         pef_l_s: float) -> float:
    """Longest flow pause (s) of a blow between peak flow and ``t0_s + 1``: a run of samples whose
    flow ``flow_l_s`` (the volume change over :data:`PAUSE_WINDOW_S`) is under :data:`PAUSE_FLOW_FRACTION` of PEF, at least
    :data:`PAUSE_MIN_S` long, after which the flow comes back above
    :data:`PAUSE_RESUME_FRACTION` of PEF (the end of expiration is no pause). 0.0 for none."""
    flow = np.asarray(flow_l_s, dtype=np.float64)
    low = (flow < PAUSE_FLOW_FRACTION * pef_l_s) & (t_s >= t_pef_s)
    resumed = np.flatnonzero(flow >= PAUSE_RESUME_FRACTION * pef_l_s)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], low.astype(np.int8), [0]])))
    longest = 0.0
    for a, b in zip(edges[::2], edges[1::2]):        # runs low[a:b]
        if t_s[a] > t0_s + 1.0 or not (resumed > b - 1).any():
            continue
        dur = float(t_s[b - 1] - t_s[a]) + float(t_s[1] - t_s[0])
        if dur >= PAUSE_MIN_S - 1e-9:
            longest = max(longest, dur)
    return longest


BLOW_SWING_FRACTION = 0.25   # split_blows: a blow rises, and an inspiration falls, by 25 % of the largest rise
BLOW_FLOW_FRACTION = 0.25    # ... a rise is a blow when its peak flow is 25 % of the trace's highest


#: :func:`split_blows`: a trace whose largest fall exceeds its largest rise this many times is one blow recorded
#: downward (a spirogram of several blows rises and falls by about the same volume)
DOWNWARD_FALL_RATIO = 10.0


def split_blows(volume_ml: np.ndarray, fs_hz: float) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: the forced expirations of a trace (1-D, mL, NaN allowed) recorded
    one after the other, each from the lowest volume before it (maximal inspiration) to the lowest
    before the next. On the :data:`EOFE_AVERAGE_S` average, rises and falls of at least
    :data:`BLOW_SWING_FRACTION` of the largest rise (a zigzag: tidal breaths are smaller) alternate;
    a rise is a blow when its 80 ms flow peaks at :data:`BLOW_FLOW_FRACTION` of the highest. One
    blow (or none): ``[(0, len)]``. Read as one blow, three blows of 4.0-4.1 L gave the third's FVC
    with the first's FEV1 and FET 37.5 s."""
    v = np.asarray(volume_ml, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(v))
    if ok.size < 3:
        return [(0, len(v))]
    n_avg = max(1, int(round(EOFE_AVERAGE_S * fs_hz)))
    a = _moving_average(v[ok], n_avg)
    rise = float(np.max(a - np.minimum.accumulate(a)))
    swing = BLOW_SWING_FRACTION * rise
    # a blow recorded downward (falls 5.8 L, rises only by its noise) is one blow, refused once as downward by
    # spirometry_indices: cut at its noise's wiggles, it was that refusal and two "fewer than 1 s" ones
    if not swing > 0 or float(np.max(np.maximum.accumulate(a) - a)) > DOWNWARD_FALL_RATIO * rise:
        return [(0, len(v))]
    pivots, lo, hi, rising = [], 0, 0, None       # zigzag: alternate extremes, each move >= swing
    for i in range(1, len(a)):
        if a[i] > a[hi]:
            hi = i
        if a[i] < a[lo]:
            lo = i
        if rising is not True and a[i] - a[lo] >= swing:
            pivots.append(("low", lo))
            rising, hi = True, i
        elif rising is True and a[hi] - a[i] >= swing:
            pivots.append(("high", hi))
            rising, lo = False, i
        if rising is True and a[i] >= a[hi]:
            hi = i
        elif rising is False and a[i] <= a[lo]:
            lo = i
    if rising is True:
        pivots.append(("high", hi))
    rises = [(pivots[j][1], pivots[j + 1][1]) for j in range(len(pivots) - 1)
             if pivots[j][0] == "low" and pivots[j + 1][0] == "high"]
    m = max(1, int(round(0.08 * fs_hz)))          # peak flow of each rise: its largest 80 ms change
    peak = [float(np.max(a[b0 + m:b1 + 1] - a[b0:b1 + 1 - m])) if b1 - b0 >= m else float(a[b1] - a[b0])
            for b0, b1 in rises]
    blows = [r for r, f in zip(rises, peak) if f >= BLOW_FLOW_FRACTION * max(peak)]
    if len(blows) < 2:
        return [(0, len(v))]
    # each blow from the lowest volume since the previous blow's top to the lowest before the next
    starts = [0] + [int(prev_hi + np.argmin(a[prev_hi:lo + 1])) for (_, prev_hi), (lo, _) in zip(blows, blows[1:])]
    cuts = [int(ok[s]) for s in starts[1:]]
    return list(zip([0] + cuts, cuts + [len(v)]))
