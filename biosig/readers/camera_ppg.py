"""Smartphone-camera PPG CSV (``time,R,G,B``; Welltory PPG dataset layout).

``time`` is the frame capture time in milliseconds from the start of the recording; ``R``, ``G``,
``B`` are the mean colour values of the frame. Frames arrive at irregular times (about 30 Hz), so
the reader resamples every channel onto a uniform grid at the median frame rate rounded to whole
Hz, by linear interpolation between the two neighbouring frames; grid points inside a gap longer
than :data:`MAX_GAP_S` stay NaN (no invented signal). The red channel carries the pulse with the
finger on the camera and the flash on (green and blue are often 0). More blood in the finger
absorbs more light, so the red intensity FALLS at each systole: channel ``PPG`` is the red
intensity sign-inverted (``-R``), upright like a pulse oximeter's plethysmogram, which is what
NeuroKit2's and biosig's pulse detectors and the PPG encoders expect (on the 21 Welltory
recordings NeuroKit2 found 37-82 % of biosig's pulses in the raw intensity and 95-103 % in ``-R``);
``G`` and ``B`` stay as recorded. A red channel clipped at 0 or 255 in most frames (a finger that
lets too much flash through) holds no pulse: the reader says so in a warning and in
``metadata["red_clipped_fraction"]`` rather than choosing another channel behind the user's back.
What the file's frame times were is kept: ``metadata["n_frames"]``, ``metadata["irregular_fs_hz"]``
(the median frame rate), ``metadata["frame_interval_ms"]`` (median, 5th and 95th percentile and
longest interval between frames) and ``metadata["grid_fs_hz"]``, the rate of the grid they were
put on (``biosig info`` says so: the grid's rate is no rate the file had).
"""
from __future__ import annotations

import logging

import numpy as np

from biosig.arguments import file_path
from biosig.errors import ReadError
from biosig.interrupts import polars_io, polars_reader
from biosig.readers.gap_resample import uniform_resample
from biosig.readers.lib_paths import library_path
from biosig.record import Record

log = logging.getLogger(__name__)

COLUMNS = ("time", "r", "g", "b")
MAX_GAP_S = 0.5
CLIPPED_WARN = 0.5   # warn when the red channel is clipped in more than half of the frames


def is_camera_ppg_csv(path) -> bool:
    """True when the first line of ``path`` is ``time,R,G,B`` (any case)."""
    from biosig.readers.csv_dialect import header_columns
    try:
        cols = tuple(c.lower() for c in header_columns(path))
    except (OSError, UnicodeDecodeError):
        return False
    return cols == COLUMNS


@polars_reader
def read_camera_ppg_csv(path) -> Record:
    import polars as pl

    from biosig.readers.csv_dialect import sniff
    path = file_path(path)
    if not path.is_file():
        raise ReadError(path, "is a folder, not a record" if path.is_dir() else "no such file")
    try:
        with library_path(path) as source:
            df = polars_io(pl.read_csv, source, infer_schema_length=10_000, **sniff(path).polars_options())
    except Exception as exc:
        raise ReadError(path, f"malformed CSV ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    df = df.rename({c: c.strip().lower() for c in df.columns})
    if df.height < 3:
        raise ReadError(path, f"{df.height} frame(s); a camera PPG needs at least 3")
    try:
        t = df["time"].cast(pl.Float64).to_numpy() / 1000.0
        x = np.stack([df[c].cast(pl.Float64).to_numpy() for c in ("r", "g", "b")])
    except Exception as exc:
        raise ReadError(path, f"non-numeric time/R/G/B values ({type(exc).__name__})") from None
    if not np.isfinite(t).all() or np.any(np.diff(t) <= 0):
        raise ReadError(path, "the 'time' column must increase strictly (frame times in ms)")
    clipped = float(np.mean((x[0] >= 255.0) | (x[0] <= 0.0)))
    if clipped > CLIPPED_WARN:
        log.warning("%s: the red channel is clipped (0 or 255) in %.0f %% of the frames, so channel PPG holds "
                    "little or no pulse; G or B may carry it (--channel G=ppg weighs G as a pulse lead; biosig info says "
                    "which colour is usable where)", path, 100 * clipped)
    dt_ms = np.diff(t) * 1000.0
    raw_fs = 1000.0 / float(np.median(dt_ms))
    fs_hz = float(max(1, round(raw_fs)))
    p5, p95 = np.percentile(dt_ms, [5, 95])
    intervals = {"median": round(float(np.median(dt_ms)), 3), "p5": round(float(p5), 3), "p95": round(float(p95), 3),
                 "max": round(float(dt_ms.max()), 3)}
    y = uniform_resample(t - t[0], x, fs_hz, MAX_GAP_S)
    y[0] = -y[0]   # red intensity -> upright pulse wave (see the module docstring)
    return Record(samples=y.astype(np.float32), fs_hz=fs_hz, channels=("PPG", "G", "B"),
                  units=("a.u.",) * 3, modality="ppg",
                  metadata={"source": str(path), "format": "camera-ppg-csv", "n_frames": int(len(t)),
                            "irregular_fs_hz": round(raw_fs, 3), "frame_interval_ms": intervals,
                            "grid_fs_hz": fs_hz, "ppg_from": "-R (red intensity, sign-inverted)",
                            "red_clipped_fraction": round(clipped, 4)})
