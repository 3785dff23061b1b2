"""Audio files (WAV, FLAC, OGG, MP3) as records of modality ``audio``.

Decoding uses soundfile (libsndfile, which reads MP3 from version 1.1); files it cannot open are
decoded by librosa/audioread as a fallback. Samples are floats in full scale (-1..1), unit
``"FS"``. Channel names: ``mono`` for one channel, ``left``/``right`` for two, else ``ch1..chN``.
"""
from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import sys
import tempfile
import threading

import numpy as np

from biosig.arguments import file_path
from biosig.errors import ReadError
from biosig.modality import MIN_FS_HZ
from biosig.readers.audio_damage import nonfinite_as_gaps, read_cut_short
from biosig.readers.lib_paths import sound_path
from biosig.quality_audio import CANCEL_RMS_RATIO, clipped_share   # noqa: F401 (CANCEL_RMS_RATIO re-exported)
from biosig.record import Record

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".aiff", ".aif")
#: Compressed formats whose C decoders (libmpg123, libvorbis inside libsndfile) print on stderr.
NOISY_DECODER_EXTENSIONS = (".mp3", ".ogg", ".oga")
_FD2_LOCK = threading.Lock()   # one redirection of file descriptor 2 at a time


def channel_names(n: int) -> tuple[str, ...]:
    if n == 1:
        return ("mono",)
    if n == 2:
        return ("left", "right")
    return tuple(f"ch{i + 1}" for i in range(n))


def _wav_data_chunk(path) -> tuple[int, int, int, bool, int] | None:
    """``(offset, declared, available, chunks_follow, frame_bytes)`` of a RIFF/WAVE file's data chunk:
    where its bytes start, the length its header declares, the bytes from there to the end of the
    file, whether what follows the declared length is RIFF chunks (or nothing), and the fmt chunk's
    bytes per frame (0 where there is none before the data). None for other files."""
    size = os.path.getsize(path)
    frame_bytes = 0
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, chunk_len = fh.read(4), int.from_bytes(fh.read(4), "little")
            if chunk_id == b"fmt " and chunk_len >= 14:
                frame_bytes = int.from_bytes(fh.read(14)[12:14], "little")   # block align
            if chunk_id == b"data":
                end = pos + 8 + chunk_len + (chunk_len & 1)
                while end + 8 <= size:   # LIST, id3 ... chunks after the data: 4 printable bytes, a length inside the file
                    fh.seek(end)
                    cid, n = fh.read(4), int.from_bytes(fh.read(4), "little")
                    if not all(32 <= c < 127 for c in cid) or end + 8 + n > size:
                        break
                    end += 8 + n + (n & 1)
                return pos + 8, chunk_len, size - pos - 8, end + 8 > size, frame_bytes
            pos += 8 + chunk_len + (chunk_len & 1)
    return None


def wav_truncation(path) -> str | None:
    """A problem string when a RIFF/WAVE file's data chunk is shorter than its header says.

    libsndfile reads the frames that are present without complaint; a truncated recording
    must not pass for a complete one. Streaming writers that leave the size unknown (0 or
    0xFFFFFFFF) are accepted (:func:`_wav_unread_data`).
    """
    chunk = _wav_data_chunk(path)
    if chunk is None:
        return None
    _, declared, available, _, _ = chunk
    if declared not in (0, 0xFFFFFFFF) and declared > available:
        return f"truncated WAV: the data chunk declares {declared} bytes, the file holds {available}"
    return None


