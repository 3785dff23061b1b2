"""One band for a set of sound recordings made at several rates (``--audio-fmax-hz HZ|common`` of
``biosig embed``, ``score`` and ``probe``).

A lung-sound set mixes recorders at 4, 10 and 44.1 kHz. Resampled to an audio model's 16 kHz, a
4 kHz file holds nothing above 2 kHz, and the model's log-mel reaches 8 kHz: on the ICBHI-like
rehearsal set audio-tiny's embeddings told a 4 kHz file from the rest at AUROC 0.993 (the MFCC
baseline at 0.999), so a diagnosis AUROC on such a set can be the recording device.
:func:`band_limit` gives every record the same band before the model: the record resampled to the
model's rate (the ``resample`` step of the model's own pipeline, which then has nothing left to do)
and low-passed there by one zero-phase FIR (:func:`lowpass_taps`), the same filter whatever the
file's rate, so the band a record is given does not itself differ by rate. ``common``
(:func:`common_fmax_hz`) is the band every file's rate holds, read from the files' headers: the
rule of the MFCC row's ``encoders.baselines.mfcc_common_fmax_hz`` (0.45 x the lowest rate: a
recorder's anti-alias filter rolls off over the last ~10 % below its Nyquist), so the MFCC row
with ``--mfcc-fmax-hz common`` and the model rows see the same 0-1800 Hz of a set with 4 kHz files.

The filter: a Kaiser-window FIR whose stop band begins at ``fmax_hz`` (60 dB down: the band's
share of a breath sound's power above it is at the log-mel's floor) and whose pass band ends at
0.9 ``fmax_hz`` (ripple 0.1 %), applied centred (``mode="same"``, odd taps: zero phase, no delay).
At 16 kHz and 1800 Hz it has 325 taps; NaN samples (gaps) are zeros while filtering and NaN again
after. Every channel of the record is filtered (the model mixes its audio channels to mono
afterwards, a linear step: the same as filtering the mix).
"""
from __future__ import annotations

import functools
import logging

import numpy as np

from biosig.errors import BiosigError
from biosig.record import Record

log = logging.getLogger(__name__)

#: Top of a band every rate of a set holds, as a share of the lowest rate (the MFCC row's
#: ``encoders.baselines.MFCC_BAND_SHARE``; tests/test_audio_band.py checks they agree).
AUDIO_BAND_SHARE = 0.45
STOPBAND_DB = 60.0
TRANSITION_SHARE = 0.1   # of fmax_hz: pass band to 0.9 fmax_hz, stop band from fmax_hz


def common_fmax_hz(rates_hz, fs_hz: float = 16000.0) -> float:
    """The band (Hz) every rate of ``rates_hz`` holds at the model rate ``fs_hz``: ``fs_hz / 2``
    where every rate is at least ``fs_hz`` (nothing to low-pass), else :data:`AUDIO_BAND_SHARE` x
    the lowest rate."""
    rates = [float(r) for r in rates_hz]
    if not rates or not all(r > 0 for r in rates):
        raise BiosigError("common band: give the rates (> 0 Hz) of at least one recording")
    low = min(rates)
    return fs_hz / 2 if low >= fs_hz else min(fs_hz / 2, AUDIO_BAND_SHARE * low)


def header_rate_hz(path, read_options: dict | None = None) -> float:
    """A recording's rate: its sound file's header where soundfile reads one and no read option
    could change it (cheap: a set of thousands of files), else the recording read whole."""
    if not read_options:
        try:
            import soundfile
            return float(soundfile.info(str(path)).samplerate)
        except (RuntimeError, OSError, ValueError):   # not a sound file soundfile reads: WFDB, CSV, EDF, ...
            pass
    from biosig.readers import read
    return float(read(path, **(read_options or {})).fs_hz)


