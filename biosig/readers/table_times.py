"""Time columns of tables beyond plain numbers (:mod:`.tables`): ISO-8601 date-times, a second time
column beside the one read, and a stated rate checked against the table's own times.

- A time column of ISO-8601 date-times (``2024-03-01T10:00:00.004``, a space for the ``T``, a UTC
  offset or ``Z``; or a Parquet timestamp column) is read as seconds from its first row; that first
  date-time is the record's ``start_time``.
- A time column of times of day without a date (``10:00:00.004``: :func:`looks_like_times_of_day`) is
  not read (no date, and midnight in between is a guess): refused in one line that says so.
- A table with a time column named with its unit (``t_s``) and another named without one (``time``)
  has two clocks: the second is never a channel. Where it agrees with the first (date-times, or
  numbers in seconds or milliseconds, up to an offset, within half a sample step) it is dropped: a
  date-time column gives the record's start time (logged at INFO: biosig's CSV writer writes one),
  a numeric one is dropped with a warning. Where it disagrees the table is refused.
- A rate the user states (``--sample-rate-hz``) for a table whose times are its own is checked
  against them: more than 10 % away (median and mean step) is a warning; the file's times are read.

:func:`table_columns` and :func:`head_values` look at a CSV or Parquet table without reading it
whole (:func:`.tables.times_readable`: which tables of a folder are records).
"""
from __future__ import annotations

import logging
import pathlib
import re
from datetime import datetime

import numpy as np

from biosig.errors import ReadError
from biosig.readers.csv_dialect import head_lines, header_columns, sniff
from biosig.readers.lib_paths import library_path

log = logging.getLogger(__name__)

PARQUET_EXTENSIONS = (".parquet", ".pq")

#: A stated rate within this fraction of the times' rate (by median or mean step) agrees with them
#: (the same tolerance picks the unit of a time column without one: :func:`.tables.bare_time_unit`).
RATE_TOLERANCE = 0.1


#: A time of day: ``HH:MM:SS`` with an optional fraction of a second.
_TIME_OF_DAY_RE = r"^(\d{1,2}):([0-5]\d):([0-5]\d)(?:[.,](\d{1,6}))?$"


def looks_like_times_of_day(values) -> bool:
    """Whether every one of ``values`` (text, the first rows of a column) is a time of day
    ``HH:MM:SS[.ffffff]`` without a date."""
    values = [str(v).strip().strip('"') for v in values if str(v).strip()]
    return bool(values) and all(re.match(_TIME_OF_DAY_RE, v) for v in values)


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip().strip('"').replace("Z", "+00:00"))
    except ValueError:
        return None


def looks_like_datetimes(values) -> bool:
    """Whether every one of ``values`` (text, the first rows of a column) is an ISO-8601 date-time
    with a date and a time of day (``2024-03-01T10:00:00.004``; a bare date or time is not)."""
    values = [v for v in values if str(v).strip()]
    return bool(values) and all(":" in str(v) and "-" in str(v)[:10] and _parse_iso(str(v)) is not None
                                for v in values)


def datetime_seconds(path, column: str, series) -> tuple[np.ndarray, datetime] | None:
    """(seconds from the first row, the first row's date-time) of a column of date-times (a Parquet
    timestamp column, or text in ISO-8601), or None when ``series`` holds no date-times. Text of which
    only some rows are date-times is an error naming the first row that is not."""
    import polars as pl

    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        stamps = series
    elif dtype == pl.String:
        text = series.str.strip_chars().str.strip_chars('"')
        if not looks_like_datetimes(text.drop_nulls().head(1).to_list()):   # the first value tells
            return None
        text = text.str.replace(r"Z$", "+00:00")
        try:
            stamps = text.str.to_datetime(time_unit="us", strict=False)
        except Exception:   # polars infers no one format from the first value: each value on its own
            try:
                stamps = pl.Series(column, [None if v is None else _parse_iso(v) for v in text.to_list()])
            except Exception as exc:   # naive and zoned date-times mixed
                raise ReadError(path, f"column {column!r} holds ISO-8601 date-times that cannot be read "
                                      f"as one clock ({exc})") from None
        bad = (text.is_not_null() & stamps.is_null()).arg_true()
        if len(bad):
            i = int(bad[0])
            where = f"line {i + 2}" if pathlib.Path(str(path)).suffix.lower() == ".csv" else f"row {i + 1}"
            raise ReadError(path, f"column {column!r} holds ISO-8601 date-times, but {where} holds "
                                  f"{text[i]!r}{f' ({len(bad) - 1} more like it)' if len(bad) > 1 else ''}")
    else:
        return None
    if stamps.null_count():
        raise ReadError(path, f"column {column!r} has {stamps.null_count()} empty value(s)")
    ns = stamps.dt.epoch("ns").to_numpy().astype(np.int64)
    seconds = (ns - ns[0]).astype(np.float64) / 1e9
    return seconds, stamps[0]


