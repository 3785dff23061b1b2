"""Tables of samples without a time column, read at a rate the user states.

Many exports and benchmark sets store a segment as bare sample values: one column per channel,
samples down the rows, with or without a header line (``ppg`` / ``0.12`` / ``0.15`` ...). The
sampling rate is not in the file, so it is never guessed: ``biosig.read(path,
sample_rate_hz=100)`` (``--sample-rate-hz 100`` on the command line) reads such a table with
sample ``k`` at ``k / 100`` s. A table that has a time column keeps its own times and rate.

* header: a first line whose fields are not all numbers names the channels (``II [mV]`` is
  channel ``II`` in ``mV``, as for timed tables); otherwise the channels are ``ch1``, ``ch2``, ...;
* separators and decimal commas as every table (:mod:`.csv_dialect`); empty fields, ``NaN`` and
  ``NA`` are gaps and stay NaN;
* a first column that rises row after row by the stated rate's sample interval, in seconds or in
  milliseconds (``0``, ``0.004``, ``0.008`` ... at 250 Hz; :func:`time_column_unit`), is a time
  column, never a channel: without a header it is read as the table's times (``t_s`` or ``t_ms``;
  the channels are ``ch1``, ... after it); under a header that does not name it a time, it is
  refused, naming the column;
* blanks around a header name (``ecg, ppg``), an unnamed row index (pandas' ``to_csv``, R's
  ``write.csv``) and an unnamed column empty throughout (a delimiter ending every line) are no
  channels (:mod:`.unnamed_columns`), as in timed tables;
* Excel's separator line (``sep=;``) is skipped (:mod:`.csv_dialect`); a LabChart text export
  (``Interval=``, ``ChannelTitle=`` ...) is read by :mod:`.labchart`;
* a text value, a row with fewer fields than the first, one row of many values, or more than 16
  columns and fewer rows than columns (segments written across the lines, one per row: the reader
  expects samples down the rows) is a :class:`ReadError` that says where.
"""
from __future__ import annotations

import csv

import numpy as np

from biosig.errors import BiosigError, ReadError
from biosig.interrupts import polars_io, polars_reader
from biosig.readers.csv_dialect import check_unambiguous, head_lines, sniff
from biosig.readers.lib_paths import library_path
from biosig.readers.unnamed_columns import tidy_header

#: Extensions of text tables this reader may be asked to read.
TEXT_TABLE_EXTENSIONS = (".csv", ".tsv", ".txt")
_NULLS = ("", "NA", "nan", "NaN")
#: More columns than this and fewer rows than columns: segments written one per row, not channels.
MAX_CHANNELS_BELOW_ROWS = 16
#: A time column: at least this fraction of its steps within half a sample interval of the interval.
STEADY_FRACTION = 0.9


def _is_number(field: str, decimal_comma: bool) -> bool:
    text = field.strip().strip('"').strip()
    if text in _NULLS:
        return True
    try:
        float(text.replace(",", ".") if decimal_comma else text)
    except ValueError:
        return False
    return True


def _head_rows(path, dialect, max_lines: int) -> list[list[str]]:
    """The first non-empty lines of the table, split into fields."""
    lines = [ln for ln in head_lines(path, max_lines=max_lines) if ln.strip()]
    return list(csv.reader(lines, delimiter=dialect.separator))


def head_rows(path, max_lines: int = 2) -> list[list[str]]:
    """The first non-empty lines of the table at ``path`` split into fields by its sniffed dialect
    ([] when it cannot be read)."""
    try:
        return _head_rows(path, sniff(path), max_lines)
    except OSError:
        return []


def _all_numbers(row: list[str], dialect) -> bool:
    return all(_is_number(f, dialect.decimal_comma) for f in row)


def has_header(path, dialect=None) -> bool:
    """Whether the first non-empty line names the columns (not every field is a number)."""
    dialect = dialect or sniff(path)
    rows = _head_rows(path, dialect, 2)
    return bool(rows) and not _all_numbers(rows[0], dialect)


def is_bare_table(path) -> bool:
    """Whether the first data line (after a header line, if any) is all numbers: a table of sample
    values, not a labels or metadata table (``record,label`` / ``A00020,O``)."""
    try:
        dialect = sniff(path)
        rows = _head_rows(path, dialect, 3)
    except OSError:
        return False
    data = rows if rows and _all_numbers(rows[0], dialect) else rows[1:]
    return bool(data) and _all_numbers(data[0], dialect)


def stated_rate(path, sample_rate_hz) -> float:
    """``sample_rate_hz`` as a rate in Hz; a :class:`ReadError` naming ``path`` otherwise."""
    from biosig.arguments import sampling_rate
    try:
        return sampling_rate(sample_rate_hz)
    except BiosigError:
        raise ReadError(path, f"sample_rate_hz={sample_rate_hz!r} must be a sampling rate in Hz, "
                              "a finite number above 0") from None


