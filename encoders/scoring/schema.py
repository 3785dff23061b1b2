"""The tables a scoring run writes: their fixed schemas, and the record key and start time that
every row carries.

Fixed schemas, so part files written by different workers and runs concatenate cleanly
(:class:`encoders.scoring.outputs.PartStore` assembles them). The columns are listed, with their
meaning, in :mod:`encoders.scoring`.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import re

import polars as pl

from biosig.measures_atrial import ECG_KEYS as _ECG_KEYS
from biosig.measures_window import RESP_KEYS as _RESP_KEYS, SPIRO_KEYS as _SPIRO_KEYS

WINDOW_SCHEMA = {
    "record": pl.String, "key": pl.String, "window": pl.Int32, "t0_s": pl.Float64,
    "t1_s": pl.Float64, "channels": pl.List(pl.String), "quality": pl.Float32,
    "valid_fraction": pl.Float32, "embedding": pl.List(pl.Float32),
}
# Per-window measures (biosig.measures_window, the same numbers as the score/ frames of serve):
# quality of the causally preprocessed window, whether it passed the threshold, the reason when
# not, every modality's measures (null where they do not apply or the window failed) and heads.
MEASURE_COLUMNS = ("measure_quality", *_ECG_KEYS, *_RESP_KEYS, *_SPIRO_KEYS, "af_prob")
MEASURE_SCHEMA = {"measures_ok": pl.Boolean, "missing": pl.String, **{c: pl.Float64 for c in MEASURE_COLUMNS}}
SCORED_WINDOW_SCHEMA = {**WINDOW_SCHEMA, **MEASURE_SCHEMA}   # the rows `score` writes
# The columns every record row has (measures of the modality come before "seconds").
# start_time: ISO 8601 wall-clock time of the first sample as the file gives it (WFDB base date and
# time, EDF start date and time, a table's date-time column), null where the file gives none; without
# an offset where the file has none (WFDB and EDF: local time of an unstated zone), else in UTC.
RECORD_SCHEMA = {"record": pl.String, "key": pl.String, "name": pl.String, "start_time": pl.String,
                 "duration_s": pl.Float64,
                 "fs_hz": pl.Float64, "channels": pl.List(pl.String), "used_channels": pl.List(pl.String),
                 "n_windows": pl.Int32, "mean_quality": pl.Float32, "embedding": pl.List(pl.Float32),
                 "seconds": pl.Float64}
ERROR_SCHEMA = {"record": pl.String, "key": pl.String, "stage": pl.String, "error_type": pl.String,
                "message": pl.String}


def iso_start_time(start) -> str | None:
    """A record's ``start_time`` (datetime or None) as :data:`RECORD_SCHEMA` stores it: ISO 8601,
    naive as the file gives it, or in UTC when the time carries an offset."""
    if start is None:
        return None
    import datetime as dt
    if start.tzinfo is not None and start.utcoffset() is not None:
        start = start.astimezone(dt.timezone.utc)
    return start.isoformat()


def record_key(path: str | os.PathLike) -> str:
    """A stable file-name-safe key for a record path: ``<stem>-<12 hex of sha1(real path)>``.

    The real path (symlinks resolved, as :func:`biosig.readers.discover` tells one record from two), so
    a record named another way (a linked folder, another working folder) is the same record to a resume.

    >>> record_key("/data/100.hea") == record_key("/data/../data/100.hea")
    True
    """
    return _key_of(os.path.realpath(os.fspath(path)))


def legacy_record_key(path: str | os.PathLike) -> str:
    """The key runs before realpath keys gave ``path``: of its absolute path as given, links kept
    (:meth:`encoders.scoring.outputs.PartStore.adopt_legacy_keys` renames such parts)."""
    return _key_of(os.path.abspath(os.fspath(path)))


def _key_of(full: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", pathlib.Path(full).name)[:40] or "record"
    return f"{stem}-{hashlib.sha1(full.encode()).hexdigest()[:12]}"
