"""Damaged audio files read as far as they go (:func:`read_cut_short`), and float files holding NaN or
infinite samples (:func:`nonfinite_as_gaps`), for :mod:`biosig.readers.audio`.

Found with damaged files (bug bash 69): a FLAC file cut short was refused whole with libsndfile's
words alone ("Internal psf_fseek() failed."), although its first frames decode; a float WAV with one
NaN sample was read without a word about it, and the level check then said "12.5 % of its samples
are held at the peaks of its sound, nan".
"""
from __future__ import annotations

import logging

import numpy as np

from biosig.errors import ReadError
from biosig.readers.lib_paths import sound_path

log = logging.getLogger(__name__)

#: Frames decoded at a time from a damaged file: the decoder stops at the damage, and the frames of
#: the blocks before it are kept.
BLOCK_FRAMES = 4096


def read_cut_short(path, first_error: str) -> tuple[np.ndarray, float] | None:
    """``(samples float32 (C, T), fs_hz)`` of a file that soundfile opens but cannot read whole (a FLAC
    file cut short), decoded block by block up to the damage, with a warning that says how much of
    what its header declares was read; None where soundfile cannot open it at all (not audio). A file
    whose header opens but of which no frame decodes is a ReadError that says so."""
    import soundfile as sf

    try:
        fh = sf.SoundFile(sound_path(path))
    except Exception:   # noqa: BLE001 -- libsndfile's errors vary by version; the caller reports first_error
        return None
    blocks, stop = [], ""
    with fh:
        declared, fs_hz = int(fh.frames), float(fh.samplerate)
        try:
            while True:
                block = fh.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
                if not len(block):
                    break
                blocks.append(block)
        except (sf.LibsndfileError, RuntimeError) as exc:
            stop = str(exc).strip() or first_error
    n = sum(len(b) for b in blocks)
    if n == 0:
        raise ReadError(path, f"not a readable audio file: its header declares {declared} frames at {fs_hz:g} Hz, "
                              f"none decodes (decoder: {stop or first_error}; the file is cut short or damaged)")
    if n < declared:
        log.warning("%s: cut short or damaged: read the first %d of the %d frames its header declares (%.3g of "
                    "%.3g s), then the decoder stopped (%s); the rest is not read", path, n, declared,
                    n / fs_hz, declared / fs_hz, stop or first_error)
    return np.concatenate(blocks).T, fs_hz


def nonfinite_as_gaps(path, x: np.ndarray) -> np.ndarray:
    """``x``, with one warning saying how many of its samples are NaN (a float file can hold them; they
    stay NaN, the readers' gaps; infinite ones are said and made NaN by :func:`biosig.readers.read`); a
    file of nothing but NaN or infinite samples is a ReadError."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    if bad.all():
        raise ReadError(path, f"the audio file holds no finite sample ({x.size} samples, all NaN or infinite)")
    nan = int(np.isnan(x).sum())
    if nan:
        log.warning("%s: %d of its %d samples are NaN (not a number: a float file): read as gaps", path, nan, x.size)
    return x
