"""Write a :class:`biosig.Record` to disk, the format picked by the file extension.

==================  ===========================================================================
extension           written as
==================  ===========================================================================
``.csv``            ``t_s`` plus one column per channel named ``"name [unit]"`` (``"name []"`` for
                    a unitless name that would read as one: ``"MLII [x]"``); NaN -> empty; with a
                    start time, a ``time`` column of ISO-8601 date-times after ``t_s``; annotations
                    in a sidecar ``NAME.annotations.csv`` (:mod:`biosig.readers.annotation_files`)
``.parquet``        same columns (plain names) plus fs/units/modality/start time and annotations in
                    the schema metadata
``.wav``/``.flac``  soundfile, float32 WAV (any finite value) / 24-bit FLAC (full scale); they hold
                    no annotations and no unit (read back as ``FS``): each is said in a warning
``.edf``            EDF+ (pyedflib), 16-bit over each channel's range; annotations as EDF+ text (the
                    label, then its aux after a tab; ``duration_s=X`` as the duration; up to 512
                    bytes whole, longer refused); no start time as EDF+'s unknown
                    (``Startdate X``, 01.01.85 00.00.00)
``.hea`` / none     WFDB (wfdb.wrsamp), format 16, per-channel gain so that the largest
                    magnitude uses ~30000 of the 16-bit range; NaN -> WFDB invalid sample;
                    annotations as ``.atr`` (a label that is no WFDB code as a comment
                    annotation ``"``, the label in its aux, then its own aux after ``\x1f``; aux
                    texts beyond Latin-1 as UTF-8), ``metadata["comments"]`` as header comments
==================  ===========================================================================

Everything written here reads back with :func:`biosig.read` to the same channels, units, rate and
start time, and to the same values up to the format's resolution (exact for CSV/Parquet/WAV float).
EDF and WFDB headers are ASCII: a unit is written in the spelling both standards use (``µV`` as
``uV``, ``°C`` as ``degC``; :func:`ascii_unit`) and reads back so; WFDB writes an empty unit as
``NU`` (no unit: left empty, WFDB would mean mV), read back as ``NU`` as wfdb does, and a unit with
characters wfdb-python does not read in a unit with ``_`` for them (``a.u.`` as ``a_u``: :func:`wfdb_unit`,
said in a warning), read back so by biosig and wfdb alike.
"""
from __future__ import annotations

import json
import logging
import os
import pathlib

import numpy as np

from biosig.errors import SignalError, WriteError  # noqa: F401 (WriteError: defined in errors, re-exported)
from biosig.interrupts import polars_io
from biosig.record import Record, require_record
from biosig.writers_edf_wfdb import (EDF_UNKNOWN_START, WFDB_DIGITAL_MAX, _check_no_inf,  # noqa: F401 (re-exported)
                                     _check_uniform, _edf_number, _edf_record_duration_s, _whole_records,
                                     _write_edf, _write_wfdb, ascii_unit, wfdb_unit)

log = logging.getLogger(__name__)

WRITE_EXTENSIONS = (".csv", ".parquet", ".wav", ".flac", ".edf", ".hea", "")
#: The CSV column of ISO-8601 wall-clock times written beside ``t_s`` for a record with a start time.
CSV_CLOCK_COLUMN = "time"


def write(record: Record, path) -> pathlib.Path:
    """Write ``record`` to ``path``; return the main file written (the ``.hea`` for WFDB).

    Raises
    ------
    WriteError : unknown extension, or a record the format cannot hold (irregular times in a
        uniform-rate format, audio outside full scale).
    """
    require_record(record, "write()")
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or "\0" in path:
        raise WriteError(repr(path), "an output path is a str or os.PathLike without NUL characters")
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_EXTENSIONS and suffix not in (".dat",):
        raise WriteError(path, f"unknown output extension {suffix!r}; accepted: "
                               ".csv, .parquet, .wav, .flac, .edf, .hea (WFDB) or no extension (WFDB)")
    if path.is_dir():
        raise WriteError(path, "is a folder; give a file name, e.g. "
                               f"{path / ('record' + (suffix or '.parquet'))}")
    if not path.parent.exists():
        raise WriteError(path, f"folder {path.parent} does not exist")
    if not path.parent.is_dir():
        raise WriteError(path, f"{path.parent} is a file, not a folder")
    if suffix in (".csv", ".parquet"):
        _check_column_names(record, path, _csv_names(record) if suffix == ".csv" else record.channels)
    if suffix == ".csv":
        return _write_csv(record, path)
    if suffix == ".parquet":
        return _write_parquet(record, path)
    if suffix in (".wav", ".flac"):
        return _write_audio(record, path)
    if suffix == ".edf":
        return _write_edf(record, path)
    return _write_wfdb(record, path.with_suffix("") if suffix else path)


def _frame(record: Record, names) -> "object":
    import polars as pl

    cols = {"t_s": record.t_s}
    for name, row in zip(names, record.samples):
        cols[name] = row
    return pl.DataFrame(cols)