def check_stated_rate(path, column: str, t_s: np.ndarray, sample_rate_hz: float | None) -> None:
    """Warn where the stated ``sample_rate_hz`` is more than :data:`RATE_TOLERANCE` away from the rate
    of the table's own times ``t_s`` (seconds) by both their median and mean step."""
    t_s = np.asarray(t_s, dtype=np.float64)
    if sample_rate_hz is None or len(t_s) < 2:
        return
    step = np.diff(t_s)
    if not np.all(np.isfinite(step)) or np.any(step <= 0):
        return   # refused later, with the row (Record.from_polars)
    median, mean = float(np.median(step)), float((t_s[-1] - t_s[0]) / (len(t_s) - 1))
    if any(abs(1.0 / d / sample_rate_hz - 1) <= RATE_TOLERANCE for d in (median, mean)):
        return
    log.warning("%s: the stated %g Hz (--sample-rate-hz) is not the rate of the table's time column %r "
                "(median step %g s, %.4g Hz); its times are read, the stated rate is not used", path,
                sample_rate_hz, column, median, 1.0 / median)


def _agrees(t_s: np.ndarray, other_s: np.ndarray) -> bool:
    """Whether ``other_s`` (seconds) counts the same times as ``t_s`` up to an offset, within half
    the median step of ``t_s``."""
    if len(t_s) < 2 or not np.all(np.isfinite(other_s)):
        return bool(len(t_s) < 2 and np.all(np.isfinite(other_s)))
    tol = 0.5 * float(np.median(np.diff(t_s)))
    return bool(np.max(np.abs((other_s - other_s[0]) - (t_s - t_s[0]))) <= tol)


def second_time_column(path, df, column: str, main: str, t_s: np.ndarray) -> datetime | None:
    """Check the second time column ``column`` of ``df`` against the times ``t_s`` (seconds) of the
    time column ``main``; return its first date-time when it holds date-times (the start time).
    Refused (:class:`ReadError`) when it does not count the same times; a numeric one that does is
    dropped with a warning."""
    import polars as pl

    series = df[column]
    dated = datetime_seconds(path, column, series)
    if dated is not None:
        seconds, start = dated
        if not _agrees(t_s, seconds):
            raise ReadError(path, _disagree(column, main, t_s, [("date-times", seconds)]))
        log.info("%s: column %r read as the start time (%s) of the times in %r", path, column, start, main)
        return start
    if series.dtype.is_numeric():
        values = series.cast(pl.Float64).to_numpy()
        readings = [("seconds", values), ("milliseconds", values / 1000.0)]
        for unit, seconds in readings:
            if _agrees(t_s, seconds):
                log.warning("%s: column %r is a second time column (%s, agreeing with %r); not read as a "
                            "channel, and dropped", path, column, unit, main)
                return None
        raise ReadError(path, _disagree(column, main, t_s, readings))
    raise ReadError(path, f"{column!r} is a second time column beside {main!r}, and holds neither numbers nor "
                          f"ISO-8601 date-times (type {series.dtype}); keep one time column")


def _disagree(column: str, main: str, t_s: np.ndarray, readings) -> str:
    """Why ``column`` is refused: where each reading of it departs most from ``t_s``."""
    said = []
    for unit, seconds in readings:
        off = np.abs((seconds - seconds[0]) - (t_s - t_s[0]))
        i = int(np.nanargmax(off)) if np.isfinite(off).any() else 0
        said.append(f"in {unit} row {i + 1} is {seconds[i] - seconds[0]:g} s from the first, "
                    f"{main!r} says {t_s[i] - t_s[0]:g} s")
    return (f"two time columns that disagree: {main!r} and {column!r} ({'; '.join(said)}); keep one time "
            "column (a second one is never read as a channel)")


def table_columns(path) -> list[str]:
    """Column names of a table: a Parquet file's schema (``[]`` when it cannot be read), a CSV's header."""
    if pathlib.Path(path).suffix.lower() not in PARQUET_EXTENSIONS:
        return header_columns(path)
    import pyarrow.parquet as pq
    try:
        with library_path(path) as source:
            return list(pq.read_schema(source).names)
    except Exception:   # not a Parquet file: read() says why
        return []


def head_values(path, column: str, max_rows: int = 50) -> list:
    """The first values of ``column``: text from a CSV, Python values from a Parquet file."""
    import csv

    if pathlib.Path(path).suffix.lower() in PARQUET_EXTENSIONS:
        import pyarrow.parquet as pq
        try:
            with library_path(path) as source:
                batch = next(pq.ParquetFile(source).iter_batches(batch_size=max_rows, columns=[column]), None)
        except Exception:
            return []
        return [] if batch is None else batch.column(0).to_pylist()
    dialect = sniff(path)
    lines = [ln for ln in head_lines(path, max_lines=max_rows + 1) if ln.strip()]
    rows = [r for r in csv.reader(lines[1:], delimiter=dialect.separator) if any(f.strip() for f in r)]
    i = header_columns(path).index(column)
    return [(r[i].strip().strip('"').replace(",", ".") if dialect.decimal_comma else r[i].strip().strip('"'))
            if i < len(r) else None for r in rows]