def time_column_unit(values, rate_hz: float) -> str | None:
    """``"s"`` or ``"ms"`` when ``values`` (a column, top to bottom) rise strictly by the sample interval of
    ``rate_hz`` in that unit (the median or mean step within ``RATE_TOLERANCE`` of it, and
    :data:`STEADY_FRACTION` of the steps within half of it): a time column, not a channel. None otherwise
    (fewer than 3 values, a missing value, a step down or another step; a rising signal's steps vary)."""
    from biosig.readers.table_times import RATE_TOLERANCE
    t = np.asarray(values, dtype=np.float64)
    if len(t) < 3 or not np.all(np.isfinite(t)):
        return None
    steps = np.diff(t)
    if not np.all(steps > 0):
        return None
    for unit, per_s in (("s", 1.0), ("ms", 1000.0)):
        expected = per_s / rate_hz
        steady = np.mean(np.abs(steps / expected - 1) <= 0.5) >= STEADY_FRACTION   # rounding jitter; a few gaps
        near = [abs(d / expected - 1) <= RATE_TOLERANCE for d in (float(np.median(steps)), float(steps.mean()))]
        if steady and any(near):
            return unit
    return None


def _first_column_time_unit(df, rate_hz: float) -> str | None:
    """:func:`time_column_unit` of the frame's first column (None when it is not all numbers)."""
    col = df[df.columns[0]]
    if not col.dtype.is_numeric() or col.null_count():
        return None
    return time_column_unit(col.cast(float).to_numpy(), rate_hz)


@polars_reader
def read_untimed_csv(path, sample_rate_hz: float):
    """A :class:`biosig.Record` of the table at ``path``, sample ``k`` at ``k / sample_rate_hz`` s."""
    import polars as pl

    from biosig.arguments import file_path
    from biosig.readers.tables import (TIME_COLUMN, _check_row_lengths, _frame_to_record, bare_time_columns,
                                       time_columns)

    path = file_path(path)
    rate = stated_rate(path, sample_rate_hz)
    if not path.is_file():
        raise ReadError(path, "is a folder, not a record" if path.is_dir() else "no such file")
    if path.stat().st_size == 0 or not any(ln.strip() for ln in head_lines(path, max_lines=2)):
        raise ReadError(path, "empty file: expected sample values, one column per channel")
    from biosig.readers.labchart import is_labchart_text, read_labchart_text
    if is_labchart_text(path):
        return read_labchart_text(path, sample_rate_hz=rate)
    dialect = sniff(path)
    check_unambiguous(path, dialect)
    header = has_header(path, dialect)
    try:
        with library_path(path) as source:
            df = polars_io(pl.read_csv, source, has_header=header, infer_schema_length=10_000,
                           null_values=list(_NULLS), **dialect.polars_options())
    except Exception as exc:  # polars raises ComputeError / NoDataError on malformed CSV
        raise ReadError(path, f"malformed CSV ({dialect.describe()}: "
                              f"{(str(exc).strip().splitlines() or ['no details'])[0]})") from None
    df = tidy_header(path, df, header)   # " ppg" -> "ppg"; a row index, an empty last column left out
    if not header:   # channels ch1, ch2, ...; a time column before them is renamed when found
        df = df.rename({c: f"ch{i + 1}" for i, c in enumerate(df.columns)})
    if df.height <= 1 and df.width > MAX_CHANNELS_BELOW_ROWS:
        raise ReadError(path, f"one row of {df.width} values: write one column per channel with the samples "
                              "down the rows (a segment per file)")
    if df.width > MAX_CHANNELS_BELOW_ROWS and df.width > df.height:   # 50 segments x 1000 samples, not 1000 channels
        raise ReadError(path, f"{df.height} rows of {df.width} values: this looks like one segment per row; a record "
                              "is one column per channel with the samples down the rows (write each segment to a "
                              "file of its own, e.g. numpy.savetxt(f'seg{i}.csv', row))")
    if header and (time_columns(df.columns) or bare_time_columns(df.columns)):   # biosig.read takes it as a table
        found = time_columns(df.columns) or bare_time_columns(df.columns)
        raise ReadError(path, f"it has a time column ({', '.join(found)}): it is read with its own times, "
                              "not at a stated rate (biosig.read)")
    _check_row_lengths(path, df.width, dialect.separator, header, dialect.skip_rows)
    unit = _first_column_time_unit(df, rate)
    if unit:
        return _read_with_time_column(path, df, unit, rate, header)
    times = pl.Series(TIME_COLUMN, np.arange(df.height, dtype=np.float64) / rate)
    return _frame_to_record(path, df.insert_column(0, times),
                            meta={"source": str(path), "format": "untimed-csv", "fs_hz": rate})


def _read_with_time_column(path, df, unit: str, rate: float, header: bool):
    """The table whose first column rises by the stated rate's sample interval in ``unit``: read with
    those times (no header), or refused naming the column (a header that does not say it is a time)."""
    from biosig.readers.tables import _frame_to_record

    first = df.columns[0]
    step = float(np.median(np.diff(df[first].cast(float).to_numpy())))
    if header:
        raise ReadError(path, f"column {first!r} rises by {step:g} {unit} a row, the sample interval of the stated "
                              f"{rate:g} Hz: a time column, not a channel; name it with its unit (t_{unit}) "
                              "and it is read with its own times")
    if df.width == 1:
        raise ReadError(path, f"its only column rises by {step:g} {unit} a row, the sample interval of the "
                              f"stated {rate:g} Hz: a time column without channels")
    df = df.rename({first: f"t_{unit}"}).rename({c: f"ch{i}" for i, c in enumerate(df.columns) if i})
    # the column steps by the stated rate's interval: the rate is the stated one (its rounded times,
    # 0.002778 s at 360 Hz, read 359.971 Hz by their median step)
    return _frame_to_record(path, df, meta={"source": str(path), "format": "untimed-csv",
                                            "time_column": f"column 1 ({unit})", "fs_hz": rate},
                            sample_rate_hz=rate)