def _csv_names(record: Record) -> list[str]:
    """Column names of a CSV: ``"name [unit]"``; a name without a unit that would read as one
    (``"MLII [x]"``, ``"ECG (mV)"``) gets an empty one, ``"MLII [x] []"``, so that it reads back whole."""
    from biosig.readers.tables import split_unit

    return [f"{c} [{u}]" if u or split_unit(c)[1] else c for c, u in zip(record.channels, record.units)]


def _write_csv(record: Record, path: pathlib.Path) -> pathlib.Path:
    import polars as pl

    from biosig.readers.annotation_files import check_sidecar, write_sidecar

    check_sidecar(path)   # before the table: a name taken by another file refuses the whole write
    df = _frame(record, _csv_names(record))
    if record.start_time is not None:   # the wall clock of each row: read back as the start time
        df = df.insert_column(1, pl.Series(CSV_CLOCK_COLUMN, _iso_times(record)))
    # NaN gaps as empty fields (read back as null -> NaN), float32 written with full precision.
    df = df.with_columns(pl.exclude("t_s", CSV_CLOCK_COLUMN).fill_nan(None))
    polars_io(df.write_csv, path, float_precision=None)
    write_sidecar(path, record.annotations, record.t_s)
    return path


def _iso_times(record: Record) -> np.ndarray:
    """ISO-8601 date-times (microseconds; the UTC offset of a zoned start time) of each sample."""
    start = record.start_time
    naive = np.datetime64(start.replace(tzinfo=None), "us")
    stamps = np.datetime_as_string(naive + np.round(record.t_s * 1e6).astype("timedelta64[us]"), unit="us")
    offset = start.isoformat()[len(start.replace(tzinfo=None).isoformat()):] if start.tzinfo else ""
    return np.char.add(stamps, offset) if offset else stamps


def _biosig_meta(record: Record) -> dict:
    def plain(v):
        return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)

    from biosig.readers.annotation_files import annotations_json

    return {"fs_hz": record.fs_hz, "units": list(record.units), "modality": record.modality,
            "start_time": record.start_time.isoformat() if record.start_time else None,
            "annotations": annotations_json(record.annotations),
            "metadata": {k: plain(v) for k, v in record.metadata.items()
                         if k in ("comments", "record_name", "session", "marker")}}


def _write_parquet(record: Record, path: pathlib.Path) -> pathlib.Path:
    import pyarrow.parquet as pq

    table = _frame(record, record.channels).to_arrow()
    meta = dict(table.schema.metadata or {})
    meta[b"biosig"] = json.dumps(_biosig_meta(record)).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def _check_column_names(record: Record, path, columns) -> None:
    """:class:`WriteError` where two channels share a name or one is written as a time column's name
    (``t_s``, ``time``, ``time_ms``, ...: read back as a clock, never as a channel): a table has one
    column per name (a CSV kept one of the two and dropped the other; a Parquet file did not read
    back)."""
    from biosig.readers.tables import bare_time_columns, time_columns

    seen = set()
    for name, column in zip(record.channels, columns):
        if time_columns([column]) or bare_time_columns([column]):
            raise WriteError(path, f"a channel is written as column {column!r}, a time column's name (read back "
                                   "as the time, not a channel); rename it (Record.replace(channels=...))")
        if name in seen:
            raise WriteError(path, f"two channels are named {name!r}; a table needs one name per column "
                                   "(Record.replace(channels=...))")
        seen.add(name)


def _write_audio(record: Record, path: pathlib.Path) -> pathlib.Path:
    import soundfile as sf

    _check_uniform(record, path, path.suffix)
    x = record.samples
    if np.isnan(x).any():
        raise WriteError(path, "audio files cannot hold NaN gaps; fill or cut them first")
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak > 1.0 and path.suffix.lower() == ".flac":
        raise WriteError(path, f"FLAC holds integer samples in full scale [-1, 1], peak is {peak:g} "
                               "(scale the record first, or write a float .wav)")
    if not np.isfinite(x).all():
        raise WriteError(path, "audio samples must be finite")
    if record.fs_hz != int(record.fs_hz):
        raise WriteError(path, f"audio needs an integer sampling rate, got {record.fs_hz:g} Hz")
    if record.annotations is not None and len(record.annotations):
        log.warning("%s: %d annotation(s) not written (%s files hold none; write .csv, .parquet, .edf or WFDB "
                    "to keep them)", path, len(record.annotations), path.suffix.lower())
    other = sorted({u for u in record.units if u not in ("", "FS")})
    if other:
        log.warning("%s: unit %s not written (%s files hold full-scale samples; read back in FS)", path,
                    ", ".join(other), path.suffix.lower())
    subtype = "FLOAT" if path.suffix.lower() == ".wav" else "PCM_24"
    sf.write(str(path), x.T, int(record.fs_hz), subtype=subtype)
    return path
