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
* a text value, a row with fewer fields than the first, one row of many values, or more than 16
  columns and fewer rows than columns (segments written across the lines, one per row: the reader
  expects samples down the rows) is a :class:`ReadError` that says where.
"""
from __future__ import annotations

import csv

import numpy as np

from biosig.errors import BiosigError, ReadError
from biosig.readers.csv_dialect import head_lines, sniff

#: Extensions of text tables this reader may be asked to read.
TEXT_TABLE_EXTENSIONS = (".csv", ".tsv", ".txt")
_NULLS = ("", "NA", "nan", "NaN")
#: More columns than this and fewer rows than columns: segments written one per row, not channels.
MAX_CHANNELS_BELOW_ROWS = 16


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
    dialect = sniff(path)
    header = has_header(path, dialect)
    try:
        df = pl.read_csv(path, has_header=header, infer_schema_length=10_000, null_values=list(_NULLS),
                         **dialect.polars_options())
    except Exception as exc:  # polars raises ComputeError / NoDataError on malformed CSV
        raise ReadError(path, f"malformed CSV ({dialect.describe()}: "
                              f"{(str(exc).strip().splitlines() or ['no details'])[0]})") from None
    if not header:
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
    _check_row_lengths(path, df.width, dialect.separator, header)
    times = pl.Series(TIME_COLUMN, np.arange(df.height, dtype=np.float64) / rate)
    return _frame_to_record(path, df.insert_column(0, times),
                            meta={"source": str(path), "format": "untimed-csv", "fs_hz": rate})

