"""Per-window signal quality in [0, 1] for ECG and PPG (template matching, Orphanidou et al. 2015).

Method ``"templatematch"`` (default): in each window, detect beats, cut one segment per beat,
average the segments into a template and correlate every beat with it; the window's quality is
the mean correlation, clipped to [0, 1]. Clean, regular beats give ~0.95-1, noise and artefacts
pull it down. A window with fewer than 3 beats or a heart rate outside 24-300 bpm scores 0.
This is NeuroKit2's ``ecg_quality`` / ``ppg_quality(method="templatematch")`` re-implemented with
NumPy/SciPy so that ``biosig info`` does not pay NeuroKit2's ~2 s import; ``method="neurokit"``
calls NeuroKit2 itself (cleaning, peak detection and template matching) and is the test oracle.

Other modalities have no morphology model: their quality is the fraction of finite samples,
0 for a flat window; for audio lowered by clipping, and 0 where the channels cancel when mixed
(:mod:`biosig.quality_audio`). NaN gaps: the score is computed on the finite part of the window (the
longest valid run; for ECG and PPG after gaps of at most :data:`biosig.flatline.SHORT_GAP_S` are
bridged by a straight line) and multiplied by the window's finite fraction. For ECG and PPG a flat line
(identical consecutive samples for :data:`biosig.flatline.FLAT_RUN_S` or longer: a lead off, a sensor clipped at
a rail, a gap a device filled with a constant) counts as a gap (:mod:`biosig.flatline`); neither
signal stays exactly constant for a second, and before this 3 s of zeros in a 10 s ECG window
left its quality at 0.997. A flat line is seen in recorded samples only: for preprocessed windows
(``embed``, ``score``, ``serve``) the callers mark the recorded runs as NaN first
(:func:`biosig.flatline.window_flat_mask`).

Usable thresholds (:data:`USABLE`) follow Orphanidou et al.: 0.66 for ECG, 0.86 for PPG.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from biosig.ecg_beats import _band, _find_peaks, ecg_detection  # noqa: F401 (_band, _find_peaks: re-exported)
from biosig.ecg_beats import EcgDetection, band_of_detected, ecg_samples, median_1d, reused
from biosig.pulse_beats import _dominant_period_s, pulse_peaks  # noqa: F401 (_dominant_period_s: re-exported)
from biosig.arguments import float_signal, samples_first, sampling_rate
from biosig.errors import SignalError
from biosig.flatline import bridged_run, flat_runs_to_nan, longest_run
from biosig.modality import modality_channel_indices, normalise_modality
from biosig.quality_audio import clipped_share, clipping_factor, mix_factor
from biosig.record import Record, require_record


USABLE = {"ecg": 0.66, "ppg": 0.86}
METHODS = ("templatematch", "neurokit")
SUMMARY_MAX_WINDOWS = 24
_MIN_HR_BPM, _MAX_HR_BPM = 24.0, 300.0


# ---------------------------------------------------------------------------------- beats
def detect_beats(x: np.ndarray, fs_hz: float, modality: str) -> tuple[np.ndarray, np.ndarray]:
    """``(beats, cleaned)``: beat sample indices (R peaks or pulse peaks) and the cleaned signal.

    ECG: band-pass 0.5-40 Hz for the waveform; QRS energy (5-15 Hz band, squared slope, 120 ms
    moving average) peaks at least 250 ms apart above 30 % of a typical beat's and 15 % of the
    median of those (:func:`biosig.ecg_beats._beat_threshold`), plus a search back in long intervals
    (:func:`biosig.ecg_beats._search_back`), refined to the
    largest absolute deflection within 60 ms. PPG (:func:`biosig.pulse_beats.pulse_peaks`): band-pass
    0.5-8 Hz, systolic peaks at least 0.6 x the dominant pulse period apart (``_dominant_period_s``
    between 0.25 and 2 s, i.e. 30-240 /min, so a dicrotic wave is not a second beat; of the wave
    levelled by ``_level``, so that a large artefact does not set it), above 30 % of the robust 2-98 %
    range (``_robust_range``: per 10 s block, the median over blocks); with pulse alternans, every
    pulse (``_alternans_pulses``); a leading diastolic wave dropped (:func:`_without_leading_diastolic_wave`).
    Any other modality is refused (:class:`SignalError`; "ekg" is ECG): the pulse detector ran for
    every name but "ecg". ECG: :func:`ecg_window_beats` (kept per thread; the beats returned are a copy);
    PPG: kept per thread alike (:func:`biosig.ecg_beats.reused`; the beats a copy, ``clean`` read-only).
    """
    x = np.asarray(x, dtype=np.float64)
    modality = modality if modality in ("ecg", "ppg") else normalise_modality(modality)
    if modality not in ("ecg", "ppg"):
        raise SignalError(f"beats are detected in ECG or PPG, not {modality!r}")
    if modality == "ecg":
        found = ecg_window_beats(x, fs_hz)
        return found.beats.copy(), found.clean
    if x.ndim != 1:
        beats, clean = pulse_peaks(x, fs_hz)
        return _without_leading_diastolic_wave(clean, beats).astype(np.int64), clean
    x = np.ascontiguousarray(x)
    beats, clean = reused("pulse_peaks", x, float(fs_hz), _pulse_rule(), lambda: _pulse_beats(x, fs_hz),
                          _read_only_pulse)
    return beats.copy(), clean


def _pulse_beats(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    beats, clean = pulse_peaks(x, fs_hz)
    return _without_leading_diastolic_wave(clean, beats).astype(np.int64), clean


def _pulse_rule() -> tuple:
    """The PPG detector's rule constants (:mod:`biosig.pulse_beats`' and the leading-wave rule's), part
    of the key under which :func:`detect_beats` keeps a PPG window's beats: the quality gate and the
    measures of a window detect the same samples (``embed`` ran the detector twice a measured window,
    a tenth of a PPG record's embedding), and a test or benchmark may change a constant."""
    from biosig import pulse_beats
    return (EDGE_SHORT_REL, EDGE_SMALL_REL, *(v for k, v in sorted(vars(pulse_beats).items())
                                              if k.isupper() and isinstance(v, (int, float))))


def _read_only_pulse(found: tuple[np.ndarray, np.ndarray]) -> None:
    for a in found:
        a.flags.writeable = False


class EcgBeats(NamedTuple):
    """The R peaks of one ECG signal (:func:`ecg_window_beats`) and what was found on the way."""
    beats: np.ndarray            # R peak sample indices, int64, read-only
    clean: np.ndarray            # the 0.5-40 Hz signal they index, read-only
    detection: EcgDetection      # the QRS detection they were refined from
    fs_hz: float
    known: dict                  # detrend degree -> :func:`beat_correlations` of ``beats``, filled on first use

    def correlations(self, detrend_degree: int = 0) -> np.ndarray:
        """:func:`beat_correlations` of the beats (read-only), computed once."""
        cc = self.known.get(detrend_degree)
        if cc is None:
            cc = self.known[detrend_degree] = beat_correlations(self.clean, self.beats, self.fs_hz, detrend_degree)
            cc.flags.writeable = False
        return cc

    def gate_correlations(self) -> np.ndarray:
        """:func:`ecg_beat_correlations` of the beats, from :meth:`correlations`."""
        plain, detrended = self.correlations(), self.correlations(DETREND_DEGREE)
        return detrended if _mean(detrended) > _mean(plain) else plain


def ecg_window_beats(x: np.ndarray, fs_hz: float) -> EcgBeats:
    """The R peaks :func:`detect_beats` finds in the ECG ``x`` (W,), the signal they index, their
    detection and correlations (:class:`EcgBeats`).

    The quality gate, the measures and the doubt check of a window read the same R peaks and their
    correlations: like the QRS detection (:func:`biosig.ecg_beats.ecg_detection`), this thread's
    recent results are kept (:func:`biosig.ecg_beats.reused`) and returned for equal samples, rate
    and rules, so that each window's beats are refined once and correlated once (each of the three
    refined them again, and the beats' correlations were computed 4-6 times per window)."""
    x, fs_hz = ecg_samples(x, fs_hz)
    return reused("r_peaks", x, fs_hz, (WANDER_FREE_HZ, DETREND_DEGREE), lambda: _ecg_window_beats(x, fs_hz),
                  _read_only_beats)


def _read_only_beats(found: EcgBeats) -> None:
    found.beats.flags.writeable = False


def _ecg_window_beats(x: np.ndarray, fs_hz: float) -> EcgBeats:
    d = ecg_detection(x, fs_hz)
    beats = _r_peaks(d.clean, d.qrs, fs_hz)
    steady = _r_peaks(band_of_detected(x, fs_hz, d, WANDER_FREE_HZ, 40.0), d.qrs, fs_hz)   # _band of x
    known = {}
    if not np.array_equal(beats, steady):
        cc_steady = beat_correlations(d.clean, steady, fs_hz, DETREND_DEGREE)
        cc_beats = beat_correlations(d.clean, beats, fs_hz, DETREND_DEGREE)
        beats, known[DETREND_DEGREE] = (steady, cc_steady) if _mean(cc_steady) > _mean(cc_beats) else (beats, cc_beats)
        known[DETREND_DEGREE].flags.writeable = False
    return EcgBeats(beats, d.clean, d, float(fs_hz), known)


#: ECG R peaks are also looked for in the 1-40 Hz band (``WANDER_FREE_HZ``), where breathing or
#: movement wander of up to ~0.5 Hz is gone: in 0.5-40 Hz a 0.5 Hz, 2 mV wander is still 0.5 mV, and
#: the largest deflection within 60 ms of a QRS (what an R peak is refined to) jumps between R and S
#: as the baseline moves (27 % of the beats of real ECG windows moved by more than 10 ms). The
#: refinement whose beats match each other better (:data:`DETREND_DEGREE` correlations) is kept.
WANDER_FREE_HZ = 1.0
#: ECG beat segments are correlated after removing a polynomial of this degree from each (a wander's
#: offset, slope and bend over one beat), as well as after removing their mean only
#: (:func:`ecg_beat_correlations`): the higher of the two counts.
DETREND_DEGREE = 2


def _r_peaks(signal: np.ndarray, qrs: np.ndarray, fs_hz: float) -> np.ndarray:
    """The largest absolute deflection of ``signal`` within 60 ms of each QRS energy peak, unique, int64."""
    r = max(1, int(0.06 * fs_hz))
    qrs = np.asarray(qrs, dtype=np.int64)
    if len(qrs) and (qrs.min() < 0 or qrs.max() >= len(signal)):   # not a detection's: as the loop did
        return np.unique(np.array([max(0, c - r) + int(np.argmax(np.abs(signal[max(0, c - r):c + r])))
                                   for c in qrs], np.int64))
    # signal[c - r:c + r] of every peak at once: the ends padded with -1, which no |deflection| is under
    # (the first largest one is the loop's, edges included; the loop was ~4 % of an ECG embedding)
    padded = np.concatenate([np.full(r, -1.0), np.abs(signal), np.full(r, -1.0)])
    near = np.lib.stride_tricks.sliding_window_view(padded, 2 * r)[qrs]
    return np.unique(qrs - r + near.argmax(axis=1))


def _mean(cc: np.ndarray) -> float:
    return float(np.nanmean(cc)) if np.isfinite(cc).any() else -1.0


#: The first peak of a signal is the diastolic wave of a pulse before it (whose systolic peak the
#: refractory cannot see) when its height (over the 5th percentile) is under EDGE_SMALL_REL of the
#: median of the others and either the interval after it is under EDGE_SHORT_REL of theirs or the
#: signal before it is higher (the downstroke of a larger wave). Synthetic PPG, 10 s windows every
#: 1 s, first beat no pulse of the generator: AF 12 x 60 s, 88 of 600 windows before, 17 after (3 more
#: windows lose a real first pulse); NeuroKit2 sinus PPG 6 x 60 s (against the whole record's beats) 60 of
#: 300 before, 5 after. One interval too many
#: read up to 2.6 /min high and made a sinus window look irregular.
EDGE_SHORT_REL = 0.75
EDGE_SMALL_REL = 0.7


def _without_leading_diastolic_wave(clean: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """``beats`` without its first when that is a diastolic wave (:data:`EDGE_SMALL_REL`)."""
    if len(beats) < 4:
        return beats
    iv = np.diff(beats)
    h = clean[beats] - np.percentile(clean, 5)
    if h[0] < EDGE_SMALL_REL * np.median(h[1:]) and (iv[0] < EDGE_SHORT_REL * np.median(iv[1:])
                                                      or clean[:beats[0]].max(initial=-np.inf) > clean[beats[0]]):
        return beats[1:]
    return beats


def beat_correlations(clean: np.ndarray, beats: np.ndarray, fs_hz: float, detrend_degree: int = 0) -> np.ndarray:
    """Correlation of each beat with the window's average beat, float64 (n_beats,): NaN for the
    beats whose segment leaves the signal (and all NaN with under 3 beats).

    Segments span ``[-0.4, +0.6] x`` the median beat interval around each beat; the average is over
    the beats with a whole segment. Each segment loses its mean, or with ``detrend_degree`` > 0 its
    least-squares polynomial of that degree (a baseline wander's offset, slope and bend).
    """
    out = np.full(len(beats), np.nan)
    if len(beats) < 3:
        return out
    rr = median_1d(np.diff(beats))
    a, b = int(round(0.4 * rr)), int(round(0.6 * rr))
    inside = (beats - a >= 0) & (beats + b <= len(clean))
    keep = beats[inside]
    if len(keep) < 2 or a + b < 3:
        return out
    segs = clean[keep[:, None] + np.arange(-a, b)]  # (n, L): clean[k - a:k + b] of each beat
    if detrend_degree > 0:
        basis = _detrend_basis(a + b, detrend_degree)
        segs = segs - (segs @ basis) @ basis.T
    template = segs.mean(axis=0)
    segs = segs - segs.mean(axis=1, keepdims=True)
    tc = template - template.mean()
    denom = np.linalg.norm(segs, axis=1) * np.linalg.norm(tc)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[inside] = np.where(denom > 0, segs @ tc / denom, 0.0)
    return out


@functools.lru_cache(maxsize=64)
def _detrend_basis(n: int, degree: int) -> np.ndarray:
    """Orthonormal basis (n, degree + 1) of the polynomials of ``degree`` over ``n`` samples that
    :func:`beat_correlations` removes, read-only: once per segment length (the QR took a fifth of
    the correlations' time)."""
    basis = np.linalg.qr(np.polynomial.legendre.legvander(np.linspace(-1.0, 1.0, n), degree))[0]
    basis.flags.writeable = False
    return basis


def ecg_beat_correlations(clean: np.ndarray, beats: np.ndarray, fs_hz: float) -> np.ndarray:
    """:func:`beat_correlations` of ECG beats: with each segment's mean removed, or with its
    :data:`DETREND_DEGREE` polynomial removed, whichever set has the higher mean. Baseline wander only
    lowers the first (a clean ECG with a 0.5 Hz, 2 mV wander scored 0.53, under the 0.66 gate; now
    0.99); where there is none the second can be lower (a window of mixed beat shapes, whose slow parts
    agree). Not the higher of the two per beat: that lifted noisy CinC 2017 windows over the gate."""
    beats = np.asarray(beats)
    plain, detrended = beat_correlations(clean, beats, fs_hz), beat_correlations(clean, beats, fs_hz, DETREND_DEGREE)
    return detrended if _mean(detrended) > _mean(plain) else plain


def template_correlation(clean: np.ndarray, beats: np.ndarray, fs_hz: float, modality: str | None = None) -> np.ndarray:
    """Correlation of each beat with the average beat, float64 (n_beats_used,): the beats of
    :func:`beat_correlations` (ECG: :func:`ecg_beat_correlations`) whose segment lies inside the signal."""
    cc = (ecg_beat_correlations if modality == "ecg" else beat_correlations)(clean, np.asarray(beats), fs_hz)
    return cc[np.isfinite(cc)]


def _channel_quality(x: np.ndarray, fs_hz: float, modality: str, method: str, clipped_recorded: float = 0.0) -> float:
    if modality in USABLE:
        x = flat_runs_to_nan(x, fs_hz)
    finite = np.isfinite(x)
    frac = float(finite.mean()) if len(x) else 0.0
    if frac == 0.0:
        return 0.0
    if not finite.all():
        x = bridged_run(x, fs_hz)[0] if modality in USABLE else x[slice(*longest_run(finite))]   # flat lines: NaN above
    if len(x) < 2 or np.nanstd(x) == 0:
        return 0.0
    if modality == "audio":   # clipping lowers it (biosig.quality_audio)
        return frac * clipping_factor(max(clipped_share(x), clipped_recorded))
    if modality not in USABLE:
        return frac
    if len(x) < 3 * fs_hz:
        return 0.0  # under 3 s: too short to see 3 beats at 60 bpm
    if method == "neurokit":
        from biosig.quality_neurokit import neurokit_quality
        score, beats = neurokit_quality(x, fs_hz, modality)
    else:
        if modality == "ecg":   # the beats' correlations as they were found (template_correlation: again)
            found = ecg_window_beats(x, fs_hz)
            beats, cc = found.beats, found.gate_correlations()
            cc = cc[np.isfinite(cc)]
        else:
            beats, clean = detect_beats(x, fs_hz, modality)
            cc = template_correlation(clean, beats, fs_hz, modality)
        score = float(np.mean(cc)) if len(cc) else 0.0
    if len(beats) < 3:
        return 0.0
    hr = 60.0 * fs_hz / median_1d(np.diff(beats))
    if not _MIN_HR_BPM <= hr <= _MAX_HR_BPM:
        return 0.0
    return float(np.clip(score, 0.0, 1.0)) * frac


# ---------------------------------------------------------------------------------- public
def _channel_modalities(modality, n_channels: int) -> tuple[str, ...]:
    """``modality`` (one name, or one per channel) as ``n_channels`` checked names."""
    one = isinstance(modality, str) or not hasattr(modality, "__iter__")
    mods = [modality] * n_channels if one else list(modality)
    if len(mods) != n_channels:
        raise SignalError(f"{len(mods)} modalities for a window of {n_channels} channel(s): give one, or one per channel")
    return tuple(normalise_modality(m) for m in mods)


def block_quality(x: np.ndarray, fs_hz: float, modality, method: str = "templatematch",
                  clipped_recorded: float = 0.0) -> float:
    """Quality in [0, 1] of one window ``x`` float (C, W) or (W,): the mean over its channels.

    Channels first: more rows than columns and than :data:`biosig.arguments.MAX_CHANNELS` is refused as a
    (W, C) window (its W "channels" of C samples each scored 0). ``modality``: one name, or one per
    channel (``("ecg", "ecg", "ppg")``), checked by :func:`biosig.modality.normalise_modality`
    (``"ekg"`` is ECG; an unknown name is refused: it got the "other" score, 1.0 for any signal).
    An audio window of several channels whose mix is 20 dB or more below them scores 0
    (:func:`biosig.quality_audio.mix_factor`). ``clipped_recorded``: the clipped share of the recorded
    samples an audio window comes from (:func:`biosig.quality_audio.recorded_clipped_shares`); the
    larger of it and the window's own share lowers the quality."""
    if method not in METHODS:
        raise SignalError(f"quality method {method!r}; accepted: {', '.join(METHODS)}")
    x, fs_hz = float_signal(x), sampling_rate(fs_hz)
    if samples_first(x):
        raise SignalError(f"a window is (channels, samples), got shape {x.shape}: samples first? pass x.T")
    x = np.atleast_2d(x)
    mods = _channel_modalities(modality, x.shape[0])
    if x.shape[1] == 0:
        return 0.0
    q = float(np.mean([_channel_quality(row, fs_hz, m, method, clipped_recorded) for row, m in zip(x, mods)]))
    if x.shape[0] > 1 and all(m == "audio" for m in mods):
        q *= mix_factor(x)    # channels that cancel when mixed: the mix is what is embedded
    return q


def quality_modalities(record: Record, modality: str | None = None) -> tuple[str, ...]:
    """The modality each channel of ``record`` is scored as: ``modality`` when given; a one-channel
    record's own; else each channel's (:attr:`Record.channel_modalities`). As :func:`biosig.measures.heart_rate`:
    the PLETH of an ECG+PPG record (CinC 2015 a103l) gets the pulse detector (with the R-peak detector its
    windows scored 0.79, not 0.92). A channel of unknown modality is scored as the record's only where the one
    rule of :meth:`Record.pick` (:func:`biosig.modality.modality_channel_indices`) takes it as one; otherwise it
    stays ``"other"`` (its finite share, as a RESP channel's). Before, every ``other`` channel was scored as the
    record's modality: the ABP (mmHg) of MIT-BIH polysomnographic 03700181 and MIMIC 041s passed the ECG gate."""
    rec = require_record(record, "quality_modalities()")
    if modality is not None:
        return (normalise_modality(modality),) * rec.n_channels
    if rec.n_channels == 1:
        return (rec.modality,)
    mods = rec.channel_modalities
    taken, _ = modality_channel_indices(rec.channels, mods, rec.units, rec.modality, rec.modality)
    return tuple(rec.modality if m == "other" and i in taken else m for i, m in enumerate(mods))


def window_quality(record, window_s: float | None = None, hop_s: float | None = None,
                   modality: str | None = None, method: str = "templatematch", clipped_recorded=None):
    """Quality in [0, 1] of each window of a record.

    Parameters
    ----------
    record : :class:`Record` -> float64 array (N,) over the windows of
        :func:`biosig.windows.window_array` (same count, same padding rule); or a single window
        as an array (C, W), in which case the second argument is its ``fs_hz``, ``modality`` is
        required, and a float is returned (the form the streaming runtime uses).
    window_s, hop_s : window and hop in seconds; default :func:`biosig.windows.default_window`.
    modality : every channel's modality; by default each channel's own (:func:`quality_modalities`).
    clipped_recorded : audio: the clipped share of the recorded samples behind each window (a float
        for a bare window, (N,) for a record's; :func:`biosig.quality_audio.recorded_clipped_shares`),
        for what the windows no longer show (resampled, band-limited, normalised after clipping).
    """
    if not isinstance(record, Record):
        fs_hz = window_s
        mod = modality if modality is not None else hop_s
        if fs_hz is None or mod is None:
            raise SignalError("window_quality(array, fs_hz, modality) needs fs_hz and modality for a bare array")
        return block_quality(record, float(fs_hz), mod, method, float(clipped_recorded or 0.0))
    from biosig.windows import default_window, window_array   # window_array: irregular times on their grid

    mods = quality_modalities(record, modality)
    if window_s is None:
        window_s, default_hop = default_window(record.modality if modality is None else mods[0])
        hop_s = default_hop if hop_s is None else hop_s
    win = window_array(record, window_s, hop_s)
    clipped = np.zeros(len(win.x))
    if clipped_recorded is not None:
        given = np.asarray(clipped_recorded, dtype=np.float64)[:len(clipped)]
        clipped[:len(given)] = given
    return np.array([block_quality(w, record.fs_hz, mods, method, c) for w, c in zip(win.x, clipped)],
                    dtype=np.float64)