def set_fmax_hz(given, paths, read_options: dict | None, fs_hz: float, flag: str = "--audio-fmax-hz") -> float | None:
    """``given`` (None, a number in Hz or ``"common"``) as the band of a set of recordings ``paths``
    to be given to a model at ``fs_hz``: ``common`` from the files' rates (:func:`common_fmax_hz`),
    a number checked against the model's Nyquist."""
    if given is None:
        return None
    if given == "common":
        rates = [header_rate_hz(p, read_options) for p in paths]
        fmax_hz = common_fmax_hz(rates, fs_hz)
        log.info("%s common: 0-%g Hz (rates %g-%g Hz over %d recording(s))", flag, fmax_hz, min(rates), max(rates),
                 len(rates))
        return fmax_hz
    fmax_hz = float(given)
    if not 0 < fmax_hz <= fs_hz / 2:
        raise BiosigError(f"{flag} {given:g}: the model takes audio at {fs_hz:g} Hz; give 0 < HZ <= {fs_hz / 2:g}")
    return fmax_hz


def check_audio_model(fmax_hz, modality: str, model_id: str, flag: str = "--audio-fmax-hz") -> None:
    """One line refusing a band for a model that does not embed sound."""
    if fmax_hz is not None and modality != "audio":
        raise BiosigError(f"{flag} band-limits sound recordings: {model_id} takes {modality} recordings; "
                          f"drop {flag}")


def band_text(fmax_hz: float) -> str:
    """How a band is named on a probe row and in a header: ``0-1800 Hz``."""
    return f"0-{fmax_hz:g} Hz"


@functools.lru_cache(maxsize=16)
def lowpass_taps(fmax_hz: float, fs_hz: float) -> np.ndarray:
    """The odd-length Kaiser FIR of :func:`band_limit` (float64): stop band from ``fmax_hz`` at
    :data:`STOPBAND_DB`, pass band to (1 - :data:`TRANSITION_SHARE`) ``fmax_hz``."""
    from scipy import signal
    width_hz = TRANSITION_SHARE * fmax_hz
    n, beta = signal.kaiserord(STOPBAND_DB, width_hz / (fs_hz / 2))
    n += 1 - n % 2
    taps = signal.firwin(n, fmax_hz - width_hz / 2, window=("kaiser", beta), fs=fs_hz)
    taps.setflags(write=False)
    return taps


@functools.lru_cache(maxsize=None)
def _warn_beyond(rate_hz: float, fmax_hz: float) -> None:
    """Once per rate and band in a process."""
    log.warning("--audio-fmax-hz %g: a recording at %g Hz holds nothing above %g Hz, so the band still tells its "
                "rate from the others; give at most %g x the set's lowest rate (%g Hz here), or common",
                fmax_hz, rate_hz, rate_hz / 2, AUDIO_BAND_SHARE, AUDIO_BAND_SHARE * rate_hz)


def band_limit(rec: Record, fmax_hz: float | None, fs_hz: float) -> Record:
    """``rec`` at ``fs_hz`` (the model's rate) with nothing above ``fmax_hz``; ``rec`` itself when
    ``fmax_hz`` is None. At or above ``fs_hz / 2`` only the resampling is left (the same record the
    model's own ``resample`` step gives)."""
    if fmax_hz is None:
        return rec
    from biosig.pipeline import Pipeline
    if rec.fs_hz < fs_hz and fmax_hz > AUDIO_BAND_SHARE * rec.fs_hz + 1e-6:
        _warn_beyond(float(rec.fs_hz), float(fmax_hz))
    out = rec if abs(rec.fs_hz - fs_hz) <= 1e-6 * fs_hz else Pipeline.of(("resample", {"fs_hz": fs_hz})).apply(rec)
    if fmax_hz >= fs_hz / 2 or out.n_samples == 0:
        return out
    from scipy import signal
    taps = lowpass_taps(float(fmax_hz), float(fs_hz))
    x = np.asarray(out.samples, dtype=np.float64)
    bad = ~np.isfinite(x)
    y = signal.oaconvolve(np.where(bad, 0.0, x), taps[None, :], mode="same", axes=1)
    y[bad] = np.nan
    dtype = out.samples.dtype if np.issubdtype(out.samples.dtype, np.floating) else np.float64
    return out.replace(samples=y.astype(dtype))