def _wav_unread_data(path, x: np.ndarray, fs: float) -> np.ndarray:
    """``x`` as libsndfile read it, or every whole frame of the data chunk where the header undercounts
    it. A data chunk size of 0 is a writer that never finished the header (a recorder killed
    mid-recording): libsndfile read 0 frames and the file was said to hold no samples; the frames
    the file holds are read, with a warning. A size smaller than the bytes that follow it (not RIFF
    chunks) is a header not updated as the recording grew: libsndfile read the declared part only,
    which is kept, and the bytes not read are said in a warning."""
    import io

    import soundfile as sf

    chunk = _wav_data_chunk(path)
    if chunk is None or not chunk[4]:
        return x
    offset, declared, available, chunks_follow, frame_bytes = chunk
    if declared == 0 and available >= frame_bytes and x.shape[1] == 0:
        info = sf.info(sound_path(path))
        with open(path, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(available - available % frame_bytes)
        try:
            y, _ = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True, format="RAW", subtype=info.subtype,
                           channels=info.channels, samplerate=int(fs), endian="LITTLE")
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):   # a compressed WAV (ADPCM, GSM ...)
            return x
        log.warning("%s: the WAV header's data size is 0 (a writer that did not finish it): read the %d "
                    "frames the file holds (%.3f s)", path, len(y), len(y) / fs)
        return y.T
    if 0 < declared < available and not chunks_follow:
        extra = available - declared - (declared & 1)
        log.warning("%s: %d bytes after the WAV data chunk (%d bytes, %d frames read) are not a RIFF chunk: "
                    "not read (about %d more frames; a header not updated as the recording grew?)", path,
                    extra, declared, x.shape[1], extra // frame_bytes)
    return x


@contextlib.contextmanager
def decoder_messages(lines: list):
    """Collect into ``lines`` what C libraries write on file descriptor 2 meanwhile.

    libmpg123 prints "Note: Illegal Audio-MPEG-Header ...", "... Giving up resync ..." or "Warning: Xing
    stream size off ..." straight on the process's stderr, around our one-line error or, worse, as
    the only sign that a truncated MP3 was decoded. The caller turns them into one line of its own.
    Redirections are serialised by a lock; where fd 2 cannot be duplicated nothing is collected.
    """
    with _FD2_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield
            return
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                tmp.seek(0)
                lines.extend(line.strip() for line in tmp.read().decode("utf-8", "replace").splitlines()
                             if line.strip())


def _decoder_said(lines: list) -> str:
    """The most telling collected line (an error before a warning before a note), shortened."""
    if not lines:
        return ""
    rank = [next((i for i, w in enumerate(("error", "warning")) if w in line.lower()), 2) for line in lines]
    line = lines[rank.index(min(rank))]
    line = line.split("] ", 1)[-1] if line.startswith("[src/") else line   # libmpg123's source position
    return line if len(line) <= 160 else line[:157] + "..."


def _decode(path: pathlib.Path) -> tuple[np.ndarray, float, str, list]:
    """Return (samples float32 (C, T), fs_hz, decoder name, what the C decoder printed); those
    lines also go to ``log`` (a warning) when the file decoded anyway, and into the error otherwise."""
    if path.suffix.lower() not in NOISY_DECODER_EXTENSIONS:
        return (*_decode_quiet(path), [])
    said: list[str] = []
    with decoder_messages(said):
        try:
            out = _decode_quiet(path)
            err = None
        except ReadError as exc:
            out, err = None, exc
    if err is not None:
        if said and err.problem.endswith(")"):   # "not a readable audio file (...)": say what the decoder said
            raise ReadError(path, f"{err.problem[:-1]}; decoder: {_decoder_said(said)})") from None
        raise err
    if said:
        log.warning("%s: decoded, but the decoder reported: %s (%d line%s; the file may be damaged or "
                    "truncated)", path, _decoder_said(said), len(said), "" if len(said) == 1 else "s")
    return (*out, said)


def _decode_quiet(path: pathlib.Path) -> tuple[np.ndarray, float, str]:
    import soundfile as sf

    problem = wav_truncation(path)
    if problem:
        raise ReadError(path, problem)
    try:
        x, fs = sf.read(sound_path(path), dtype="float32", always_2d=True)
        return _wav_unread_data(path, x.T, float(fs)), float(fs), "soundfile"
    except sf.LibsndfileError as exc:
        first_error = str(exc)
    except RuntimeError as exc:  # older soundfile versions
        first_error = str(exc)
    if path.suffix.lower() not in (".mp3", ".ogg", ".oga"):
        partial = read_cut_short(path, first_error)   # a FLAC file cut short: its frames up to the damage
        if partial is None:
            raise ReadError(path, f"not a readable audio file ({first_error})")
        return (*partial, "soundfile")
    try:
        import warnings

        import librosa

        with warnings.catch_warnings():  # librosa's "PySoundFile failed" / deprecation notes: we say it below
            warnings.simplefilter("ignore")
            y, fs = librosa.load(str(path), sr=None, mono=False)
    except Exception as exc:
        if "does not exist or is not a regular file" in first_error:  # soundfile's words for "cannot decode"
            first_error = "not a stream it can decode"
        raise ReadError(path, f"not a readable audio file (soundfile: {first_error}; "
                              f"audioread: {str(exc).strip() or 'no details'})") from None
    return np.atleast_2d(y).astype(np.float32), float(fs), "audioread"




def _warn_cancelling_channels(path, x: np.ndarray) -> None:
    """Warn when the mean of the channels, which every audio step here takes (the ``mono`` and
    ``logmel`` steps, ``mono=True``), is far quieter than the channels: a stereo file with one
    channel in opposite polarity (a miswired microphone) mixed to near silence and was embedded,
    without a word, as silence (quality 1.0, taken on the channels)."""
    finite = np.where(np.isfinite(x), x, 0.0).astype(np.float64)
    ch = float(np.sqrt(np.mean(finite ** 2)))
    mix = float(np.sqrt(np.mean(finite.mean(axis=0) ** 2)))
    if ch > 0 and mix < CANCEL_RMS_RATIO * ch:
        db = 20 * np.log10(max(mix, 1e-300) / ch)
        log.warning("%s: its %d channels cancel when mixed to one (the mean of the channels, which the audio "
                    "pipeline takes, is %.0f dB below them): one channel in opposite polarity? write one channel "
                    "to a file of its own", path, x.shape[0], max(db, -300.0))


#: Share of samples held at full scale (two equal neighbours at |x| >= :data:`RAIL_FS`) above which a
#: file is said to be clipped: sound crosses full scale, it does not stay there.
CLIPPED_SHARE = 0.001
RAIL_FS = 0.99


def _warn_level(path, x: np.ndarray) -> None:
    """Warn of a file of zeros only or a clipped one; both were embedded without a word (a
    stethoscope recording at 8 x its level, 5.1 % of its samples held at full scale, had window quality
    1.0: its crackles and wheezes above the clipping are gone). Clipped and then scaled below full
    scale (normalised to half: 3.9 % and 4.3 % held at 4 and 44.1 kHz) was not said either: the
    samples held at the peaks of the sound count there (:func:`biosig.quality_audio.clipped_share`,
    by blocks of :data:`HELD_BLOCK_N`); none of the 120 cough recordings is said."""
    if not np.any(x):
        log.warning("%s: holds zeros only (%d samples of silence)", path, x.shape[1])
        return
    held = (np.abs(x[:, 1:]) >= RAIL_FS) & (x[:, 1:] == x[:, :-1])
    share = float(held.mean()) if held.size else 0.0
    if share > CLIPPED_SHARE:
        log.warning("%s: %.1f %% of its samples are held at full scale (clipped: recorded above the "
                    "converter's range; what crossed it is lost)", path, 100 * share)
        return
    # clipped, then scaled (normalised, or a gain after the converter): the flat tops are held at the
    # file's own peak, below full scale; the rule of window quality (biosig.quality_audio.clipped_share).
    # A file that reaches full scale was judged above (a lossy file's overshoot beyond it too)
    peak = float(np.max(np.abs(x)))
    if peak >= RAIL_FS:
        return
    n = x.shape[1]
    at_peak = max(sum(clipped_share(row[i:i + HELD_BLOCK_N]) * len(row[i:i + HELD_BLOCK_N])   # blocks: no
                      for i in range(0, n, HELD_BLOCK_N)) / max(n, 1) for row in x)          # float64 copy of it all
    if at_peak > CLIPPED_SHARE:
        log.warning("%s: %.1f %% of its samples are held at the peaks of its sound, %.3g (clipped, then scaled: "
                    "what crossed the converter's range is lost)", path, 100 * at_peak, peak)


#: Samples of a channel judged at a time for flat tops below full scale (:func:`_warn_level`)
HELD_BLOCK_N = 1 << 18


def read_audio(path, *, mono: bool = False) -> Record:
    """Read an audio file.

    Parameters
    ----------
    path : file path (.wav, .flac, .mp3, ...).
    mono : mix all channels down to one (mean), channel ``mono``.

    Returns
    -------
    Record, modality ``audio``, samples float32 (C, T) in full-scale units.
    """
    path = file_path(path)
    if not path.is_file():
        raise ReadError(path, "is a folder, not a record" if path.is_dir() else "no such file")
    x, fs_hz, decoder, said = _decode(path)
    if x.shape[1] == 0:
        raise ReadError(path, "the audio file holds no samples (0 frames)")
    if not fs_hz > 0:
        raise ReadError(path, f"sampling rate must be > 0 Hz, the file says {fs_hz!r}")
    meta = {"source": str(path), "format": path.suffix.lower().lstrip("."), "decoder": decoder,
            "original_channels": int(x.shape[0])}
    if said:
        meta["decoder_messages"] = said
    x = nonfinite_as_gaps(path, x)
    _warn_level(path, np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))   # a gap: no silence, no clipped peak
    if x.shape[0] > 1:
        _warn_cancelling_channels(path, x)
    if mono and x.shape[0] > 1:
        x = x.mean(axis=0, keepdims=True)
    names = channel_names(x.shape[0])
    # a "WAV" at a few Hz (PSG exports) is not sound: its modality stays unknown unless said
    modality = "audio" if fs_hz >= MIN_FS_HZ["audio"] else ""
    if modality and len(names) > 2:   # ch1..chN of a sound file are microphones, whatever their names say
        meta["channel_modalities"] = dict.fromkeys(names, "audio")
    return Record(samples=x, fs_hz=fs_hz, channels=names, units=("FS",) * len(names),
                  modality=modality, metadata=meta)


def resample_audio(rec: Record, fs_hz: float) -> Record:
    """Resample with soxr (the band-limited resampler librosa uses by default)."""
    import soxr

    y = soxr.resample(rec.samples.T, rec.fs_hz, fs_hz, quality="HQ")
    meta = dict(rec.metadata, original_fs_hz=rec.fs_hz)
    return rec.replace(samples=np.ascontiguousarray(np.asarray(y, np.float32).reshape(len(y), -1).T),
                       fs_hz=float(fs_hz), metadata=meta)
